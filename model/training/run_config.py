"""The settings of a training run (``TrainConfig``) and the seeds derived from its seed.

Each user-settable field carries its ``ca2sis-train`` help in its metadata (``option``):
the CLI builds its flags from these fields, so a new setting is written once, here, and a
new loss term once, in ``LossWeights`` (``objectives.py``; its flags are ``--lambda-<name>``).
Fields without help (the stage, Adam's betas, the TTUR switch, flips, skipping bad files)
have flags of their own or none.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from ..errors import CA2SISError
from .objectives import LossWeights

STAGES = ("synthesis", "mapping")
PRECISIONS = ("auto", "bf16", "fp32")
AUGMENTS = ("ada", "always", "off")
DATA_LOADING = ("auto", "memory", "workers")
LOSS_WEIGHT_PREFIX = "lambda_"  # the flag --lambda-X sets LossWeights.X


class SettingsError(CA2SISError, ValueError):
    """A training setting out of its range or of the wrong type (bad input: exit 2)."""


def option(default: Any, help: str, choices: tuple[str, ...] | None = None) -> Any:
    """A ``TrainConfig`` field that is also a ``ca2sis-train`` flag (``--name-with-dashes``)."""
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices})


def derive_seed(seed: int, counter: int | None = None, rank: int | None = None) -> int:
    """The seed of one use of the run's ``seed``: the initial weights (``seed`` alone), the data
    order of an epoch (``counter`` = epoch), or the noise, flips and augmentation of one step on
    one process (``counter`` = step, ``rank``). A resumed run derives the same seeds again."""
    if counter is None:
        return seed
    derived = seed * 1_000_003 + counter
    return derived if rank is None else derived * 1009 + rank


def _fits(value: Any, field: dataclasses.Field) -> bool:
    """Whether a JSON value has the type of ``field`` (judged by its default: a float field
    takes whole numbers too, a field that defaults to None takes a string)."""
    default = field.default
    if default is None:
        return value is None or isinstance(value, str)
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


@dataclass
class TrainConfig:
    """Everything about a run except the networks' own sizes (those are CA2SISConfig)."""

    data: str = option("", "dataset folder: images/ + masks/, or the official CelebAMask-HQ layout")
    stage: str = "synthesis"
    steps: int = option(100_000, "total optimizer steps of this stage")
    batch_size: int = option(8, "faces per step and process")
    lr: float = option(2e-4, "Adam learning rate before the two-time-scale rule (G lr/2, D 2·lr); the paper's 2e-4")
    beta1: float = 0.0
    beta2: float = 0.9
    ttur: bool = True  # two time-scale update rule as in SPADE: G at lr/2, D at 2·lr
    lr_decay_kimg: float = option(
        0.0, "decay the learning rate linearly to 0 over the last N thousand images of the run (0: constant)")
    weights: LossWeights = dataclasses.field(default_factory=LossWeights)  # flags --lambda-<name>
    parser_faces: int = option(
        2, "faces per batch the parser losses look at (each is parsed at the parser's 256 px)")
    swap_faces: int = option(2, "faces per batch that also get a one-part style swap for the swap-locality loss")
    ema_kimg: float = option(
        10.0, "half-life in thousands of images of the weight average used for samples and export (0: off)")
    augment: str = option(
        "ada", "D's paired augmentation (translation, cutout, colour): ada = adaptive strength, always, off", AUGMENTS)
    ada_target: float = option(0.6, "ADA: the E[sign D(real)] kept by adapting the augmentation strength")
    ada_kimg: float = option(20.0, "ADA: thousands of images over which the strength may go from 0 to 1")
    precision: str = option("auto", "auto (bf16 where the CPU or GPU runs it natively), bf16 or fp32", PRECISIONS)
    data_loading: str = option(
        "auto", "memory: decode every face once before training; workers: decode every step; "
        "auto: memory when the faces fit in a quarter of the RAM", DATA_LOADING)
    skip_bad: bool = False  # train on the good faces when some files are bad
    vgg_weights: str | None = option(
        None, "VGG19 ImageNet weights file (.safetensors or a torchvision state dict); turns the perceptual loss on")
    parser_weights: str | None = option(
        None, "face-parser folder for the parser losses (default: the bundled weights/parser)")
    init: str | None = option(
        None, "run folder or weights folder to start from (synthesis: E_s, E_m, G and D when present; "
        "a --config with more generator blocks grows G, e.g. 128 px weights into lite at 256 px; "
        "mapping: trained E_m and G, default --out's own synthesis checkpoint)")
    holdout: str | None = option(None, "file of face ids (one per line) to keep out of training")
    flip: bool = True
    seed: int = option(0, "seed of the initial weights, data order, flips and noise")
    workers: int = option(2, "data loader processes (with --data-loading workers)")
    log_every: int = option(10, "steps between lines of log-<stage>.jsonl")
    sample_every: int = option(500, "steps between sample grids in samples/")
    checkpoint_every: int = option(
        1000, "steps between checkpoints (one is also written at the end and on Ctrl-C)")
    device: str = option("auto", "auto (CUDA when present), cpu or cuda")

    def validate(self) -> TrainConfig:
        choices = {"stage": STAGES, "precision": PRECISIONS, "augment": AUGMENTS, "data_loading": DATA_LOADING}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise SettingsError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        for name in ("steps", "batch_size", "log_every", "sample_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be at least 1")
        non_negative = ("ema_kimg", "lr_decay_kimg", "swap_faces", "parser_faces", "workers")
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "weights"}
        values.update({LOSS_WEIGHT_PREFIX + name: value for name, value in dataclasses.asdict(self.weights).items()})
        for name, value in values.items():
            if isinstance(value, float) and not math.isfinite(value):  # NaN passes every < or > check
                raise SettingsError(f"{name} must be a finite number, not {value}")
            if (name.startswith(LOSS_WEIGHT_PREFIX) or name in non_negative) and value < 0:
                raise SettingsError(f"{name} must be at least 0")
        if self.ada_kimg <= 0 or self.lr <= 0:
            raise SettingsError("ada_kimg and lr must be positive")
        return self

    def learning_rates(self) -> dict[str, float]:
        """Adam's learning rate of each side before the decay: with the two time-scale update
        rule (as in SPADE), G's side at lr/2 and D at 2·lr."""
        if self.ttur:
            return {"generator_side": self.lr / 2, "discriminator": self.lr * 2}
        return {"generator_side": self.lr, "discriminator": self.lr}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """A TrainConfig from JSON (a checkpoint's header, train_config.json) and flags: unknown keys
        are ignored (a newer run's); ``lambda_<name>`` keys (flags, runs saved before ``weights``)
        set loss weights; a value of the wrong type is a SettingsError naming its field."""
        fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "weights"}
        kept = {k: v for k, v in data.items() if k in fields}
        wrong = [f"{name} = {value!r}" for name, value in kept.items() if not _fits(value, fields[name])]
        weights = data.get("weights", {})
        if not isinstance(weights, dict):
            raise SettingsError(f"training settings of the wrong type: weights = {weights!r}")
        weights = {**weights, **{k.removeprefix(LOSS_WEIGHT_PREFIX): v for k, v in data.items()
                                 if k.startswith(LOSS_WEIGHT_PREFIX)}}
        known = {f.name: f for f in dataclasses.fields(LossWeights)}
        weights = {k: v for k, v in weights.items() if k in known}
        wrong += [f"{LOSS_WEIGHT_PREFIX}{name} = {value!r}" for name, value in weights.items()
                  if not _fits(value, known[name])]
        if wrong:
            raise SettingsError("training settings of the wrong type: " + ", ".join(wrong))
        return cls(**kept, weights=LossWeights(**weights))

    @classmethod
    def flags(cls) -> dict[str, dataclasses.Field]:
        """The settings a user gives as ``ca2sis-train --name-with-dashes``, by name: the fields
        with help, and every loss weight as ``lambda_<name>``."""
        flags = {f.name: f for f in dataclasses.fields(cls) if "help" in f.metadata}
        flags.update({LOSS_WEIGHT_PREFIX + f.name: f for f in dataclasses.fields(LossWeights)})
        return flags
