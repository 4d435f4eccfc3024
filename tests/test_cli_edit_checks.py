"""`ca2sis-edit`: requests checked before the wait, and a painted mask for a photo (issue 39)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ca2sis.model.cli import edit as cli_edit

from photo_cases import FACES, photo_with_face


@pytest.mark.parametrize("global_edit", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["finished", "global"])
def test_a_painted_mask_for_a_photo_edits_the_photo(tiny_weights, tmp_path, global_edit):
    # The user paints a new mask for the face of their photo (here: the photo's face's own mask
    # with the hair grown into the background) and asks for the photo back with it.
    pixels, _ = photo_with_face("face-02")
    photo_path = tmp_path / "portrait.png"
    Image.fromarray(pixels).save(photo_path)
    mask = np.array(Image.open(FACES / "face-02.png"))
    mask[:40][mask[:40] == 0] = 13  # hair painted over the top of the background
    mask_path = tmp_path / "painted.png"
    Image.fromarray(mask).save(mask_path)
    out = tmp_path / "edited.png"
    arguments = ["--paste-back", str(photo_path), "--mask", str(mask_path), "--out", str(out),
                 "--weights", str(tiny_weights), "--backend", "torch", *(["--global"] if global_edit else [])]
    assert cli_edit.main(arguments) == 0
    edited = np.array(Image.open(out))
    assert edited.shape == pixels.shape  # the whole photo, at its own size
    assert np.any(edited != pixels)  # with the face generated from the painted mask in it


@pytest.fixture
def nothing_slow_loads(monkeypatch):
    """The networks and the face reader must not load for a request that cannot run."""
    from ca2sis.model.faces.reader import FaceReader
    from ca2sis.model.inference.engine import Engine

    def loaded(*_args, **_kwargs):
        raise AssertionError("the networks or the face reader were loaded before the request was checked")

    monkeypatch.setattr(Engine, "from_pretrained", loaded)
    monkeypatch.setattr(FaceReader, "__init__", loaded)


@pytest.mark.usefixtures("nothing_slow_loads")
@pytest.mark.parametrize("request_case", ["misspelt part", "missing reference", "missing part mask",
                                          "missing shape mask", "damaged style file", "output is the photo"])
def test_a_request_that_cannot_run_is_refused_at_once(tiny_weights, tmp_path, capsys, request_case):
    # A user mistypes a part or a file name: they are told within a second, not after the
    # networks have loaded (3.6-6 s on our CPUs), with exit code 2 and the wrong name.
    import time

    photo = tmp_path / "portrait.png"
    Image.fromarray(photo_with_face()[0]).save(photo)
    reference = FACES / "face-05.jpg"
    damaged = tmp_path / "copper.ca2style"
    damaged.write_bytes(b"not a style file")
    requests = {
        "misspelt part": (["--part", f"hiar={reference}"], "hiar"),
        "missing reference": (["--part", f"hair={tmp_path / 'missing.jpg'}"], "missing.jpg"),
        "missing part mask": (["--part", f"hair={reference}:{tmp_path / 'missing.png'}"], "missing.png"),
        "missing shape mask": (["--shape", f"nose={tmp_path / 'nose.png'}"], "nose.png"),
        "damaged style file": (["--part", f"hair={damaged}"], "copper.ca2style"),
        "output is the photo": (["--part", f"hair={reference}", "--out", str(photo)], "--out"),
    }
    options, named = requests[request_case]
    out = [] if "--out" in options else ["--out", str(tmp_path / "edited.png")]
    start = time.perf_counter()
    code = cli_edit.main(["--paste-back", str(photo), *options, *out, "--weights", str(tiny_weights),
                          "--backend", "torch"])
    seconds = time.perf_counter() - start
    error = capsys.readouterr().err
    assert code == 2 and error.startswith("error:") and named in error
    assert seconds < 1.0
    assert not (tmp_path / "edited.png").exists()


@pytest.mark.usefixtures("nothing_slow_loads")
def test_a_misspelt_part_is_refused_at_once_for_a_folder_and_for_saving_a_style(tiny_weights, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(photo_with_face()[0]).save(folder / "a.png")
    reference = FACES / "face-05.jpg"
    assert cli_edit.main(["--paste-back", str(folder), "--part", f"hair={tmp_path / 'gone.jpg'}",
                          "--out", str(tmp_path / "out"), "--weights", str(tiny_weights)]) == 2
    assert "gone.jpg" in capsys.readouterr().err and not (tmp_path / "out").exists()
    assert cli_edit.main(["--style", str(tmp_path / "gone.jpg"), "--save-style", f"hair={tmp_path / 'h.ca2style'}",
                          "--weights", str(tiny_weights)]) == 2
    assert "gone.jpg" in capsys.readouterr().err
    assert cli_edit.main(["--style", str(reference), "--save-style", f"hiar={tmp_path / 'h.ca2style'}",
                          "--weights", str(tiny_weights)]) == 2
    assert "hiar" in capsys.readouterr().err


def test_a_request_that_cannot_run_is_refused_before_torch_is_imported(tmp_path):
    # As a command the user waits for Python's start and the imports before the check: torch
    # and the networks' modules (1-2 s more on our CPUs) are imported only for a good request.
    import subprocess
    import sys

    photo = tmp_path / "portrait.png"
    Image.fromarray(photo_with_face()[0]).save(photo)
    for options, named in ((["--part", f"hiar={FACES / 'face-05.jpg'}"], "hiar"),
                           (["--part", f"hair={tmp_path / 'missing.jpg'}"], "missing.jpg"),
                           (["--part", f"hair={FACES / 'face-05.jpg'}", "--face", "all", "--mask", str(photo)],
                            "--mask")):
        arguments = ["--paste-back", str(photo), *options, "--out", str(tmp_path / "o.png")]
        code = ("import sys\nfrom ca2sis.model.cli import edit\ncode = edit.main(sys.argv[1:])\n"
                "print('torch imported' if 'torch' in sys.modules else 'no torch')\nsys.exit(code)")
        result = subprocess.run([sys.executable, "-c", code, *arguments], capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and named in result.stderr, result.stderr
        assert result.stdout.strip() == "no torch"
