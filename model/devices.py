"""Which device the networks run on: ``--device auto|cpu|cuda`` resolved once, the same way
for inference, evaluation and (soon) training."""

from __future__ import annotations

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
