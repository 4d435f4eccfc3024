"""Training checkpoints: every network, both optimizers and the step, in one safetensors file.

Optimizer state (Adam moments and step counters) is flattened into named tensors and the
rest (step, configs, optimizer hyper-parameters) goes into the file's JSON metadata, so a
checkpoint is a single file written atomically (temp file + rename): a crash or Ctrl-C
while saving never leaves a broken checkpoint behind. No pickle is involved.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from torch import nn

from ..errors import WeightsError
from .weights import atomic_save_file, load_module_tensors, read_tensors

CHECKPOINT_FILES = {"synthesis": "checkpoint.safetensors", "mapping": "checkpoint-mapping.safetensors"}
_META_KEY = "ca2sis"


def checkpoint_path(run_dir: str | Path, stage: str = "synthesis") -> Path:
    return Path(run_dir) / CHECKPOINT_FILES[stage]


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
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            raw = (handle.metadata() or {}).get(_META_KEY)
    except Exception as exc:
        raise WeightsError(f"{path} is not a readable ca2sis checkpoint: {exc}") from exc
    if raw is None:
        raise WeightsError(f"{path} is a safetensors file but not a ca2sis training checkpoint")
    return json.loads(raw)


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
        state = _unflatten_optimizer(f"optim.{name}", tensors, meta["optimizer_groups"][name])
        optimizer.load_state_dict(state)
    return meta
