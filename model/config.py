"""Network configuration of CA2-SIS as a dataclass, with the named presets.

One ``CA2SISConfig`` describes every network of the paper's Fig. 1 (E_s, E_m, G, D) and
the mapping network M_s of §IV-G. It is saved as JSON beside every checkpoint and every
exported weights folder, so weights are always loaded into the networks they came from.

Presets:
- ``paper``: the sizes of the paper and its official code (256x256, f=4, 8 heads of 64).
- ``lite``: what the studio is designed around: small enough for live editing on a CPU.
- ``lite-128``: ``lite`` at 128x128, what a CPU can train in a session (the bundled weights
  until a GPU run replaces them).
- ``tiny``: a few hundred thousand parameters at 64x64, for tests.
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import DataError
from .labels import NUM_CLASSES

CONFIG_FORMAT = "ca2sis-config"
CONFIG_VERSION = 1
CONDITIONINGS = ("cross_attention", "spade")
FEATURE_NORMS = ("group", "pixel")  # the choices of networks.layers.feature_norm


# Bounds of every size and count (4x the paper preset's largest) and of per-block lists.
MAX_SIZE, MAX_BLOCKS = 4096, 16


@dataclass(frozen=True)
class CA2SISConfig:
    name: str = "paper"
    num_classes: int = NUM_CLASSES
    image_size: int = 256

    # E_s, multi-resolution grouped style encoder (§III-A).
    style_features_per_class: int = 4  # f: filters per class group in the first layer
    style_down_layers: int = 6
    style_up_layers: int = 5  # L_up: one pooled code per up layer
    style_dim: int = 256  # per level; the style code of a class is L_up * style_dim
    style_max_features_per_class: int = 256  # width cap of a class group in deep layers
    grouped_style_encoder: bool = True  # False: the "w/o GC" ablation

    # E_m, mask parts embedder (§III-B).
    mask_embed_input_size: int = 128  # each mask channel is resized to this, then flattened
    mask_latent_dim: int = 256  # m_i, reshaped to sqrt x sqrt as generator input
    use_mask_embedder: bool = True  # False: the "w/o E_m" ablation (raw resized mask)

    # G, cross-attention generator (§III-C). One block per entry; the first block works at
    # the latent side, each further block doubles the resolution.
    generator_input_channels: int = 1024
    generator_channels: tuple[int, ...] = (512, 256, 128, 64, 64)
    attention_heads: tuple[int, ...] = (8, 8, 8, 8, 4)
    attention_head_dim: tuple[int, ...] = (64, 64, 64, 64, 32)
    self_attention_max_size: int = 64
    generator_conditioning: str = "cross_attention"  # "spade": the "w/o CA" ablation
    # G's feature norm: "group" (GroupNorm) or "pixel" (per-pixel channel norm, no droplet blobs)
    generator_norm: str = "group"
    # β of a prior on G's cross-attention logits from the mask, β log(pooled mask + ε), so each
    # pixel reads mostly its own class's style (0: none, as in the paper; no tensors of its own)
    attention_mask_bias: float = 0.0

    # D, multi-scale PatchGAN discriminator.
    disc_channels: int = 64
    disc_layers: int = 4
    disc_scales: int = 2

    # M_s, mapping network (§IV-G, Fig. 15).
    mapping_z_dim: int = 256
    mapping_hidden: int = 512
    mapping_branch_hidden: int = 512

    extra: dict[str, Any] = field(default_factory=dict)  # free-form notes, not used by code

    # ---- derived sizes -------------------------------------------------------------
    @property
    def code_dim(self) -> int:
        """Size of one class's style code: L_up * style_dim (1280 in the paper)."""
        return self.style_up_layers * self.style_dim

    @property
    def latent_side(self) -> int:
        """Side of the generator input: m_i of size mask_latent_dim reshaped to a square."""
        return math.isqrt(self.mask_latent_dim)

    @property
    def generator_sizes(self) -> tuple[int, ...]:
        """Feature-map side of each generator block."""
        return tuple(self.latent_side * 2**i for i in range(len(self.generator_channels)))

    # ---- checks and (de)serialisation ----------------------------------------------
    def validate(self) -> CA2SISConfig:
        problems = []
        if self.latent_side**2 != self.mask_latent_dim:
            problems.append(f"mask_latent_dim={self.mask_latent_dim} is not a square number")
        if self.generator_sizes and self.generator_sizes[-1] != self.image_size:
            problems.append(
                f"{len(self.generator_channels)} generator blocks from {self.latent_side}x"
                f"{self.latent_side} end at {self.generator_sizes[-1]}, not image_size="
                f"{self.image_size}"
            )
        n_blocks = len(self.generator_channels)
        if len(self.attention_heads) != n_blocks or len(self.attention_head_dim) != n_blocks:
            problems.append("attention_heads and attention_head_dim need one entry per block")
        if self.style_up_layers >= self.style_down_layers + 1:
            problems.append("style_up_layers must be at most style_down_layers")
        if self.image_size % 2**self.style_down_layers:
            problems.append(
                f"image_size={self.image_size} is not divisible by 2**style_down_layers"
            )
        if self.image_size % self.mask_embed_input_size:
            problems.append("image_size must be a multiple of mask_embed_input_size")
        if self.generator_conditioning not in CONDITIONINGS:
            problems.append(f"generator_conditioning must be one of {CONDITIONINGS}")
        if self.generator_norm not in FEATURE_NORMS:
            problems.append(f"generator_norm must be one of {FEATURE_NORMS}")
        if not (0.0 <= self.attention_mask_bias <= 100.0):
            problems.append(f"attention_mask_bias={self.attention_mask_bias!r} must be between 0 and 100")
        if self.num_classes < 2:
            problems.append("num_classes must be at least 2")
        # Every size and count is positive: a zero or negative one would fail deep in torch.
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            values = value if isinstance(value, tuple) else (value,)
            if any(isinstance(v, int) and not isinstance(v, bool) and v < 1 for v in values):
                problems.append(f"{f.name}={value!r}: sizes and counts must be at least 1")
            # Checked before any network is built: a huge size would take gigabytes first.
            if any(isinstance(v, int) and not isinstance(v, bool) and v > MAX_SIZE for v in values):
                problems.append(f"{f.name}={value!r}: sizes and counts must be at most {MAX_SIZE}")
            if isinstance(value, tuple) and len(value) > MAX_BLOCKS:
                problems.append(f"{f.name} has {len(value)} entries, more than {MAX_BLOCKS}")
            if isinstance(value, tuple) and not value:
                problems.append(f"{f.name} is empty")
        if problems:
            raise DataError(f"invalid CA2-SIS config '{self.name}': " + "; ".join(problems))
        return self

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data = {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}
        return {"format": CONFIG_FORMAT, "version": CONFIG_VERSION, **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CA2SISConfig:
        data = dict(data)
        if data.pop("format", CONFIG_FORMAT) != CONFIG_FORMAT:
            raise DataError("not a CA2-SIS config (its 'format' field is wrong)")
        version = data.pop("version", CONFIG_VERSION)
        if not isinstance(version, int) or isinstance(version, bool):
            raise DataError(f"config version {version!r} is not a whole number")
        if version > CONFIG_VERSION:
            raise DataError(f"config version {version} is newer than this ca2sis understands")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DataError(f"unknown config fields: {', '.join(unknown)}")
        wrong = [_type_problem(name, data[name], hint) for name, hint in typing.get_type_hints(cls).items()
                 if name in data]
        wrong = [problem for problem in wrong if problem]
        if wrong:
            raise DataError("config fields of the wrong type: " + "; ".join(wrong))
        for f in dataclasses.fields(cls):
            if f.name in data and isinstance(getattr(cls, f.name, None), tuple):
                data[f.name] = tuple(data[f.name])
        return cls(**data).validate()

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | Path) -> CA2SISConfig:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError, RecursionError) as exc:  # also a 5000-digit integer, deep nesting
            raise DataError(f"cannot read config {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise DataError(f"config {path} is not a JSON object")
        return cls.from_dict(data)

    def replace(self, **changes: Any) -> CA2SISConfig:
        return dataclasses.replace(self, **changes).validate()

    def tensor_layout(self) -> dict[str, Any]:
        """The fields that fix the networks' tensors: two configs equal here can load each
        other's weights (a warm start may change G's norm, say, and fine-tune the change)."""
        tensorless = ("name", "extra", "generator_norm", "attention_mask_bias")
        return {k: v for k, v in self.to_dict().items() if k not in tensorless}


def _type_problem(name: str, value: Any, hint: Any) -> str | None:
    """What is wrong with a JSON value for a field of type ``hint`` (None: nothing)."""

    def is_int(item: Any) -> bool:
        return isinstance(item, int) and not isinstance(item, bool)

    origin = typing.get_origin(hint)
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = is_int(value)
    elif hint is float:
        ok = is_int(value) or isinstance(value, float)
    elif hint is str:
        ok = isinstance(value, str)
    elif origin is tuple:  # tuple[int, ...], stored as a JSON list
        ok = isinstance(value, (list, tuple)) and all(is_int(item) for item in value)
    elif origin is dict:
        ok = isinstance(value, dict)
    else:
        ok = True
    if ok:
        return None
    names = {bool: "true or false", int: "whole number", float: "number", str: "string"}
    expected = {tuple: "list of whole numbers", dict: "JSON object"}.get(origin) or names.get(hint, str(hint))
    return f"{name} must be a {expected}, not {value!r}"


_LITE = CA2SISConfig(
    name="lite",
    style_features_per_class=2,
    style_max_features_per_class=32,
    mask_embed_input_size=64,
    generator_input_channels=256,
    generator_channels=(256, 128, 64, 32, 32),
    attention_heads=(4, 4, 4, 2, 2),
    attention_head_dim=(32, 32, 32, 32, 16),
    self_attention_max_size=32,
    disc_channels=48,
    mapping_z_dim=128,
    mapping_hidden=256,
    mapping_branch_hidden=128,
)

PRESETS: dict[str, CA2SISConfig] = {
    "paper": CA2SISConfig(),
    "lite": _LITE,
    # lite at 128 x 128 (one generator block fewer): what a CPU can train in one session;
    # the bundled weights use it until a GPU run at 256 replaces them.
    "lite-128": dataclasses.replace(
        _LITE,
        name="lite-128",
        image_size=128,
        generator_channels=(256, 128, 64, 32),
        attention_heads=(4, 4, 4, 2),
        attention_head_dim=(32, 32, 32, 32),
        extra={"note": "lite at 128x128: trained on a 2-core CPU for want of a GPU"},
    ),
    "tiny": CA2SISConfig(
        name="tiny",
        image_size=64,
        style_features_per_class=1,
        style_down_layers=4,
        style_up_layers=3,
        style_dim=16,
        style_max_features_per_class=4,
        mask_embed_input_size=32,
        mask_latent_dim=64,
        generator_input_channels=32,
        generator_channels=(32, 16, 16, 8),
        attention_heads=(2, 2, 2, 1),
        attention_head_dim=(8, 8, 8, 8),
        self_attention_max_size=16,
        disc_channels=16,
        disc_layers=3,
        mapping_z_dim=16,
        mapping_hidden=32,
        mapping_branch_hidden=32,
    ),
}


def get_config(name_or_path: str | Path) -> CA2SISConfig:
    """A preset by name (``paper``, ``lite``, ``lite-128``, ``tiny``) or a config JSON file by path."""
    if str(name_or_path) in PRESETS:
        return PRESETS[str(name_or_path)].validate()
    path = Path(name_or_path)
    if path.is_dir():
        path = path / "config.json"
    if not path.exists():
        raise DataError(
            f"unknown config '{name_or_path}': use one of {', '.join(PRESETS)} or a config JSON file"
        )
    return CA2SISConfig.load(path)
