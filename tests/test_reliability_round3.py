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
from safetensors import SafetensorError
from test_reliability import small_dataset

from ca2sis.model.cli import bench as cli_bench
from ca2sis.model.cli import edit as cli_edit
from ca2sis.model.cli import eval as cli_eval
from ca2sis.model.cli import parse as cli_parse
from ca2sis.model.cli import train_parser as cli_train_parser
from ca2sis.model.cli.train import main as train_main
from ca2sis.model.errors import CA2SISError, WeightsError
from ca2sis.model.io import weights as weights_io
from ca2sis.model.io.atomic import STALE_SECONDS, remove_stale_temporaries
from ca2sis.model.io.lock import LOCK_FILE
from ca2sis.model.networks.composite import CA2SIS

from conftest import FACE_DATA, styled_random_model


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def train(*args: str) -> int:
    return train_main(["--config", "tiny", "--steps", "1", "--batch-size", "2", "--workers", "0", "--device", "cpu",
                       "--sample-every", "1000", "--checkpoint-every", "1000", "--augment", "off",
                       "--lambda-semantic", "0", "--lambda-parser", "0", *args])


@pytest.fixture(scope="module")
def trained_once(tmp_path_factory) -> tuple[Path, Path]:
    """A two-face dataset and a run folder trained for one step, made once for the module."""
    root = tmp_path_factory.mktemp("trained")
    data, run = root / "data", root / "run"
    small_dataset(FACE_DATA, data, count=2)
    assert train("--data", str(data), "--out", str(run), "--log-every", "1") == 0
    return data, run


@pytest.fixture
def trained_run(trained_once, tmp_path) -> tuple[Path, Path]:
    """The module's trained run, copied into this test's folder (tests resume, spoil and export
    it): (data, run)."""
    data, run = tmp_path / "data", tmp_path / "run"
    shutil.copytree(trained_once[0], data)
    shutil.copytree(trained_once[1], run)
    return data, run


def full_disk_after(monkeypatch, files: int) -> None:
    """safetensors writes fail as on a full disk after ``files`` successful ones."""
    real = weights_io.save_file
    count = {"files": 0}

    def save_file(tensors, path, metadata=None):
        count["files"] += 1
        if count["files"] > files:
            Path(path).write_bytes(b"\0" * 100)  # what a write cut short leaves
            raise SafetensorError('Error while serializing: IoError(Os { code: 28, kind: StorageFull, '
                                  'message: "No space left on device" })')
        return real(tensors, path, metadata=metadata)

    monkeypatch.setattr(weights_io, "save_file", save_file)


# ---- 1. a diverging run keeps its last good checkpoint and exits non-zero ------------------------------------------
@pytest.mark.slow
def test_item1_a_diverging_run_stops_and_keeps_the_last_good_checkpoint(trained_run, capsys):
    data, run = trained_run
    checkpoint = run / "checkpoint.safetensors"
    before = digest(checkpoint)
    code = train("--data", str(data), "--out", str(run), "--resume", "--steps", "30", "--lr", "1e12")
    error = capsys.readouterr().err
    assert code == 5 and "diverged" in error and "step 1" in error and "Traceback" not in error
    assert digest(checkpoint) == before  # resume and export still work from it
    assert train_main(["export", str(run), "--out", str(run.parent / "weights")]) == 0


@pytest.mark.parametrize("flag", ["--lambda-l1", "--lr", "--ema-kimg"])
def test_item1_nan_settings_are_refused(face_data, tmp_path, capsys, flag):
    small_dataset(face_data, tmp_path / "data", count=2)
    assert train("--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), flag, "nan") == 2
    assert "finite" in capsys.readouterr().err and not (tmp_path / "run").exists()


# ---- 2. no CLI writes over its inputs ------------------------------------------------------------------------------
def test_item2_eval_reports_onto_inputs_are_refused(tiny_weights, face_data, tmp_path, capsys):
    weights = tmp_path / "weights"
    shutil.copytree(tiny_weights, weights)
    mask = sorted((face_data / "masks").glob("*.png"))[0]
    data_before, weights_before = digests(face_data), digests(weights)
    for option, target in [("--json", weights / "generator.safetensors"), ("--markdown", mask),
                           ("--json", weights / "config.json")]:
        code = cli_eval.main(["--data", str(face_data), "--weights", str(weights), option, str(target), "--quiet"])
        assert code == 2 and "is one of the inputs" in capsys.readouterr().err
    assert digests(face_data) == data_before and digests(weights) == weights_before


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


# ---- 4 and 5. exports: whole sets or nothing -----------------------------------------------------------------------
@pytest.mark.slow
def test_item4_a_disk_full_export_leaves_the_weights_folder_as_it_was(trained_run, tmp_path, monkeypatch, capsys):
    _, run = trained_run
    weights = tmp_path / "weights"
    assert train_main(["export", str(run), "--out", str(weights)]) == 0
    before = digests(weights)
    full_disk_after(monkeypatch, files=2)
    assert train_main(["export", str(run), "--out", str(weights)]) == 2
    error = capsys.readouterr().err
    assert "No space left on device" in error and ".safetensors" in error and "Traceback" not in error
    assert digests(weights) == before and sorted(p.name for p in tmp_path.iterdir()) == ["data", "run", "weights"]


@pytest.mark.slow
def test_item4_a_folder_mixing_two_saves_is_refused(trained_run, tmp_path):
    _, run = trained_run
    assert train_main(["export", str(run), "--out", str(tmp_path / "a")]) == 0
    assert train_main(["export", str(run), "--out", str(tmp_path / "b")]) == 0
    shutil.copyfile(tmp_path / "b" / "generator.safetensors", tmp_path / "a" / "generator.safetensors")
    with pytest.raises(WeightsError, match="mixes files of different saves"):
        CA2SIS.from_pretrained(tmp_path / "a")


@pytest.mark.slow
def test_item5_export_over_a_weights_folder_replaces_its_whole_set(trained_run, tiny_weights, tmp_path):
    _, run = trained_run
    weights = tmp_path / "weights"
    shutil.copytree(tiny_weights, weights)  # with an M_s, which the run has not trained
    (weights / "NOTES.txt").write_text("mine")
    assert (weights / "mapping_network.safetensors").exists()
    assert train_main(["export", str(run), "--out", str(weights)]) == 0
    assert not (weights / "mapping_network.safetensors").exists() and (weights / "NOTES.txt").read_text() == "mine"
    assert CA2SIS.from_pretrained(weights).mapping_network is None


def test_item5_training_into_a_weights_folder_is_refused(face_data, tiny_weights, tmp_path, capsys):
    small_dataset(face_data, tmp_path / "data", count=2)
    weights = tmp_path / "weights"
    shutil.copytree(tiny_weights, weights)
    before = digests(weights)
    assert train("--data", str(tmp_path / "data"), "--out", str(weights)) == 2
    assert "is a weights folder" in capsys.readouterr().err and digests(weights) == before


# ---- 6. a torn log line does not block --resume --------------------------------------------------------------------
@pytest.mark.slow
def test_item6_resume_trims_a_torn_log_line(trained_run):
    data, run = trained_run
    log = run / "log-synthesis.jsonl"
    with open(log, "a") as handle:
        handle.write('{"step": 2, "epoch": 0, "kimg": 0.00')  # the disk filled up mid-line
    assert train("--data", str(data), "--out", str(run), "--resume", "--steps", "2", "--log-every", "1") == 0
    steps = [json.loads(line)["step"] for line in log.read_text().splitlines()]
    assert steps == [1, 2]


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


# ---- 16. argument checks -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argument", [["--epochs", "0"], ["--batch-size", "0"], ["--crop", "0"], ["--widths", "abc"],
                                      ["--rare-weight", "-1"]])
def test_item16_bad_parser_training_arguments_are_usage_errors(tmp_path, capsys, argument):
    with pytest.raises(SystemExit) as exit_:
        cli_train_parser.main(["--data", str(tmp_path), "--out", str(tmp_path / "run"), *argument])
    assert exit_.value.code == 2 and argument[0] in capsys.readouterr().err


def test_item16_a_comparison_size_beyond_memory_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli_eval.main(["--data", str(tmp_path), "--compare-size", "30000"])
    assert exit_.value.code == 2 and "at most 4096" in capsys.readouterr().err


@pytest.mark.slow
def test_item16_a_checkpoint_on_a_full_disk_is_a_clear_error_and_the_last_one_survives(
        trained_run, monkeypatch, capsys):
    data, run = trained_run
    checkpoint = run / "checkpoint.safetensors"
    before = digest(checkpoint)
    full_disk_after(monkeypatch, files=0)
    assert train("--data", str(data), "--out", str(run), "--resume", "--steps", "2") == 2
    error = capsys.readouterr().err
    assert f"No space left on device: {checkpoint}" in error and "Traceback" not in error
    assert digest(checkpoint) == before
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]


# ---- 17 and exit codes: one mapping for every command ---------------------------------------------------------
def test_exit_codes_a_damaged_checkpoint_is_a_weights_error_for_train_as_for_every_tool(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.safetensors").write_bytes(b"not a checkpoint")
    assert train_main(["export", str(run), "--out", str(tmp_path / "weights")]) == 3
    assert capsys.readouterr().err.startswith("error:") and not (tmp_path / "weights").exists()
