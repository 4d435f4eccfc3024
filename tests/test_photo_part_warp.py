"""A nose or lips given another shape in a photo: the photo's own part carried by a smooth warp."""

from __future__ import annotations

import cv2
import numpy as np

from ca2sis.model.labels import CLASS_NAMES
from ca2sis.model.photo.finish import Finish, finish_image
from ca2sis.model.photo.part_warp import moved_field

SKIN, NOSE, L_EYE, R_EYE, U_LIP, L_LIP = (CLASS_NAMES.index(name) for name in
                                          ("skin", "nose", "l_eye", "r_eye", "u_lip", "l_lip"))
SIDE = 256
SKIN_COLOUR = (200, 150, 130)
# The network's face: no nose, a lighter skin than the photo's (its colours drift): were any of
# its pixels used, they would show as a lighter patch.
GENERATED = np.full((64, 64, 3), (225, 180, 160), np.uint8)


def face_mask() -> np.ndarray:
    mask = np.zeros((SIDE, SIDE), np.uint8)
    cv2.ellipse(mask, (128, 128), (90, 115), 0, 0, 360, SKIN, -1)
    cv2.ellipse(mask, (90, 95), (16, 7), 0, 0, 360, L_EYE, -1)
    cv2.ellipse(mask, (166, 95), (16, 7), 0, 0, 360, R_EYE, -1)
    cv2.ellipse(mask, (128, 140), (14, 20), 0, 0, 360, NOSE, -1)
    mask[96:140, 121:136] = NOSE  # the bridge, up between the eyes with a flat top (as labelled)
    cv2.ellipse(mask, (128, 182), (30, 8), 0, 180, 360, U_LIP, -1)  # a full upper lip
    cv2.ellipse(mask, (128, 182), (30, 9), 0, 0, 180, L_LIP, -1)
    return mask


def photo(mask: np.ndarray) -> np.ndarray:
    """Skin with a soft light from the left and fine grain; a darker nose with its own pores,
    red lips, dark eyes."""
    rng = np.random.default_rng(3)
    light = np.linspace(-12, 12, SIDE, dtype=np.float32)[None, :, None]
    image = np.array(SKIN_COLOUR, np.float32) + light + rng.normal(0, 3, (SIDE, SIDE, 1))
    # The shadow of the nose's sides on the cheeks, a broad soft band (moved with the nose).
    rows, cols = np.mgrid[:SIDE, :SIDE].astype(np.float32)
    image -= (30 * np.exp(-((cols - 128) / 22) ** 2 / 2 - ((rows - 135) / 30) ** 2 / 2))[..., None]
    nose = np.array((150, 95, 80), np.float32) + rng.normal(0, 10, (SIDE, SIDE, 1))
    image[mask == NOSE] = nose[mask == NOSE]
    image[np.isin(mask, (U_LIP, L_LIP))] = (170, 70, 80)
    image[np.isin(mask, (L_EYE, R_EYE))] = (40, 30, 30)
    return np.clip(image, 0, 255).astype(np.uint8)


def wider_nose(mask: np.ndarray) -> np.ndarray:
    target = mask.copy()
    target[mask == NOSE] = SKIN
    cv2.ellipse(target, (130, 143), (20, 21), 0, 0, 360, NOSE, -1)
    target[92:140, 119:141] = NOSE
    return target


def test_a_nose_made_wider_is_the_photos_own_nose_with_no_box_or_edge_round_it():
    mask = face_mask()
    base = photo(mask)
    target = wider_nose(mask)
    out = finish_image(GENERATED, base, Finish(mask, mask, reshaped={NOSE: target}))
    new_nose = cv2.erode((target == NOSE).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    # Its pixels are the photo's nose (its colour and its pores), not skin, not a flat fill.
    assert np.abs(out[new_nose].mean(axis=0) - (150, 95, 80)).max() < 12
    assert out[new_nose].std(axis=0).mean() > 5
    # Around it the skin is the photo's skin stretched: no step anywhere in a ring round the
    # nose (a box or patch edge is a jump of many levels between neighbours).
    ring = (cv2.dilate((target == NOSE).astype(np.uint8), np.ones((41, 41), np.uint8)) > 0) & (mask == SKIN)
    ring &= cv2.dilate((target == NOSE).astype(np.uint8), np.ones((9, 9), np.uint8)) == 0
    ring &= cv2.dilate((mask != SKIN).astype(np.uint8) - (mask == NOSE), np.ones((9, 9), np.uint8)) == 0
    grey = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY).astype(np.float32)
    smooth = cv2.GaussianBlur(grey, (0, 0), 1.5)  # the grain off: only steps and edges are left
    steps = np.hypot(cv2.Sobel(smooth, cv2.CV_32F, 1, 0), cv2.Sobel(smooth, cv2.CV_32F, 0, 1))
    own = cv2.GaussianBlur(cv2.cvtColor(base, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), 1.5)
    own_steps = np.hypot(cv2.Sobel(own, cv2.CV_32F, 1, 0), cv2.Sobel(own, cv2.CV_32F, 0, 1))
    assert steps[ring].max() < 1.5 * own_steps[ring].max() + 4
    # The eyes beside it stay where they were, and far from the nose nothing changes.
    eyes = np.isin(mask, (L_EYE, R_EYE))
    assert np.abs(out[eyes].astype(int) - base[eyes]).mean() < 3
    assert np.array_equal(out[:40], base[:40])


def test_an_upper_lip_made_thin_leaves_skin_of_the_skins_colour_and_grain_without_stripes():
    mask = face_mask()
    base = photo(mask)
    target = mask.copy()
    target[mask == U_LIP] = SKIN
    cv2.ellipse(target, (128, 182), (30, 3), 0, 180, 360, U_LIP, -1)  # a thin upper lip
    out = finish_image(GENERATED, base, Finish(mask, mask, reshaped={U_LIP: target}))
    vacated = (mask == U_LIP) & (target == SKIN)
    vacated = cv2.erode(vacated.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert vacated.sum() > 100
    # The skin's colour (its light from the side included), not the lip's red.
    skin_here = base.astype(np.float32)[(mask == SKIN) & (np.abs(np.arange(SIDE) - 128)[None, :] < 30)
                                        & (np.abs(np.arange(SIDE) - 160)[:, None] < 8)].mean(axis=0)
    assert np.abs(out[vacated].mean(axis=0) - skin_here).max() < 12
    # No stripes: row to row the band's mean changes no more than the skin's own does.
    rows = np.flatnonzero(vacated.any(axis=1))
    means = np.array([out[row][vacated[row]].astype(np.float32).mean() for row in rows])
    assert np.abs(np.diff(means)).max() < 8
    # The skin's grain, not a smooth smear.
    grey = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY).astype(np.float32)
    grain = grey - cv2.GaussianBlur(grey, (0, 0), 2.0)
    assert grain[vacated].std() > 0.5
    # The thin lip itself is the photo's red lip.
    thin = target == U_LIP
    assert np.abs(out[thin].astype(np.float32).mean(axis=0) - (170, 70, 80)).max() < 30


def test_a_lip_map_never_folds_and_a_nose_move_fades_to_nothing():
    mask = face_mask()
    target = mask.copy()
    target[mask == U_LIP] = SKIN
    cv2.ellipse(target, (128, 180), (30, 16), 0, 180, 360, U_LIP, -1)  # a much fuller upper lip
    field = moved_field(mask, {U_LIP: target == U_LIP}, {U_LIP: 1.0})
    assert field is not None
    rows = np.arange(field.box[0].start, field.box[0].stop, dtype=np.float32)[:, None]
    source_rows = rows + field.dy
    assert (np.diff(source_rows, axis=0) > 0).all()  # each column's rows stay in order
    nose = moved_field(mask, {NOSE: wider_nose(mask) == NOSE}, {NOSE: 1.0})
    # Zero displacement along the edge of the box it works in (it fades out, no cut).
    edges = np.concatenate([nose.dx[0], nose.dx[-1], nose.dx[:, 0], nose.dx[:, -1],
                            nose.dy[0], nose.dy[-1], nose.dy[:, 0], nose.dy[:, -1]])
    assert np.abs(edges).max() < 0.05
    # At strength 0 nothing moves.
    still = moved_field(mask, {NOSE: wider_nose(mask) == NOSE}, {NOSE: 0.0})
    assert np.abs(still.dx).max() < 1e-3 and np.abs(still.dy).max() < 1e-3
