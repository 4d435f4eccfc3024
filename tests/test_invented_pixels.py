"""The invented-pixels measure (model/evaluation/invented_pixels.py) scores what a user sees:
a blurred new hair has no detail, a wrongly coloured one is far in colour, a vacated region
left as hair is far from the background, the asked shape parsed back is a perfect IoU."""

from __future__ import annotations

import cv2
import numpy as np

from ca2sis.model.evaluation.invented_pixels import HAIR, fine_detail, score_shape_edit
from ca2sis.model.labels import BACKGROUND

SIDE = 128


def photo_with_hair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    mask = np.full((SIDE, SIDE), BACKGROUND, np.uint8)
    mask[:, 32:64] = HAIR
    image = np.empty((SIDE, SIDE, 3), np.float32)
    image[:] = (90, 110, 140)
    strands = 25 * np.sin(np.arange(SIDE) * 2 * np.pi / 5)[None, :] + rng.normal(0, 6, (SIDE, SIDE))
    image[mask == HAIR] = np.array((95, 62, 40), np.float32) + strands[mask == HAIR][:, None]
    return np.clip(image, 0, 255).astype(np.uint8), mask


def test_a_faithful_edit_scores_well_and_a_blurred_wrong_one_badly():
    photo, mask = photo_with_hair()
    asked = np.zeros((SIDE, SIDE), bool)
    asked[:, 48:96] = True  # hair moved right: 64..96 new, 32..48 vacated
    good = photo.copy()
    good[:, 64:96] = photo[:, 32:64]  # the photo's own hair, copied
    good[:, 32:48] = (90, 110, 140)
    scores = score_shape_edit(photo, mask, asked, good, np.where(asked, HAIR, BACKGROUND).astype(np.uint8))
    assert scores["iou"] == 1.0
    assert scores["colour"] < 2 and scores["vacated"] < 2
    assert 0.8 < scores["detail"] < 1.25
    bad = good.copy()
    bad[:, 64:96] = cv2.GaussianBlur(good, (0, 0), 4)[:, 64:96] * 0.6 + np.array((60, 50, 70)) * 0.4
    bad[:, 32:48] = photo[:, 32:48]  # the old hair left standing
    scores = score_shape_edit(photo, mask, asked, bad, mask)
    assert scores["iou"] < 0.5
    assert scores["detail"] < 0.3
    assert scores["colour"] > 6 and scores["vacated"] > 20


def test_fine_detail_is_per_unit_of_contrast():
    """A region with twice the contrast has the same fine detail: it measures texture, not contrast."""
    photo, mask = photo_with_hair()
    region = mask == HAIR
    stronger = np.clip((photo.astype(np.float32) - 80) * 2 + 80, 0, 255).astype(np.uint8)
    assert abs(fine_detail(stronger, region) / fine_detail(photo, region) - 1) < 0.15
