"""A painted face's eyes and mouth are the style face's own, carried onto the painted shape
where it is alike, else the network's drawing (model/photo/painted_features)."""

from __future__ import annotations

import cv2
import numpy as np

from ca2sis.model.labels import CLASS_NAMES
from ca2sis.model.photo.painted_features import carried_features

SKIN, L_EYE, GLASSES = (CLASS_NAMES.index(name) for name in ("skin", "l_eye", "eye_g"))
SIDE = 256
FEATHER = 2.0


def style_face(glasses: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Skin with one eye: a white with a dark iris of fine concentric rings (4 px apart)."""
    mask = np.full((SIDE, SIDE), SKIN, np.uint8)
    cv2.ellipse(mask, (100, 120), (24, 10), 0, 0, 360, L_EYE, -1)
    image = np.full((SIDE, SIDE, 3), (210, 170, 150), np.uint8)
    image[mask == L_EYE] = (235, 235, 230)
    rows, cols = np.mgrid[:SIDE, :SIDE]
    radius = np.hypot(rows - 120, cols - 100)
    iris = radius < 9
    rings = np.where(np.sin(np.pi * radius / 2) > 0, 40, 110)
    image[iris] = np.stack([rings, rings + 30, rings + 60], axis=-1)[iris]
    if glasses:
        cv2.rectangle(mask, (70, 104), (130, 136), GLASSES, 2)
    return image, mask


def painted_eye(width: int) -> np.ndarray:
    mask = np.full((SIDE, SIDE), SKIN, np.uint8)
    cv2.ellipse(mask, (110, 124), (width, 11), 0, 0, 360, L_EYE, -1)
    return mask


def test_a_painted_eye_alike_the_styles_takes_the_styles_own_iris_sharp():
    """An eye painted a little larger and elsewhere: its pixels are the style's eye moved
    there, its iris's fine rings and dark centre included, at full resolution."""
    style, style_mask = style_face()
    painted = painted_eye(26)
    pixels, weight = carried_features(style, style_mask, painted, FEATHER)
    eye = painted == L_EYE
    # The eye and a rim of lids round it (a fifth of its size) are the style's, fading out beyond.
    distance = cv2.distanceTransform((~eye).astype(np.uint8), cv2.DIST_L2, 3)
    assert weight[eye].min() == 1.0 and weight[distance > 8 + 3 * FEATHER].max() < 0.05
    # The dark iris lands at the painted eye's centre (the style's at (100, 120), moved by (10, 4)).
    assert pixels[120:129, 106:115].mean() < 140 and pixels[124, 128:132].mean() > 200
    grey = pixels.mean(axis=2)
    rings = np.abs(cv2.Laplacian(grey, cv2.CV_32F))[118:131, 104:117].mean()
    style_rings = np.abs(cv2.Laplacian(style.mean(axis=2).astype(np.float32), cv2.CV_32F))[114:127, 94:107].mean()
    assert rings > 0.5 * style_rings


def test_a_carried_eye_brings_the_styles_lashes_over_the_painted_faces_own_skin_colour():
    """Round a carried eye, the lids show the style's lashes (a dark line above its eye) but
    keep the painted face's colour, not the style's skin (which would ring the eye)."""
    style, style_mask = style_face()
    cv2.ellipse(style, (100, 120), (25, 12), 0, 200, 340, (60, 40, 30), 1)  # lashes along the upper lid
    painted = painted_eye(24)  # the same size, moved by (10, 4)
    under = np.full((SIDE, SIDE, 3), (150, 110, 90), np.float32)  # a darker, browner painted skin
    pixels, weight = carried_features(style, style_mask, painted, FEATHER, under)
    # The lash line (style row 108) lands about row 111; the lid above it, rows 105-108.
    lashes, lid = pixels[110:113, 104:117].mean(axis=(1, 2)).min(), pixels[105:108, 104:117]
    assert weight[110:113, 104:117].min() > 0.9 and lashes < lid.mean() - 60
    assert np.abs(lid.mean(axis=(0, 1)) - under[0, 0]).max() < 25  # the painted skin's colour, not (210, 170, 150)


def test_an_eye_painted_unlike_the_styles_or_seen_through_glasses_keeps_the_networks_drawing():
    """An eye painted three times as wide as the style's is not its eye stretched; a style
    whose eye is behind a glasses frame lends no eye (its frame would come along)."""
    style, style_mask = style_face()
    _, weight = carried_features(style, style_mask, painted_eye(72), FEATHER)
    assert weight.max() == 0.0
    style, style_mask = style_face(glasses=True)
    _, weight = carried_features(style, style_mask, painted_eye(26), FEATHER)
    assert weight.max() == 0.0
