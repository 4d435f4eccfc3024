"""The CA2-SIS training loop (paper §IV), on one device or several with torchrun (DDP).

The loop is here; what a step optimises is in ``objectives.py`` (stage "synthesis": E_s,
E_m and G against D; stage "mapping": M_s with G frozen, §IV-G). One step: the faces of
the batch, one pass of the generator side and one of D under bf16 autocast where the
hardware has it, the two gradients taken apart, both Adam steps, then the weight average
(EMA) and the augmentation strength. Everything random is derived from (seed, step, rank)
by ``derive_seed``: the data order, the flips, the noise and the augmentation, so a resumed
run continues exactly where it stopped.

The other pieces of a run: its settings (``run_config.py``), the processes and device
(``distributed.py``), the data and its order (``run_data.py``), where the networks start
(``warm_start.py``: --init, the mapping stage's frozen networks, --resume), sample grids
(``samples.py``) and the weights folder a run exports (``export.py``).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import signal
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from ..config import CA2SISConfig
from ..errors import TrainingDiverged
from ..faces.parser import FaceParserModel
from ..faces.reader import default_parser_weights
from ..io.atomic import write_text_atomic
from ..io.checkpoint import CHECKPOINT_FILES, checkpoint_path, read_checkpoint_meta, save_checkpoint
from ..io.pixels import one_hot, to_uint8_images
from ..labels import colorize
from ..networks.composite import CA2SIS
from ..networks.discriminator import MultiScaleDiscriminator
from .augment import PairedAugment
from .data import FaceMaskDataset
from .distributed import bf16_is_fast, setup_distributed
from .ema import WeightAverage
from .log_keys import PROGRESS_BAR_KEYS
from .losses import LeCamRegularizer, ParserLoss, VGGPerceptualLoss
from .objectives import MappingObjective, Objective, SynthesisForward, SynthesisObjective
from .run_config import STAGES, TrainConfig, derive_seed
from .run_data import RunData
from .samples import save_grid
from .warm_start import (
    load_frozen_synthesis,
    resume_from_checkpoint,
    trim_log,
    warm_start,
)

ADA_INTERVAL = 4  # steps between adjustments of the augmentation probability
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # each finishes the step and saves a checkpoint



def run_files() -> list[str]:
    """The files a training writes in its run folder (atomically, so a killed one may leave
    their temporaries)."""
    per_stage = [name for stage in STAGES for name in (f"log-{stage}.jsonl", f"summary-{stage}.json")]
    return [*CHECKPOINT_FILES.values(), *per_stage, "config.json", "train_config.json"]


class Trainer:
    """Holds the networks, optimizers and data of one run; ``run()`` trains to ``steps``."""

    def __init__(self, config: CA2SISConfig, train: TrainConfig, out: str | Path, resume: bool = False):
        self.config = config.validate()
        self.train = train.validate()
        self.out = Path(out)
        self.dist, self.device = setup_distributed(train.device)
        self.stage = train.stage
        self.bf16 = train.precision == "bf16" or (train.precision == "auto" and bf16_is_fast(self.device))
        self.ckpt_path = checkpoint_path(self.out, self.stage)
        self.step = 0
        self.stop_requested = False
        self._last_batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

        torch.manual_seed(derive_seed(train.seed))  # identical initial weights on every rank
        self.model = CA2SIS(config, with_mapping=self.stage == "mapping").to(self.device)
        self.disc = MultiScaleDiscriminator(
            config.num_classes, config.disc_channels, config.disc_layers, config.disc_scales
        ).to(self.device)
        if self.stage == "synthesis":
            self.trained: dict[str, nn.Module] = {
                "style_encoder": self.model.style_encoder,
                "mask_embedder": self.model.mask_embedder,
                "generator": self.model.generator,
            }
        else:
            self.trained = {"mapping_network": self.model.mapping_network}
        self._build_run_state()
        self._start_networks(resume)
        self.objective = self._objective()
        self.data = RunData(train, config.image_size, config.num_classes, self.dist, self.device)

    # ---- set-up ----------------------------------------------------------------------
    def _build_run_state(self) -> None:
        """What a run keeps besides the networks (all in the checkpoint): the weight average
        (EMA), ADA's augmentation strength, LeCam's means, and the two Adam optimizers."""
        train = self.train
        self.ema = WeightAverage(self.trained, train.ema_kimg) if train.ema_kimg > 0 else None
        self.augment = None if train.augment == "off" else PairedAugment(
            target=train.ada_target if train.augment == "ada" else None,
            speed_kimg=train.ada_kimg,
            initial_p=1.0 if train.augment == "always" else 0.0,
        ).to(self.device)
        self.lecam = LeCamRegularizer().to(self.device) if train.weights.lecam > 0 else None
        self.base_lr = train.learning_rates()
        betas = (train.beta1, train.beta2)
        g_params = [p for m in self.trained.values() for p in m.parameters()]
        self.opt_g = torch.optim.Adam(g_params, lr=self.base_lr["generator_side"], betas=betas)
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=self.base_lr["discriminator"], betas=betas)

    def _start_networks(self, resuming: bool) -> None:
        if self.stage == "mapping":
            load_frozen_synthesis(self.model, Path(self.train.init) if self.train.init else self.out)
        elif self.train.init and not resuming:
            warm_start(self.trained, self.disc, self.ema, self.config, Path(self.train.init), verbose=self.dist.main)
        if resuming:
            self.step = resume_from_checkpoint(self.ckpt_path, self.networks(), self._optimizers(), self.trained,
                                               self.ema)

    def _objective(self) -> Objective:
        # DDP wraps what is trained by backward through the wrapper: the synthesis networks
        # (as one module, so one bucketed all-reduce) or M_s, and D.
        trained: nn.Module = SynthesisForward(self.model) if self.stage == "synthesis" else self.model.mapping_network
        disc: nn.Module = self.disc
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            trained = nn.parallel.DistributedDataParallel(trained, device_ids=ids)
            disc = nn.parallel.DistributedDataParallel(self.disc, device_ids=ids)
        train = self.train
        if self.stage == "mapping":
            return MappingObjective(trained, self.model, disc, train.weights, self.config.mapping_z_dim,
                                    self.augment, self.lecam)
        parser = None
        if train.weights.parser > 0 or train.weights.semantic > 0:
            parser_model = FaceParserModel.from_pretrained(train.parser_weights or default_parser_weights())
            parser = ParserLoss(parser_model.network, parser_model.config.input_size).to(self.device)
        vgg = VGGPerceptualLoss(train.vgg_weights).to(self.device) if train.vgg_weights else None
        use_att = self.config.generator_conditioning == "cross_attention"
        return SynthesisObjective(trained, disc, train.weights, self.augment, self.lecam, parser, vgg,
                                  use_attention_loss=use_att, swap_faces=train.swap_faces,
                                  parser_faces=train.parser_faces)

    @property
    def dataset(self) -> FaceMaskDataset:
        return self.data.dataset

    def networks(self) -> dict[str, nn.Module]:
        """Everything with weights or run state that the checkpoint keeps."""
        nets = dict(self.model.networks())
        nets["discriminator"] = self.disc
        for name, module in (("ema", self.ema), ("augment", self.augment), ("lecam", self.lecam)):
            if module is not None:
                nets[name] = module
        return nets

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator_side": self.opt_g, "discriminator": self.opt_d}

    def _check_finite(self, losses: dict[str, float], judged: bool = False) -> None:
        """Stop on a non-finite loss or weight, before anything of it is saved: the last good
        checkpoint stays the run's checkpoint. ``judged``: ``losses`` are those of the current
        weights (``_judge_weights``), not of the step's."""
        bad = sorted(name for name, value in losses.items() if not math.isfinite(value))
        if not bad:
            weights = [p for m in (*self.trained.values(), self.disc) for p in m.parameters()]
            if all(bool(torch.isfinite(p).all()) for p in weights):
                return
            bad = ["the weights"]
        if judged:
            fault = f"its weights give NaN or infinite losses ({', '.join(bad)}) and are not saved"
        else:
            fault = f"{', '.join(bad)} became NaN or infinite"
        if self.ckpt_path.exists():
            kept = f"{self.ckpt_path} (step {read_checkpoint_meta(self.ckpt_path)['step']}) is kept"
            advice = "then --resume"
        else:
            kept, advice = "no checkpoint was written", "then start again"
        raise TrainingDiverged(f"training diverged at step {self.step}: {fault}; {kept}. "
                               f"Lower --lr (now {self.train.lr:g}) or the loss weights, {advice}")

    def _judge_weights(self) -> None:
        """Raise TrainingDiverged unless the current weights give finite losses: a step's logged
        losses are those of the weights before its update, so after a blow-up (a huge --lr) the
        weights about to be saved may be useless though finite. One forward on the last batch,
        without gradients; the run state it moves (LeCam's means, ADA's counts) is put back, so
        the checkpoint, and a resume from it, are exactly as without it."""
        self._check_finite({})
        if self._last_batch is None:  # nothing trained since the weights were loaded
            return
        buffers = [b for module in self.networks().values() for b in module.buffers()]
        kept = [b.clone() for b in buffers]
        image, labels, mask = self._last_batch
        generator = torch.Generator().manual_seed(derive_seed(self.train.seed, self.step, self.dist.rank))
        try:
            with torch.no_grad(), self._autocast():
                losses = self.objective(image, labels, mask, generator)
        finally:
            with torch.no_grad():
                for buffer, value in zip(buffers, kept):
                    buffer.copy_(value)
        values = {name: float(value) for name, value in losses.logs.items()}
        if all(map(math.isfinite, values.values())):  # the totals name a fault only where no term does
            values["generator side"], values["discriminator"] = float(losses.generator), float(losses.discriminator)
        self._check_finite(values, judged=True)

    def save(self) -> Path | None:
        """Write the checkpoint, once the weights have shown finite losses (``_judge_weights``)."""
        self._judge_weights()
        if not self.dist.main:
            return None
        meta = {
            "step": self.step,
            "stage": self.stage,
            "config": self.config.to_dict(),
            "train": dataclasses.asdict(self.train),
        }
        path = save_checkpoint(self.ckpt_path, self.networks(), self._optimizers(), meta)
        write_text_atomic(self.out / "config.json", self.config.to_json() + "\n")
        write_text_atomic(self.out / "train_config.json", json.dumps(dataclasses.asdict(self.train), indent=2) + "\n")
        return path

    # ---- one optimisation step -----------------------------------------------------
    def _autocast(self):
        if self.bf16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return nullcontext()

    def images_seen(self, step: int | None = None) -> int:
        return (self.step if step is None else step) * self.train.batch_size * self.dist.world

    def learning_rate_factor(self) -> float:
        """1, then a linear decay to 0 over the last ``lr_decay_kimg`` kimg of the run."""
        decay = self.train.lr_decay_kimg * 1000
        if decay <= 0:
            return 1.0
        remaining = self.images_seen(self.train.steps) - self.images_seen()
        return max(0.0, min(1.0, remaining / decay))

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        image = batch["image"].to(self.device, non_blocking=True)
        labels = batch["mask"].to(self.device, non_blocking=True)
        mask = one_hot(labels, self.config.num_classes)
        self._last_batch = (image, labels, mask)  # what the weights are judged on before a save
        generator = torch.Generator().manual_seed(derive_seed(self.train.seed, self.step, self.dist.rank))
        with self._autocast():
            losses = self.objective(image, labels, mask, generator)
        # One D pass served both objectives: take each gradient for its own side only.
        self.opt_g.zero_grad(set_to_none=True)
        self.opt_d.zero_grad(set_to_none=True)
        g_params = [p for group in self.opt_g.param_groups for p in group["params"]]
        torch.autograd.backward(losses.generator, inputs=g_params, retain_graph=True)
        torch.autograd.backward(losses.discriminator, inputs=list(self.disc.parameters()))
        factor = self.learning_rate_factor()
        for name, optimizer in self._optimizers().items():
            for group in optimizer.param_groups:
                group["lr"] = self.base_lr[name] * factor
        self.opt_g.step()
        self.opt_d.step()
        self.step += 1
        batch_images = self.train.batch_size * self.dist.world
        if self.ema is not None:
            self.ema.update(self.trained, batch_images, self.images_seen())
        logs = {k: float(v.detach()) for k, v in losses.logs.items()}
        if self.augment is not None:
            if self.step % ADA_INTERVAL == 0:
                if self.dist.enabled:  # every rank moves p the same way
                    for buffer in (self.augment.sign_sum, self.augment.sign_count):
                        dist.all_reduce(buffer)
                self.augment.adjust(batch_images * ADA_INTERVAL)
            logs["aug_p"] = float(self.augment.p)
        return logs

    # ---- samples -------------------------------------------------------------------
    def inference_networks(self) -> CA2SIS:
        """The networks samples and exports use: the weight averages where there are some."""
        if self.ema is None:
            return self.model
        model = copy.copy(self.model)  # shallow: shares the frozen parts, swaps the averaged ones
        model._modules = dict(self.model._modules)
        model._modules.update(self.ema.averages)
        return model

    @torch.no_grad()
    def save_samples(self, count: int = 4) -> Path:
        """Grid, one row per face: mask | reference | reconstruction | style swap (the
        next face's styles on this mask); mapping stage: mask | reference | 3 random."""
        count = min(count, len(self.dataset.ids))
        batch = self.data.first_faces(count)
        image = batch["image"].to(self.device)
        index_mask = batch["mask"]
        mask = one_hot(index_mask.to(self.device), self.config.num_classes)
        model = self.inference_networks()
        was_training = self.model.training
        model.eval()
        with self._autocast():
            latents = model.embed_mask(mask)
            if self.stage == "synthesis":
                codes = model.encode_styles(image, mask)
                outputs = [model.generate(latents, codes, mask)[0]]
                if count > 1:
                    outputs.append(model.generate(latents, codes.roll(1, dims=0), mask)[0])
            else:
                generator = torch.Generator(device=self.device).manual_seed(derive_seed(self.train.seed, 0, 0))
                outputs = []
                for _ in range(3):
                    z = torch.randn(count, self.config.mapping_z_dim, generator=generator, device=self.device)
                    outputs.append(model.generate(latents, model.random_codes(z), mask)[0])
        self.model.train(was_training)
        columns = [to_uint8_images(batch.float().cpu().numpy()) for batch in (image, *outputs)]
        rows = [[colorize(index_mask[i].numpy())] + [column[i] for column in columns] for i in range(count)]
        path = self.out / "samples" / f"{self.stage}-step{self.step:07d}.png"
        save_grid(rows, path)
        return path

    # ---- the loop ------------------------------------------------------------------
    def _on_stop_signal(self, signum, frame) -> None:  # noqa: ARG002
        """Ctrl-C (SIGINT) or SIGTERM (``kill``, ``timeout``, job schedulers): finish the step,
        save a checkpoint, stop (exit 130); a second signal aborts at once."""
        if self.stop_requested:
            raise KeyboardInterrupt
        self.stop_requested = True
        if self.dist.main:
            what = "Ctrl-C" if signum in (None, signal.SIGINT) else signal.Signals(signum).name
            tqdm.write(f"{what}: finishing this step and saving a checkpoint (send it again to abort)")

    def _should_stop(self) -> bool:
        if not self.dist.enabled:
            return self.stop_requested
        flag = torch.tensor([float(self.stop_requested)], device=self.device)
        dist.all_reduce(flag)  # every rank stops at the same step
        return bool(flag.item())

    def _log(self, record: dict[str, Any]) -> None:
        with open(self.out / f"log-{self.stage}.jsonl", "a") as handle:
            handle.write(json.dumps(record) + "\n")

    def run(self) -> dict[str, Any]:
        """Train until ``steps``; returns a summary with the measured images/s."""
        train = self.train
        if self.dist.main:
            self.out.mkdir(parents=True, exist_ok=True)
            trim_log(self.out / f"log-{self.stage}.jsonl", self.step)
        previous_handlers = {signum: signal.signal(signum, self._on_stop_signal) for signum in STOP_SIGNALS}
        self.model.train()
        self.disc.train()
        bar = tqdm(total=train.steps, initial=self.step, disable=not self.dist.main, unit="step",
                   dynamic_ncols=True, mininterval=1.0)
        images_per_step = train.batch_size * self.dist.world
        timed_steps, timed_seconds = 0, 0.0
        first_step = self.step
        last: dict[str, float] = {}
        stopped_early = False
        try:
            while self.step < train.steps:
                tick = time.perf_counter()
                for epoch, batch in self.data.batches_from(self.step):
                    last = self.train_step(batch)
                    self._check_finite({k: v for k, v in last.items() if isinstance(v, float)})
                    now = time.perf_counter()
                    if self.step > first_step + 1:  # the first step pays for warm-up
                        timed_steps += 1
                        timed_seconds += now - tick
                    tick = now
                    speed = images_per_step * timed_steps / timed_seconds if timed_seconds else 0.0
                    bar.update(1)
                    shown = {k: f"{v:.3f}" for k, v in last.items() if k in PROGRESS_BAR_KEYS}
                    bar.set_postfix({**shown, "img/s": f"{speed:.1f}"})
                    if self.dist.main and self.step % train.log_every == 0:
                        self._log({"step": self.step, "epoch": epoch, "kimg": self.images_seen() / 1000,
                                   **last, "lr_factor": self.learning_rate_factor(), "img_per_s": speed})
                    if self.dist.main and self.step % train.sample_every == 0:
                        self.save_samples()
                    if self.step % train.checkpoint_every == 0:
                        self.save()
                    if self._should_stop():
                        stopped_early = True
                        break
                    if self.step >= train.steps:
                        break
                if stopped_early:
                    break
        finally:
            for signum, handler in previous_handlers.items():
                signal.signal(signum, handler)
            bar.close()
        trained_now = self.step > first_step
        if trained_now or not self.ckpt_path.exists():
            self.save()
        if self.dist.main and not stopped_early and trained_now:
            self.save_samples()
        speed = images_per_step * timed_steps / timed_seconds if timed_seconds else None
        return {"step": self.step, "stopped_early": stopped_early, "images_per_second": speed,
                "kimg": self.images_seen() / 1000, "losses": last, "checkpoint": str(self.ckpt_path)}
