"""The processes of a run (torchrun's environment, DDP) and the device each one trains on."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..devices import cpu_flags, resolve_device


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
    """Read torchrun's environment; the device as ``--device`` resolves it (``resolve_device``), on
    this process's own GPU (LOCAL_RANK) when it is CUDA."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local_rank}") if resolve_device(device_name) == "cuda" else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(rank, world, local_rank), device


def bf16_is_fast(device: torch.device, flags: frozenset[str] | None = None) -> bool:
    """bf16 matmuls and convolutions run natively: CUDA, or a CPU with AVX512-BF16 / AMX.

    oneDNN also reports bf16 "supported" on plain AVX-512 CPUs, where it emulates it: there
    a training step took about twice as long as in fp32, so the CPU's own flags decide.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    flags = cpu_flags() if flags is None else flags
    return bool(torch.backends.mkldnn.is_available() and flags & {"avx512_bf16", "amx_bf16"})
