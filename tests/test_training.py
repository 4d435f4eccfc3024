"""ca2sis-train on the shared faces: learning, exact resume, Ctrl-C, DDP, export, CLI."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from ca2sis.model.cli.train import main as train_main
from ca2sis.model.config import get_config
from ca2sis.model.io.checkpoint import checkpoint_path
from ca2sis.model.networks.composite import CA2SIS
from ca2sis.model.training.data import one_hot
from ca2sis.model.training.train import TrainConfig, Trainer


def _train_config(data, **changes) -> TrainConfig:
    # The loop's own behaviour; the parser losses (256 px parsing, the slowest part of a tiny
    # step) have their tests in test_recipe.py.
    base = dict(data=str(data), batch_size=4, workers=0, log_every=1, sample_every=1000,
                checkpoint_every=1000, device="cpu", seed=1, lambda_parser=0.0, lambda_semantic=0.0)
    return TrainConfig(**{**base, **changes})


def _reconstruction_error(trainer: Trainer, batch) -> float:
    model = trainer.model.eval()
    with torch.no_grad():
        mask = one_hot(batch["mask"])
        fake, _ = model(batch["image"], mask)
    model.train()
    return (fake - batch["image"]).abs().mean().item()


@pytest.mark.slow
def test_thirty_cpu_steps_lower_the_reconstruction_loss(face_data, tmp_path):
    trainer = Trainer(get_config("tiny"), _train_config(face_data, steps=30, lr=2e-3), tmp_path / "run")
    fixed = next(iter(torch.utils.data.DataLoader(trainer.dataset, batch_size=8)))
    before = _reconstruction_error(trainer, fixed)
    summary = trainer.run()
    after = _reconstruction_error(trainer, fixed)
    assert summary["step"] == 30
    assert after < 0.92 * before, f"L1 went from {before:.3f} to {after:.3f}"
    assert summary["images_per_second"] > 0
    assert checkpoint_path(tmp_path / "run").exists()
    assert list((tmp_path / "run" / "samples").glob("*.png"))
    log = (tmp_path / "run" / "log-synthesis.jsonl").read_text().splitlines()
    assert len(log) == 30 and '"att"' in log[0]


@pytest.mark.slow
def test_resume_after_a_stop_gives_the_same_weights(face_data, tmp_path):
    straight = Trainer(get_config("tiny"), _train_config(face_data, steps=4), tmp_path / "a")
    straight.run()
    first = Trainer(get_config("tiny"), _train_config(face_data, steps=2), tmp_path / "b")
    first.run()
    resumed = Trainer(get_config("tiny"), _train_config(face_data, steps=4), tmp_path / "b", resume=True)
    assert resumed.step == 2
    resumed.run()
    a = load_file(str(checkpoint_path(tmp_path / "a")))
    b = load_file(str(checkpoint_path(tmp_path / "b")))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_after_the_current_step(face_data, tmp_path):
    trainer = Trainer(get_config("tiny"), _train_config(face_data, steps=50), tmp_path / "run")
    trainer._on_sigint(None, None)  # as if Ctrl-C arrived during the first step
    summary = trainer.run()
    assert summary["stopped_early"] and summary["step"] == 1
    assert checkpoint_path(tmp_path / "run").exists()


@pytest.mark.slow
def test_cli_trains_exports_and_trains_the_mapping_network(face_data, tmp_path, capsys):
    run = tmp_path / "run"
    common = ["--data", str(face_data), "--out", str(run), "--batch-size", "2", "--workers", "0",
              "--device", "cpu"]
    assert train_main([*common, "--config", "tiny", "--steps", "2"]) == 0
    # The same run cannot be started twice by mistake.
    assert train_main([*common, "--config", "tiny", "--steps", "2"]) == 2
    assert "add --resume" in capsys.readouterr().err
    assert train_main([*common, "--steps", "3", "--resume"]) == 0
    assert train_main([*common, "--stage", "mapping", "--steps", "2"]) == 0
    assert checkpoint_path(run, "mapping").exists()
    weights = tmp_path / "weights"
    assert train_main(["export", str(run), "--out", str(weights)]) == 0
    model = CA2SIS.from_pretrained(weights, expected_config="tiny")
    assert model.mapping_network is not None
    tensors = load_file(str(weights / "generator.safetensors"))
    assert all(t.dtype == torch.float16 for t in tensors.values())
    # M_s can also start from exported weights instead of a run folder.
    other = [*common[:2], "--out", str(tmp_path / "mapping"), *common[4:]]
    assert train_main([*other, "--stage", "mapping", "--init", str(weights), "--steps", "1"]) == 0
    # ... and such a run exports on its own, with the synthesis networks it was trained against.
    refreshed = tmp_path / "refreshed"
    assert train_main(["export", str(tmp_path / "mapping"), "--out", str(refreshed)]) == 0
    for name in ("generator", "style_encoder"):
        before = load_file(str(weights / f"{name}.safetensors"))
        after = load_file(str(refreshed / f"{name}.safetensors"))
        assert all(torch.equal(before[k], after[k]) for k in before), name
    assert (refreshed / "mapping_network.safetensors").is_file() and (refreshed / "training").is_dir()


def test_cli_errors_are_clear(tmp_path, capsys):
    assert train_main(["--data", str(tmp_path), "--out", str(tmp_path / "r"), "--config", "tiny"]) == 2
    assert str(tmp_path) in capsys.readouterr().err
    assert train_main(["--data", str(tmp_path), "--out", str(tmp_path / "r"), "--resume"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert train_main(["--data", str(tmp_path), "--out", str(tmp_path / "r"), "--config", "huge"]) == 2
    assert "unknown config 'huge'" in capsys.readouterr().err


def test_info_reports_parameter_counts(capsys, tmp_path):
    assert train_main(["info", "--config", "tiny", "lite"]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert header.split() == ["config", "style_encoder", "mask_embedder", "generator", "mapping_network",
                              "discriminator", "inference", "fp16", "MiB"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[:2]}
    assert list(rows) == ["tiny", "lite"]
    # The inference columns count what a saved weights folder holds, tensor by tensor.
    folder = tmp_path / "tiny"
    CA2SIS(get_config("tiny"), with_mapping=True).save_pretrained(folder)
    stored = {path.stem: sum(t.numel() for t in load_file(path).values()) for path in folder.glob("*.safetensors")}
    tiny = [int(value.replace(",", "")) for value in rows["tiny"][:6]]
    networks = ["style_encoder", "mask_embedder", "generator", "mapping_network"]
    assert tiny[:4] == [stored[name] for name in networks] and tiny[5] == sum(stored.values())
    assert tiny[4] > 0  # D: trained, never saved
    assert float(rows["tiny"][6]) == pytest.approx(sum(stored.values()) * 2 / 2**20, abs=0.05)
    assert int(rows["lite"][5].replace(",", "")) > 10 * tiny[5]


@pytest.mark.slow
def test_two_process_ddp_run_on_cpu(face_data, tmp_path):
    run = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "ca2sis.model.cli.train", "--data", str(face_data), "--config", "tiny", "--out", str(run),
               "--steps", "3", "--batch-size", "2", "--workers", "0", "--device", "cpu"]
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.skip("a 2-process gloo run did not fit in a minute on this machine")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "2 process(es)" in result.stdout
    assert checkpoint_path(run).exists()
