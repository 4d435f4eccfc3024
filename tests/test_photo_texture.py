"""Invented pixels take a real exemplar's texture: guided exemplar-based synthesis (model/photo/texture)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ca2sis.model.photo.texture import masked_low_pass, split_sigma, synthesize

SIDE = 256
GENERATED = 64  # a split of 6 output pixels, as a 128 px generator at 512 px


def noise_exemplar(seed: int = 3, amount: float = 30.0) -> np.ndarray:
    """Fine grain (pores, a backdrop's noise): no two places of it alike."""
    noise = cv2.GaussianBlur(np.random.default_rng(seed).normal(0, 1, (SIDE, SIDE)).astype(np.float32), (0, 0), 1.0)
    grey = np.clip(128 + noise / noise.std() * amount, 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def stripe_exemplar(period: float = 8.0, seed: int = 0) -> np.ndarray:
    """Strands: vertical stripes of one period, with some noise on them."""
    columns = np.arange(SIDE, dtype=np.float32)
    stripes = 120 + 50 * np.sin(2 * np.pi * columns / period)[None, :] \
        + np.random.default_rng(seed).normal(0, 8, (SIDE, SIDE))
    return np.repeat(np.clip(stripes, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def box(top: int, left: int, bottom: int, right: int) -> np.ndarray:
    region = np.zeros((SIDE, SIDE), bool)
    region[top:bottom, left:right] = True
    return region


def shaded_guide() -> np.ndarray:
    """A smooth guide: the network's shading (a gradient and a soft highlight), no detail."""
    rows, cols = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    grey = 90 + 0.25 * rows + 40 * np.exp(-((rows - 170) ** 2 + (cols - 150) ** 2) / (2 * 30.0 ** 2))
    return np.repeat(grey[..., None], 3, axis=2).astype(np.float32)


def test_a_striped_exemplar_gives_stripes_of_the_same_period_over_a_larger_region():
    """Hair grown to about twice its area keeps its strands' spacing: the FFT peak of the
    synthesised region is at the exemplar's period, and nearly as strong."""
    exemplar, period = stripe_exemplar(8.0), 8.0
    exemplar_region = box(30, 20, 150, 110)  # 120 x 90
    region = box(100, 120, 250, 250)  # 150 x 130: 1.8 times the exemplar's area
    guide = np.full((SIDE, SIDE, 3), 128, np.float32)
    result = synthesize(guide, region, exemplar, exemplar_region, GENERATED, seed=0)

    def spectrum(patch: np.ndarray) -> np.ndarray:
        rows = patch[..., 0] - patch[..., 0].mean(axis=1, keepdims=True)
        return np.abs(np.fft.rfft(rows * np.hanning(rows.shape[1])[None, :], axis=1)).mean(axis=0)

    made = spectrum(result[100:250, 120:250])
    own = spectrum(exemplar[30:150, 20:110].astype(np.float32))
    peak = int(np.argmax(made[2:])) + 2
    assert abs(130 / peak - period) < 0.6, f"the result's strongest period is {130 / peak:.1f} px, not {period}"
    # The stripes' contrast survives (per unit of width: the two patches differ in width).
    own_peak = own[2:].max() / 90
    assert made[peak] / 130 > 0.6 * own_peak


def orientation(grey: np.ndarray) -> float:
    """The dominant direction of the gradients of ``grey`` (degrees, 0..180): across the strands."""
    gx = cv2.Sobel(grey.astype(np.float32), cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(grey.astype(np.float32), cv2.CV_32F, 0, 1)
    return float(np.degrees(0.5 * np.arctan2(2 * (gx * gy).sum(), (gx * gx - gy * gy).sum())) % 180)


def test_grown_strands_keep_the_direction_of_the_strands_next_to_them():
    """Hair parted in two directions and grown downwards: each side of the new hair slants
    like the hair above it (the exemplar's flow is carried into the new region), with a smooth
    guide that shows no direction of its own."""
    rows, cols = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    noise = np.random.default_rng(2).normal(0, 8, (SIDE, SIDE))
    left = 120 + 50 * np.sin(2 * np.pi * (cols + 0.6 * rows) / 9.0)
    right = 120 + 50 * np.sin(2 * np.pi * (cols - 0.6 * rows) / 9.0)
    parted = np.where(cols < 128, left, right) + noise
    exemplar = np.repeat(np.clip(parted, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    exemplar_region = box(30, 30, 120, 226)
    region = box(130, 30, 230, 226)  # the hair grown downwards, as far again
    guide = np.full((SIDE, SIDE, 3), 128, np.float32)
    result = synthesize(guide, region, exemplar, exemplar_region, GENERATED, seed=0)
    for columns in (slice(30, 100), slice(156, 226)):
        own = orientation(exemplar[30:120, columns, 0])
        grown = orientation(result[130:230, columns, 0])
        turned = min(abs(grown - own), 180 - abs(grown - own))
        assert turned < 12, f"strands turned by {turned:.0f} degrees"


def repeated_blocks(image: np.ndarray, region: tuple[slice, slice], exemplar: np.ndarray,
                    exemplar_box: tuple[slice, slice], block: int) -> int:
    """How many pairs of disjoint block x block squares of ``image``'s ``region`` are copies
    (normalised correlation > 0.9) of the same place of the exemplar: a repeated tile."""
    source = exemplar[exemplar_box][..., 0].astype(np.float32)
    grey = image[..., 0].astype(np.float32)
    copies = []
    for top in range(region[0].start, region[0].stop - block + 1, 8):
        for left in range(region[1].start, region[1].stop - block + 1, 8):
            scores = cv2.matchTemplate(source, np.ascontiguousarray(grey[top:top + block, left:left + block]),
                                       cv2.TM_CCOEFF_NORMED)
            _, best, _, (x, y) = cv2.minMaxLoc(scores)
            if best > 0.9:
                copies.append((top, left, y, x))
    return sum(1 for a in range(len(copies)) for b in range(a + 1, len(copies))
               if abs(copies[a][2] - copies[b][2]) < 4 and abs(copies[a][3] - copies[b][3]) < 4
               and max(abs(copies[a][0] - copies[b][0]), abs(copies[a][1] - copies[b][1])) >= block)


def test_no_block_of_the_exemplar_is_stamped_twice():
    """A region three times the exemplar's area is no tiling of it: no two 32 px squares of the
    result copy the same place (while a tiled exemplar, the broken behaviour, is caught)."""
    exemplar = noise_exemplar()
    exemplar_box = (slice(20, 110), slice(20, 110))
    exemplar_region = box(20, 20, 110, 110)
    region = box(120, 70, 250, 250)
    guide = np.full((SIDE, SIDE, 3), 128, np.float32)
    result = synthesize(guide, region, exemplar, exemplar_region, GENERATED, seed=0)
    where = (slice(120, 250), slice(70, 250))
    assert repeated_blocks(result, where, exemplar, exemplar_box, 32) == 0
    # The check itself sees tiles: the exemplar's square tiled over the region.
    tiled = np.tile(exemplar[exemplar_box], (2, 2, 1))[:130, :180]
    naive = result.copy()
    naive[where] = tiled
    assert repeated_blocks(naive, where, exemplar, exemplar_box, 32) > 0
    # And the result still has the exemplar's grain, not a blur of it.
    spread = result[where][..., 0].std()
    assert spread > 0.7 * exemplar[exemplar_box][..., 0].std()


def test_low_frequencies_follow_the_guide_and_high_ones_the_exemplar():
    """The network's shading is kept (the result's low-pass is the guide's), the fine detail is
    the exemplar's (its energy, not the guide's smooth nothing)."""
    exemplar = noise_exemplar(amount=25)
    guide = shaded_guide()
    region = box(110, 60, 240, 240)
    result = synthesize(guide, region, exemplar, box(10, 10, 120, 200), GENERATED, seed=1)
    sigma = split_sigma(SIDE, GENERATED)
    inner = cv2.erode(region.astype(np.uint8), np.ones((25, 25), np.uint8)) > 0
    made_low = masked_low_pass(result, region, sigma)
    guide_low = masked_low_pass(guide, region, sigma)
    assert np.abs(made_low - guide_low)[inner].mean() < 2.0
    detail = (result - made_low)[inner][..., 0].std()
    own = (exemplar.astype(np.float32) - masked_low_pass(exemplar.astype(np.float32), box(10, 10, 120, 200),
                                                         sigma))[20:110, 20:190][..., 0].std()
    assert 0.7 * own < detail < 1.3 * own


def test_outside_the_region_the_guide_is_unchanged_and_the_seed_decides():
    exemplar = noise_exemplar()
    guide = shaded_guide()
    region = np.zeros((SIDE, SIDE), bool)
    cv2.ellipse(region.view(np.uint8), (150, 160), (60, 40), 20, 0, 360, 1, -1)
    first = synthesize(guide, region, exemplar, box(10, 10, 100, 120), GENERATED, seed=5)
    assert first.dtype == np.float32 and first.shape == guide.shape
    assert np.array_equal(first[~region], guide[~region])
    assert np.array_equal(first, synthesize(guide, region, exemplar, box(10, 10, 100, 120), GENERATED, seed=5))
    other = synthesize(guide, region, exemplar, box(10, 10, 100, 120), GENERATED, seed=6)
    assert not np.array_equal(first[region], other[region])


def test_degenerate_inputs():
    """Nothing to make: the guide back; no exemplar: the guide's low frequencies; shapes that
    do not fit: a clear error."""
    exemplar, guide = noise_exemplar(), shaded_guide()
    nothing = np.zeros((SIDE, SIDE), bool)
    assert np.array_equal(synthesize(guide, nothing, exemplar, box(0, 0, 50, 50), GENERATED), guide)
    smooth = synthesize(guide, box(50, 50, 100, 100), exemplar, nothing, GENERATED)
    assert np.isfinite(smooth).all() and np.abs(smooth - guide)[60:90, 60:90].max() < 3
    with pytest.raises(ValueError, match="region"):
        synthesize(guide, nothing[:10], exemplar, box(0, 0, 50, 50), GENERATED)


def test_an_exemplar_changed_in_place_is_read_again():
    """The exemplar's side of a synthesis is kept between calls (the studio paints the same
    style face again and again), by the exemplar's content: the same array given other pixels
    gives the texture of those pixels, not the kept one's."""
    exemplar, guide, region = stripe_exemplar(8.0), np.full((SIDE, SIDE, 3), 128, np.float32), box(100, 120, 250, 250)
    stripes = synthesize(guide, region, exemplar, box(30, 20, 150, 110), GENERATED, seed=0)
    exemplar[:] = np.ascontiguousarray(np.transpose(exemplar, (1, 0, 2)))  # the same array, stripes now horizontal
    turned = synthesize(guide, region, exemplar, box(30, 20, 150, 110), GENERATED, seed=0)

    def steps(result: np.ndarray, axis: int) -> float:  # mean change from a pixel to the next along axis
        return float(np.abs(np.diff(result[110:240, 130:240, 0], axis=axis)).mean())

    assert steps(stripes, axis=1) > 2 * steps(stripes, axis=0)  # vertical stripes: changes across columns
    assert steps(turned, axis=0) > 2 * steps(turned, axis=1)
