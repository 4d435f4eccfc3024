"""Shared fixtures. Tests run on the CPU with few threads, as CI does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "celebamask-mini"
SHARED_DATA = Path(os.environ.get("CA2SIS_TEST_DATA", SHARED_DATA))

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "images").is_dir():
        pytest.skip(f"shared CelebAMask-HQ subset not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def tiny_config():
    from ca2sis.model.config import get_config

    return get_config("tiny")


def random_mask(batch: int, size: int, classes: int = 19, seed: int = 0) -> torch.Tensor:
    """A one-hot mask of blocky random regions (every pixel exactly one class)."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.randint(0, classes, (batch, 1, size // 8, size // 8), generator=generator).float()
    labels = torch.nn.functional.interpolate(coarse, size=(size, size), mode="nearest").long()[:, 0]
    return torch.nn.functional.one_hot(labels, classes).permute(0, 3, 1, 2).float()
