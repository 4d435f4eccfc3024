"""Vacated regions: what the photo would show where a part left.

Where a part shrinks or goes (shorter hair, a smaller nose, a stroke of background) its old
pixels must become what was behind it: the photo's background or the neighbouring skin,
continued. ``fill_vacated`` splits that, as a two-band blend, into

- the **low band** (colour and shading): a membrane, the harmonic interpolation of the
  surrounding source pixels' low-pass into the region (the gradient-domain fill with no
  guidance field: a gradient continues as a gradient, a flat backdrop stays flat, and the
  join with the source has no step). It is solved coarse to fine: each level of a pyramid
  relaxed from the coarser level's solution, a cascadic multigrid in a few milliseconds.
- the **high band** (grain, pores, a backdrop's texture): synthesised from the source's own
  high frequencies nearby (``texture.synthesize``, with the membrane as its guide), so the fill
  is no flat smudge; where the source is too thin for patches, grain of the source's spread.

The bands split at ``FillConfig.detail_sigma`` of the side. The source's rim along the
region (``FillConfig.blend``) is re-made with it and fades back to the photo's own pixels
across the rim: the shadow and the stray strands a part leaves along its edge go with it,
and the fill meets the photo without a visible edge. Pixels of ``keep`` (objects that are no
face class: a hand, a microphone) are never changed and never copied from.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .texture import DETAIL_SIGMA, SynthesisConfig, masked_low_pass, synthesize


@dataclass(frozen=True)
class FillConfig:
    """How ``fill_vacated`` fills; lengths are shares of the image's longer side."""

    # The low/high split (Gaussian sigma): grain and pores. A wider split copies a backdrop's
    # curved shading (a lamp's glow) with its texture, as blocks.
    detail_sigma: float = 0.006
    # The membrane starts from the source's pixels smoothed this little (a wider low-pass is
    # biased where the source's shading changes fast, a highlight by the hairline: a step).
    edge_sigma: float = 0.004
    # Colour and texture are taken from the source this far from its edge (the parser's
    # edge pixels hold the shadow and strands of the part that left).
    texture_inset: float = 0.006
    reach: float = 0.12  # how far from the region its source pixels are used (colour and texture)
    coarsest: int = 12  # the pyramid's smallest side, in pixels
    relaxations: int = 24  # relaxation steps at each level of the pyramid (the coarsest: four times)
    min_grain_pixels: int = 64  # fewer source pixels than this: no texture at all
    # Source pixels this near the region are re-made too, fading back to the photo's own (the
    # shadow a part cast along its edge and its stray strands go with it). 0: only the
    # vacated pixels change.
    blend: float = 0.035
    # How the source's texture is synthesised: its few strong edges (the part's halo, a lamp's
    # rim) limited to a few spreads of its grain, so they are not stamped over the fill; matched
    # on the low-pass alone (the membrane is smooth: it would pick the smoothest places).
    texture: SynthesisConfig = SynthesisConfig(detail_limit=4.0, match_seen=False)


DEFAULT_FILL = FillConfig()


def _as_bool(mask: np.ndarray | None, shape: tuple[int, int], name: str) -> np.ndarray:
    if mask is None:
        return np.zeros(shape, bool)
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise ValueError(f"{name} must be (H, W) = {shape}; got {mask.shape}")
    return mask.astype(bool)


def _grow(region: np.ndarray, pixels: int) -> np.ndarray:
    if pixels <= 0:
        return region
    return cv2.distanceTransform((~region).astype(np.uint8), cv2.DIST_L2, 3) <= pixels


def _box(region: np.ndarray, margin: int) -> tuple[slice, slice]:
    rows, cols = np.nonzero(region.any(axis=1))[0], np.nonzero(region.any(axis=0))[0]
    height, width = region.shape
    return (slice(max(0, rows[0] - margin), min(height, rows[-1] + 1 + margin)),
            slice(max(0, cols[0] - margin), min(width, cols[-1] + 1 + margin)))


def membrane(values: np.ndarray, known: np.ndarray, coarsest: int = DEFAULT_FILL.coarsest,
             relaxations: int = DEFAULT_FILL.relaxations) -> np.ndarray:
    """``values`` (float32 (H, W, C)) kept at ``known`` pixels and interpolated harmonically
    everywhere else (a membrane: each free pixel the mean of its neighbours; the picture's
    border reflects). Coarse to fine: a pyramid of the known pixels' means is filled at its
    smallest level, and every finer level starts from the coarser solution and is relaxed."""
    weight = known.astype(np.float32)
    levels = [(values * weight[..., None], weight)]
    while min(levels[-1][1].shape) > coarsest:
        summed, count = levels[-1]
        size = (max(1, (count.shape[1] + 1) // 2), max(1, (count.shape[0] + 1) // 2))
        levels.append((cv2.resize(summed, size, interpolation=cv2.INTER_AREA),
                       cv2.resize(count, size, interpolation=cv2.INTER_AREA)))
    solution = None
    for depth in range(len(levels) - 1, -1, -1):
        summed, count = levels[depth]
        if summed.ndim == 2:
            summed = summed[..., None]
        fixed = count > (0.999 if depth == 0 else 0.5)  # mostly known: held at its mean
        mean = summed / np.maximum(count, 1e-6)[..., None]
        if solution is None:  # the smallest level: the known pixels' mean, then relaxed
            total = count.sum()
            start = summed.reshape(-1, summed.shape[2]).sum(0) / total if total > 0 else np.zeros(summed.shape[2])
            solution = np.broadcast_to(start.astype(np.float32), mean.shape).copy()
            steps = 4 * relaxations
        else:
            solution = cv2.resize(solution, (count.shape[1], count.shape[0]), interpolation=cv2.INTER_LINEAR)
            if solution.ndim == 2:
                solution = solution[..., None]
            steps = relaxations
        held = np.where(fixed[..., None], mean, 0.0).astype(np.float32)
        free = np.broadcast_to((~fixed[..., None]).astype(np.float32), solution.shape).copy()
        solution = np.ascontiguousarray(solution * free + held, dtype=np.float32)
        for _ in range(steps):
            solution = cv2.blur(solution, (3, 3), borderType=cv2.BORDER_REFLECT).reshape(held.shape)
            np.multiply(solution, free, out=solution)
            solution += held
    return solution


def fill_vacated(image: np.ndarray, vacated: np.ndarray, source: np.ndarray, keep: np.ndarray | None = None,
                 seed: int = 0, config: FillConfig = DEFAULT_FILL) -> np.ndarray:
    """``image`` with the pixels of ``vacated`` made what the photo would show there: the
    ``source`` pixels around them (the background, or the neighbouring skin) continued, colour
    and shading by a membrane, texture synthesised from the source nearby (see the module's
    docstring).

    image: uint8 or float (H, W, 3) RGB 0..255; vacated, source, keep: bool (H, W). ``keep``
    pixels are never changed, even inside ``vacated``, and never copied from. Returns float32
    (H, W, 3): the image's own values outside ``vacated``, except the source pixels within
    ``config.blend`` of it, which fade from the fill to the photo's own across that band (the
    part's shadow and stray strands go with it; ``blend=0`` changes nothing outside
    ``vacated``). Deterministic for a given ``seed``.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3); got {image.shape}")
    shape = image.shape[:2]
    keep = _as_bool(keep, shape, "keep")
    region = _as_bool(vacated, shape, "vacated") & ~keep
    known = _as_bool(source, shape, "source") & ~region & ~keep
    result = image.astype(np.float32)
    if not region.any() or not known.any():
        return result
    side = max(shape)
    sigma = max(1.0, config.detail_sigma * side)
    reach = max(2, round(config.reach * side))
    # Only the box the region and its reach cover is worked on.
    box = _box(region, reach)
    here, inside = result[box], region[box]
    nearby = known[box] & _grow(inside, reach)
    if not nearby.any():
        nearby = known[box]
    if not nearby.any():  # the source is beyond the box: its colours, from the whole picture
        box, here, inside = (slice(None), slice(None)), result, region
        nearby = known
    # Low band: the source's low-pass (over the source alone: the part that left does not
    # bleed into it), continued as a membrane. The source's rim along the region is left out
    # of it (the part's shadow, its halo and stray strands lie there: continued, they would be
    # a dark band or a ghost of the part) and re-made with the region, fading back to the
    # photo's own pixels across the rim.
    inset = round(config.texture_inset * side)
    blend = round(config.blend * side)
    distance = cv2.distanceTransform((~inside).astype(np.uint8), cv2.DIST_L2, 3)
    rim = nearby & (distance <= blend) if blend > 0 else np.zeros_like(inside)
    clean = nearby & (distance > max(inset, blend))
    if clean.sum() < config.min_grain_pixels:
        clean, rim = nearby, np.zeros_like(inside)
    low = masked_low_pass(here, clean, max(0.7, config.edge_sigma * side))
    filled = membrane(low, clean, config.coarsest, config.relaxations)
    remade = inside | rim
    target = here.copy()
    target[remade] = filled[remade]
    # High band: the source's own texture (beyond the rim), synthesised over the membrane.
    texture_source = clean & ~_grow(~clean, inset)
    if texture_source.sum() < config.min_grain_pixels:
        texture_source = clean
    if texture_source.sum() >= config.min_grain_pixels:
        exemplar = np.clip(here + 0.5, 0, 255).astype(np.uint8)
        generated_side = max(1, round(DETAIL_SIGMA * side / sigma))
        made = synthesize(target, remade, exemplar, texture_source, generated_side, seed=seed, config=config.texture)
        if np.abs(made - target)[remade].max(initial=0.0) > 0:
            target = made
        else:  # no patch fits in the source: grain of its spread
            target[remade] += _grain(here, nearby, remade, sigma, seed)[remade]
    if rim.any():
        ramp = np.clip(2.0 * (1.0 - distance[rim] / (blend + 1.0)), 0.0, 1.0)  # whole over half the band
        weight = (ramp * ramp * (3.0 - 2.0 * ramp))[:, None]
        here[rim] += weight * (target[rim] - here[rim])
    here[inside] = target[inside]
    result[box] = here
    return result


def _grain(image: np.ndarray, source: np.ndarray, inside: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Noise with the source's high-frequency spread (per channel, one grain for all three as
    a photo's noise mostly is), for a source too thin to copy patches from."""
    high = image - masked_low_pass(image, source, sigma)
    spread = high[source].std(axis=0)
    grain = np.random.default_rng(seed).normal(0.0, 1.0, inside.shape).astype(np.float32)
    grain = cv2.GaussianBlur(grain, (0, 0), 0.7)
    grain /= max(float(grain.std()), 1e-6)
    return grain[..., None] * spread[None, None, :]
