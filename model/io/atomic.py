"""The one atomic file writer: a reader never sees half a file, a crash leaves none behind.

Everything ca2sis writes for someone else to read (PNGs, weights, checkpoints, ONNX graphs,
reports, projects) goes through ``atomic_write``: the content is written to a temporary
file in the same folder, then renamed over the target, which is atomic on POSIX and Windows.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# The process's umask, read once at import (reading it means setting it, which is not
# thread-safe; imports run before the studio starts its worker threads).
_UMASK = os.umask(0o022)
os.umask(_UMASK)


@contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write to; on leaving the block without an
    error it replaces ``path``, on an error it is removed. Makes the parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A random name of its own: two writers of one file (two studio windows, say) stay
    # apart, and no file of the user's is ever taken for the temporary.
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        yield temporary
        # Some writers (safetensors) create their file 0600: give it the permissions any new
        # file of the user's gets, so a weights folder can be shared like the rest of theirs.
        if temporary.exists():
            os.chmod(temporary, 0o666 & ~_UMASK)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    with atomic_write(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
