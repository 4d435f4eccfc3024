"""The run-folder lock (``model/io/lock.py``): one training per folder, and a link planted at the lock
file's name is refused, never written through (``ln -s VICTIM runs/x/.ca2sis.lock`` must not cost
VICTIM its contents)."""

from __future__ import annotations

import os

import pytest

from ca2sis.model.errors import DataError
from ca2sis.model.io.lock import LOCK_FILE, FolderBusy, folder_lock


def test_the_lock_holds_the_folder_and_names_its_holder(tmp_path):
    with folder_lock(tmp_path, "training"):
        assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()}\n"
        with pytest.raises(FolderBusy, match=f"process {os.getpid()}"):
            with folder_lock(tmp_path, "training"):
                pass


@pytest.mark.parametrize("planted", ["symlink", "hard link"])
def test_a_link_at_the_lock_file_is_refused_and_its_target_kept(tmp_path, planted):
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's notes\n")
    run = tmp_path / "run"
    run.mkdir()
    if planted == "symlink":
        (run / LOCK_FILE).symlink_to(victim)
    else:
        os.link(victim, run / LOCK_FILE)
    with pytest.raises(DataError, match="lock file") as refused:
        with folder_lock(run, "training"):
            pytest.fail("the folder was locked through a planted link")
    assert str(run / LOCK_FILE) in str(refused.value)
    assert victim.read_text() == "the user's notes\n"


def test_a_link_to_a_missing_file_is_not_followed_either(tmp_path):
    target = tmp_path / "elsewhere" / "made.txt"
    target.parent.mkdir()
    (tmp_path / LOCK_FILE).symlink_to(target)
    with pytest.raises(DataError):
        with folder_lock(tmp_path, "training"):
            pass
    assert not target.exists()
