"""One writer per folder: a run folder is locked while a training writes into it.

The lock is an advisory OS lock (flock on POSIX, msvcrt on Windows) on a small file in the
folder: the OS releases it when the process ends, however it ends (SIGKILL included), so a
crashed run never leaves a stale lock behind.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import CA2SISError

LOCK_FILE = ".ca2sis.lock"


class FolderBusy(CA2SISError):
    """Another process holds the folder's lock."""


def _try_lock(handle) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def folder_lock(folder: str | Path, what: str) -> Iterator[None]:
    """Hold ``folder``'s lock for the block (making the folder), or raise FolderBusy naming the
    process that holds it; ``what`` says what the folder is for the message."""
    folder = Path(folder)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    # Opened without truncating: the holder's pid stays readable until we hold the lock.
    handle = open(path, "a+")
    try:
        if not _try_lock(handle):
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise FolderBusy(f"{folder} is in use by another {what} (process {holder}): wait for it to "
                             "finish, or choose another folder")
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock
        if created and [entry.name for entry in folder.iterdir()] == [LOCK_FILE]:  # refused before any work
            path.unlink(missing_ok=True)
            folder.rmdir()
