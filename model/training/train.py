"""The CA2-SIS training loop (paper §IV), on one device or several with torchrun (DDP).

The loop is here; what a step optimises is in ``objectives.py`` (stage "synthesis": E_s,
E_m and G against D; stage "mapping": M_s with G frozen, §IV-G). One step: the faces of
the batch, one pass of the generator side and one of D under bf16 autocast where the
hardware has it, the two gradients taken apart, both Adam steps, then the weight average
(EMA) and the augmentation strength. Everything random is derived from (seed, step, rank):
the data order, the flips, the noise and the augmentation, so a resumed run continues
exactly where it stopped.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Sampler
from tqdm import tqdm

from ..config import CA2SISConfig
from ..devices import cpu_flags
from ..errors import CA2SISError, TrainingDiverged, WeightsError
from ..faces.parser import FaceParserModel
from ..faces.reader import default_parser_weights
from ..io.atomic import write_text_atomic
from ..io.checkpoint import (
    checkpoint_networks,
    checkpoint_path,
    load_checkpoint,
    network_tensors,
    read_checkpoint_meta,
    save_checkpoint,
)
from ..io.pixels import one_hot
from ..io.weights import (
    SET_MEMBERS,
    WEIGHT_FILES,
    atomic_save_file,
    install_weights_folder,
    load_module_tensors,
    read_tensors,
    read_weights_folder,
)
from ..labels import colorize
from ..networks.composite import CA2SIS
from ..networks.discriminator import MultiScaleDiscriminator
from .augment import PairedAugment
from .data import FaceMaskDataset, FacesInMemory, open_dataset, read_id_list
from .data_check import check_training_files
from .ema import WeightAverage
from .grow import appended_blocks, grow_generator
from .losses import LeCamRegularizer, ParserLoss, VGGPerceptualLoss
from .objectives import LossWeights, MappingObjective, Objective, SynthesisForward, SynthesisObjective

DISC_EXPORT = SET_MEMBERS[0]  # D beside exported weights, for fine-tuning
ADA_INTERVAL = 4  # steps between adjustments of the augmentation probability

STAGES = ("synthesis", "mapping")
PRECISIONS = ("auto", "bf16", "fp32")
AUGMENTS = ("ada", "always", "off")
DATA_LOADING = ("auto", "memory", "workers")


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
    lr_decay_kimg: float = 0.0  # the last N kimg of the run decay the lr linearly to 0
    lambda_feat: float = 10.0
    lambda_l1: float = 10.0
    lambda_vgg: float = 10.0  # used only when vgg_weights is given
    lambda_att: float = 1.0  # 0 trains the "w/o L_att" variant
    lambda_dv: float = 1.0
    lambda_parser: float = 1.0  # face-parser perceptual loss (0: off)
    lambda_semantic: float = 0.5  # face-parser cross-entropy against the input mask (0: off)
    parser_faces: int = 2  # faces per batch the parser losses look at (the parser works at 256 px)
    lambda_swap: float = 1.0  # swap-locality loss of one-part style swaps (0: off)
    swap_faces: int = 2  # faces per batch that also get a one-part style swap
    lambda_colour: float = 0.0  # per-part CIELAB mean and spread of reconstructions and swapped parts (0: off)
    lambda_lecam: float = 0.1  # LeCam regularisation of D (0: off)
    lambda_code: float = 10.0  # mapping stage: M_s codes kept at E_s's statistics (0: off)
    ema_kimg: float = 10.0  # half-life of the weight average in kimg (0: no EMA)
    augment: str = "ada"  # D's paired augmentation: ada (adaptive p), always (p = 1), off
    ada_target: float = 0.6
    ada_kimg: float = 20.0  # kimg over which ADA's p may move from 0 to 1
    precision: str = "auto"  # auto: bf16 where the hardware runs it fast (CUDA, AVX512-BF16/AMX CPUs)
    data_loading: str = "auto"  # memory: decode every face once; workers: decode per step
    skip_bad: bool = False  # train on the good faces when some files are bad
    vgg_weights: str | None = None
    parser_weights: str | None = None  # face parser for the parser losses (default: the bundled one)
    init: str | None = None  # run folder or weights folder to start from (mapping: E_m and G)
    holdout: str | None = None  # file of face ids kept out of training
    flip: bool = True
    seed: int = 0
    workers: int = 2
    log_every: int = 10
    sample_every: int = 500
    checkpoint_every: int = 1000
    device: str = "auto"

    def validate(self) -> TrainConfig:
        choices = {"stage": STAGES, "precision": PRECISIONS, "augment": AUGMENTS, "data_loading": DATA_LOADING}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        for name in ("steps", "batch_size", "log_every", "sample_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        non_negative = ("ema_kimg", "lr_decay_kimg", "swap_faces", "parser_faces", "workers")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):  # NaN passes every < or > check
                raise ValueError(f"{f.name} must be a finite number, not {value}")
            if (f.name.startswith("lambda_") or f.name in non_negative) and value < 0:
                raise ValueError(f"{f.name} must be at least 0")
        if self.ada_kimg <= 0 or self.lr <= 0:
            raise ValueError("ada_kimg and lr must be positive")
        return self

    def loss_weights(self) -> LossWeights:
        return LossWeights(
            feat=self.lambda_feat, l1=self.lambda_l1, att=self.lambda_att, vgg=self.lambda_vgg,
            parser=self.lambda_parser, semantic=self.lambda_semantic, swap=self.lambda_swap, colour=self.lambda_colour,
            lecam=self.lambda_lecam, dv=self.lambda_dv, code=self.lambda_code,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def bf16_is_fast(device: torch.device, flags: frozenset[str] | None = None) -> bool:
    """bf16 matmuls and convolutions run natively: CUDA, or a CPU with AVX512-BF16 / AMX.

    oneDNN also reports bf16 "supported" on plain AVX-512 CPUs, where it emulates it: there
    a training step took about twice as long as in fp32, so the CPU's own flags decide.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    flags = cpu_flags() if flags is None else flags
    return bool(torch.backends.mkldnn.is_available() and flags & {"avx512_bf16", "amx_bf16"})


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
        self.bf16 = train.precision == "bf16" or (train.precision == "auto" and bf16_is_fast(self.device))
        torch.manual_seed(train.seed)  # identical initial weights on every rank
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
        # Buffers that belong to the run (saved in the checkpoint): the EMA, ADA's p, LeCam's means.
        self.ema = WeightAverage(self.trained, train.ema_kimg) if train.ema_kimg > 0 else None
        self.augment = None if train.augment == "off" else PairedAugment(
            target=train.ada_target if train.augment == "ada" else None,
            speed_kimg=train.ada_kimg,
            initial_p=1.0 if train.augment == "always" else 0.0,
        ).to(self.device)
        self.lecam = LeCamRegularizer().to(self.device) if train.lambda_lecam > 0 else None

        g_params = [p for m in self.trained.values() for p in m.parameters()]
        g_lr, d_lr = (train.lr / 2, train.lr * 2) if train.ttur else (train.lr, train.lr)
        betas = (train.beta1, train.beta2)
        self.opt_g = torch.optim.Adam(g_params, lr=g_lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=d_lr, betas=betas)
        self.base_lr = {"generator_side": g_lr, "discriminator": d_lr}
        self.step = 0
        self.ckpt_path = checkpoint_path(self.out, self.stage)
        if self.stage == "mapping":
            self._load_frozen_synthesis()
        elif train.init and not resume:
            self._warm_start(Path(train.init))
        if resume:
            self._resume()

        # DDP wraps what is trained by backward through the wrapper: the synthesis networks
        # (as one module, so one bucketed all-reduce) or M_s, and D.
        trained_module: nn.Module = SynthesisForward(self.model) if self.stage == "synthesis" \
            else self.model.mapping_network
        disc_module: nn.Module = self.disc
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            trained_module = nn.parallel.DistributedDataParallel(trained_module, device_ids=ids)
            disc_module = nn.parallel.DistributedDataParallel(self.disc, device_ids=ids)
        self.objective = self._objective(trained_module, disc_module)

        exclude = read_id_list(train.holdout) if train.holdout else None
        self.dataset: FaceMaskDataset = open_dataset(train.data, config.image_size, flip=train.flip, exclude=exclude)
        # Every file is checked once before the first step (headers, reduced JPEG decodes): all bad
        # files are reported together, not one at a time hours into training.
        usable = check_training_files(self.dataset, skip_bad=train.skip_bad, num_classes=config.num_classes)
        if len(usable) < len(self.dataset.ids):
            self.dataset = open_dataset(train.data, config.image_size, flip=train.flip, exclude=exclude,
                                        include=usable)
        self.faces: FacesInMemory | None = None
        if self._data_in_memory():
            self.faces = FacesInMemory(self.dataset, skip_bad=train.skip_bad, progress=self.dist.main)
            size = len(self.faces)
        else:
            size = len(self.dataset)
        self.sampler = EpochSampler(size, train.batch_size, train.seed, self.dist.rank, self.dist.world)
        self.loader = None if self.faces is not None else DataLoader(
            self.dataset, batch_size=train.batch_size, sampler=self.sampler, num_workers=train.workers,
            pin_memory=self.device.type == "cuda", drop_last=True,
        )
        self.stop_requested = False

    # ---- set-up helpers ------------------------------------------------------------
    def _objective(self, trained: nn.Module, disc: nn.Module) -> Objective:
        train = self.train
        if self.stage == "mapping":
            return MappingObjective(trained, self.model, disc, train.loss_weights(), self.config.mapping_z_dim,
                                    self.augment, self.lecam)
        parser = None
        if train.lambda_parser > 0 or train.lambda_semantic > 0:
            parser_model = FaceParserModel.from_pretrained(train.parser_weights or default_parser_weights())
            parser = ParserLoss(parser_model.network, parser_model.config.input_size).to(self.device)
        vgg = VGGPerceptualLoss(train.vgg_weights).to(self.device) if train.vgg_weights else None
        use_att = self.config.generator_conditioning == "cross_attention"
        return SynthesisObjective(trained, disc, train.loss_weights(), self.augment, self.lecam, parser, vgg,
                                  use_attention_loss=use_att, swap_faces=train.swap_faces,
                                  parser_faces=train.parser_faces)

    def _data_in_memory(self) -> bool:
        if self.train.data_loading != "auto":
            return self.train.data_loading == "memory"
        needed = len(self.dataset.ids) * self.config.image_size**2 * 4  # RGB + mask, uint8
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):  # not Linux: assume 8 GB
            total = 8 * 2**30
        return needed < total // 4

    def _synthesis_sources(self, source: Path) -> tuple[CA2SISConfig, dict[str, dict[str, torch.Tensor]], str]:
        """E_s, E_m, G (and D when present) of a weights folder or a run's checkpoint."""
        if (source / WEIGHT_FILES["generator"]).exists():  # an exported weights folder
            config, tensors = read_weights_folder(source)
            disc_file = source / DISC_EXPORT
            if disc_file.exists():
                tensors["discriminator"] = read_tensors(disc_file)
            return config, tensors, str(source)
        ckpt = source if source.is_file() else checkpoint_path(source)
        if not ckpt.exists():
            raise CA2SISError(f"no trained networks at {source}: give a run folder or an exported weights folder")
        meta = read_checkpoint_meta(ckpt)
        flat = read_tensors(ckpt)
        names = ("style_encoder", "mask_embedder", "generator", "discriminator")
        tensors = {name: network_tensors(flat, f"ema.averages.{name}") or network_tensors(flat, name)
                   for name in names}
        return CA2SISConfig.from_dict(meta["config"]), {k: v for k, v in tensors.items() if v}, str(ckpt)

    def _load_frozen_synthesis(self) -> None:
        """Mapping stage: E_s, E_m and G come trained from --init (or this run's checkpoint)."""
        source = Path(self.train.init) if self.train.init else self.out
        if not (source / WEIGHT_FILES["generator"]).exists() and not checkpoint_path(source).exists() \
                and not source.is_file():
            raise CA2SISError(
                f"the mapping stage needs trained synthesis networks: no {checkpoint_path(source)}; "
                "train the synthesis stage first or give --init RUN_DIR|WEIGHTS_DIR"
            )
        config, tensors, where = self._synthesis_sources(source)
        self._check_same_config(config, Path(where))
        for name in ("style_encoder", "mask_embedder", "generator"):
            module = getattr(self.model, name)
            load_module_tensors(module, tensors[name], f"{where} [{name}]")
            module.requires_grad_(False)

    def _warm_start(self, source: Path) -> None:
        """Synthesis stage with --init: start from trained E_s, E_m, G and, when the source
        has it, D (a weights folder keeps D in training/ for exactly this)."""
        config, tensors, where = self._synthesis_sources(source)
        grown = appended_blocks(config, self.config)
        if not grown:
            require_same_tensors(config, self.config, where)
        theirs, ours = config.to_dict(), self.config.to_dict()
        if theirs != ours and self.dist.main:
            changed = sorted(k for k, v in ours.items() if theirs.get(k) != v)
            print(f"ca2sis-train: warm start from '{config.name}' into '{self.config.name}' "
                  f"(changed: {', '.join(changed)})", file=sys.stderr)
        if grown and self.dist.main:
            print(f"ca2sis-train: growing G from {config.image_size} to {self.config.image_size} px: "
                  f"{grown} new block(s) start as up-sampling", file=sys.stderr)
        for name, module in self.trained.items():
            if name == "generator" and grown:
                grow_generator(module, tensors[name], len(config.generator_channels), f"{where} [{name}]")
            else:
                load_module_tensors(module, tensors[name], f"{where} [{name}]")
        if "discriminator" in tensors:
            load_module_tensors(self.disc, tensors["discriminator"], f"{where} [discriminator]")
        elif self.dist.main:
            print(f"ca2sis-train: {where} has no discriminator; D starts from scratch", file=sys.stderr)
        if self.ema is not None:
            self.ema.reset_to(self.trained)

    def _check_same_config(self, other: CA2SISConfig, source: Path) -> None:
        if other.to_dict() != self.config.to_dict():
            raise WeightsError(f"{source} was trained with config '{other.name}', not '{self.config.name}'")

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

    def _resume(self) -> None:
        if not self.ckpt_path.exists():
            raise CA2SISError(f"--resume: no checkpoint at {self.ckpt_path}")
        # Checkpoints from before the EMA / ADA / LeCam existed resume with fresh ones.
        present = checkpoint_networks(self.ckpt_path)
        optional = {"ema", "augment", "lecam"}
        networks = {k: v for k, v in self.networks().items() if k not in optional or k in present}
        meta = load_checkpoint(self.ckpt_path, networks, self._optimizers())
        if self.ema is not None and "ema" not in present:
            self.ema.reset_to(self.trained)
        self.step = int(meta["step"])

    def _check_finite(self, losses: dict[str, float]) -> None:
        """Stop on a non-finite loss or weight, before anything of it is saved: the last good
        checkpoint stays the run's checkpoint."""
        bad = sorted(name for name, value in losses.items() if not math.isfinite(value))
        if not bad:
            weights = [p for m in (*self.trained.values(), self.disc) for p in m.parameters()]
            if all(bool(torch.isfinite(p).all()) for p in weights):
                return
            bad = ["the weights"]
        kept = f"{self.ckpt_path} (step {read_checkpoint_meta(self.ckpt_path)['step']}) is kept" \
            if self.ckpt_path.exists() else "no checkpoint was written"
        raise TrainingDiverged(
            f"training diverged at step {self.step}: {', '.join(bad)} became NaN or infinite; {kept}. "
            f"Lower --lr (now {self.train.lr:g}) or the loss weights, then --resume")

    def save(self) -> Path | None:
        if not self.dist.main:
            return None
        self._check_finite({})
        meta = {
            "step": self.step,
            "stage": self.stage,
            "config": self.config.to_dict(),
            "train": dataclasses.asdict(self.train),
        }
        path = save_checkpoint(self.ckpt_path, self.networks(), self._optimizers(), meta)
        self.config.save(self.out / "config.json")
        (self.out / "train_config.json").write_text(json.dumps(dataclasses.asdict(self.train), indent=2) + "\n")
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
        generator = torch.Generator().manual_seed((self.train.seed * 1_000_003 + self.step) * 1009 + self.dist.rank)
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
        if self.faces is not None:
            batch = self.faces.batch(list(range(count)))  # unflipped first
        else:
            items = [self.dataset[i] for i in range(count)]
            batch = {"image": torch.stack([it["image"] for it in items]),
                     "mask": torch.stack([it["mask"] for it in items])}
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
                generator = noise_generator(self.train.seed, 0, 0, self.device)
                outputs = []
                for _ in range(3):
                    z = torch.randn(count, self.config.mapping_z_dim, generator=generator, device=self.device)
                    outputs.append(model.generate(latents, model.random_codes(z), mask)[0])
        self.model.train(was_training)
        rows = []
        for i in range(count):
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
        """On resume, drop log lines written after the checkpoint (they will be redone), and a
        torn line (a write cut short by a full disk or a kill)."""
        path = self.out / f"log-{self.stage}.jsonl"
        if path.exists():
            kept = []
            for line in path.read_text(errors="replace").splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and isinstance(record.get("step"), int) and record["step"] <= self.step:
                    kept.append(line)
            write_text_atomic(path, "".join(line + "\n" for line in kept))

    def _epoch_batches(self) -> Iterator[dict[str, torch.Tensor]]:
        """The batches of the rest of the sampler's epoch."""
        if self.loader is not None:
            yield from self.loader
            return
        order = list(self.sampler)
        size = self.train.batch_size
        for start in range(0, len(order) - size + 1, size):
            yield self.faces.batch(order[start:start + size])

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
        first_step = self.step
        last: dict[str, float] = {}
        stopped_early = False
        try:
            while self.step < train.steps:
                epoch, offset = divmod(self.step, self.sampler.steps_per_epoch)
                self.sampler.set_position(epoch, offset)
                tick = time.perf_counter()
                for batch in self._epoch_batches():
                    last = self.train_step(batch)
                    self._check_finite({k: v for k, v in last.items() if isinstance(v, float)})
                    now = time.perf_counter()
                    if self.step > first_step + 1:  # the first step pays for warm-up
                        timed_steps += 1
                        timed_seconds += now - tick
                    tick = now
                    speed = images_per_step * timed_steps / timed_seconds if timed_seconds else 0.0
                    bar.update(1)
                    shown = {k: f"{v:.3f}" for k, v in last.items() if k in ("adv", "l1", "att", "sem", "d", "aug_p")}
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
            signal.signal(signal.SIGINT, previous_handler)
            bar.close()
        trained_now = self.step > first_step
        if trained_now or not self.ckpt_path.exists():
            self.save()
        if self.dist.main and not stopped_early and trained_now:
            self.save_samples()
        speed = images_per_step * timed_steps / timed_seconds if timed_seconds else None
        return {"step": self.step, "stopped_early": stopped_early, "images_per_second": speed,
                "kimg": self.images_seen() / 1000, "losses": last, "checkpoint": str(self.ckpt_path)}


def require_same_tensors(source: CA2SISConfig, target: CA2SISConfig, where: str | Path) -> None:
    """Refuse weights whose tensors do not fit ``target`` (configs may differ in G's norm)."""
    if source.tensor_layout() != target.tensor_layout():
        raise WeightsError(f"{where} holds networks of config '{source.name}', whose tensors differ from "
                           f"'{target.name}'")


def export_weights(
    run_dir: str | Path, out: str | Path, dtype: torch.dtype = torch.float16, mapping_from: str | Path | None = None
) -> list[Path]:
    """Inference weights of a run (E_s, E_m, G, and M_s if trained; the weight averages when
    the run kept them) → a weights folder, with D in ``training/`` for fine-tuning.

    A run of the mapping stage alone (``--init`` from a weights folder) exports too: its
    checkpoint holds the frozen E_s, E_m and G it trained M_s against, and D is taken from
    the ``--init`` folder when it has one.

    ``mapping_from``: a weights folder with the same tensor layout whose M_s a synthesis-only run
    ships with (e.g. the folder it was warm-started from), so random part styles keep
    working until a mapping stage is trained against the new E_s."""
    run_dir = Path(run_dir)
    synthesis = checkpoint_path(run_dir) if run_dir.is_dir() else run_dir
    mapping = checkpoint_path(run_dir, "mapping") if run_dir.is_dir() else None
    has_mapping = mapping is not None and mapping.exists()
    if not synthesis.exists() and not has_mapping:
        raise CA2SISError(f"no training checkpoint at {synthesis}")
    source = synthesis if synthesis.exists() else mapping
    meta = read_checkpoint_meta(source)
    config = CA2SISConfig.from_dict(meta["config"])
    if has_mapping and mapping_from is not None:
        raise CA2SISError(f"{run_dir} trained its own M_s: export it without --mapping-from")
    model = CA2SIS(config, with_mapping=has_mapping or mapping_from is not None)
    tensors = read_tensors(source)

    def averaged_or_live(flat: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
        return network_tensors(flat, f"ema.averages.{name}") or network_tensors(flat, name)

    for name in ("style_encoder", "mask_embedder", "generator"):
        load_module_tensors(getattr(model, name), averaged_or_live(tensors, name), f"{source} [{name}]")
    if has_mapping:
        mapping_tensors = tensors if source == mapping else read_tensors(mapping)
        load_module_tensors(model.mapping_network, averaged_or_live(mapping_tensors, "mapping_network"), f"{mapping}")
    elif mapping_from is not None:
        other_config, other = read_weights_folder(mapping_from)
        if not appended_blocks(other_config, config):  # G's norm or its size may differ, M_s not
            require_same_tensors(other_config, config, f"--mapping-from {mapping_from}")
        if "mapping_network" not in other:
            raise CA2SISError(f"--mapping-from {mapping_from}: the folder has no {WEIGHT_FILES['mapping_network']}")
        load_module_tensors(model.mapping_network, other["mapping_network"], f"{mapping_from} [mapping_network]")
    if source == synthesis:
        disc = network_tensors(tensors, "discriminator")
    else:  # the mapping stage's D judged M_s's faces; the synthesis D is the one to fine-tune with
        init = meta["train"].get("init")
        init_disc = Path(init) / DISC_EXPORT if init else None
        disc = read_tensors(init_disc) if init_disc is not None and init_disc.exists() else {}
    # The whole set is written to a folder of its own first: a failure (a full disk) leaves
    # --out as it was, and the set goes in only once every file is written.
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.exporting-{secrets.token_hex(6)}")
    try:
        written = model.save_pretrained(staging, dtype=dtype)
        if disc:
            disc_path = staging / DISC_EXPORT
            atomic_save_file({k: v.to(dtype) if v.is_floating_point() else v for k, v in disc.items()}, disc_path,
                             metadata={"network": "discriminator", "config": config.name})
            written.append(disc_path)
        install_weights_folder(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [out / path.relative_to(staging) for path in written]
