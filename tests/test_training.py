"""ca2sis-train on the shared faces: learning, exact resume, Ctrl-C, DDP, export, CLI."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from test_data import small_dataset, spoil

from ca2sis.model.cli.train import _train_parser
from ca2sis.model.cli.train import main as train_main
from ca2sis.model.config import get_config
from ca2sis.model.errors import TrainingDiverged, WeightsError
from ca2sis.model.io import weights as weights_io
from ca2sis.model.io.checkpoint import checkpoint_path, read_checkpoint_meta
from ca2sis.model.io.pixels import one_hot
from ca2sis.model.networks.composite import CA2SIS
from ca2sis.model.training.log_keys import LOGGED_SCALARS, PROGRESS_BAR_KEYS
from ca2sis.model.training.objectives import LossWeights, SynthesisForward
from ca2sis.model.training.run_config import TrainConfig
from ca2sis.model.training.run_data import EpochSampler
from ca2sis.model.training.train import Trainer

from conftest import FACE_DATA, folder_listing
from conftest import file_digest as digest
from conftest import folder_digests as digests


def _train_config(data, **changes) -> TrainConfig:
    # The loop's own behaviour; the parser losses (256 px parsing, the slowest part of a tiny
    # step) have their tests in test_recipe.py.
    base = dict(data=str(data), batch_size=4, workers=0, log_every=1, sample_every=1000,
                checkpoint_every=1000, device="cpu", seed=1, lambda_parser=0.0, lambda_semantic=0.0)
    return TrainConfig.from_dict({**base, **changes})  # lambda_<name>: a loss weight, as the flags give it


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
    trainer._on_stop_signal(signal.SIGINT, None)  # as if Ctrl-C arrived during the first step
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
def test_two_ddp_processes_train_in_step_on_their_own_shares(face_data, tmp_path):
    run = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    worker = Path(__file__).with_name("ddp_worker.py")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               str(worker), str(face_data), str(run)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    ranks = [torch.load(run / f"rank{rank}.pt") for rank in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2] and [r["step"] for r in ranks] == [2, 2]
    assert not set(ranks[0]["share"]) & set(ranks[1]["share"])  # each rank its own faces
    # Both ranks end with the same networks, weight averages and augmentation strength (ADA's
    # sign sums are each rank's own until they are summed every ADA_INTERVAL steps, and LeCam's
    # running means follow each rank's own D outputs) ...
    for key, value in ranks[0]["weights"].items():
        if not key.startswith(("augment.sign_", "lecam.")):
            assert torch.equal(value, ranks[1]["weights"][key]), key
    # ... which are what the run folder keeps ...
    saved = load_file(str(checkpoint_path(run)))
    for key, value in ranks[0]["weights"].items():
        assert torch.equal(saved[f"net.{key}"], value), key
    # ... and which moved away from the initial weights (the same seed makes the same ones).
    torch.manual_seed(1)
    initial = CA2SIS(get_config("tiny")).generator.state_dict()
    assert any(not torch.equal(value, ranks[0]["weights"][f"generator.{key}"]) for key, value in initial.items())
    assert len((run / "log-synthesis.jsonl").read_text().splitlines()) == 2


def test_each_rank_gets_its_own_share_of_every_epoch_and_the_ranks_stay_in_step():
    for size, world in ((24, 3), (23, 2), (17, 4)):  # whole and uneven shares
        samplers = [EpochSampler(size, batch_size=2, seed=5, rank=rank, world=world) for rank in range(world)]
        for epoch in (0, 1):
            shares = []
            for sampler in samplers:
                sampler.set_position(epoch, 0)
                shares.append(list(sampler))
            seen = [i for share in shares for i in share]
            assert len(seen) == len(set(seen)), "two ranks got the same face in one epoch"
            assert len(set(seen)) > size - world * 2  # at most one batch per rank is left out
            # Every rank makes the same number of steps: none waits for the others at an all-reduce.
            assert {len(share) for share in shares} == {samplers[0].steps_per_epoch * 2}
        # A resumed epoch continues the same order; the next epoch is another order.
        samplers[0].set_position(1, 1)
        assert list(samplers[0]) == shares[0][2:]
        samplers[0].set_position(0, 0)
        assert list(samplers[0]) != shares[0]


def test_learning_rates_split_between_g_and_d_and_decay_to_zero(face_data, tmp_path):
    assert TrainConfig(lr=1e-3).learning_rates() == {"generator_side": 5e-4, "discriminator": 2e-3}
    assert TrainConfig(lr=1e-3, ttur=False).learning_rates() == {"generator_side": 1e-3, "discriminator": 1e-3}
    # 4 steps of 2 faces; the last 4 faces (2 steps) decay the learning rate.
    train = _train_config(face_data, steps=4, batch_size=2, lr=1e-3, lr_decay_kimg=0.004, precision="fp32")
    trainer = Trainer(get_config("tiny"), train, tmp_path / "run")
    assert [trainer.opt_g.param_groups[0]["lr"], trainer.opt_d.param_groups[0]["lr"]] == [5e-4, 2e-3]
    factors = []
    for step in range(5):
        trainer.step = step
        factors.append(trainer.learning_rate_factor())
    assert factors == [1.0, 1.0, 1.0, 0.5, 0.0]
    trainer.step = 3
    trainer.train_step(trainer.data.first_faces(2))  # the step from 3 to 4 runs at half the rates
    assert trainer.opt_g.param_groups[0]["lr"] == pytest.approx(2.5e-4)
    assert trainer.opt_d.param_groups[0]["lr"] == pytest.approx(1e-3)


def _parameters(modules) -> list[torch.Tensor]:
    return [p.detach().clone() for module in modules for p in module.parameters()]


def test_g_loss_never_moves_d_and_d_loss_never_moves_g(face_data, tmp_path):
    trainer = Trainer(get_config("tiny"), _train_config(face_data, batch_size=2, precision="fp32"), tmp_path / "r")
    batch = trainer.data.first_faces(2)
    objective = trainer.objective

    def only(side):
        def objective_of_one_side(*args):
            losses = objective(*args)
            other = "discriminator" if side == "generator" else "generator"
            setattr(losses, other, getattr(losses, other) * 0.0)  # still in the graph, with no gradient
            return losses
        return objective_of_one_side

    for side, moved, kept in (("generator", trainer.trained.values(), [trainer.disc]),
                              ("discriminator", [trainer.disc], trainer.trained.values())):
        before_moved, before_kept = _parameters(moved), _parameters(kept)
        trainer.objective = only(side)
        trainer.train_step(batch)
        assert all(torch.equal(a, b) for a, b in zip(before_kept, _parameters(kept), strict=True)), side
        assert any(not torch.equal(a, b) for a, b in zip(before_moved, _parameters(moved), strict=True)), side


@pytest.mark.slow  # two runs of the loop: about 12-20 s here
def test_resume_trims_a_torn_log_line_and_takes_checkpoints_without_run_state(face_data, tmp_path):
    run = tmp_path / "run"
    config = get_config("tiny")
    Trainer(config, _train_config(face_data, steps=1, batch_size=2), run).run()
    # A checkpoint of an older version: no weight average, ADA strength or LeCam means.
    path = checkpoint_path(run)
    with safe_open(str(path), "pt") as handle:
        metadata = handle.metadata()
    tensors = load_file(str(path))
    old = {k: v for k, v in tensors.items() if not k.startswith(("net.ema.", "net.augment.", "net.lecam."))}
    assert len(old) < len(tensors)
    save_file(old, str(path), metadata=metadata)
    # The log of a run killed after step 2 had begun writing: a line past the checkpoint and a torn one.
    log = run / "log-synthesis.jsonl"
    log.write_text(log.read_text() + '{"step": 2, "l1": 0.5}\n{"step": 3, "l1": 0.')
    resumed = Trainer(config, _train_config(face_data, steps=2, batch_size=2), run, resume=True)
    assert resumed.step == 1
    for name, average in resumed.ema.averages.items():  # the average starts from the live weights
        assert all(torch.equal(a, b) for a, b in zip(average.parameters(), resumed.trained[name].parameters()))
    assert resumed.run()["step"] == 2
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [record["step"] for record in records] == [1, 2] and records[1]["l1"] != 0.5
    assert set(load_file(str(path))) == set(tensors)  # the next checkpoint has all the run state again


def test_style_cycle_reads_each_generated_face_back_against_the_codes_g_was_given(face_data, tmp_path):
    trainer = Trainer(get_config("tiny"), _train_config(face_data, batch_size=3, lambda_cycle=1.0), tmp_path / "r")
    batch = trainer.data.first_faces(3)
    image, mask = batch["image"], one_hot(batch["mask"])
    model = trainer.model
    out = SynthesisForward(model)(image, mask, torch.tensor([1, 13]), cycle=True)
    codes = model.encode_styles(image, mask).detach()
    # The codes of the swapped faces: their own, but the swapped part's from the next face.
    expected = torch.cat([codes, codes[:2]])
    expected[3, 1], expected[4, 13] = codes[1, 1], codes[2, 13]
    assert torch.allclose(out.input_codes, expected, atol=1e-6)
    generated = torch.cat([out.fake, out.swapped])
    assert torch.allclose(out.cycle_codes, model.encode_styles(generated, torch.cat([mask, mask[:2]])), atol=1e-5)
    logs = trainer.train_step(batch)
    assert 0 < logs["cycle"] < 2


def test_every_loss_weight_is_a_flag_with_its_help_and_default(monkeypatch):
    monkeypatch.setenv("COLUMNS", "10000")  # one line per flag: no hyphenated words broken
    help_text = " ".join(_train_parser().format_help().split())
    for field in dataclasses.fields(LossWeights):
        flag = f"--lambda-{field.name}"
        assert f"{flag} LAMBDA_{field.name.upper()} {field.metadata['help']} (default: {field.default})" in help_text
    assert "--stage {synthesis,mapping}" in help_text
    args = _train_parser().parse_args(["--out", "run", "--lambda-swap", "0", "--augment", "off"])
    assert args.lambda_swap == 0.0 and args.augment == "off"
    # A flag overrides the weight a resumed run was saved with; the others keep theirs.
    saved = dataclasses.asdict(TrainConfig.from_dict({"lambda_colour": 0.25}))
    resumed = TrainConfig.from_dict({**saved, "lambda_swap": 0.0})
    assert resumed.weights == LossWeights(colour=0.25, swap=0.0)


def test_each_term_logs_under_the_keys_its_weight_names(face_data, tmp_path):
    # One name per term: the weight --lambda-semantic, the log key "semantic", the report's title.
    trainer = Trainer(get_config("tiny"), _train_config(face_data, batch_size=2, lambda_colour=1.0, lambda_cycle=1.0),
                      tmp_path / "r")
    logged = set(trainer.train_step(trainer.data.first_faces(2)))
    named = {key for field in dataclasses.fields(LossWeights) for key in field.metadata["logs"]}
    assert {"feat", "l1", "att", "swap_out", "swap_tr", "colour", "swap_colour", "cycle", "lecam"} <= logged
    assert logged - {"adv", "d", "aug_p"} <= named and set(PROGRESS_BAR_KEYS) <= set(LOGGED_SCALARS)
    assert "fm" not in logged and "sem" not in LOGGED_SCALARS


# ---- stopping, damaged checkpoints, a blow-up, killed writers ---------------------------------------------------
def _cli_train(data, run, *args: str) -> int:
    return train_main(["--data", str(data), "--out", str(run), "--config", "tiny", "--batch-size", "2",
                       "--workers", "0", "--device", "cpu", "--sample-every", "1000", "--lambda-parser", "0",
                       "--lambda-semantic", "0", *args])


@pytest.mark.slow  # a run of the loop in-process
def test_sigterm_finishes_the_step_saves_a_checkpoint_and_exits_130(face_data, tmp_path, monkeypatch, capsys):
    # What `timeout`, `kill` and job schedulers send. A handler of the test's own stands in for
    # the default action (which would end pytest) and must not be the one that receives it.
    received = []

    def handler(signum, _frame):
        received.append(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    real_step = Trainer.train_step

    def step_with_a_kill(self, batch):
        if self.step == 0:
            os.kill(os.getpid(), signal.SIGTERM)
        return real_step(self, batch)

    monkeypatch.setattr(Trainer, "train_step", step_with_a_kill)
    try:
        code = _cli_train(face_data, tmp_path / "run", "--steps", "3")
        assert signal.getsignal(signal.SIGTERM) is handler  # the training put back the handler it found
    finally:
        signal.signal(signal.SIGTERM, previous)
    output = capsys.readouterr()
    assert code == 130 and not received
    assert "SIGTERM: finishing this step and saving a checkpoint" in output.out + output.err
    assert read_checkpoint_meta(checkpoint_path(tmp_path / "run"))["step"] == 1
    assert "stopped early; continue with" in output.out


def _forge_checkpoint(path: Path, **meta) -> None:
    header = {"step": 1, "stage": "synthesis", "config": get_config("tiny").to_dict(), "train": {},
              "optimizer_groups": {"generator_side": [], "discriminator": []}, **meta}
    header = {k: v for k, v in header.items() if v is not None}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"net.generator.x": torch.zeros(1)}, str(path), metadata={"ca2sis": json.dumps(header)})


@pytest.mark.parametrize("change, said", [
    ({"train": None}, "lacks train"),
    ({"optimizer_groups": None}, "lacks optimizer_groups"),
    ({"step": "abc"}, "step 'abc' is not a whole number"),
    ({"config": {"image_size": "big"}}, "config"),
    ({"train": {"steps": "many"}}, "steps = 'many'"),
])
def test_a_damaged_checkpoint_header_is_exit_3_naming_the_file_and_the_fault(face_data, tmp_path, capsys, change,
                                                                              said):
    run = tmp_path / "run"
    _forge_checkpoint(checkpoint_path(run), **change)
    assert _cli_train(face_data, run, "--resume", "--steps", "2") == 3
    error = capsys.readouterr().err
    assert error.startswith(f"error: {checkpoint_path(run)}") and said in error and "Traceback" not in error
    assert train_main(["export", str(run), "--out", str(tmp_path / "weights")]) == 3
    assert str(checkpoint_path(run)) in capsys.readouterr().err


@pytest.mark.slow
def test_weights_that_blow_up_are_never_saved_as_the_run_checkpoint(face_data, tmp_path):
    # At --lr 1e30 the first step's losses are finite (they are the starting weights'), its
    # weights 5e29 everywhere: the checkpoint of that step would be useless to resume from.
    trainer = Trainer(get_config("tiny"), _train_config(face_data, steps=1, batch_size=2, lr=1e30), tmp_path / "run")
    with pytest.raises(TrainingDiverged, match="weights give NaN.*not saved; no checkpoint was written.*start again"):
        trainer.run()
    assert not checkpoint_path(tmp_path / "run").exists()


@pytest.mark.slow  # three short runs of the loop
def test_after_a_blow_up_the_kept_checkpoint_resumes_at_a_sane_learning_rate(face_data, tmp_path, capsys):
    run = tmp_path / "run"
    assert _cli_train(face_data, run, "--steps", "1") == 0
    kept = checkpoint_path(run).read_bytes()
    assert _cli_train(face_data, run, "--resume", "--steps", "6", "--lr", "1e30", "--checkpoint-every", "1") == 5
    assert f"{checkpoint_path(run)} (step 1) is kept" in capsys.readouterr().err
    assert checkpoint_path(run).read_bytes() == kept
    assert _cli_train(face_data, run, "--resume", "--steps", "3", "--lr", "2e-4") == 0  # the advice works


def test_a_killed_training_or_export_leaves_no_temporaries_after_the_next_one(face_data, tmp_path):
    run, weights = tmp_path / "run", tmp_path / "weights"
    run.mkdir()
    killed = [run / ".checkpoint.safetensors.0123456789ab.tmp", run / ".log-synthesis.jsonl.a1b2c3d4e5f6.tmp"]
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's")
    kept = [run / ".checkpoint.safetensors.tmp", run / "notes.tmp", run / ".photo.png.0123456789ab.tmp",
            run / ".checkpoint.safetensors.0123456789AB.tmp"]
    for path in killed + kept:
        path.write_bytes(b"\0" * 10)
    (run / ".train_config.json.ffffffffffff.tmp").symlink_to(victim)  # a link is never removed nor followed
    assert _cli_train(face_data, run, "--steps", "1") == 0
    assert not any(path.exists() for path in killed)
    assert all(path.exists() for path in kept) and victim.read_text() == "the user's"
    assert (run / ".train_config.json.ffffffffffff.tmp").is_symlink()
    # A killed export leaves its staging folder beside --out; the next export removes it once it is stale.
    stale, running = tmp_path / ".weights.exporting-0123456789ab", tmp_path / ".weights.exporting-ba9876543210"
    other = tmp_path / ".weights.exporting-mine"
    for folder in (stale, running, other):
        folder.mkdir()
        (folder / "config.json").write_text("{}")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    os.utime(other, (hour_ago, hour_ago))
    assert train_main(["export", str(run), "--out", str(weights)]) == 0
    assert not stale.exists() and running.is_dir() and other.is_dir()


# ---- files, folders and disks: what a run and an export leave ---------------------------------------------------
def train(*args: str) -> int:
    """One tiny training step through the CLI; the parser losses and augmentation off (these
    tests are about files, not about what is learnt)."""
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


@pytest.mark.slow
def test_a_diverging_run_stops_and_keeps_the_last_good_checkpoint(trained_run, capsys):
    data, run = trained_run
    checkpoint = run / "checkpoint.safetensors"
    before = digest(checkpoint)
    code = train("--data", str(data), "--out", str(run), "--resume", "--steps", "30", "--lr", "1e12")
    error = capsys.readouterr().err
    assert code == 5 and "diverged" in error and "step 1" in error and "Traceback" not in error
    assert digest(checkpoint) == before  # resume and export still work from it
    assert train_main(["export", str(run), "--out", str(run.parent / "weights")]) == 0


@pytest.mark.parametrize("flag", ["--lambda-l1", "--lr", "--ema-kimg"])
def test_nan_settings_are_refused(face_data, tmp_path, capsys, flag):
    small_dataset(face_data, tmp_path / "data", count=2)
    assert train("--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), flag, "nan") == 2
    assert "finite" in capsys.readouterr().err and not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_disk_full_export_leaves_the_weights_folder_as_it_was(trained_run, tmp_path, monkeypatch, capsys):
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
def test_a_folder_mixing_two_saves_is_refused(trained_run, tmp_path):
    _, run = trained_run
    assert train_main(["export", str(run), "--out", str(tmp_path / "a")]) == 0
    assert train_main(["export", str(run), "--out", str(tmp_path / "b")]) == 0
    shutil.copyfile(tmp_path / "b" / "generator.safetensors", tmp_path / "a" / "generator.safetensors")
    with pytest.raises(WeightsError, match="mixes files of different saves"):
        CA2SIS.from_pretrained(tmp_path / "a")


@pytest.mark.slow
def test_export_over_a_weights_folder_replaces_its_whole_set(trained_run, tiny_weights, tmp_path):
    _, run = trained_run
    weights = tmp_path / "weights"
    shutil.copytree(tiny_weights, weights)  # with an M_s, which the run has not trained
    (weights / "NOTES.txt").write_text("mine")
    assert (weights / "mapping_network.safetensors").exists()
    assert train_main(["export", str(run), "--out", str(weights)]) == 0
    assert not (weights / "mapping_network.safetensors").exists() and (weights / "NOTES.txt").read_text() == "mine"
    assert CA2SIS.from_pretrained(weights).mapping_network is None


def test_training_into_a_weights_folder_is_refused(face_data, tiny_weights, tmp_path, capsys):
    small_dataset(face_data, tmp_path / "data", count=2)
    weights = tmp_path / "weights"
    shutil.copytree(tiny_weights, weights)
    before = digests(weights)
    assert train("--data", str(tmp_path / "data"), "--out", str(weights)) == 2
    assert "is a weights folder" in capsys.readouterr().err and digests(weights) == before


@pytest.mark.slow
def test_resume_trims_a_torn_log_line(trained_run):
    data, run = trained_run
    log = run / "log-synthesis.jsonl"
    with open(log, "a") as handle:
        handle.write('{"step": 2, "epoch": 0, "kimg": 0.00')  # the disk filled up mid-line
    assert train("--data", str(data), "--out", str(run), "--resume", "--steps", "2", "--log-every", "1") == 0
    steps = [json.loads(line)["step"] for line in log.read_text().splitlines()]
    assert steps == [1, 2]


@pytest.mark.slow
def test_a_checkpoint_on_a_full_disk_is_a_clear_error_and_the_last_one_survives(
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


def test_a_damaged_checkpoint_is_a_weights_error_for_train_as_for_every_tool(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.safetensors").write_bytes(b"not a checkpoint")
    assert train_main(["export", str(run), "--out", str(tmp_path / "weights")]) == 3
    assert capsys.readouterr().err.startswith("error:") and not (tmp_path / "weights").exists()



def test_train_out_onto_a_file_is_refused(face_data, tmp_path, capsys):
    small_dataset(face_data, tmp_path / "data", count=2)
    file = tmp_path / "notes.txt"
    file.write_text("mine")
    assert train("--data", str(tmp_path / "data"), "--out", str(file)) == 2
    assert "--out" in capsys.readouterr().err and file.read_text() == "mine"


def test_train_export_onto_a_file_is_refused(tmp_path, capsys):
    file = tmp_path / "weights"
    file.write_text("mine")
    run = tmp_path / "run"
    run.mkdir()
    assert train_main(["export", str(run), "--out", str(file)]) == 2
    assert "--out" in capsys.readouterr().err and file.read_text() == "mine"
    assert folder_listing(tmp_path) == ["run", "weights"]


def test_train_reports_every_bad_file_before_the_first_step(face_data, tmp_path, capsys):
    names = small_dataset(face_data, tmp_path / "data")
    spoil(tmp_path / "data", names)
    run = tmp_path / "run"
    assert train("--data", str(tmp_path / "data"), "--out", str(run)) == 2
    error = capsys.readouterr().err
    assert "4 of 6 faces" in error and all(name in error for name in names[:4])
    assert not run.exists()  # refused before anything was written
    assert train("--data", str(tmp_path / "data"), "--out", str(run), "--skip-bad") == 0


def test_resuming_a_finished_run_keeps_its_summary(face_data, tmp_path):
    small_dataset(face_data, tmp_path / "data", count=2)
    run = tmp_path / "run"
    assert train("--data", str(tmp_path / "data"), "--out", str(run), "--steps", "2") == 0
    summary = run / "summary-synthesis.json"
    first = summary.read_text()
    assert train("--data", str(tmp_path / "data"), "--out", str(run), "--steps", "2", "--resume") == 0

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in the summary")

    resumed = json.loads(summary.read_text(), parse_constant=refuse)
    assert resumed["images_per_second"] == json.loads(first)["images_per_second"]
