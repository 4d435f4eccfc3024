"""Training checkpoints: every network, both optimizers and the step, in one safetensors file.

Optimizer state (Adam moments and step counters) is flattened into named tensors and the
rest (step, configs, optimizer hyper-parameters) goes into the file's JSON metadata, so a
checkpoint is a single file written atomically (temp file + rename): a crash or Ctrl-C
while saving never leaves a broken checkpoint behind. No pickle is involved.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from torch import nn

from ..config import CA2SISConfig
from ..errors import WeightsError
from .weights import atomic_save_file, load_module_tensors, read_tensors

CHECKPOINT_FILES = {"synthesis": "checkpoint.safetensors", "mapping": "checkpoint-mapping.safetensors"}
_META_KEY = "ca2sis"
_META_FIELDS = ("step", "stage", "config", "train", "optimizer_groups")  # what every checkpoint's header holds


def checkpoint_path(run_dir: str | Path, stage: str = "synthesis") -> Path:
    return Path(run_dir) / CHECKPOINT_FILES[stage]


def remove_temporaries_of(folder: str | Path, names: Iterable[str]) -> list[Path]:
    """Remove the temporaries a killed writer of the files ``names`` in ``folder`` left behind
    (``.NAME.<12 hex digits>.tmp``, as ``atomic_write`` names them): for a folder only this
    process writes (a run folder under its lock). Nothing else is touched: no other name, no
    link, no folder. Returns what was removed."""
    folder = Path(folder)
    pattern = re.compile(r"\.(?:" + "|".join(map(re.escape, names)) + r")\.[0-9a-f]{12}\.tmp")
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if pattern.fullmatch(entry.name) and not entry.is_symlink() and entry.is_file():
            try:
                entry.unlink()
            except OSError:
                continue
            removed.append(entry)
    return removed


def _flatten_optimizer(prefix: str, optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], Any]:
    state = optimizer.state_dict()
    tensors = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if not isinstance(value, torch.Tensor):
                value = torch.tensor(value)
            tensors[f"{prefix}.{index}.{key}"] = value
    return tensors, state["param_groups"]


def _unflatten_optimizer(prefix: str, tensors: dict[str, torch.Tensor], groups: Any) -> dict:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        if name.startswith(prefix + "."):
            index, key = name[len(prefix) + 1:].split(".", 1)
            state.setdefault(int(index), {})[key] = value
    for group in groups:
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
    return {"state": state, "param_groups": groups}


def save_checkpoint(
    path: str | Path,
    networks: dict[str, nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    meta: dict[str, Any],
) -> Path:
    """Write networks (``net.<name>.*``), optimizers (``optim.<name>.*``) and ``meta``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    for name, module in networks.items():
        tensors.update({f"net.{name}.{k}": v for k, v in module.state_dict().items()})
    groups = {}
    for name, optimizer in optimizers.items():
        flat, groups[name] = _flatten_optimizer(f"optim.{name}", optimizer)
        tensors.update(flat)
    metadata = {_META_KEY: json.dumps({**meta, "optimizer_groups": groups})}
    atomic_save_file(tensors, path, metadata=metadata)
    return path


def read_checkpoint_meta(path: str | Path) -> dict[str, Any]:
    """The checkpoint's metadata (step, stage, configs, optimizer groups), checked: a header
    that lacks any of them, or holds one of the wrong type, is a WeightsError naming the file."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            raw = (handle.metadata() or {}).get(_META_KEY)
    except Exception as exc:
        raise WeightsError(f"{path} is not a readable ca2sis checkpoint: {exc}") from exc
    if raw is None:
        raise WeightsError(f"{path} is a safetensors file but not a ca2sis training checkpoint")
    try:
        meta = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # also a 5000-digit number, deep nesting
        raise WeightsError(f"{path}: the checkpoint's header is not valid JSON ({exc})") from exc
    problem = _meta_problem(meta)
    if problem:
        raise WeightsError(f"{path} is a damaged ca2sis checkpoint: {problem}")
    return meta


def checkpoint_config(path: str | Path, meta: dict[str, Any] | None = None) -> CA2SISConfig:
    """The network config a checkpoint was trained with (``meta``: its header, when read already)."""
    meta = read_checkpoint_meta(path) if meta is None else meta
    try:
        return CA2SISConfig.from_dict(meta["config"])
    except (ValueError, TypeError) as exc:
        raise WeightsError(f"{path} is a damaged ca2sis checkpoint: its config: {exc}") from exc


def _meta_problem(meta: Any) -> str | None:
    """What is wrong with a checkpoint header (None: nothing)."""
    if not isinstance(meta, dict):
        return "its header is not a JSON object"
    missing = [key for key in _META_FIELDS if key not in meta]
    if missing:
        return f"its header lacks {', '.join(missing)}"
    step = meta["step"]
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        return f"step {step!r} is not a whole number of at least 0"
    if meta["stage"] not in CHECKPOINT_FILES:
        return f"stage {meta['stage']!r} is not one of {', '.join(CHECKPOINT_FILES)}"
    for key in ("config", "train", "optimizer_groups"):
        if not isinstance(meta[key], dict):
            return f"{key} is not a JSON object"
    for name, groups in meta["optimizer_groups"].items():
        if not isinstance(groups, list) or not all(isinstance(group, dict) for group in groups):
            return f"optimizer_groups.{name} is not a list of parameter groups"
    return None


def checkpoint_networks(path: str | Path) -> set[str]:
    """Names of the networks (and run-state modules) a checkpoint holds."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            keys = list(handle.keys())
    except Exception as exc:
        raise WeightsError(f"{path} is not a readable ca2sis checkpoint: {exc}") from exc
    return {key.split(".")[1] for key in keys if key.startswith("net.")}


def network_tensors(tensors: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    prefix = f"net.{name}."
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def load_checkpoint(
    path: str | Path,
    networks: dict[str, nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
) -> dict[str, Any]:
    """Restore networks and optimizers in place; returns the metadata (step, configs...)."""
    path = Path(path)
    tensors = read_tensors(path)
    meta = read_checkpoint_meta(path)
    for name, module in networks.items():
        load_module_tensors(module, network_tensors(tensors, name), f"{path} [{name}]")
    for name, optimizer in optimizers.items():
        if name not in meta["optimizer_groups"]:
            raise WeightsError(f"{path} is a damaged ca2sis checkpoint: optimizer_groups lacks {name}")
        try:
            optimizer.load_state_dict(_unflatten_optimizer(f"optim.{name}", tensors, meta["optimizer_groups"][name]))
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:  # torch's messages name no file
            raise WeightsError(f"{path}: the {name} optimizer's state does not fit this run: {exc}") from exc
    return meta
