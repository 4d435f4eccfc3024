"""The CA2-SIS training loop (paper §IV), on one device or several with torchrun (DDP).

Stage "synthesis" trains E_s, E_m and G against D with

    L_G = L_adv + λ_feat L_FM + λ_L1 ||G - y||_1 + λ_vgg L_VGG + λ_att L_att

Stage "mapping" (§IV-G) then trains M_s with G and E_m frozen and a fresh D, with
L_adv + λ_dv L_dv. Everything random is derived from (seed, step, rank): the data order,
the flips and the noise, so a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Sampler
from tqdm import tqdm

from ..config import CA2SISConfig
from ..errors import CA2SISError, WeightsError
from ..io.checkpoint import checkpoint_path, load_checkpoint, network_tensors, read_checkpoint_meta, save_checkpoint
from ..io.weights import WEIGHT_FILES, load_module_tensors, read_tensors, read_weights_folder
from ..labels import colorize
from ..networks.composite import CA2SIS
from ..networks.discriminator import MultiScaleDiscriminator
from .data import FaceMaskDataset, one_hot, open_dataset, read_id_list
from .losses import (
    VGGPerceptualLoss,
    attention_loss,
    diversity_loss,
    feature_matching_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
)

STAGES = ("synthesis", "mapping")


@dataclass
class TrainConfig:
    """Everything about a run except the networks' own sizes (those are CA2SISConfig)."""

    data: str = ""
    stage: str = "synthesis"
    steps: int = 100_000
    batch_size: int = 8  # per process
    lr: float = 2e-4  # paper: Adam, 0.0002
    beta1: float = 0.0
    beta2: float = 0.9
    ttur: bool = True  # two time-scale update rule as in SPADE: G at lr/2, D at 2·lr
    lambda_feat: float = 10.0
    lambda_l1: float = 10.0
    lambda_vgg: float = 10.0  # used only when vgg_weights is given
    lambda_att: float = 1.0  # 0 trains the "w/o L_att" variant
    lambda_dv: float = 1.0
    vgg_weights: str | None = None
    init: str | None = None  # mapping stage: run folder or weights folder holding E_m and G
    holdout: str | None = None  # file of face ids kept out of training
    flip: bool = True
    seed: int = 0
    workers: int = 2
    log_every: int = 10
    sample_every: int = 500
    checkpoint_every: int = 1000
    device: str = "auto"

    def validate(self) -> TrainConfig:
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}")
        for name in ("steps", "batch_size", "log_every", "sample_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        return self

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# ---- distributed helpers -------------------------------------------------------------
@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def setup_distributed(device_name: str) -> tuple[Dist, torch.device]:
    """Read torchrun's environment; pick CUDA when present (or asked), else the CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device_name == "auto":
        device_name = "cuda" if torch.cuda.is_available() else "cpu"
    if device_name == "cuda" and not torch.cuda.is_available():
        raise CA2SISError("--device cuda was asked for, but no CUDA device is available")
    device = torch.device(f"cuda:{local_rank}") if device_name == "cuda" else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(rank, world, local_rank), device


# ---- data order ----------------------------------------------------------------------
class EpochSampler(Sampler[int]):
    """A seeded permutation per epoch, sharded over ranks, that can start mid-epoch."""

    def __init__(self, size: int, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        self.size, self.batch_size, self.seed, self.rank, self.world = size, batch_size, seed, rank, world
        self.steps_per_epoch = (size // world) // batch_size
        if self.steps_per_epoch == 0:
            raise CA2SISError(
                f"the dataset has {size} items, fewer than one batch of {batch_size} per process "
                f"x {world} processes; lower --batch-size"
            )
        self.epoch = 0
        self.start_step = 0

    def set_position(self, epoch: int, start_step: int) -> None:
        self.epoch, self.start_step = epoch, start_step

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.size, generator=generator)[self.rank::self.world]
        order = order[: self.steps_per_epoch * self.batch_size]
        return iter(order[self.start_step * self.batch_size:].tolist())

    def __len__(self) -> int:
        return (self.steps_per_epoch - self.start_step) * self.batch_size


def noise_generator(seed: int, step: int, rank: int, device: torch.device) -> torch.Generator:
    generator = torch.Generator(device=device)
    generator.manual_seed((seed * 1_000_003 + step) * 1009 + rank)
    return generator


# ---- samples -------------------------------------------------------------------------
def _to_uint8(image: torch.Tensor) -> np.ndarray:
    return ((image.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()


def save_grid(rows: list[list[np.ndarray]], path: Path) -> None:
    """Rows of equally sized RGB tiles → one PNG (2 px white gaps)."""
    tile = rows[0][0].shape[0]
    gap = 2
    height = len(rows) * (tile + gap) - gap
    width = len(rows[0]) * (tile + gap) - gap
    canvas = np.full((height, width, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            canvas[r * (tile + gap): r * (tile + gap) + tile, c * (tile + gap): c * (tile + gap) + tile] = image
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(canvas).save(path)


# ---- the trainer ---------------------------------------------------------------------
class Trainer:
    """Holds the networks, optimizers and data of one run; ``run()`` trains to ``steps``."""

    def __init__(self, config: CA2SISConfig, train: TrainConfig, out: str | Path, resume: bool = False):
        self.config = config.validate()
        self.train = train.validate()
        self.out = Path(out)
        self.dist, self.device = setup_distributed(train.device)
        self.stage = train.stage
        torch.manual_seed(train.seed)  # identical initial weights on every rank
        self.model = CA2SIS(config, with_mapping=self.stage == "mapping").to(self.device)
        self.disc = MultiScaleDiscriminator(
            config.num_classes, config.disc_channels, config.disc_layers, config.disc_scales
        ).to(self.device)
        self.vgg = VGGPerceptualLoss(train.vgg_weights).to(self.device) if train.vgg_weights else None
        self.use_att = (
            self.stage == "synthesis" and train.lambda_att > 0 and config.generator_conditioning == "cross_attention"
        )

        if self.stage == "synthesis":
            self.trained: dict[str, nn.Module] = {
                "style_encoder": self.model.style_encoder,
                "mask_embedder": self.model.mask_embedder,
                "generator": self.model.generator,
            }
        else:
            self._load_frozen_synthesis()
            self.trained = {"mapping_network": self.model.mapping_network}
        g_params = [p for m in self.trained.values() for p in m.parameters()]
        g_lr, d_lr = (train.lr / 2, train.lr * 2) if train.ttur else (train.lr, train.lr)
        betas = (train.beta1, train.beta2)
        self.opt_g = torch.optim.Adam(g_params, lr=g_lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=d_lr, betas=betas)
        self.step = 0
        self.ckpt_path = checkpoint_path(self.out, self.stage)
        if resume:
            self._resume()

        # DDP wraps what is trained by backward through the wrapper: the synthesis networks
        # (as one module, so one bucketed all-reduce) or M_s, and D. In the G step D is
        # called unwrapped with frozen parameters, so no gradient is reduced for it.
        trained_module: nn.Module = self.model if self.stage == "synthesis" else self.model.mapping_network
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.trained_ddp: nn.Module = nn.parallel.DistributedDataParallel(trained_module, device_ids=ids)
            self.disc_ddp: nn.Module = nn.parallel.DistributedDataParallel(self.disc, device_ids=ids)
        else:
            self.trained_ddp, self.disc_ddp = trained_module, self.disc

        exclude = read_id_list(train.holdout) if train.holdout else None
        self.dataset: FaceMaskDataset = open_dataset(train.data, config.image_size, flip=train.flip, exclude=exclude)
        self.sampler = EpochSampler(len(self.dataset), train.batch_size, train.seed, self.dist.rank, self.dist.world)
        self.loader = DataLoader(
            self.dataset,
            batch_size=train.batch_size,
            sampler=self.sampler,
            num_workers=train.workers,
            pin_memory=self.device.type == "cuda",
            drop_last=True,
        )
        self.stop_requested = False

    # ---- set-up helpers ------------------------------------------------------------
    def _load_frozen_synthesis(self) -> None:
        """Mapping stage: E_s, E_m and G come trained from --init (or this run's checkpoint)."""
        source = Path(self.train.init) if self.train.init else self.out
        nets = {"style_encoder": self.model.style_encoder, "mask_embedder": self.model.mask_embedder,
                "generator": self.model.generator}
        if (source / WEIGHT_FILES["generator"]).exists():  # an exported weights folder
            config, tensors = read_weights_folder(source)
            self._check_same_config(config, source)
            for name, module in nets.items():
                load_module_tensors(module, tensors[name], f"{source}/{name}")
        else:
            ckpt = source if source.is_file() else checkpoint_path(source)
            if not ckpt.exists():
                raise CA2SISError(
                    f"the mapping stage needs trained synthesis networks: no {ckpt}; "
                    "train the synthesis stage first or give --init RUN_DIR|WEIGHTS_DIR"
                )
            meta = read_checkpoint_meta(ckpt)
            self._check_same_config(CA2SISConfig.from_dict(meta["config"]), ckpt)
            tensors = read_tensors(ckpt)
            for name, module in nets.items():
                load_module_tensors(module, network_tensors(tensors, name), f"{ckpt} [{name}]")
        for module in nets.values():
            module.requires_grad_(False)

    def _check_same_config(self, other: CA2SISConfig, source: Path) -> None:
        if other.to_dict() != self.config.to_dict():
            raise WeightsError(f"{source} was trained with config '{other.name}', not '{self.config.name}'")

    def networks(self) -> dict[str, nn.Module]:
        nets = dict(self.model.networks())
        nets["discriminator"] = self.disc
        return nets

    def _resume(self) -> None:
        if not self.ckpt_path.exists():
            raise CA2SISError(f"--resume: no checkpoint at {self.ckpt_path}")
        meta = load_checkpoint(
            self.ckpt_path, self.networks(), {"generator_side": self.opt_g, "discriminator": self.opt_d}
        )
        self.step = int(meta["step"])

    def save(self) -> Path | None:
        if not self.dist.main:
            return None
        meta = {
            "step": self.step,
            "stage": self.stage,
            "config": self.config.to_dict(),
            "train": dataclasses.asdict(self.train),
        }
        path = save_checkpoint(
            self.ckpt_path, self.networks(), {"generator_side": self.opt_g, "discriminator": self.opt_d}, meta
        )
        self.config.save(self.out / "config.json")
        (self.out / "train_config.json").write_text(json.dumps(dataclasses.asdict(self.train), indent=2) + "\n")
        return path

    # ---- one optimisation step -----------------------------------------------------
    def _autocast(self):
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    def _fake(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """Synthesis: reconstruct ``image`` from its mask. Mapping: two faces per mask from
        two noise draws, returned stacked, with ``mask`` repeated to match."""
        if self.stage == "synthesis":
            fake, maps = self.trained_ddp(image, mask)
            return fake, maps, mask
        generator = noise_generator(self.train.seed, self.step, self.dist.rank, self.device)
        z = torch.randn(2 * image.shape[0], self.config.mapping_z_dim, generator=generator, device=self.device)
        codes = self.trained_ddp(z)
        mask2 = torch.cat([mask, mask])
        fake, maps = self.model.generate(self.model.embed_mask(mask2), codes, mask2)
        return fake, maps, mask2

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        image = batch["image"].to(self.device, non_blocking=True)
        mask = one_hot(batch["mask"].to(self.device, non_blocking=True), self.config.num_classes)
        losses: dict[str, torch.Tensor] = {}
        train = self.train

        # Generator side: D frozen and called unwrapped (see __init__).
        self.disc.requires_grad_(False)
        with self._autocast():
            fake, maps, fake_mask = self._fake(image, mask)
            pred_fake = self.disc(fake_mask, fake)
            losses["adv"] = hinge_generator_loss(pred_fake)
            total = losses["adv"]
            if self.stage == "synthesis":
                with torch.no_grad():
                    pred_real = self.disc(mask, image)
                losses["fm"] = feature_matching_loss(pred_fake, pred_real)
                losses["l1"] = F.l1_loss(fake.float(), image)
                total = total + train.lambda_feat * losses["fm"] + train.lambda_l1 * losses["l1"]
                if self.vgg is not None:
                    losses["vgg"] = self.vgg(fake.float(), image)
                    total = total + train.lambda_vgg * losses["vgg"]
                if self.use_att:
                    losses["att"] = attention_loss(maps, mask)
                    total = total + train.lambda_att * losses["att"]
            else:
                half = image.shape[0]
                losses["dv"] = diversity_loss(fake[:half].float(), fake[half:].float())
                total = total + train.lambda_dv * losses["dv"]
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()
        self.opt_g.step()
        self.disc.requires_grad_(True)

        # Discriminator side, on the fakes just made.
        real_mask = mask if self.stage == "synthesis" else fake_mask
        real_image = image if self.stage == "synthesis" else torch.cat([image, image])
        with self._autocast():
            pred = self.disc_ddp(torch.cat([real_mask, fake_mask]), torch.cat([real_image, fake.detach()]))
            n = real_image.shape[0]
            pred_real = [[t[:n] for t in scale] for scale in pred]
            pred_fake = [[t[n:] for t in scale] for scale in pred]
            losses["d"] = hinge_discriminator_loss(pred_real, pred_fake)
        self.opt_d.zero_grad(set_to_none=True)
        losses["d"].backward()
        self.opt_d.step()
        self.step += 1
        return {k: float(v.detach()) for k, v in losses.items()}

    # ---- samples -------------------------------------------------------------------
    @torch.no_grad()
    def save_samples(self, count: int = 4) -> Path:
        """Grid, one row per face: mask | reference | reconstruction | style swap (the
        next face's styles on this mask); mapping stage: mask | reference | 3 random."""
        items = [self.dataset[i] for i in range(min(count, len(self.dataset)))]  # unflipped first
        image = torch.stack([it["image"] for it in items]).to(self.device)
        index_mask = torch.stack([it["mask"] for it in items])
        mask = one_hot(index_mask.to(self.device), self.config.num_classes)
        model = self.model.eval()
        with self._autocast():
            latents = model.embed_mask(mask)
            if self.stage == "synthesis":
                codes = model.encode_styles(image, mask)
                outputs = [model.generate(latents, codes, mask)[0]]
                if len(items) > 1:
                    outputs.append(model.generate(latents, codes.roll(1, dims=0), mask)[0])
            else:
                generator = noise_generator(self.train.seed, 0, 0, self.device)
                outputs = []
                for _ in range(3):
                    z = torch.randn(len(items), self.config.mapping_z_dim, generator=generator, device=self.device)
                    outputs.append(model.generate(latents, model.random_codes(z), mask)[0])
        model.train()
        rows = []
        for i in range(len(items)):
            rows.append([colorize(index_mask[i].numpy()), _to_uint8(image[i])] + [_to_uint8(o[i]) for o in outputs])
        path = self.out / "samples" / f"{self.stage}-step{self.step:07d}.png"
        save_grid(rows, path)
        return path

    # ---- the loop ------------------------------------------------------------------
    def _on_sigint(self, signum, frame) -> None:  # noqa: ARG002
        if self.stop_requested:
            raise KeyboardInterrupt
        self.stop_requested = True
        if self.dist.main:
            tqdm.write("Ctrl-C: finishing this step and saving a checkpoint (press again to abort)")

    def _should_stop(self) -> bool:
        if not self.dist.enabled:
            return self.stop_requested
        flag = torch.tensor([float(self.stop_requested)], device=self.device)
        dist.all_reduce(flag)  # every rank stops at the same step
        return bool(flag.item())

    def _log(self, record: dict[str, Any]) -> None:
        with open(self.out / f"log-{self.stage}.jsonl", "a") as handle:
            handle.write(json.dumps(record) + "\n")

    def _trim_log(self) -> None:
        """On resume, drop log lines written after the checkpoint (they will be redone)."""
        path = self.out / f"log-{self.stage}.jsonl"
        if path.exists():
            lines = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= self.step]
            path.write_text("".join(line + "\n" for line in lines))

    def run(self) -> dict[str, Any]:
        """Train until ``steps``; returns a summary with the measured images/s."""
        train = self.train
        if self.dist.main:
            self.out.mkdir(parents=True, exist_ok=True)
            self._trim_log()
        previous_handler = signal.signal(signal.SIGINT, self._on_sigint)
        self.model.train()
        self.disc.train()
        bar = tqdm(total=train.steps, initial=self.step, disable=not self.dist.main, unit="step",
                   dynamic_ncols=True, mininterval=1.0)
        images_per_step = train.batch_size * self.dist.world
        timed_steps, timed_seconds = 0, 0.0
        last: dict[str, float] = {}
        stopped_early = False
        try:
            while self.step < train.steps:
                epoch, offset = divmod(self.step, self.sampler.steps_per_epoch)
                self.sampler.set_position(epoch, offset)
                tick = time.perf_counter()
                for batch in self.loader:
                    last = self.train_step(batch)
                    now = time.perf_counter()
                    if self.step > 1:  # the first step pays for warm-up
                        timed_steps += 1
                        timed_seconds += now - tick
                    tick = now
                    speed = images_per_step * timed_steps / timed_seconds if timed_seconds else 0.0
                    bar.update(1)
                    bar.set_postfix({**{k: f"{v:.3f}" for k, v in last.items()}, "img/s": f"{speed:.1f}"})
                    if self.dist.main and self.step % train.log_every == 0:
                        self._log({"step": self.step, "epoch": epoch, **last, "img_per_s": speed})
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
            signal.signal(signal.SIGINT, previous_handler)
            bar.close()
        self.save()
        if self.dist.main and not stopped_early:
            self.save_samples()
        speed = images_per_step * timed_steps / timed_seconds if timed_seconds else float("nan")
        return {"step": self.step, "stopped_early": stopped_early, "images_per_second": speed,
                "losses": last, "checkpoint": str(self.ckpt_path)}


def export_weights(run_dir: str | Path, out: str | Path, dtype: torch.dtype = torch.float16) -> list[Path]:
    """Inference weights of a run (E_s, E_m, G, and M_s if trained) → a weights folder."""
    run_dir = Path(run_dir)
    synthesis = checkpoint_path(run_dir) if run_dir.is_dir() else run_dir
    if not synthesis.exists():
        raise CA2SISError(f"no training checkpoint at {synthesis}")
    meta = read_checkpoint_meta(synthesis)
    config = CA2SISConfig.from_dict(meta["config"])
    mapping = checkpoint_path(run_dir, "mapping") if run_dir.is_dir() else None
    has_mapping = mapping is not None and mapping.exists()
    model = CA2SIS(config, with_mapping=has_mapping)
    tensors = read_tensors(synthesis)
    for name in ("style_encoder", "mask_embedder", "generator"):
        load_module_tensors(getattr(model, name), network_tensors(tensors, name), f"{synthesis} [{name}]")
    if has_mapping:
        load_module_tensors(
            model.mapping_network, network_tensors(read_tensors(mapping), "mapping_network"), f"{mapping}"
        )
    return model.save_pretrained(out, dtype=dtype)

