"""The one atomic file writer: a reader never sees half a file, a crash leaves none behind.

Everything ca2sis writes for someone else to read (PNGs, weights, checkpoints, ONNX graphs,
reports, projects) goes through ``atomic_write``: the content is written to a temporary
file in the same folder, then renamed over the target, which is atomic on POSIX and Windows.
Only a regular file (or a link, which is replaced, never followed) is ever replaced: a
device, a FIFO or a socket at the target is refused, so ``--out /dev/null`` run as root
cannot replace ``/dev/null``. Each write first removes its own target's temporaries that a
killed writer left (``remove_stale_temporaries``).
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..errors import DISK_FULL_ERRNOS, NotARegularFile

# The process's umask, read once at import (reading it means setting it, which is not
# thread-safe; imports run before the studio starts its worker threads).
_UMASK = os.umask(0o022)
os.umask(_UMASK)
_TOKEN = r"\.[0-9a-f]{12}\.tmp"  # what temporary_name puts after ".NAME"
_TEMPORARY = re.compile(r"\..+" + _TOKEN)
# "os error 28" (Rust: safetensors), "code: 28" (older safetensors), "[Errno 28]" (a wrapped OSError).
_ERRNO_IN_TEXT = re.compile(r"os error (\d+)|code: (\d+)|\[Errno (\d+)\]")


@contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write to; on leaving the block without an
    error it replaces ``path``, on an error it is removed. Makes the parent folders."""
    path = Path(path)
    check_replaceable(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent, of=path.name)
    # A random name of its own: two writers of one file (two studio windows, say) stay
    # apart, and no file of the user's is ever taken for the temporary.
    temporary = temporary_name(path)
    try:
        try:
            yield temporary
        except Exception as error:  # a disk-full write names no file: name the one being written
            failure = write_failure(error, path)
            if failure is None:
                raise
            raise failure from error
        _publish(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


@contextmanager
def atomic_write_all(paths: Sequence[str | Path]) -> Iterator[list[Path]]:
    """``atomic_write`` for several files, all or nothing: yields one temporary per path,
    created empty and exclusively (a link planted at its name is never followed); the
    targets are replaced only once the block has written every one."""
    staged: list[tuple[Path, Path]] = []
    paths = [Path(path) for path in paths]
    for path in paths:  # every target checked before any temporary is made
        check_replaceable(path)
    try:
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_temporaries(path.parent, of=path.name)
            temporary = temporary_name(path)
            try:
                temporary.open("xb").close()
            except OSError as error:  # no room for even an empty file (no inodes left)
                raise named_os_error(error, path) from error
            staged.append((temporary, path))
        try:
            yield [temporary for temporary, _ in staged]
        except Exception as error:
            filename = getattr(error, "filename", None)
            failed = next((path for temporary, path in staged if str(temporary) == str(filename)), None)
            failure = write_failure(error, failed or staged[0][1])
            if failure is None:
                raise
            raise failure from error
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
    check_replaceable(path)  # again: something may have been made there while the content was written
    try:
        os.chmod(temporary, 0o666 & ~_UMASK)
        os.replace(temporary, path)
    except OSError as error:
        raise named_os_error(error, path) from error


_SPECIAL_FILES = ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                  (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"))


def check_replaceable(path: str | Path) -> None:
    """Refuse (NotARegularFile) a target that exists and is neither a regular file nor a link: the
    rename would put a plain file in place of a device, a FIFO or a socket (as root, ``/dev/null``
    itself). A link is fine: the rename replaces the link, never what it points to."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:  # not there (the usual case), or not reachable: the write itself reports that
        return
    if stat.S_ISREG(mode) or stat.S_ISLNK(mode):
        return
    kind = next((name for test, name in _SPECIAL_FILES if test(mode)), "not a regular file")
    raise NotARegularFile(f"{path}: is {kind}, not a regular file; ca2sis writes only regular files: give a file name")


def os_error_number(error: BaseException) -> int | None:
    """The errno behind a failed write: an OSError's own, or one a wrapping library wrote in its
    message ("os error 28" from safetensors), looked for through the chain of causes."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError):
            # EIO may be a library's stand-in for what it could not parse: the cause may say more.
            if error.errno is not None and error.errno != errno.EIO:
                return error.errno
        else:
            match = _ERRNO_IN_TEXT.search(str(error))
            if match:
                return int(next(group for group in match.groups() if group))
        error = error.__cause__ or error.__context__
    return None


def write_failure(error: BaseException, path: str | Path) -> OSError | None:
    """The OSError to report for ``error`` raised while writing ``path``'s temporary, naming
    ``path``: an OSError, or a library's error that says the disk is full (safetensors' "os
    error 28"); None for anything else (a bug, or the writer's own DataError): it stays as is."""
    if isinstance(error, OSError):
        return named_os_error(error, path)
    number = os_error_number(error)
    if number not in DISK_FULL_ERRNOS:  # anything else a library says is left as it said it
        return None
    return OSError(number, os.strerror(number), str(path))


def named_os_error(error: OSError, path: str | Path) -> OSError:
    """``error`` naming ``path`` (the file the user asked for) instead of a temporary or nothing;
    a full disk is called that, even where a library reported it as an I/O error."""
    if isinstance(error, NotARegularFile):  # names its file already
        return error
    number = os_error_number(error)
    if number in DISK_FULL_ERRNOS:
        return OSError(number, os.strerror(number), str(path))
    if error.filename is not None and not _is_staging_name(error.filename):
        return error
    return type(error)(error.errno, error.strerror or str(error), str(path))


def _is_staging_name(filename: object) -> bool:
    return str(filename).endswith(".tmp") or bool(_TEMPORARY.fullmatch(Path(str(filename)).name))


def temporary_name(path: Path) -> Path:
    """The temporary a writer of ``path`` uses: hidden, random (two writers stay apart, no file
    of the user's is taken for it), recognisable (``remove_stale_temporaries``)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")


STALE_SECONDS = 15 * 60  # an unfinished temporary this old is no writer's any more (a killed one's)


def remove_stale_temporaries(folder: str | Path, now: float | None = None, of: str | None = None) -> list[Path]:
    """Remove the temporaries that writers killed mid-write (SIGKILL, power loss) left in
    ``folder`` (only those of the file named ``of`` when given): only regular files named as
    ``temporary_name`` makes them, owned by this user and untouched for ``STALE_SECONDS`` (a
    running writer's stays). Never raises; returns what was removed."""
    folder = Path(folder)
    now = time.time() if now is None else now
    pattern = _TEMPORARY if of is None else re.compile(re.escape(f".{of}") + _TOKEN)
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        try:
            info = os.lstat(entry)
            ours = not hasattr(os, "geteuid") or info.st_uid == os.geteuid()
            if stat.S_ISREG(info.st_mode) and ours and now - info.st_mtime > STALE_SECONDS:
                entry.unlink()
                removed.append(entry)
        except OSError:
            continue
    return removed


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    with atomic_write(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
