"""The studio's one change channel, without Qt (after napari's evented models, made explicit).

Every change of the studio's state goes out as one ``Change``: which kind of state changed
(the document, a view setting or the polygon being drawn) and the names of what changed. A
panel subscribes to the names it shows and redraws only when one of them changed, so a
brush stroke (``mask``) never makes the style panel rebuild its thumbnails and a slider
drag (``part_styles``) never recolours the canvas. Names are checked when subscribing, so a
misspelt one fails at once instead of never being called.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass


class ChangeKind(enum.Enum):
    DOCUMENT = "document"  # what the engine renders: a command, or the live pixels of a stroke
    SETTING = "setting"  # a view setting (tool, brush, ghost, attention part): never undone
    POLYGON = "polygon"  # the vertices of the polygon being drawn
    HISTORY = "history"  # the undo history: what Undo and Redo would do, the clean point


@dataclass(frozen=True)
class Change:
    """``names`` of one ``kind`` changed; read their new values from the studio. ``live``
    marks a mask change made while a stroke is under way (the mask changes with every
    mouse move and becomes one undo step at the end)."""

    kind: ChangeKind
    names: frozenset[str]
    live: bool = False


ChangeCallback = Callable[[Change], None]


class ChangeChannel:
    """Subscribers to changes, each with the names it listens to, called in the order they subscribed."""

    def __init__(self, names: dict[ChangeKind, Iterable[str]]):
        self.names = {kind: frozenset(kind_names) for kind, kind_names in names.items()}
        self._kind_of = {name: kind for kind, kind_names in self.names.items() for name in kind_names}
        if len(self._kind_of) != sum(len(kind_names) for kind_names in self.names.values()):
            raise ValueError("a name belongs to one kind of change only")
        self._subscribers: list[tuple[ChangeCallback, frozenset[str] | None]] = []

    def subscribe(self, callback: ChangeCallback, *names: str) -> ChangeCallback:
        """Call ``callback(change)`` for every change of one of ``names`` (of any change without names)."""
        unknown = sorted(set(names) - set(self._kind_of))
        if unknown:
            raise ValueError(f"no such studio state: {unknown}; known: {sorted(self._kind_of)}")
        self._subscribers.append((callback, frozenset(names) if names else None))
        return callback

    def unsubscribe(self, callback: ChangeCallback) -> None:
        # == and not "is": each `obj.method` is a new bound method, equal to the one subscribed
        self._subscribers = [(known, names) for known, names in self._subscribers if known != callback]

    def emit(self, kind: ChangeKind, names: Iterable[str], live: bool = False) -> None:
        change = Change(kind, frozenset(names), live)
        stray = [name for name in change.names if self._kind_of.get(name) is not kind]
        if stray:
            raise ValueError(f"not {kind.value} state: {sorted(stray)}")
        for callback, wanted in list(self._subscribers):
            if wanted is None or wanted & change.names:
                callback(change)
