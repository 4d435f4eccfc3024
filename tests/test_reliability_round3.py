"""Issue 26: training, export and saves that never lose work. One test (or more) per item."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_data import small_dataset

from ca2sis.model.cli import bench as cli_bench
from ca2sis.model.cli import edit as cli_edit
from ca2sis.model.cli import parse as cli_parse
from ca2sis.model.cli.train import main as train_main
from ca2sis.model.errors import CA2SISError, WeightsError
from ca2sis.model.io.atomic import STALE_SECONDS, remove_stale_temporaries
from ca2sis.model.io.lock import LOCK_FILE
from ca2sis.model.networks.composite import CA2SIS

from conftest import styled_random_model


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def train(*args: str) -> int:
    return train_main(["--config", "tiny", "--steps", "1", "--batch-size", "2", "--workers", "0", "--device", "cpu",
                       "--sample-every", "1000", "--checkpoint-every", "1000", "--augment", "off",
                       "--lambda-semantic", "0", "--lambda-parser", "0", *args])


# ---- 2. no CLI writes over its inputs ------------------------------------------------------------------------------


def test_item2_bench_json_onto_the_weights_is_refused_before_the_run(tiny_weights, tmp_path, monkeypatch, capsys):
    weights = tmp_path / "weights"
    shutil.copytree(tiny_weights, weights)
    before = digests(weights)
    monkeypatch.setattr(cli_bench, "run_benchmark", lambda *_, **__: pytest.fail("the run started"))
    assert cli_bench.main(["--weights", str(weights), "--json", str(weights / "config.json")]) == 2
    assert "is one of the inputs" in capsys.readouterr().err and digests(weights) == before
    blocker = tmp_path / "file"
    blocker.write_text("mine")
    assert cli_bench.main(["--weights", str(weights), "--json", str(blocker / "b.json")]) == 2
    assert cli_bench.main(["--weights", str(tmp_path / "nonexistent")]) == 3
    assert "no ca2sis weights" in capsys.readouterr().err


# ---- 7. one training per run folder --------------------------------------------------------------------------------
def test_item7_a_second_training_into_the_same_folder_is_refused(face_data, tmp_path, capsys):
    data, run = tmp_path / "data", tmp_path / "run"
    small_dataset(face_data, data, count=2)
    run.mkdir()
    (run / "log-synthesis.jsonl").write_text('{"step": 1}\n')  # the other training's
    before = digests(run)
    with open(run / LOCK_FILE, "a+") as other:  # another training holds the folder
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        other.seek(0)
        other.truncate()
        other.write("12345\n")
        other.flush()
        assert train("--data", str(data), "--out", str(run)) == 2
    error = capsys.readouterr().err
    assert "in use by another training (process 12345)" in error
    assert {k: v for k, v in digests(run).items() if k != LOCK_FILE} == \
        {k: v for k, v in before.items() if k != LOCK_FILE}


# ---- 8, 9 and 11. outputs never follow planted links, and fail whole -----------------------------------------------
def test_item8_paste_back_never_writes_through_a_link_at_a_temporary_name(tmp_path):
    from ca2sis.model.photo.source import save_image

    victim = tmp_path / "victim.txt"
    victim.write_text("mine")
    out = tmp_path / "edited.jpg"
    (tmp_path / "edited.jpg.tmp").symlink_to(victim)
    save_image(np.full((32, 32, 3), 200, np.uint8), out)
    assert victim.read_text() == "mine" and Image.open(out).size == (32, 32)


@pytest.mark.slow
def test_item11_a_failed_paste_back_writes_no_file_and_names_the_one_it_could_not(
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


# ---- 10. an ONNX export never stamps old graphs with new weights ---------------------------------------------------
@pytest.mark.slow
def test_item10_weights_replaced_during_an_export_are_not_marked_current(tiny_onnx_weights, tmp_path, monkeypatch):
    from ca2sis.model.inference import onnx_export
    from ca2sis.model.inference.backends import onnx_export_current

    weights, other = tmp_path / "weights", tmp_path / "other"
    shutil.copytree(tiny_onnx_weights, weights)  # with a current ONNX export
    assert onnx_export_current(weights)
    styled_random_model(CA2SIS.from_pretrained(tiny_onnx_weights).config, seed=5).save_pretrained(other)
    real = CA2SIS.from_pretrained

    def load_then_replace(folder, *args, **kwargs):
        model = real(folder, *args, **kwargs)
        # Another export (the studio's, say) replaces E_m while this one builds its graph.
        shutil.copyfile(other / "mask_embedder.safetensors", weights / "mask_embedder.safetensors")
        return model

    monkeypatch.setattr(onnx_export.CA2SIS, "from_pretrained", load_then_replace)
    try:
        onnx_export.export_onnx(weights, names=["mask_embedder"])  # E_m: the graph quickest to export
    except CA2SISError as error:
        assert "changed during the export" in str(error)
    # The graph holds the old E_m: it must not pass for an export of the new one.
    assert not onnx_export_current(weights)


def test_item17_temporaries_of_a_killed_export_are_removed(tmp_path):
    stale, fresh, mine = (tmp_path / ".mask_embedder.onnx.0123456789ab.tmp", tmp_path / ".g.onnx.ba9876543210.tmp",
                          tmp_path / "notes.tmp")
    for path in (stale, fresh, mine):
        path.write_bytes(b"x")
    os.utime(stale, (time.time() - STALE_SECONDS - 60,) * 2)
    os.utime(mine, (time.time() - STALE_SECONDS - 60,) * 2)
    assert remove_stale_temporaries(tmp_path) == [stale]
    assert fresh.exists() and mine.exists()


# ---- 14. tiny photos -----------------------------------------------------------------------------------------------
def test_item14_tiny_photos_are_refused_without_reaching_dlib(tmp_path, capsys):
    from ca2sis.model.faces.align import FaceAligner, NoFaceFound

    photo = tmp_path / "tiny.png"
    Image.new("RGB", (8, 8), (128, 100, 90)).save(photo)
    assert cli_parse.main([str(photo), "--out", str(tmp_path / "mask.png")]) == 2
    assert "too small to find a face" in capsys.readouterr().err
    aligner = FaceAligner()
    for height, width in [(3, 3), (200, 1), (2, 400), (40, 40_000)]:  # dlib would fail, then abort the process
        with pytest.raises(NoFaceFound, match="too small|no face found"):
            aligner.landmarks(np.full((height, width, 3), 128, np.uint8))


# ---- 15. sizes are checked before anything is built ----------------------------------------------------------------
def test_item15_a_config_with_huge_sizes_is_refused_before_building(tiny_weights, tmp_path):
    weights = tmp_path / "weights"
    shutil.copytree(tiny_weights, weights)
    config = json.loads((weights / "config.json").read_text())
    config["mapping_hidden"] = 200_000
    (weights / "config.json").write_text(json.dumps(config))
    started = time.perf_counter()
    with pytest.raises(WeightsError, match="mapping_hidden=200000: sizes and counts must be at most"):
        CA2SIS.from_pretrained(weights)
    assert time.perf_counter() - started < 1.0
