"""What every console script shares (``model/cli/common.py``): argument errors are one line starting
with "error:" (exit 2), abbreviated options are refused (``--face`` is not ``--face-out``), bad input
exits 2, and anything else (a ValueError from a numpy bug) is a bug: exit 1 with its traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ca2sis.app.qt.main import main as studio_main
from ca2sis.model.cli import bench as cli_bench
from ca2sis.model.cli import edit as cli_edit
from ca2sis.model.cli import eval as cli_eval
from ca2sis.model.cli import export as cli_export
from ca2sis.model.cli import parse as cli_parse
from ca2sis.model.cli import train as cli_train
from ca2sis.model.cli import train_parser as cli_train_parser
from ca2sis.model.cli.common import run_cli
from ca2sis.model.errors import DataError
from ca2sis.model.inference.engine import Engine

from conftest import edit_on_torch, file_digest, folder_listing

REPO = Path(__file__).resolve().parents[1]

# Each console script with an option it does not have, as a user would mistype it.
MISTYPED = [
    ("ca2sis-edit", cli_edit.main, ["--mask", "m.png", "--style", "f.jpg", "--out", "o.png", "--bogus"]),
    ("ca2sis-parse", cli_parse.main, ["f.jpg", "--out", "m.png", "--bogus"]),
    ("ca2sis-bench", cli_bench.main, ["--bogus"]),
    ("ca2sis-export", cli_export.main, ["weights", "--bogus"]),
    ("ca2sis-eval", cli_eval.main, ["--data", "d", "--bogus"]),
    ("ca2sis-train", cli_train.main, ["--data", "d", "--out", "r", "--bogus"]),
    ("ca2sis-train export", cli_train.main, ["export", "r", "--out", "w", "--bogus"]),
    ("ca2sis-train-parser", cli_train_parser.main, ["--data", "d", "--out", "r", "--bogus"]),
    ("ca2sis", studio_main, ["--bogus"]),
]

# Each console script with an unambiguous abbreviation of one of its options: argparse's default
# takes it for the option, so a misspelt or future option would silently do something.
ABBREVIATED = [
    ("ca2sis-edit", cli_edit.main, ["--mask", "m.png", "--style", "f.jpg", "--out", "o.png", "--face-o", "2"]),
    ("ca2sis-parse", cli_parse.main, ["f.jpg", "--out", "m.png", "--aligned", "a.png"]),
    ("ca2sis-bench", cli_bench.main, ["--thread", "1"]),
    ("ca2sis-export", cli_export.main, ["weights", "--int8-lim", "3"]),
    ("ca2sis-eval", cli_eval.main, ["--data", "d", "--mark", "t.md"]),
    ("ca2sis-train", cli_train.main, ["--dat", "d", "--out", "r"]),
    ("ca2sis-train export", cli_train.main, ["export", "r", "--out", "w", "--mapping", "m"]),
    ("ca2sis-train-parser", cli_train_parser.main, ["--data", "d", "--out", "r", "--val", "ids.txt"]),
    ("ca2sis", studio_main, ["--screen", "shot.png"]),
]


def _exit(main, argv, capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize(("name", "main", "argv"), MISTYPED, ids=[case[0] for case in MISTYPED])
def test_an_argument_error_is_one_line_starting_with_error(name, main, argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, error = _exit(main, argv, capsys)
    assert code == 2
    assert error == f"error: {name}: unrecognized arguments: --bogus (see {name} --help)\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("name", "main", "argv"), ABBREVIATED, ids=[case[0] for case in ABBREVIATED])
def test_abbreviated_options_are_refused(name, main, argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, error = _exit(main, argv, capsys)
    abbreviation = next(arg for arg in argv[::-1] if arg.startswith("--") and arg not in ("--out", "--data"))
    assert code == 2 and error.startswith(f"error: {name}: unrecognized arguments: {abbreviation}"), error
    assert list(tmp_path.iterdir()) == []


def test_edit_with_face_for_face_out_writes_nothing(tiny_weights, face_data, tmp_path, monkeypatch, capsys):
    """The issue's case: `--face 2` was taken as `--face-out 2`, and the edit ran. `--face N` is now an
    option of its own (a face of the --paste-back photo): without a photo it is refused, nothing written."""
    monkeypatch.chdir(tmp_path)
    face = sorted((face_data / "images").glob("*.jpg"))[0]
    mask = face_data / "masks" / f"{face.stem}.png"
    argv = ["--mask", str(mask), "--style", str(face), "--style-mask", str(mask), "--face", "2",
            "--out", "o.png", "--weights", str(tiny_weights), "--device", "cpu"]
    with pytest.raises(SystemExit) as exit_info:
        cli_edit.main(argv)
    assert exit_info.value.code == 2 and list(tmp_path.iterdir()) == []
    assert capsys.readouterr().err.startswith("error: ca2sis-edit: --face 2 picks a face of the --paste-back photo")


def _raise(error: BaseException):
    def body() -> int:
        raise error
    return body


def test_run_cli_maps_input_errors_to_2_and_lets_bugs_raise(capsys):
    assert run_cli(_raise(DataError("face.png: not a picture"))) == 2
    assert capsys.readouterr().err == "error: face.png: not a picture\n"
    assert run_cli(_raise(FileNotFoundError(2, "No such file or directory", "x.png"))) == 2
    assert capsys.readouterr().err == "error: No such file or directory: x.png\n"
    with pytest.raises(ValueError, match="broadcast"):  # a bug: its traceback, never "bad input"
        run_cli(_raise(ValueError("operands could not be broadcast together with shapes (3,) (4,)")))
    assert capsys.readouterr().err == ""


def _broken_generate(*_args, **_kwargs):
    np.zeros(3) + np.zeros(4)  # a numpy broadcast bug inside the engine


def test_a_value_error_inside_the_engine_is_a_bug_not_bad_input(tiny_weights, face_data, tmp_path, monkeypatch,
                                                                  capsys):
    monkeypatch.setattr(Engine, "generate", _broken_generate)
    face = sorted((face_data / "images").glob("*.jpg"))[0]
    mask = face_data / "masks" / f"{face.stem}.png"
    argv = ["--mask", str(mask), "--style", str(face), "--style-mask", str(mask), "--out", str(tmp_path / "o.png"),
            "--weights", str(tiny_weights), "--device", "cpu", "--backend", "torch"]
    with pytest.raises(ValueError, match="broadcast"):
        cli_edit.main(argv)
    assert "error:" not in capsys.readouterr().err and not (tmp_path / "o.png").exists()
    # Bad input still exits 2, one line.
    assert cli_edit.main([*argv[:-6], "--part", "nose=" + str(tmp_path / "missing.jpg"), *argv[-6:]]) == 2
    assert capsys.readouterr().err.startswith("error:")


@pytest.mark.slow  # a fresh interpreter imports torch: about 5 s on 2 busy cores
def test_a_bug_in_a_console_script_exits_1_with_a_traceback(tiny_weights, face_data, tmp_path):
    face = sorted((face_data / "images").glob("*.jpg"))[0]
    mask = face_data / "masks" / f"{face.stem}.png"
    script = (
        "import sys\n"
        "import numpy as np\n"
        "from ca2sis.model.inference.engine import Engine\n"
        "Engine.generate = lambda *a, **k: np.zeros(3) + np.zeros(4)\n"
        "from ca2sis.model.cli.edit import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    argv = ["--mask", str(mask), "--style", str(face), "--style-mask", str(mask), "--out", str(tmp_path / "o.png"),
            "--weights", str(tiny_weights), "--device", "cpu", "--backend", "torch"]
    done = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=120)
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr and "operands could not be broadcast" in done.stderr
    assert not done.stderr.startswith("error:") and not (tmp_path / "o.png").exists()


def test_an_output_that_is_an_input_or_another_output_is_refused(tiny_weights, face_files, tmp_path, capsys):
    face, mask = face_files
    before = {path: file_digest(path) for path in (face, mask)}
    base = ["--mask", str(mask), "--style", str(face), "--style-mask", str(mask)]
    out = tmp_path / "o.png"
    cases = [
        ([*base, "--out", str(face)], "is one of the inputs"),
        ([*base, "--out", str(tmp_path / "." / "mask.png")], "is one of the inputs"),
        ([*base, "--out", str(tmp_path / "tiny" / ".." / "face.png")], "is one of the inputs"),
        ([*base, "--attention", f"hair={out}", "--out", str(out)], "--out writes the same file"),
        ([*base, "--out", str(tiny_weights / "config.json")], "is one of the inputs"),
    ]
    for args, message in cases:
        assert edit_on_torch(*args, weights=tiny_weights) == 2, args
        assert message in capsys.readouterr().err
    link = tmp_path / "link.png"
    link.symlink_to(face)
    assert edit_on_torch(*base, "--out", str(link), weights=tiny_weights) == 2
    assert cli_parse.main([str(face), "--no-align", "--out", str(face)]) == 2
    assert "is one of the inputs" in capsys.readouterr().err
    assert cli_parse.main([str(face), "--no-align", "--out", str(out), "--aligned-out", str(out)]) == 2
    assert "--out writes the same file" in capsys.readouterr().err
    assert {path: file_digest(path) for path in (face, mask)} == before
    assert not out.exists()


def test_out_onto_a_folder_is_refused_and_leaves_no_stray_file(tiny_weights, face_files, tmp_path, capsys):
    face, mask = face_files
    folder = tmp_path / "results"
    folder.mkdir()
    listing = folder_listing(tmp_path)
    assert edit_on_torch("--mask", str(mask), "--style", str(face), "--style-mask", str(mask), "--out", str(folder),
                         weights=tiny_weights) == 2
    assert "is a folder" in capsys.readouterr().err
    assert cli_parse.main([str(face), "--no-align", "--out", str(folder)]) == 2
    assert folder_listing(tmp_path) == listing
