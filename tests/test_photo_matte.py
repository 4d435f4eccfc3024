"""The part's alpha matte against the photo's background (``model/photo/matte.py``).

What a user checks when hair turns platinum: the background between strands keeps its
colour, the strands take the new colour, there is no rim or haze on the background next to
the hair, the rest of the photo is untouched, and all of it holds for light hair on a dark
background and dark hair on a light one. Synthetic pictures made here, small and fast.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from ca2sis.model.photo import matte
from ca2sis.model.photo.matte import (
    TRIMAP_BACKGROUND,
    TRIMAP_FOREGROUND,
    TRIMAP_UNKNOWN,
    PartMatte,
    part_matte,
    trimap,
)

SIDE = 128
BAND = 24
ORANGE = np.array([200.0, 110.0, 40.0], np.float32)
# (strand colour, background colour): light hair on a dark background, dark on a light one.
CONTRASTS = {"light on dark": (225.0, 30.0), "dark on light": (35.0, 215.0)}



def recolour_over_matte(image: np.ndarray, found: PartMatte,
                        recolour: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """The photo with the part's own colour recoloured and composited over the photo's
    background: ``image + alpha * (recolour(F) - F)``, float32 RGB 0..255 (H, W, 3).

    ``recolour`` takes and returns float32 RGB 0..255 of shape (1, N, 3) (a row of pixels,
    so that OpenCV's colour conversions take it). Pixels of alpha 0 are the image's own,
    exactly."""
    result = np.asarray(image).astype(np.float32)
    touched = found.alpha > 0
    if not touched.any():
        return result
    own = found.foreground[touched][None]
    changed = np.asarray(recolour(own), np.float32)
    if changed.shape != own.shape:
        raise ValueError(f"recolour must return the shape it was given, {own.shape}, got {changed.shape}")
    result[touched] += found.alpha[touched][:, None] * (changed[0] - own[0])
    return result


def to_orange(colours: np.ndarray) -> np.ndarray:
    """A recolour that makes every pixel of the part orange: the largest, easiest-seen change."""
    return np.broadcast_to(ORANGE, colours.shape).astype(np.float32)


def strands_picture(strand: float, behind: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hair as a solid mass on the left with thin strands (2 px, 4 px apart) reaching out to
    the right over a plain background with a little noise; the parsed mask stops half way
    along the strands and covers the gaps between them, as a parser's does (the gaps it
    covers lie within the band: a band too narrow for the mask's stray fails this).
    Returns the image, the parsed part and background, and where the strands and gaps are."""
    rng = np.random.default_rng(7)
    grey = np.full((SIDE, SIDE), behind, np.float32)
    grey[:, :60] = strand
    strands = np.zeros((SIDE, SIDE), bool)
    strands[(np.arange(SIDE) % 6 < 2), 60:100] = True
    grey[strands] = strand
    grey += rng.normal(0.0, 1.5, grey.shape)
    image = np.clip(np.round(np.repeat(grey[..., None], 3, axis=2) * [1.0, 0.97, 0.94]), 0, 255).astype(np.uint8)
    part = np.zeros((SIDE, SIDE), bool)
    part[:, :80] = True
    gaps = ~strands
    gaps[:, :60] = False
    gaps[:, 100:] = False
    return image, part, ~part, strands, gaps


def change(result: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Per pixel, the mean change over the channels, grey levels, of the saved (rounded) result."""
    return np.abs(np.round(np.clip(result, 0, 255)) - image.astype(np.float32)).mean(axis=2)


def test_trimap_marks_only_the_edge_with_the_background_unknown():
    """The band is unknown on both sides of where the part meets the background; where the
    part meets another class (hair on skin), the parse decides: no band there."""
    part = np.zeros((100, 100), bool)
    part[20:80, :50] = True
    background = np.zeros((100, 100), bool)
    background[:, 50:] = True
    # rows 0..20 and 80..100 of the left half: another class (skin)
    result = trimap(part, background, band=10)
    assert result.dtype == np.uint8
    assert (result[50, 41:60] == TRIMAP_UNKNOWN).all()  # 10 px either side of the edge at column 50
    assert result[50, 38] == TRIMAP_FOREGROUND and result[50, 62] == TRIMAP_BACKGROUND
    assert (result[21:24, 5:35] == TRIMAP_FOREGROUND).all()  # the edge with skin stays the parse's
    assert (result[10, :40] == TRIMAP_BACKGROUND).all()  # the skin is not the part


@pytest.mark.parametrize("work_side", [matte.WORK_SIDE, 64], ids=["full size", "solved small"])
@pytest.mark.parametrize("contrast", CONTRASTS.values(), ids=CONTRASTS.keys())
def test_background_between_strands_keeps_its_colour(contrast, work_side, monkeypatch):
    """Strands recoloured orange: the gaps between them, though the parsed mask covers them,
    keep the background's colour, and the strands, inside the mask and past it, turn orange
    most of the way. Solved at full size and at reduced size brought back by the guided filter."""
    monkeypatch.setattr(matte, "WORK_SIDE", work_side)
    image, part, background, strands, gaps = strands_picture(*contrast)
    result = recolour_over_matte(image, part_matte(image, part, background, BAND), to_orange)
    moved = change(result, image)
    band_columns = np.zeros_like(part)
    band_columns[:, 60:100] = True  # the strands, in the band where the photo decides
    assert moved[gaps & band_columns].mean() < 2.0
    full = np.abs(ORANGE - image.astype(np.float32)).mean(axis=2)
    inner_strands = strands & band_columns
    inner_strands[np.arange(SIDE) % 6 == 1] = False  # one row of each 2 px strand, the other its edge
    assert np.median(moved[inner_strands] / full[inner_strands]) > 0.7
    assert np.median(moved[strands & ~part] / full[strands & ~part]) > 0.6  # past the mask too


@pytest.mark.parametrize("contrast", CONTRASTS.values(), ids=CONTRASTS.keys())
def test_no_rim_or_haze_next_to_the_part(contrast):
    """A round part whose parsed mask is 4 px too large: the background just outside the
    part's real edge does not change (no rim of the new colour, no haze), and the part's
    edge pixels are the new colour over the photo's background, nothing outside the two."""
    inside, behind = contrast
    rows, cols = np.mgrid[:SIDE, :SIDE]
    radius = np.hypot(rows - 64, cols - 64)
    coverage = np.clip(36.0 - radius + 0.5, 0.0, 1.0)  # an anti-aliased disc of radius 36
    grey = behind + coverage * (inside - behind)
    image = np.clip(np.round(np.repeat(grey[..., None], 3, axis=2)), 0, 255).astype(np.uint8)
    part, background = radius < 40, radius >= 40
    found = part_matte(image, part, background, BAND)
    result = recolour_over_matte(image, found, to_orange)
    moved = change(result, image)
    just_outside = (radius > 37.5) & (radius < 37.5 + BAND)
    assert moved[just_outside].mean() < 2.0 and moved[just_outside].max() < 8.0
    assert moved[(radius > 37.5) & (radius < 40)].mean() < 2.0  # inside the too-large mask
    edge = (coverage > 0.2) & (coverage < 0.8)
    expected = coverage[edge][:, None] * ORANGE + (1 - coverage[edge][:, None]) * behind
    assert np.abs(np.round(result[edge]) - expected).mean() < 20.0  # the new colour over the background
    assert np.abs(found.alpha[edge] - coverage[edge]).mean() < 0.2


def test_black_hair_on_black_background_keeps_the_parsed_edge():
    """When the part and the background have one colour, the colours cannot tell them apart:
    alpha follows the parse, and the dark background a few pixels from it does not turn
    into a haze of the new colour."""
    rng = np.random.default_rng(3)
    image = np.clip(np.round(rng.normal(20.0, 2.0, (SIDE, SIDE, 3))), 0, 255).astype(np.uint8)
    part = np.zeros((SIDE, SIDE), bool)
    part[:, :64] = True
    result = recolour_over_matte(image, part_matte(image, part, ~part, BAND), to_orange)
    moved = change(result, image)
    assert moved[:, 70:].mean() < 2.0  # 6 px past the parse and beyond
    assert moved[:, 50:58].mean() > 0.8 * np.abs(ORANGE - 20.0).mean()  # the part up to near its edge


def test_a_dark_patch_of_background_touching_the_hair_stays_background():
    """A blue sign behind dark hair, touching it, outside the parsed mask but within the
    band: its colour lies between the hair's and the wall's, so colours alone would make it
    half hair; the parse's word, growing with the distance past the mask's edge, keeps it
    the sign (it changes by under a fifth of what it would as hair)."""
    rng = np.random.default_rng(5)
    image = np.empty((SIDE, SIDE, 3), np.float32)
    image[:] = (225, 225, 230)
    image[:, :64] = (30, 25, 25)
    image[40:80, 64:84] = (40, 90, 200)
    image = np.clip(np.round(image + rng.normal(0, 1.5, image.shape)), 0, 255).astype(np.uint8)
    part = np.zeros((SIDE, SIDE), bool)
    part[:, :64] = True
    result = recolour_over_matte(image, part_matte(image, part, ~part, BAND), to_orange)
    sign = (slice(40, 80), slice(66, 84))
    as_hair = np.abs(ORANGE - image[sign].astype(np.float32)).mean()
    assert change(result, image)[sign].mean() < 0.2 * as_hair
    assert change(result, image)[:, 50:60].mean() > 0.9 * np.abs(ORANGE - 27.0).mean()  # the hair did change


def test_alpha_is_one_inside_zero_far_out_and_the_rest_untouched():
    """Deep inside the part alpha is 1 and its colour changes; far in the background and in
    every other class (a skin region touching the part) alpha is 0 and the saved pixels are
    the photo's, byte for byte."""
    image, part, background, _, _ = strands_picture(*CONTRASTS["light on dark"])
    skin = np.zeros_like(part)
    skin[100:, :60] = True
    part &= ~skin
    background &= ~skin
    image[skin] = (190, 150, 130)
    found = part_matte(image, part, background, BAND)
    assert found.alpha.dtype == np.float32 and found.alpha.shape == part.shape
    assert found.foreground.shape == image.shape and found.background.shape == image.shape
    assert (found.alpha[:90, :30] == 1.0).all()
    assert (found.alpha[:, 80 + BAND + 1:] == 0.0).all()
    assert (found.alpha[skin] == 0.0).all()
    assert ((found.alpha >= 0) & (found.alpha <= 1)).all()
    result = recolour_over_matte(image, found, to_orange)
    saved = np.round(np.clip(result, 0, 255)).astype(np.uint8)
    assert (saved[found.alpha == 0] == image[found.alpha == 0]).all()
    assert (saved[:90, :30] == np.round(ORANGE).astype(np.uint8)).all()
    assert (found.alpha == 0).sum() > 0.3 * found.alpha.size  # a real share, not a vacuous check


def test_foreground_and_background_compose_to_the_photo():
    """Where alpha is between 0 and 1, the estimated part colour F and background colour B
    compose to the photo's pixel: alpha F + (1 - alpha) B = I (within a few levels)."""
    image, part, background, _, _ = strands_picture(*CONTRASTS["dark on light"])
    found = part_matte(image, part, background, BAND)
    mixed = (found.alpha > 0) & (found.alpha < 1)
    assert mixed.sum() > 50
    alpha = found.alpha[mixed][:, None]
    composed = alpha * found.foreground[mixed] + (1 - alpha) * found.background[mixed]
    assert np.abs(composed - image[mixed]).mean() < 3.0


def test_bad_input_is_refused_with_a_clear_message():
    image = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(ValueError, match="uint8 RGB"):
        part_matte(image.astype(np.float32), np.ones((16, 16), bool), np.zeros((16, 16), bool), 4)
    with pytest.raises(ValueError, match="masks must be"):
        part_matte(image, np.ones((8, 8), bool), np.zeros((16, 16), bool), 4)
