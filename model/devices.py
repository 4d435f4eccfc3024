"""Which device the networks run on: ``--device auto|cpu|cuda`` resolved once, the same way
for inference, evaluation, benchmarks and training."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .errors import CA2SISError, DataError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> str:
    """"auto" → "cuda" when a GPU is usable, else "cpu"; "cuda" without one is an error."""
    if device not in DEVICES:
        raise DataError(f"device must be auto, cpu or cuda, not '{device}'")
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


def physical_cores(cpuinfo: str | Path = "/proc/cpuinfo") -> int:
    """Physical cores this process may run on: distinct (package, core) pairs of its allowed
    CPUs in /proc/cpuinfo (hyper-threads share a core's vector units, so a second thread on
    one core only adds contention to convolutions); the allowed CPU count where that file
    says nothing."""
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return max(1, len(allowed))
    cores = set()
    for block in text.split("\n\n"):
        fields = dict(line.split(":", 1) for line in block.splitlines() if ":" in line)
        fields = {key.strip(): value.strip() for key, value in fields.items()}
        if "processor" in fields and int(fields["processor"]) in allowed and "core id" in fields:
            cores.add((fields.get("physical id", "0"), fields["core id"]))
    return max(1, len(cores) or len(allowed))


def instruction_set(flags: frozenset[str] | None = None) -> str:
    """The vector extensions that decide inference speed, in words (e.g. "avx512 (no vnni, no bf16)")."""
    flags = cpu_flags() if flags is None else flags
    if "avx512f" in flags:
        base = "avx512"
    elif "avx2" in flags:
        base = "avx2"
    else:
        base = "sse"
    extras = [("avx512_vnni", "vnni"), ("avx_vnni", "avx-vnni"), ("avx512_bf16", "bf16"), ("amx_int8", "amx")]
    present = [name for flag, name in extras if flag in flags]
    absent = [name for flag, name in extras[:1] + extras[2:3] if flag not in flags]
    return base + "".join(f" +{name}" for name in present) + (f" (no {', no '.join(absent)})" if absent else "")
