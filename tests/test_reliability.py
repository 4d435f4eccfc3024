"""Issue 18: no lost files, no tracebacks, no wrong output with exit 0. One test (or more) per item."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from ca2sis.app.qt.main import main as studio_main
from ca2sis.model.cli import edit as cli_edit
from ca2sis.model.cli import export as onnx_export
from ca2sis.model.cli import parse as cli_parse
from ca2sis.model.errors import DataError, WeightsError
from ca2sis.model.inference.edits import Edit, Reference
from ca2sis.model.inference.engine import Engine
from ca2sis.model.io.images import MIN_INPUT_SIZE, as_image, save_pngs
from ca2sis.model.io.weights import atomic_save_file
from ca2sis.model.labels import CLASS_NAMES

HAIR = CLASS_NAMES.index("hair")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def folder_listing(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


@pytest.fixture
def face_files(face_data, tmp_path) -> tuple[Path, Path]:
    """A copy of one fixture face and its mask, at 64 px (what the tiny weights work at)."""
    name = sorted(p.stem for p in (face_data / "images").glob("*.jpg"))[0]
    face, mask = tmp_path / "face.png", tmp_path / "mask.png"
    Image.open(face_data / "images" / f"{name}.jpg").resize((64, 64)).save(face)
    Image.open(face_data / "masks" / f"{name}.png").resize((64, 64), Image.Resampling.NEAREST).save(mask)
    return face, mask


def edit(*args: str, weights: Path) -> int:
    return cli_edit.main([*args, "--weights", str(weights), "--device", "cpu", "--backend", "torch"])


# ---- 2. an output that is an input, or another output, is refused -----------------------------------
def test_item2_an_output_that_is_an_input_or_another_output_is_refused(tiny_weights, face_files, tmp_path, capsys):
    face, mask = face_files
    before = {path: digest(path) for path in (face, mask)}
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
        assert edit(*args, weights=tiny_weights) == 2, args
        assert message in capsys.readouterr().err
    link = tmp_path / "link.png"
    link.symlink_to(face)
    assert edit(*base, "--out", str(link), weights=tiny_weights) == 2
    assert cli_parse.main([str(face), "--no-align", "--out", str(face)]) == 2
    assert "is one of the inputs" in capsys.readouterr().err
    assert cli_parse.main([str(face), "--no-align", "--out", str(out), "--aligned-out", str(out)]) == 2
    assert "--out writes the same file" in capsys.readouterr().err
    assert {path: digest(path) for path in (face, mask)} == before
    assert not out.exists()


# ---- 3. nothing is written when an edit fails ---------------------------------------------------------
def test_item3_a_failing_attention_path_writes_no_out(tiny_weights, face_files, tmp_path, capsys):
    face, mask = face_files
    out = tmp_path / "out" / "o.png"
    code = edit("--mask", str(mask), "--style", str(face), "--style-mask", str(mask),
                "--attention", f"hair={face}/attention.png", "--out", str(out), weights=tiny_weights)
    assert code == 2 and "is a file, not a folder" in capsys.readouterr().err
    assert not out.exists() and not out.parent.exists()


def test_item3_several_pngs_are_written_all_or_none(tmp_path):
    image = np.zeros((8, 8, 3), np.uint8)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(OSError):
        save_pngs([(image, tmp_path / "first.png"), (image, blocker / "second.png")])
    assert folder_listing(tmp_path) == ["blocker"]  # neither output nor any temporary


# ---- 4. any integer is a seed ------------------------------------------------------------------------
def test_item4_negative_seeds_give_a_style(tiny_weights, face_files, tmp_path):
    face, mask = face_files
    engine = Engine.from_pretrained(tiny_weights, device="cpu", backend="torch")
    assert np.array_equal(engine.random_codes(-1), engine.random_codes(2**63 - 1))  # -1 % 2**63
    assert not np.array_equal(engine.random_codes(-1), engine.random_codes(-2))
    assert np.isfinite(engine.random_codes(-(10**30))).all()
    out = tmp_path / "o.png"
    assert edit("--mask", str(mask), "--style", str(face), "--style-mask", str(mask), "--random-part", "hair:-1",
                "--out", str(out), weights=tiny_weights) == 0
    assert out.exists()


# ---- 5. a config.json field of the wrong type: exit 3 with the field named --------------------------
@pytest.mark.parametrize("field, value", [("image_size", "abc"), ("generator_channels", [32, "x", 16, 8]),
                                          ("grouped_style_encoder", "yes"), ("style_dim", 0)])
def test_item5_a_config_field_of_the_wrong_type_is_a_weights_error(tiny_weights, face_files, tmp_path, capsys,
                                                                   field, value):
    face, mask = face_files
    weights = tmp_path / "weights"
    shutil.copytree(tiny_weights, weights)
    config = json.loads((weights / "config.json").read_text())
    config[field] = value
    (weights / "config.json").write_text(json.dumps(config))
    with pytest.raises(WeightsError, match=field):
        Engine.from_pretrained(weights, device="cpu", backend="torch")
    assert edit("--mask", str(mask), "--style", str(face), "--style-mask", str(mask), "--out",
                str(tmp_path / "o.png"), weights=weights) == 3
    assert field in capsys.readouterr().err
    assert onnx_export.main([str(weights)]) == 3
    assert field in capsys.readouterr().err
    assert studio_main(["--weights", str(weights), "--device", "cpu"]) == 3
    assert field in capsys.readouterr().err


# ---- 7. --out onto a folder leaves nothing beside it ----------------------------------------------------
def test_item7_out_onto_a_folder_is_refused_and_leaves_no_stray_file(tiny_weights, face_files, tmp_path, capsys):
    face, mask = face_files
    folder = tmp_path / "results"
    folder.mkdir()
    listing = folder_listing(tmp_path)
    assert edit("--mask", str(mask), "--style", str(face), "--style-mask", str(mask), "--out", str(folder),
                weights=tiny_weights) == 2
    assert "is a folder" in capsys.readouterr().err
    assert cli_parse.main([str(face), "--no-align", "--out", str(folder)]) == 2
    assert folder_listing(tmp_path) == listing


def test_item7_weights_written_onto_a_folder_leave_no_temporary(tmp_path):
    (tmp_path / "generator.safetensors").mkdir()
    with pytest.raises(OSError):
        atomic_save_file({"w": torch.zeros(2)}, tmp_path / "generator.safetensors")
    assert folder_listing(tmp_path) == ["generator.safetensors"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_exported_weights_get_the_permissions_of_any_new_file_of_the_user(tmp_path):
    # safetensors alone creates 0600 files: a weights folder others cannot read.
    umask = os.umask(0o022)
    os.umask(umask)
    atomic_save_file({"w": torch.zeros(2)}, tmp_path / "generator.safetensors")
    assert stat.S_IMODE((tmp_path / "generator.safetensors").stat().st_mode) == 0o666 & ~umask


# ---- 8. a strength outside 0..1 is named as such -----------------------------------------------------
def test_item8_a_negative_strength_is_reported_as_a_strength(tiny_weights, face_files, tmp_path, capsys):
    face, mask = face_files
    base = ["--mask", str(mask), "--style", str(face), "--style-mask", str(mask), "--out", str(tmp_path / "o.png")]
    for option, value in [("--part", f"hair={face}:{mask}@-1"), ("--part", f"hair={face}:{mask}@1e3"),
                          ("--shape", f"nose={mask}:-0.5"), ("--random-part", "hair:3:-0.5")]:
        assert edit(*base, option, value, weights=tiny_weights) == 2
        assert "is outside 0..1" in capsys.readouterr().err, value


# ---- 9. weights with NaN or Inf are refused, naming the file and the tensor ----------------------------
def test_item9_weights_with_nan_are_refused(tiny_weights, face_files, tmp_path, capsys):
    face, mask = face_files
    weights = tmp_path / "weights"
    shutil.copytree(tiny_weights, weights, ignore=shutil.ignore_patterns("*.onnx"))
    tensors = load_file(str(weights / "generator.safetensors"))
    name = sorted(key for key, tensor in tensors.items() if tensor.is_floating_point())[0]
    tensors[name][..., 0] = float("nan")
    save_file(tensors, str(weights / "generator.safetensors"))
    with pytest.raises(WeightsError, match=f"generator.safetensors: tensor {name} holds"):
        Engine.from_pretrained(weights, device="cpu")
    assert edit("--mask", str(mask), "--style", str(face), "--style-mask", str(mask), "--out",
                str(tmp_path / "o.png"), weights=weights) == 3
    assert name in capsys.readouterr().err and not (tmp_path / "o.png").exists()


# ---- 12. tiny images are refused; a style mask with no face parts is warned about ----------------------
def test_item12_an_image_below_the_minimum_size_is_refused(tiny_weights, face_files, tmp_path, capsys):
    face, mask = face_files
    small = tmp_path / "small.png"
    Image.open(face).resize((8, 8)).save(small)
    with pytest.raises(DataError, match=f"at least {MIN_INPUT_SIZE}x{MIN_INPUT_SIZE}"):
        as_image(small, 64)
    engine = Engine.from_pretrained(tiny_weights, device="cpu", backend="torch")
    with pytest.raises(DataError, match="only 8x8"):
        engine.render(Edit(mask=mask, style=Reference(small, mask)))
    small_mask = tmp_path / "small_mask.png"
    Image.open(mask).resize((8, 8), Image.Resampling.NEAREST).save(small_mask)
    assert edit("--mask", str(small_mask), "--style", str(face), "--style-mask", str(mask), "--out",
                str(tmp_path / "o.png"), weights=tiny_weights) == 2
    assert "only 8x8" in capsys.readouterr().err


def test_item12_a_style_mask_without_face_parts_is_warned_about(tiny_weights, face_files, tmp_path, capsys):
    face, mask = face_files
    hair_only = tmp_path / "hair_only.png"
    Image.fromarray(np.where(np.asarray(Image.open(mask)) > 0, HAIR, 0).astype(np.uint8)).save(hair_only)
    out = tmp_path / "o.png"
    assert edit("--mask", str(mask), "--style", str(face), "--style-mask", str(hair_only), "--out", str(out),
                weights=tiny_weights) == 0
    assert "has no face parts" in capsys.readouterr().err
    assert edit("--mask", str(mask), "--style", str(face), "--style-mask", str(mask), "--out", str(out),
                weights=tiny_weights) == 0
    assert "warning" not in capsys.readouterr().err

