"""Inference off the GUI thread: the newest request wins, superseded ones never run.

``LatestOnlyRunner`` is plain Python: one background thread runs ``job(request)`` on the
newest request submitted so far; requests that a newer one replaced while waiting are
dropped unrun. Each request gets a ticket number; results come back with it, so a view
can ignore a result older than the one it shows. ``RenderWorker`` wraps it in Qt signals,
which Qt delivers on the GUI thread.

``BackgroundTask`` runs one-off slow work (reading and parsing a photo) on a thread and
hands the result or the error to a callback on the GUI thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal


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


class RenderWorker(QObject):
    """Qt face of ``LatestOnlyRunner``: ``rendered(ticket, result)``, ``failed(ticket, message)``."""

    rendered = Signal(int, object)
    failed = Signal(int, str)

    def __init__(self, job: Callable[[Any], Any], parent: QObject | None = None):
        super().__init__(parent)
        self.runner = LatestOnlyRunner(job, self.rendered.emit, self._report)

    def _report(self, ticket: int, error: BaseException) -> None:
        self.failed.emit(ticket, error_message(error))

    def submit(self, request: Any) -> int:
        return self.runner.submit(request)

    @property
    def latest_ticket(self) -> int:
        """The ticket of the newest request submitted."""
        return self.runner.latest_ticket

    def idle(self) -> bool:
        """Nothing waiting and nothing running."""
        return self.runner.idle()

    def close(self) -> None:
        self.runner.close()


def error_message(error: BaseException) -> str:
    """What a person reads: our own errors as they are, others with their type."""
    from ca2sis.model.errors import CA2SISError

    if isinstance(error, CA2SISError):
        return str(error)
    return f"unexpected {type(error).__name__}: {error}"


class BackgroundTask(QObject):
    """Run ``work()`` on a thread; ``on_done(result)`` or ``on_error(message)`` run on the GUI thread."""

    _finished = Signal(object, object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._finished.connect(self._deliver)
        self.running = 0

    def start(self, work: Callable[[], Any], on_done: Callable[[Any], None], on_error: Callable[[str], None]) -> None:
        self.running += 1

        def run() -> None:
            try:
                outcome: tuple[Callable, Any] = (on_done, work())
            except Exception as error:  # shown in the window; the session goes on
                outcome = (on_error, error_message(error))
            self._finished.emit(*outcome)

        threading.Thread(target=run, name="ca2sis-task", daemon=True).start()

    def _deliver(self, callback: Callable[[Any], None], value: Any) -> None:
        self.running -= 1
        callback(value)
