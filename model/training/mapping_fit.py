"""M_s fitted to E_s's code distribution, class by class, without G (``ca2sis-train fit-mapping``).

The paper trains M_s (§IV-G) through the frozen G against a fresh D, with the diversity loss
L_dv. On our CPUs that stage sees a few hundred steps, and the bundled M_s collapsed to one
style per class (random hairs of three seeds differed by 0.2 grey levels where two real
faces' hairs differ by 42). Here M_s learns instead to draw codes distributed like the codes
E_s gives the training faces: for every class c, the sliced Wasserstein distance between
the batch of M_s(z)_c and a batch of E_s(y, M)_c over faces where c is present. A code drawn
this way is one G has seen the like of (a believable part), and the draws spread as the
real faces' codes do (diverse parts). No image is generated, so a fit takes minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..errors import DataError
from ..io.pixels import one_hot
from ..networks.composite import CA2SIS
from .run_config import option

MIN_PART_SHARE = 0.002  # a part smaller than this share of the face gives no usable code


@dataclass
class MappingFit:
    """The settings of a fit; those with help are ``ca2sis-train fit-mapping`` flags."""

    steps: int = option(2000, "optimiser steps")
    batch_size: int = option(64, "noise draws per step")
    learning_rate: float = option(1e-4, "Adam learning rate")
    min_faces: int = option(16, "fit a class only if present on this many faces (the others keep their branch)")
    seed: int = option(0, "noise and projections")
    projections: int = 256  # random directions per step
    real_per_step: int = 512  # real codes drawn per fitted class and step


@torch.no_grad()
def encode_dataset(
    model: CA2SIS, dataset: Dataset, batch_size: int = 16, on_batch: Callable[[int], None] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """E_s of every face: codes (N, C, D) and ``present`` (N, C), whether the class covers at
    least ``MIN_PART_SHARE`` of the face (an absent class's code is E_s's placeholder)."""
    codes, present = [], []
    classes = model.config.num_classes
    for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        mask = one_hot(batch["mask"], classes)
        codes.append(model.encode_styles(batch["image"], mask).float())
        present.append(mask.mean(dim=(2, 3)) >= MIN_PART_SHARE)
        if on_batch is not None:
            on_batch(len(batch["mask"]))
    return torch.cat(codes), torch.cat(present)


def sliced_wasserstein(fake: torch.Tensor, real: torch.Tensor, projections: torch.Tensor) -> torch.Tensor:
    """Squared sliced Wasserstein-2 distance between the sets of vectors ``fake`` (B, D) and
    ``real`` (N, D), along the unit directions ``projections`` (D, K): the sorted projections
    of ``fake`` against the same quantiles of ``real``'s. With N much larger than B the real
    quantiles are nearly exact; matching two small samples to each other instead rewards a
    narrower ``fake`` (each sample's order statistics scatter, and the loss pays for it)."""
    fake_sorted = (fake @ projections).sort(dim=0).values
    real_sorted = (real @ projections).sort(dim=0).values
    if len(real) != len(fake):
        quantiles = (torch.arange(len(fake), dtype=torch.float32) + 0.5) / len(fake)
        real_sorted = real_sorted[(quantiles * len(real)).long().clamp(max=len(real) - 1)]
    return (fake_sorted - real_sorted).pow(2).mean()


def fit_mapping(
    mapping: nn.Module,
    codes: torch.Tensor,
    present: torch.Tensor,
    settings: MappingFit | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> dict[str, float]:
    """Train ``mapping`` (M_s) so each class's codes follow that class's real ``codes``.

    Each step draws ``batch_size`` noise vectors and, per fitted class, ``real_per_step`` real
    codes from faces where the class is present, and ``projections`` random directions; the loss
    is the mean over classes of ``sliced_wasserstein``. Returns the number of classes fitted and
    the last loss. A class present on fewer than ``min_faces`` faces keeps its branch."""
    settings = settings or MappingFit()
    steps, batch_size, projections = settings.steps, settings.batch_size, settings.projections
    seed, min_faces, real_per_step = settings.seed, settings.min_faces, settings.real_per_step
    z_dim = mapping.z_dim
    generator = torch.Generator().manual_seed(seed)
    fitted = [c for c in range(codes.shape[1]) if int(present[:, c].sum()) >= min_faces]
    if not fitted:
        raise DataError(f"no class is present on {min_faces} or more of the {len(codes)} faces: too few to fit M_s")
    pools = {c: codes[present[:, c], c] for c in fitted}
    optimizer = torch.optim.Adam(mapping.parameters(), lr=settings.learning_rate, betas=(0.5, 0.99))
    mapping.train()
    loss_value = float("nan")
    for step in range(steps):
        z = torch.randn(batch_size, z_dim, generator=generator)
        drawn = mapping(z)
        directions = torch.randn(codes.shape[2], projections, generator=generator)
        directions = directions / directions.norm(dim=0, keepdim=True)
        losses = []
        for c in fitted:
            pool = pools[c]
            rows = torch.randint(0, len(pool), (min(len(pool), real_per_step),), generator=generator)
            losses.append(sliced_wasserstein(drawn[:, c], pool[rows], directions))
        loss = torch.stack(losses).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_value = float(loss.detach())
        if on_step is not None:
            on_step(step, loss_value)
    mapping.eval()
    return {"loss": loss_value, "classes_fitted": float(len(fitted))}


@torch.no_grad()
def code_spread(codes: torch.Tensor) -> torch.Tensor:
    """Mean distance between two codes of a class, per class (C,): how varied its draws are."""
    first, second = codes[0::2], codes[1::2]
    count = min(len(first), len(second))
    return (first[:count] - second[:count]).norm(dim=-1).mean(dim=0)
