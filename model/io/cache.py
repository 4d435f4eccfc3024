"""The one content cache: arrays keyed by what they hold, least recently used dropped first.

The engine keeps style codes and embedded mask planes by content; the photo pipeline keeps
its mattes by the photo's pixels and mask. Both key by ``content_digest`` and both are read
from the studio's render and save threads, so the cache locks.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

import numpy as np


def content_digest(*items: np.ndarray | str | int | float) -> str:
    """A digest of arrays (shape, dtype and bytes) and plain values: equal content, equal key."""
    digest = hashlib.blake2b(digest_size=16)
    for item in items:
        if isinstance(item, np.ndarray):
            digest.update(str((item.shape, item.dtype.str)).encode())
            digest.update(np.ascontiguousarray(item).data)
        else:
            digest.update(repr(item).encode())
        digest.update(b"|")
    return digest.hexdigest()


class LRUCache:
    """At most ``capacity`` values by key; thread-safe. ``get`` returns None when absent."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def get(self, key: str) -> Any:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
