"""A folder at once: `ca2sis-edit --paste-back DIR --out OUTDIR` edits every photo with one
engine, skips and reports the photos that fail, keeps results that exist, and says by its exit
code whether all, some or none were written."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from ca2sis.model.cli import edit as cli_edit
from ca2sis.model.cli.common import EXIT_INPUT, EXIT_SOME_FAILED

from conftest import FACE_DATA
from photo_cases import textured_photo

FIXTURE_FACES = sorted((FACE_DATA / "images").glob("*.jpg"))


def _folder(tmp_path):
    """Two portraits, a corrupt JPEG and a photo without a face."""
    folder = tmp_path / "holiday"
    folder.mkdir()
    shutil.copy(FIXTURE_FACES[0], folder / "anna.jpg")
    shutil.copy(FIXTURE_FACES[4], folder / "ben.jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg" * 20)
    Image.fromarray(textured_photo(200, 300)).save(folder / "sea.png")
    (folder / "notes.txt").write_text("not a photo: left alone")
    return folder


def _batch(folder, out, weights, *extra) -> int:
    return cli_edit.main(["--paste-back", str(folder), "--out", str(out), "--random-part", "hair:3",
                          "--weights", str(weights), "--backend", "torch", *extra])


@pytest.mark.slow
def test_a_folder_writes_the_photos_it_can_and_reports_the_others(tiny_weights, tmp_path, capsys):
    folder = _folder(tmp_path)
    inputs = {path.name: path.read_bytes() for path in folder.iterdir()}
    out = tmp_path / "edited"
    assert _batch(folder, out, tiny_weights, "--json") == EXIT_SOME_FAILED
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert sorted(path.name for path in out.iterdir()) == ["anna-edited.jpg", "ben-edited.jpg"]
    assert [entry["out"] for entry in summary["written"]] == [str(out / "anna-edited.jpg"), str(out / "ben-edited.jpg")]
    skipped = {entry["photo"].rsplit("/", 1)[-1]: entry["reason"] for entry in summary["skipped"]}
    assert set(skipped) == {"broken.jpg", "sea.png"}
    assert "cannot decode" in skipped["broken.jpg"] and "no face" in skipped["sea.png"]
    assert "skipped broken.jpg" in captured.err and "skipped sea.png" in captured.err  # said as it happens too
    assert "4/4" in captured.err  # the progress bar counted every photo
    edited = np.array(Image.open(out / "anna-edited.jpg"))
    assert edited.shape == np.array(Image.open(folder / "anna.jpg")).shape
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == inputs  # the inputs as they were

    # A second run keeps what exists (unless --overwrite) and still reports the failures.
    (out / "anna-edited.jpg").write_bytes(b"mine")
    assert _batch(folder, out, tiny_weights) == EXIT_SOME_FAILED
    text = capsys.readouterr().out
    assert "wrote 0 of 4 photos" in text and "kept" in text and (out / "anna-edited.jpg").read_bytes() == b"mine"


def test_a_folder_in_which_every_photo_fails_exits_2_and_writes_nothing(tiny_weights, tmp_path, capsys):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "broken.jpg").write_bytes(b"\x89PNG nothing else")
    assert _batch(folder, tmp_path / "edited", tiny_weights) == EXIT_INPUT
    assert "wrote 0 of 1 photos" in capsys.readouterr().out
    assert not list((tmp_path / "edited").iterdir())


def test_a_folders_results_never_go_among_its_photos(tmp_path, capsys):
    folder = tmp_path / "holiday"
    folder.mkdir()
    shutil.copy(FIXTURE_FACES[0], folder / "anna.jpg")
    assert cli_edit.main(["--paste-back", str(folder), "--out", str(folder), "--random-part", "hair:3"]) == EXIT_INPUT
    assert "a folder of their own" in capsys.readouterr().err
    assert sorted(path.name for path in folder.iterdir()) == ["anna.jpg"]
    assert cli_edit.main(["--paste-back", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == EXIT_INPUT
    (tmp_path / "empty").mkdir()
    assert cli_edit.main(["--paste-back", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == EXIT_INPUT
    assert "no photos in the folder" in capsys.readouterr().err


def test_options_that_do_nothing_are_refused_rather_than_ignored(tmp_path, capsys):
    from ca2sis.model.cli import parse as cli_parse

    photo = tmp_path / "anna.jpg"
    shutil.copy(FIXTURE_FACES[0], photo)
    for main, argv, said in (
        (cli_edit.main, ["--paste-back", str(photo), "--overwrite", "--out", str(tmp_path / "o.png")], "--overwrite"),
        (cli_edit.main, ["--mask", str(photo), "--style", str(photo), "--face", "2", "--out", str(tmp_path / "o.png")],
         "--face 2 picks a face of the --paste-back photo"),
        (cli_parse.main, [str(photo), "--list-faces", "--out", str(tmp_path / "m.png")], "--list-faces writes nothing"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == EXIT_INPUT and said in capsys.readouterr().err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["anna.jpg"]
