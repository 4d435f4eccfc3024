"""Which device the networks run on: ``--device auto|cpu|cuda`` resolved once, the same way
for inference, evaluation and (soon) training."""

from __future__ import annotations

from pathlib import Path

import torch

from .errors import CA2SISError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> str:
    """"auto" → "cuda" when a GPU is usable, else "cpu"; "cuda" without one is an error."""
    if device not in DEVICES:
        raise ValueError(f"device must be auto, cpu or cuda, not '{device}'")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise CA2SISError("--device cuda: no CUDA GPU is available to PyTorch here (use cpu or auto)")
    return device


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The instruction-set flags of the first CPU, as /proc/cpuinfo names them (avx2,
    avx512_bf16, amx_bf16, avx512_vnni ...); empty where that file cannot be read."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()
