"""Inference off the GUI thread: the newest request wins, superseded ones never run.

``LatestOnlyRunner`` (``state.runner``) is plain Python: one background thread runs
``job(request)`` on the newest request submitted so far; requests that a newer one replaced
while waiting are dropped unrun. Each request gets a ticket number; results come back with
it, so a view can ignore a result older than the one it shows. ``RenderWorker`` wraps it in
Qt signals, which Qt delivers on the GUI thread.

``BackgroundTask`` runs one-off slow work (reading and parsing a photo, reading and writing
every file the studio opens or saves) on a thread and hands the result or the error to a
callback on the GUI thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from ca2sis.model.errors import CA2SISError, describe_error

from ..state.runner import LatestOnlyRunner


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
    if isinstance(error, (CA2SISError, OSError)):  # a file that cannot be read or written: say which
        return describe_error(error)
    return f"unexpected {type(error).__name__}: {error}"


class BackgroundTask(QObject):
    """Run ``work()`` on a thread; ``on_done(result)`` or ``on_error(message)`` run on the GUI thread.

    A task started with ``writes=NAME`` writes a file: ``writing`` lists those under way, so that
    quitting can wait for them (``when_written``), and its thread is not a daemon, so the
    interpreter finishes the file even if the window is gone.
    """

    _finished = Signal(object, object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._finished.connect(self._deliver)
        self.running = 0
        self.writing: list[str] = []  # the files being written, in the order the writes began
        self._waiting: list[Callable[[bool], object]] = []
        self._write_failed = False

    def start(self, work: Callable[[], Any], on_done: Callable[[Any], None], on_error: Callable[[str], None],
              writes: str | None = None) -> None:
        self.running += 1
        if writes is not None:
            self.writing.append(writes)
            on_done, on_error = self._written(writes, on_done, True), self._written(writes, on_error, False)

        def run() -> None:
            try:
                outcome: tuple[Callable, Any] = (on_done, work())
            except Exception as error:  # shown in the window; the session goes on
                outcome = (on_error, error_message(error))
            try:
                self._finished.emit(*outcome)
            except RuntimeError:  # the window is gone (the process is ending): the work itself is done
                pass

        threading.Thread(target=run, name="ca2sis-task", daemon=writes is None).start()

    def when_written(self, callback: Callable[[bool], object]) -> None:
        """``callback(all_written)`` once no file is being written (at once when none is);
        ``all_written`` is False when one of the writes under way failed."""
        if not self.writing:
            callback(True)
            return
        if not self._waiting:
            self._write_failed = False
        self._waiting.append(callback)

    def stop_waiting(self) -> None:
        self._waiting.clear()

    def _written(self, name: str, callback: Callable[[Any], None], ok: bool) -> Callable[[Any], None]:
        def finished(value: Any) -> None:
            self.writing.remove(name)
            self._write_failed |= not ok
            callback(value)
            if not self.writing and self._waiting:
                waiting, self._waiting = self._waiting, []
                for waiter in waiting:
                    waiter(not self._write_failed)

        return finished

    def _deliver(self, callback: Callable[[Any], None], value: Any) -> None:
        self.running -= 1
        callback(value)
