"""The run-folder lock (``model/io/lock.py``): one training per folder, and a link planted at the lock
file's name is refused, never written through (``ln -s VICTIM runs/x/.ca2sis.lock`` must not cost
VICTIM its contents)."""

from __future__ import annotations

import fcntl
import os

import pytest
from test_data import small_dataset

from ca2sis.model.cli.train import main as train_main
from ca2sis.model.errors import DataError
from ca2sis.model.io.lock import LOCK_FILE, FolderBusy, folder_lock

from conftest import folder_digests


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


def train_one_step(*args: str) -> int:
    return train_main(["--config", "tiny", "--steps", "1", "--batch-size", "2", "--workers", "0", "--device", "cpu",
                       "--sample-every", "1000", "--checkpoint-every", "1000", "--augment", "off",
                       "--lambda-semantic", "0", "--lambda-parser", "0", *args])


def test_a_second_training_into_the_same_folder_is_refused(face_data, tmp_path, capsys):
    data, run = tmp_path / "data", tmp_path / "run"
    small_dataset(face_data, data, count=2)
    run.mkdir()
    (run / "log-synthesis.jsonl").write_text('{"step": 1}\n')  # the other training's
    before = folder_digests(run)
    with open(run / LOCK_FILE, "a+") as other:  # another training holds the folder
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        other.seek(0)
        other.truncate()
        other.write("12345\n")
        other.flush()
        assert train_one_step("--data", str(data), "--out", str(run)) == 2
    error = capsys.readouterr().err
    assert "in use by another training (process 12345)" in error
    assert {k: v for k, v in folder_digests(run).items() if k != LOCK_FILE} == \
        {k: v for k, v in before.items() if k != LOCK_FILE}
