"""Per-part style study: for the parts users restyle most, how local and how strong a style
swap is, and how much M_s's random styles vary from seed to seed.

For every face i and every part group (hair, skin, lips = both lips, nose) present in face i
and in its donor, the next face of the list (i + 1, wrapping), the study generates

- face i with the group's style codes taken from the donor: its **leakage** (share of the
  change outside the part grown by ``leakage_dilation`` px) and **transfer** (share of the
  part's mean-colour gap to the donor's part closed), as ``style_leakage`` / ``style_transfer``;
- face i with the group's codes drawn from M_s under two seeds: the leakage of the first
  draw, and the **diversity**: the distance (RGB, 0..255) between the part's mean colours of
  the two draws, beside the same distance between face i's real part and the donor's real
  part (``real_diversity``, the scale the first is judged against).

One donor per face rather than one random part per face (as ``style_leakage`` of the main
report) gives every group a value on every face, so the groups can be compared.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from tqdm import tqdm

from ..inference.engine import Engine
from ..labels import CLASS_NAMES
from .leakage import mean_colour, style_leakage, style_transfer

PART_GROUPS: dict[str, tuple[int, ...]] = {
    "hair": (CLASS_NAMES.index("hair"),),
    "skin": (CLASS_NAMES.index("skin"),),
    "lips": (CLASS_NAMES.index("u_lip"), CLASS_NAMES.index("l_lip")),
    "nose": (CLASS_NAMES.index("nose"),),
}
PART_MIN_PIXELS = 0.002  # share of the face a group must cover in both faces to be studied
RANDOM_SEEDS = (11, 12)  # the two M_s draws compared for diversity


def _replace(codes: np.ndarray, classes: tuple[int, ...], source: np.ndarray) -> np.ndarray:
    return Engine.interpolate_parts(codes, {c: (source, 1.0) for c in classes})


def _colour_distance(a: np.ndarray, region_a: np.ndarray, b: np.ndarray, region_b: np.ndarray) -> float:
    colour_a, colour_b = mean_colour(a, region_a), mean_colour(b, region_b)
    if colour_a is None or colour_b is None:
        return float("nan")
    return float(np.linalg.norm(colour_a - colour_b))


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def measure_part_swaps(
    engine: Engine,
    codes: np.ndarray,
    latents: np.ndarray,
    images: np.ndarray,
    masks: np.ndarray,
    dilation: int,
    resize: Callable[[np.ndarray], np.ndarray],
    batch_size: int = 8,
    bar: dict | None = None,
) -> dict[str, dict[str, float | int | None]]:
    """The study of the module docstring → {group: {faces, leakage, transfer, random_leakage,
    random_diversity, real_diversity}}, each value a mean over the faces measured (None
    when there were none; the M_s values None without M_s).

    codes / latents: every face's style codes and mask latents at the model's size;
    images / masks: the same faces at the size they are compared at; resize: maps the
    generated uint8 batch to that size.
    """
    count = len(images)
    min_pixels = PART_MIN_PIXELS * masks.shape[1] * masks.shape[2]
    jobs = []  # (face, group name, donor)
    for i in range(count):
        donor = (i + 1) % count
        if donor == i:
            break
        for name, classes in PART_GROUPS.items():
            if np.isin(masks[i], classes).sum() >= min_pixels and np.isin(masks[donor], classes).sum() >= min_pixels:
                jobs.append((i, name, donor))
    random_sets = [engine.random_codes(seed) for seed in RANDOM_SEEDS] if engine.has_mapping else []
    values: dict[str, dict[str, list[float]]] = {
        name: {"leakage": [], "transfer": [], "random_leakage": [], "random_diversity": [], "real_diversity": []}
        for name in PART_GROUPS
    }
    with tqdm(total=len(jobs), desc="part swaps", **(bar or {"disable": True})) as progress_bar:
        for start in range(0, len(jobs), batch_size):
            chunk = jobs[start : start + batch_size]
            batch_latents, batch_codes, batch_layouts = [], [], []
            for i, name, donor in chunk:  # reconstruction, swap, then one face per M_s draw
                classes = PART_GROUPS[name]
                variants = [codes[i], _replace(codes[i], classes, codes[donor])]
                variants += [_replace(codes[i], classes, drawn) for drawn in random_sets]
                batch_codes += variants
                batch_latents += [latents[i]] * len(variants)
                batch_layouts += [masks[i]] * len(variants)
            generated = resize(engine.generate(np.stack(batch_latents), np.stack(batch_codes), batch_layouts)[0])
            per_job = 2 + len(random_sets)
            for k, (i, name, donor) in enumerate(chunk):
                recon, swapped, *drawn = generated[k * per_job : (k + 1) * per_job]
                region = np.isin(masks[i], PART_GROUPS[name])
                donor_region = np.isin(masks[donor], PART_GROUPS[name])
                found = values[name]
                found["leakage"].append(style_leakage(recon, swapped, region, dilation))
                found["transfer"].append(style_transfer(recon, swapped, region, images[donor], donor_region))
                found["real_diversity"].append(_colour_distance(images[i], region, images[donor], donor_region))
                if drawn:
                    found["random_leakage"].append(style_leakage(recon, drawn[0], region, dilation))
                    found["random_diversity"].append(_colour_distance(drawn[0], region, drawn[1], region))
            progress_bar.update(len(chunk))
    return {
        name: {"faces": len(found["leakage"]), **{key: _mean(v) for key, v in found.items()}}
        for name, found in values.items()
    }
