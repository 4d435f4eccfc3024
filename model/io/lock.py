"""One writer per folder: a run folder is locked while a training writes into it.

The lock is an advisory OS lock (flock on POSIX, msvcrt on Windows) on a small file in the
folder: the OS releases it when the process ends, however it ends (SIGKILL included), so a
crashed run never leaves a stale lock behind.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import CA2SISError, DataError

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


def _open_lock_file(path: Path):
    """The lock file opened for reading and writing, made if missing, never truncated here (the
    holder's pid stays readable until we hold the lock). A link or a hard link planted at its
    name is refused, not followed: writing our pid would overwrite the file it points to."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    refusal = f"{path}: is not ca2sis's lock file (a link or a special file); remove it and run again"
    try:
        descriptor = os.open(path, flags, 0o666)
    except OSError:
        if path.is_symlink():  # O_NOFOLLOW's ELOOP
            raise DataError(refusal) from None
        raise
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(descriptor)
        raise DataError(refusal)
    return os.fdopen(descriptor, "r+")


@contextmanager
def folder_lock(folder: str | Path, what: str) -> Iterator[None]:
    """Hold ``folder``'s lock for the block (making the folder), or raise FolderBusy naming the
    process that holds it; ``what`` says what the folder is for the message."""
    folder = Path(folder)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    handle = _open_lock_file(path)
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
