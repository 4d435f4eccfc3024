"""`ca2sis` itself (`app/qt/main.py`): `--screenshot` runs as a script would use them, and what a
project or photo that fails to open gives (a message and exit 2, never a traceback or an abort)."""

from __future__ import annotations

import json

from PIL import Image

from ca2sis.app.qt.main import main as studio_main
from ca2sis.app.state.document import Studio
from ca2sis.app.state.gallery import gallery_entries
from ca2sis.app.state.project import save_project


def screenshot(weights, *args: str) -> int:
    # --backend torch: "auto" would start the first-start ONNX export on a thread that outlives
    # the window, writing into the shared weights while later tests run.
    return studio_main([*args, "--weights", str(weights), "--device", "cpu", "--backend", "torch"])


def test_a_screenshot_into_a_new_folder_is_written(qtbot, tiny_weights, tmp_path, capsys):  # noqa: ARG001
    shot = tmp_path / "nodir" / "x.png"
    assert screenshot(tiny_weights, "--screenshot", str(shot)) == 0
    assert "screenshot written" in capsys.readouterr().err
    assert Image.open(shot).size[0] > 400


def test_a_screenshot_that_cannot_be_written_is_refused_at_once(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    for path in (blocker / "x.png", tmp_path / "x.notaformat", tmp_path):
        assert studio_main(["--weights", str(tmp_path), "--screenshot", str(path)]) == 2
        assert "--screenshot" in capsys.readouterr().err


def test_a_screenshot_replaces_a_link_instead_of_writing_through_it(qtbot, tiny_weights, tmp_path):  # noqa: ARG001
    victim = tmp_path / "victim.png"
    victim.write_bytes(b"mine")
    link = tmp_path / "shot.png"
    link.symlink_to(victim)
    assert screenshot(tiny_weights, "--screenshot", str(link)) == 0
    assert victim.read_bytes() == b"mine" and not link.is_symlink() and Image.open(link).size[0] > 0


def test_a_screenshot_of_a_project_that_failed_to_open_exits_non_zero(qtbot, tiny_weights, tmp_path):  # noqa: ARG001
    project = tmp_path / "bad.ca2sis.json"
    project.write_text('{"format": "ca2sis-project", "version": 1}')
    assert screenshot(tiny_weights, str(project), "--screenshot", str(tmp_path / "shot.png")) == 2


def test_a_crafted_project_is_a_message_not_an_abort(qtbot, tiny_weights, tmp_path, capsys):  # noqa: ARG001
    # A matrix entry of 10**400 raised an OverflowError out of the loader: a traceback, then an
    # abort (exit 134). Now the window says what is wrong and the screenshot run exits 2.
    path = save_project(Studio(gallery_entries()[0].load()).document, tmp_path / "p")
    content = json.loads(path.read_text())
    content["photo_face"] = {"face": content["base"], "photo": "photo.png", "name": "x.jpg",
                             "matrix": [[10**400, 0, 0], [0, 1, 0]], "aligned_size": 512}
    path.write_text(json.dumps(content))
    Image.new("RGB", (64, 48)).save(tmp_path / "p_files" / "photo.png")
    assert screenshot(tiny_weights, str(path), "--screenshot", str(tmp_path / "shot.png")) == 2
    err = capsys.readouterr().err
    assert "beyond" in err and "Traceback" not in err
