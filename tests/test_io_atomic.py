"""The one atomic writer (``model/io/atomic.py``), as a user of any command sees it: a special file at
the output is refused and left as it was, a killed writer's temporaries go away on the next write of
that file (and nothing else does), and a full disk is called that, naming the user's file.
"""

from __future__ import annotations

import os
import socket
import stat
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import SafetensorError

from ca2sis.model.cli.common import run_cli
from ca2sis.model.errors import DataError, describe_error
from ca2sis.model.io import weights as weights_io
from ca2sis.model.io.atomic import (
    STALE_SECONDS,
    atomic_write,
    remove_stale_temporaries,
    temporary_name,
    write_text_atomic,
)
from ca2sis.model.io.images import check_output_paths, save_pngs

from conftest import folder_listing

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")


def _fifo(folder: Path) -> Path:
    path = folder / "pipe.png"
    os.mkfifo(path)
    return path


def _socket(folder: Path) -> tuple[Path, socket.socket]:
    path = folder / "sock.png"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    return path, server


def _kind(path: Path) -> int:
    return stat.S_IFMT(os.lstat(path).st_mode)


@needs_fifo
@pytest.mark.parametrize("writer", ["write_text_atomic", "save_pngs"])
def test_a_fifo_at_the_output_is_refused_and_stays_a_fifo(tmp_path, writer):
    fifo = _fifo(tmp_path)
    write = {"write_text_atomic": lambda: write_text_atomic(fifo, "text"),
             "save_pngs": lambda: save_pngs([(np.zeros((8, 8, 3), np.uint8), fifo)])}[writer]
    with pytest.raises(DataError, match="FIFO") as refused:
        write()
    assert str(fifo) in str(refused.value)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # not replaced by a plain file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe.png"]  # no temporary left


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix sockets on this system")
def test_a_socket_at_the_output_is_refused_before_anything_is_written(tmp_path):
    path, server = _socket(tmp_path)
    try:
        with pytest.raises(DataError, match="--out .*socket"):
            check_output_paths([("--out", path)])  # what every command checks before it runs
        with pytest.raises(DataError, match="socket"):
            with atomic_write(path) as temporary:
                temporary.write_text("never published")
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
    finally:
        server.close()


@needs_fifo
def test_a_link_to_a_fifo_is_replaced_never_followed(tmp_path):
    fifo = _fifo(tmp_path)
    link = tmp_path / "out.txt"
    link.symlink_to(fifo)
    write_text_atomic(link, "mine")  # the link is replaced (as for any link); the FIFO is untouched
    assert not link.is_symlink() and link.read_text() == "mine" and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_write_removes_its_own_old_temporaries_and_nothing_else(tmp_path):
    out = tmp_path / "out.png"
    killed = temporary_name(out)  # what a writer killed mid-write leaves
    killed.write_bytes(b"half a png")
    _age(killed, STALE_SECONDS + 60)
    running = temporary_name(out)  # a writer still at work: recent
    running.write_bytes(b"being written")
    other_target = temporary_name(tmp_path / "other.png")  # another file's: its own writer cleans it
    other_target.write_bytes(b"other")
    _age(other_target, STALE_SECONDS + 60)
    users = [tmp_path / ".out.png.notours.tmp", tmp_path / ".out.png.0123456789AB.tmp", tmp_path / "out.png.tmp"]
    for path in users:  # near the pattern, but not ours: never touched, however old
        path.write_bytes(b"the user's")
        _age(path, STALE_SECONDS + 60)
    save_pngs([(np.zeros((8, 8, 3), np.uint8), out)])
    assert not killed.exists()
    assert running.exists() and other_target.exists() and all(path.read_bytes() == b"the user's" for path in users)


def test_an_old_temporary_that_is_a_link_is_left_alone(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("mine")
    out = tmp_path / "out.txt"
    link = temporary_name(out)
    link.symlink_to(victim)
    os.utime(link, (time.time() - STALE_SECONDS - 60,) * 2, follow_symlinks=False)
    write_text_atomic(out, "text")
    assert link.is_symlink() and victim.read_text() == "mine" and out.read_text() == "text"


def _disk_full_safetensors(*_args, **_kwargs):
    raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")


def test_a_full_disk_under_safetensors_is_called_a_full_disk_naming_the_users_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(weights_io, "save_file", _disk_full_safetensors)
    out = tmp_path / "generator.safetensors"
    code = run_cli(lambda: weights_io.atomic_save_file({"t": torch.zeros(2)}, out))
    error = capsys.readouterr().err
    assert code == 2 and error.startswith(f"error: No space left on device: {out} (the disk is full"), error
    assert "Input/output" not in error and ".tmp" not in error
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_under_any_writer_names_the_output_not_the_staging_file(tmp_path):
    out = tmp_path / "face.png"
    with pytest.raises(OSError) as failed:
        with atomic_write(out) as temporary:
            raise OSError(28, "No space left on device", str(temporary))  # what a write() says
    message = describe_error(failed.value)
    assert message == f"No space left on device: {out} (the disk is full: free some space, or write elsewhere)"
    assert list(tmp_path.iterdir()) == []


def test_several_pngs_are_written_all_or_none(tmp_path):
    image = np.zeros((8, 8, 3), np.uint8)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(OSError):
        save_pngs([(image, tmp_path / "first.png"), (image, blocker / "second.png")])
    assert folder_listing(tmp_path) == ["blocker"]  # neither output nor any temporary


def test_temporaries_of_a_killed_export_are_removed(tmp_path):
    stale, fresh, mine = (tmp_path / ".mask_embedder.onnx.0123456789ab.tmp", tmp_path / ".g.onnx.ba9876543210.tmp",
                          tmp_path / "notes.tmp")
    for path in (stale, fresh, mine):
        path.write_bytes(b"x")
    os.utime(stale, (time.time() - STALE_SECONDS - 60,) * 2)
    os.utime(mine, (time.time() - STALE_SECONDS - 60,) * 2)
    assert remove_stale_temporaries(tmp_path) == [stale]
    assert fresh.exists() and mine.exists()
