"""The one atomic file writer: a reader never sees half a file, a crash leaves none behind.

Everything ca2sis writes for someone else to read (PNGs, weights, checkpoints, ONNX graphs,
reports, projects) goes through ``atomic_write``: the content is written to a temporary
file in the same folder, then renamed over the target, which is atomic on POSIX and Windows.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

# The process's umask, read once at import (reading it means setting it, which is not
# thread-safe; imports run before the studio starts its worker threads).
_UMASK = os.umask(0o022)
os.umask(_UMASK)
_TEMPORARY = re.compile(r"\..+\.[0-9a-f]{12}\.tmp")


@contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write to; on leaving the block without an
    error it replaces ``path``, on an error it is removed. Makes the parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A random name of its own: two writers of one file (two studio windows, say) stay
    # apart, and no file of the user's is ever taken for the temporary.
    temporary = temporary_name(path)
    try:
        try:
            yield temporary
        except OSError as error:  # a disk-full write names no file: name the one being written
            raise named_os_error(error, path) from error
        _publish(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


@contextmanager
def atomic_write_all(paths: Sequence[str | Path]) -> Iterator[list[Path]]:
    """``atomic_write`` for several files, all or nothing: yields one temporary per path,
    created empty and exclusively (a link planted at its name is never followed); the
    targets are replaced only once the block has written every one."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path in map(Path, paths):
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = temporary_name(path)
            temporary.open("xb").close()
            staged.append((temporary, path))
        try:
            yield [temporary for temporary, _ in staged]
        except OSError as error:
            failed = next((path for temporary, path in staged if str(temporary) == str(error.filename)), None)
            raise named_os_error(error, failed or staged[0][1]) from error
        while staged:
            _publish(*staged[0])
            staged.pop(0)
    finally:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)


def _publish(temporary: Path, path: Path) -> None:
    """Rename a written temporary over ``path``. It first gets the permissions any new file of
    the user's gets: some writers (safetensors) create theirs 0600, and a weights folder is
    to be shared like the rest of the user's files."""
    try:
        os.chmod(temporary, 0o666 & ~_UMASK)
        os.replace(temporary, path)
    except OSError as error:
        raise named_os_error(error, path) from error


def named_os_error(error: OSError, path: str | Path) -> OSError:
    """``error`` naming ``path`` (the file the user asked for) instead of a temporary or nothing."""
    if error.filename is not None and not str(error.filename).endswith(".tmp"):
        return error
    return type(error)(error.errno, error.strerror or str(error), str(path))


def temporary_name(path: Path) -> Path:
    """The temporary a writer of ``path`` uses: hidden, random (two writers stay apart, no file
    of the user's is taken for it), recognisable (``remove_stale_temporaries``)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")


STALE_SECONDS = 15 * 60  # an unfinished temporary this old is no writer's any more (a killed one's)


def remove_stale_temporaries(folder: str | Path, now: float | None = None) -> list[Path]:
    """Remove the temporaries that writers killed mid-write (SIGKILL, power loss) left in
    ``folder``: only files named as ``temporary_name`` makes them, untouched for
    ``STALE_SECONDS`` (a running writer's stays). Returns what was removed."""
    folder = Path(folder)
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if not _TEMPORARY.fullmatch(entry.name) or entry.is_symlink() or not entry.is_file():
            continue
        try:
            if now - entry.stat().st_mtime > STALE_SECONDS:
                entry.unlink()
                removed.append(entry)
        except OSError:
            continue
    return removed


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    with atomic_write(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
