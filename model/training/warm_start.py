"""Where a run's networks start: trained networks from --init (warm start, or the frozen
E_s, E_m and G of the mapping stage), or the run's own checkpoint on --resume."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from torch import nn

from ..config import CA2SISConfig
from ..errors import CA2SISError, WeightsError
from ..io.atomic import write_text_atomic
from ..io.checkpoint import (
    checkpoint_config,
    checkpoint_networks,
    checkpoint_path,
    load_checkpoint,
    network_tensors,
    read_checkpoint_meta,
)
from ..io.weights import SET_MEMBERS, WEIGHT_FILES, load_module_tensors, read_tensors, read_weights_folder
from ..networks.composite import CA2SIS
from .ema import WeightAverage
from .grow import appended_blocks, grow_generator

DISC_EXPORT = SET_MEMBERS[0]  # D beside exported weights, for fine-tuning
RUN_STATE = ("ema", "augment", "lecam")  # in a checkpoint beside the networks, absent from older ones


def averaged_or_live(flat: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    """Network ``name`` of a checkpoint's tensors: its weight average (EMA) if the run kept one."""
    return network_tensors(flat, f"ema.averages.{name}") or network_tensors(flat, name)


def require_same_tensors(source: CA2SISConfig, target: CA2SISConfig, where: str | Path) -> None:
    """Refuse weights whose tensors do not fit ``target`` (configs may differ in G's norm)."""
    if source.tensor_layout() != target.tensor_layout():
        raise WeightsError(f"{where} holds networks of config '{source.name}', whose tensors differ from "
                           f"'{target.name}'")


def synthesis_sources(source: Path) -> tuple[CA2SISConfig, dict[str, dict[str, torch.Tensor]], str]:
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
    tensors = {name: averaged_or_live(flat, name) for name in names}
    return checkpoint_config(ckpt, meta), {k: v for k, v in tensors.items() if v}, str(ckpt)


def load_frozen_synthesis(model: CA2SIS, source: Path) -> None:
    """Mapping stage: E_s, E_m and G come trained from --init (or this run's checkpoint), frozen."""
    if not (source / WEIGHT_FILES["generator"]).exists() and not checkpoint_path(source).exists() \
            and not source.is_file():
        raise CA2SISError(
            f"the mapping stage needs trained synthesis networks: no {checkpoint_path(source)}; "
            "train the synthesis stage first or give --init RUN_DIR|WEIGHTS_DIR"
        )
    config, tensors, where = synthesis_sources(source)
    if config.to_dict() != model.config.to_dict():
        raise WeightsError(f"{where} was trained with config '{config.name}', not '{model.config.name}'")
    for name in ("style_encoder", "mask_embedder", "generator"):
        module = getattr(model, name)
        load_module_tensors(module, tensors[name], f"{where} [{name}]")
        module.requires_grad_(False)


def warm_start(
    trained: dict[str, nn.Module], disc: nn.Module, ema: WeightAverage | None, config: CA2SISConfig, source: Path,
    verbose: bool = True,
) -> None:
    """Synthesis stage with --init: start from trained E_s, E_m, G and, when the source has it,
    D (a weights folder keeps D in training/ for exactly this). A ``config`` with more generator
    blocks than the source grows G."""
    theirs_config, tensors, where = synthesis_sources(source)
    grown = appended_blocks(theirs_config, config)
    if not grown:
        require_same_tensors(theirs_config, config, where)
    theirs, ours = theirs_config.to_dict(), config.to_dict()
    if theirs != ours and verbose:
        changed = sorted(k for k, v in ours.items() if theirs.get(k) != v)
        print(f"ca2sis-train: warm start from '{theirs_config.name}' into '{config.name}' "
              f"(changed: {', '.join(changed)})", file=sys.stderr)
    if grown and verbose:
        print(f"ca2sis-train: growing G from {theirs_config.image_size} to {config.image_size} px: "
              f"{grown} new block(s) start as up-sampling", file=sys.stderr)
    for name, module in trained.items():
        if name == "generator" and grown:
            grow_generator(module, tensors[name], len(theirs_config.generator_channels), f"{where} [{name}]")
        else:
            load_module_tensors(module, tensors[name], f"{where} [{name}]")
    if "discriminator" in tensors:
        load_module_tensors(disc, tensors["discriminator"], f"{where} [discriminator]")
    elif verbose:
        print(f"ca2sis-train: {where} has no discriminator; D starts from scratch", file=sys.stderr)
    if ema is not None:
        ema.reset_to(trained)


def resume_from_checkpoint(
    ckpt: Path, networks: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer],
    trained: dict[str, nn.Module], ema: WeightAverage | None,
) -> int:
    """Load the run's checkpoint into ``networks`` and ``optimizers``; returns its step.
    Checkpoints from before the EMA / ADA / LeCam existed resume with fresh ones."""
    if not ckpt.exists():
        raise CA2SISError(f"--resume: no checkpoint at {ckpt}")
    present = checkpoint_networks(ckpt)
    kept = {k: v for k, v in networks.items() if k not in RUN_STATE or k in present}
    meta = load_checkpoint(ckpt, kept, optimizers)
    if ema is not None and "ema" not in present:
        ema.reset_to(trained)
    return meta["step"]


def trim_log(path: Path, step: int) -> None:
    """On resume, drop log lines written after the checkpoint at ``step`` (they will be redone),
    and a torn line (a write cut short by a full disk or a kill)."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int) and record["step"] <= step:
            kept.append(line)
    write_text_atomic(path, "".join(line + "\n" for line in kept))
