"""A background thread that runs only the newest of its requests (no Qt: ``qt.worker``
wraps it in signals)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class LatestOnlyRunner:
    """Run ``job`` on the newest request, one at a time, on a background thread.

    on_done(ticket, result) and on_error(ticket, exception) are called on that thread.
    """

    def __init__(
        self,
        job: Callable[[Any], Any],
        on_done: Callable[[int, Any], None],
        on_error: Callable[[int, BaseException], None],
    ):
        self._job, self._on_done, self._on_error = job, on_done, on_error
        self._condition = threading.Condition()
        self._pending: tuple[int, Any] | None = None
        self._tickets = 0
        self._closed = False
        self.runs = 0  # how many requests actually ran (the rest were superseded)
        self.busy = False
        self._thread = threading.Thread(target=self._loop, name="ca2sis-render", daemon=True)
        self._thread.start()

    def submit(self, request: Any) -> int:
        """Queue ``request``, replacing any request still waiting; returns its ticket."""
        with self._condition:
            self._tickets += 1
            self._pending = (self._tickets, request)
            self._condition.notify()
            return self._tickets

    @property
    def latest_ticket(self) -> int:
        return self._tickets

    def idle(self) -> bool:
        with self._condition:
            return self._pending is None and not self.busy

    def close(self, timeout: float = 5.0) -> None:
        with self._condition:
            self._closed = True
            self._pending = None
            self._condition.notify()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            with self._condition:
                while self._pending is None and not self._closed:
                    self._condition.wait()
                if self._closed:
                    return
                ticket, request = self._pending
                self._pending = None
                self.busy = True
            try:
                result = self._job(request)
            except Exception as error:  # reported to the window, never kills the thread
                self._on_error(ticket, error)
            else:
                self.runs += 1
                self._on_done(ticket, result)
            with self._condition:  # idle only once the outcome was handed over
                self.busy = False
