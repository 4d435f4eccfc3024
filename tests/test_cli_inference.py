"""`ca2sis-edit`, `ca2sis-export` and `ca2sis-bench` end to end, as a script would call them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sysconfig
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ca2sis.model.cli import bench as cli_bench
from ca2sis.model.cli import edit as cli_edit
from ca2sis.model.inference.edits import Edit, Reference
from ca2sis.model.inference.engine import Engine
from ca2sis.model.labels import CLASS_NAMES
from ca2sis.model.photo.pipeline import PhotoPipeline

from conftest import edit_on_torch


@pytest.fixture
def two_faces(face_data):
    names = sorted(p.stem for p in (face_data / "images").glob("*.jpg"))[:2]
    return [(face_data / "images" / f"{n}.jpg", face_data / "masks" / f"{n}.png") for n in names]


HAIR = CLASS_NAMES.index("hair")


def _edit(*args: str, weights) -> int:
    return cli_edit.main([*args, "--weights", str(weights), "--device", "cpu"])


def test_reconstruction_from_the_command_line_matches_the_engine(tiny_weights, two_faces, tmp_path, capsys):
    (face, mask), _ = two_faces
    out = tmp_path / "out.png"
    code = _edit("--mask", str(mask), "--style", str(face), "--style-mask", str(mask), "--out", str(out),
                 "--backend", "torch", "--global", weights=tiny_weights)
    assert code == 0
    assert "wrote" in capsys.readouterr().out
    written = np.asarray(Image.open(out))
    engine = Engine.from_pretrained(tiny_weights, device="cpu", backend="torch")
    assert np.array_equal(written, engine.reconstruct(face, mask))  # --global: the network's own output
    # Finished (the default), an edit that changes nothing leaves the face as it is.
    assert _edit("--mask", str(mask), "--style", str(face), "--style-mask", str(mask), "--out", str(out),
                 "--backend", "torch", weights=tiny_weights) == 0
    assert np.array_equal(np.asarray(Image.open(out)), engine.load_image(face))


def test_every_kind_of_edit_from_the_command_line(tiny_weights, two_faces, tmp_path, capsys):
    (face, mask), (other, other_mask) = two_faces
    out, attention = tmp_path / "edited.png", tmp_path / "hair-attention.png"
    code = _edit(
        "--mask", str(mask), "--style", str(face), "--style-mask", str(mask),
        "--part", f"hair={other}:{other_mask}@0.5", "--part", f"l_brow={other}:{other_mask}",
        "--shape", f"nose={other_mask}:0.5", "--random-part", "u_lip:3:0.8",
        "--attention", f"hair={attention}", "--out", str(out), "--json", weights=tiny_weights,
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["backend"].startswith("torch")  # not exported to ONNX: auto runs PyTorch
    assert summary["milliseconds"]["total"] > 0
    assert Image.open(out).size == (64, 64) and Image.open(attention).size == (64, 64)
    plain = tmp_path / "plain.png"
    assert _edit("--mask", str(mask), "--style", str(face), "--style-mask", str(mask), "--out", str(plain),
                 weights=tiny_weights) == 0
    assert not np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(plain)))


def test_a_pair_named_as_one_part_styles_both_of_its_classes(tiny_weights, two_faces, tmp_path, capsys):
    (face, mask), (other, other_mask) = two_faces
    base = ("--mask", str(mask), "--style", str(face), "--style-mask", str(mask))
    pair, both = tmp_path / "pair.png", tmp_path / "both.png"
    assert _edit(*base, "--part", f"Lips={other}:{other_mask}", "--out", str(pair), weights=tiny_weights) == 0
    assert _edit(*base, "--part", f"u_lip={other}:{other_mask}", "--part", f"l_lip={other}:{other_mask}",
                 "--out", str(both), weights=tiny_weights) == 0
    assert np.array_equal(np.asarray(Image.open(pair)), np.asarray(Image.open(both)))
    capsys.readouterr()
    assert _edit(*base, "--part", f"lip={other}", "--out", str(tmp_path / "x.png"), weights=tiny_weights) == 2
    assert "or a pair: lips, eyes, brows, ears" in capsys.readouterr().err


def test_command_line_errors_have_exit_codes_and_write_nothing(
    tiny_weights, two_faces, tmp_path, capsys, monkeypatch
):
    (face, mask), _ = two_faces
    out = tmp_path / "out.png"
    bad_mask = tmp_path / "bad.png"
    Image.fromarray(np.full((64, 64), 40, np.uint8)).save(bad_mask)
    cases = [
        (["--mask", str(bad_mask), "--style", str(face), "--style-mask", str(mask)], 2, "outside 0..18"),
        (["--mask", str(mask), "--style", str(face), "--style-mask", str(mask), "--part", f"tail={face}:{mask}"],
         2, "unknown part 'tail'"),
        (["--mask", str(mask), "--style", str(face), "--style-mask", str(mask), "--shape", "nose"], 2, "PART=VALUE"),
        (["--mask", str(tmp_path / "missing.png"), "--style", str(face), "--style-mask", str(mask)], 2, "not found"),
    ]
    for args, expected_code, message in cases:
        assert _edit(*args, "--out", str(out), weights=tiny_weights) == expected_code, args
        assert message in capsys.readouterr().err
    monkeypatch.setenv("CA2SIS_PARSER_WEIGHTS", str(tmp_path))  # no face parser installed
    assert _edit("--mask", str(mask), "--style", str(face), "--out", str(out), weights=tiny_weights) == 2
    assert "no mask was given" in capsys.readouterr().err
    assert cli_edit.main(["--mask", str(mask), "--style", str(face), "--style-mask", str(mask), "--out", str(out),
                          "--weights", str(tmp_path / "nowhere")]) == 3
    assert "no ca2sis weights" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow  # ca2sis-edit in a fresh process, imports and all: about 10 s
def test_the_console_scripts_are_installed(tiny_weights, two_faces, tmp_path):
    """Every script pyproject.toml declares is installed beside the interpreter running the
    tests (pip install -e . puts them there), and ca2sis-edit runs as a user types it."""
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()  # no tomllib on Python 3.10
    section = pyproject.split("[project.scripts]", 1)[1].split("\n[", 1)[0]
    declared = [line.split("=")[0].strip() for line in section.splitlines() if "=" in line]
    assert "ca2sis-edit" in declared and "ca2sis-eval" in declared
    scripts = Path(sysconfig.get_path("scripts"))
    missing = [name for name in declared if shutil.which(name, path=str(scripts)) is None]
    assert not missing, f"declared in pyproject.toml but not installed in {scripts}: {missing} (pip install -e .)"
    (face, mask), _ = two_faces
    out = tmp_path / "out.png"
    args = ["--mask", str(mask), "--style", str(face), "--style-mask", str(mask), "--out", str(out),
            "--weights", str(tiny_weights), "--device", "cpu"]
    command = [shutil.which("ca2sis-edit", path=str(scripts))]
    finished = subprocess.run([*command, *args], capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert out.exists()


def test_export_writes_onnx_that_agrees_with_torch(tiny_export_run):
    folder, printed = tiny_export_run  # `ca2sis-export --check --int8` on a copy of the tiny weights, once a session
    assert printed.count("wrote") == 4 and "max |onnx - torch| generator image" in printed
    assert "int8 G on 2 faces" in printed
    assert Engine.onnx_export_current(folder)


@pytest.mark.slow
def test_bench_reports_latency_per_backend(tiny_onnx_weights, tmp_path, capsys):
    report = tmp_path / "bench.json"
    code = cli_bench.main(["--weights", str(tiny_onnx_weights), "--variants", "torch-cpu", "onnx-cpu",
                       "--runs", "2", "--warmup", "1", "--json", str(report)])
    assert code == 0
    table = capsys.readouterr().out
    assert "| torch-cpu |" in table and "| onnx-cpu |" in table
    results = json.loads(report.read_text())["results"]
    for row in results:
        for operation in ("full generation", "part edit"):
            assert 0 < row[operation]["min_ms"] <= row[operation]["median_ms"]
            assert row[operation]["runs"] == 2


@pytest.mark.slow
def test_bench_of_random_weights_takes_a_config_json_and_leaves_it_alone(tiny_weights, tmp_path, capsys):
    config = tmp_path / "my-config.json"
    shutil.copy(tiny_weights / "config.json", config)
    before = config.read_bytes()
    code = cli_bench.main(["--config", str(config.resolve()), "--variants", "torch-cpu",
                           "--runs", "1", "--warmup", "0"])
    assert code == 0, capsys.readouterr().err
    assert "| torch-cpu |" in capsys.readouterr().out
    assert config.read_bytes() == before and sorted(tmp_path.iterdir()) == [config]


@pytest.mark.slow
def test_a_style_face_without_its_mask_is_parsed_automatically(tiny_weights, two_faces, tmp_path):
    (face, mask), (other, _) = two_faces
    out = tmp_path / "out.png"
    assert _edit("--mask", str(mask), "--style", str(face), "--part", f"hair={other}", "--out", str(out),
                 weights=tiny_weights) == 0
    # The face the engine makes when it parses both faces itself (references without masks).
    engine = Engine.from_pretrained(tiny_weights, device="cpu")
    edit = Edit(mask=mask, style=Reference(face), part_styles={HAIR: (Reference(other), 1.0)})
    assert np.array_equal(np.asarray(Image.open(out)), PhotoPipeline(engine).render(edit, full_photo=True).image)


def test_a_failing_attention_path_writes_no_out(tiny_weights, face_files, tmp_path, capsys):
    face, mask = face_files
    out = tmp_path / "out" / "o.png"
    code = edit_on_torch("--mask", str(mask), "--style", str(face), "--style-mask", str(mask),
                         "--attention", f"hair={face}/attention.png", "--out", str(out), weights=tiny_weights)
    assert code == 2 and "is a file, not a folder" in capsys.readouterr().err
    assert not out.exists() and not out.parent.exists()


def test_a_strength_outside_0_to_1_is_reported_as_a_strength(tiny_weights, face_files, tmp_path, capsys):
    face, mask = face_files
    base = ["--mask", str(mask), "--style", str(face), "--style-mask", str(mask), "--out", str(tmp_path / "o.png")]
    for option, value in [("--part", f"hair={face}:{mask}@-1"), ("--part", f"hair={face}:{mask}@1e3"),
                          ("--shape", f"nose={mask}:-0.5"), ("--random-part", "hair:3:-0.5")]:
        assert edit_on_torch(*base, option, value, weights=tiny_weights) == 2
        assert "is outside 0..1" in capsys.readouterr().err, value


def test_a_style_mask_without_face_parts_is_warned_about(tiny_weights, face_files, tmp_path, capsys):
    face, mask = face_files
    hair_only = tmp_path / "hair_only.png"
    Image.fromarray(np.where(np.asarray(Image.open(mask)) > 0, HAIR, 0).astype(np.uint8)).save(hair_only)
    out = tmp_path / "o.png"
    assert edit_on_torch("--mask", str(mask), "--style", str(face), "--style-mask", str(hair_only), "--out", str(out),
                         weights=tiny_weights) == 0
    assert "has no face parts" in capsys.readouterr().err
    assert edit_on_torch("--mask", str(mask), "--style", str(face), "--style-mask", str(mask), "--out", str(out),
                         weights=tiny_weights) == 0
    assert "warning" not in capsys.readouterr().err


@pytest.mark.slow
def test_a_failed_paste_back_writes_no_file_and_names_the_one_it_could_not(
        tiny_weights, face_data, tmp_path, monkeypatch, capsys):
    photo = sorted((face_data / "images").glob("*.jpg"))[0]
    out, face_out = tmp_path / "edited.jpg", tmp_path / "face.png"

    def disk_full(image, file, filename):  # noqa: ARG001
        raise OSError(28, "No space left on device")

    monkeypatch.setitem(Image.SAVE, "JPEG", disk_full)
    code = cli_edit.main(["--paste-back", str(photo), "--whole-picture", "--random-part", "hair:1", "--out", str(out),
                          "--face-out", str(face_out), "--weights", str(tiny_weights), "--device", "cpu",
                          "--backend", "torch"])
    error = capsys.readouterr().err
    assert code == 2 and "No space left on device" in error and str(out) in error
    assert sorted(p.name for p in tmp_path.iterdir()) == []
