"""Vacated regions show what the photo would show there (model/photo/inpaint)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ca2sis.model.photo.inpaint import DEFAULT_FILL, FillConfig, fill_vacated, membrane

SIDE = 256
ROWS, COLS = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)


def disc(row: float, col: float, radius: float) -> np.ndarray:
    return (ROWS - row) ** 2 + (COLS - col) ** 2 < radius ** 2


def backdrop(colour=(70.0, 110.0, 150.0), slope=(0.0, 0.0, 0.0), grain: float = 5.0, seed: int = 0) -> np.ndarray:
    """A studio backdrop: a colour, optionally a left-to-right gradient, and a photo's grain."""
    base = np.array(colour, np.float32) + COLS[..., None] * np.array(slope, np.float32)
    return base + np.random.default_rng(seed).normal(0, grain, (SIDE, SIDE, 1)).astype(np.float32)


def portrait(background: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A head (skin disc) with a big dark hairdo over the backdrop; returns the picture, the
    head, and the hair."""
    head = disc(150, 128, 55)
    hair = disc(130, 128, 95) & ~head
    image = background.copy()
    image[head] = (205, 160, 130)
    image[hair] = (45, 30, 25)
    return np.clip(image, 0, 255).astype(np.uint8), head, hair


def test_hair_made_shorter_leaves_the_backdrop_colour_not_a_flat_smudge():
    """The vacated background takes the backdrop's colour (mean within 2 levels of the
    backdrop around it) and its grain (not a flat smudge)."""
    background = backdrop()
    image, head, hair = portrait(background)
    vacated = hair & ~disc(140, 128, 75)
    result = fill_vacated(image, vacated, ~hair & ~head)
    around = ~hair & ~head & disc(130, 128, 115)
    assert np.abs(result[vacated].mean(axis=0) - image[around].mean(axis=0)).max() < 2.0
    grain = result[vacated].std(axis=0)
    assert (grain > 0.6 * image[around].std(axis=0)).all(), f"a flat smudge: spread {grain}"


def test_a_gradient_backdrop_continues_as_a_gradient():
    """Behind a region surrounded by a backdrop that darkens to the right, the fill darkens the
    same way: each column's mean within 3 levels of the backdrop's own there."""
    background = backdrop(colour=(40.0, 160.0, 90.0), slope=(0.6, -0.4, 0.2))
    vacated = disc(128, 128, 45)
    image = background.copy()
    image[vacated] = (250, 20, 240)  # the part that leaves: nothing of it may show
    image = np.clip(image, 0, 255).astype(np.uint8)
    result = fill_vacated(image, vacated, ~vacated)
    truth = np.clip(background, 0, 255)
    for col in range(100, 160, 10):  # chords of 60 px and more (a short one is mostly its grain)
        column = vacated[:, col]
        error = np.abs(result[column, col].mean(axis=0) - truth[column, col].mean(axis=0))
        assert error.max() < 3.0, f"column {col}: {error}"


def test_no_edge_where_the_fill_meets_the_photo():
    """Across the region's edge the picture changes no more than within the backdrop: the mean
    step between the fill's outer ring and the photo's pixels next to it is within noise."""
    background = backdrop(colour=(120.0, 100.0, 80.0), slope=(0.3, 0.2, -0.2), grain=3.0)
    vacated = disc(128, 128, 50)
    image = background.copy()
    image[vacated] = 20
    image = np.clip(image, 0, 255).astype(np.uint8)
    result = fill_vacated(image, vacated, ~vacated)
    distance = np.sqrt((ROWS - 128) ** 2 + (COLS - 128) ** 2)
    inner, outer = (distance >= 46) & (distance < 50), (distance >= 50) & (distance < 54)
    step = np.abs(result[inner].mean(axis=0) - result[outer].mean(axis=0))
    assert step.max() < 1.5, f"a visible edge: {step}"


def test_keep_pixels_are_never_changed_nor_copied():
    """A hand over the hair (passed as keep) stays byte for byte, and its colour is not
    smeared into the fill beside it."""
    background = backdrop()
    image, head, hair = portrait(background)
    hand = np.zeros((SIDE, SIDE), bool)
    hand[40:90, 150:200] = True
    image[hand] = (240, 40, 40)
    vacated = hair & ~disc(140, 128, 75)
    result = fill_vacated(image, vacated, ~hair & ~head, keep=hand)
    assert np.array_equal(result[hand], image[hand].astype(np.float32))
    beside = vacated & ~hand & disc(65, 175, 45)
    assert beside.sum() > 200
    assert abs(result[beside][:, 0].mean() - background[beside][:, 0].mean()) < 4.0
    # Beyond the blend band along the region every pixel is the photo's own; with no band, every
    # pixel outside the region.
    band = round(DEFAULT_FILL.blend * SIDE) + 1
    far = ~vacated & (cv2.distanceTransform((~vacated).astype(np.uint8), cv2.DIST_L2, 3) > band)
    assert np.array_equal(result[far], image[far].astype(np.float32))
    strict = fill_vacated(image, vacated, ~hair & ~head, keep=hand, config=FillConfig(blend=0.0))
    assert np.array_equal(strict[~vacated], image[~vacated].astype(np.float32))


def test_the_shadow_a_part_cast_along_its_edge_goes_with_it():
    """Skin darkened along the hair that leaves (its shadow, its halo) is not continued into
    the fill as a dark band: the fill takes the skin beyond it, and the shadow fades into it."""
    forehead = np.full((SIDE, SIDE, 3), (220.0, 175.0, 145.0), np.float32)
    forehead += np.random.default_rng(1).normal(0, 3, (SIDE, SIDE, 1)).astype(np.float32)
    hair = ROWS < 100
    shadow = (ROWS >= 100) & (ROWS < 104)
    image = forehead.copy()
    image[hair] = (40, 30, 25)
    image[shadow] -= 60.0
    image = np.clip(image, 0, 255).astype(np.uint8)
    vacated = hair & (ROWS >= 60)
    result = fill_vacated(image, vacated, ~hair)
    assert np.abs(result[vacated].mean(axis=0) - (220, 175, 145)).max() < 6.0
    assert np.abs(result[shadow].mean(axis=0) - (220, 175, 145)).max() < 20.0  # was 60 darker
    # Without the blend band the shadow is continued into the fill (what the band is for).
    strict = fill_vacated(image, vacated, ~hair, config=FillConfig(blend=0.0))
    assert np.abs(strict[vacated].mean(axis=0) - (220, 175, 145)).max() > 10.0


def test_forehead_vacated_by_hair_takes_the_skin_not_the_backdrop():
    """Where the fringe leaves the forehead, the fill comes from the source given (the skin),
    not from the background beyond the hair."""
    background = backdrop()
    image, head, hair = portrait(background)
    skin = head.copy()
    fringe = hair & disc(150, 128, 70) & (ROWS < 130)
    result = fill_vacated(image, fringe, skin)
    assert np.abs(result[fringe].mean(axis=0) - np.array([205, 160, 130])).max() < 3.0


def test_membrane_is_harmonic_and_degenerate_inputs():
    """The low band alone: a plane is continued exactly; nothing vacated or no source: the
    image back; masks that do not fit: a clear error."""
    plane = (10 + 0.5 * COLS + 0.25 * ROWS)[..., None].astype(np.float32)
    known = ~disc(128, 128, 60)
    filled = membrane(np.where(known[..., None], plane, 0), known)
    assert np.abs(filled - plane)[~known].max() < 1.5
    image = np.clip(backdrop(), 0, 255).astype(np.uint8)
    nothing = np.zeros((SIDE, SIDE), bool)
    assert np.array_equal(fill_vacated(image, nothing, ~nothing), image.astype(np.float32))
    assert np.array_equal(fill_vacated(image, disc(50, 50, 10), nothing), image.astype(np.float32))
    with pytest.raises(ValueError, match="source"):
        fill_vacated(image, disc(50, 50, 10), nothing[:5])
