"""The photo's classes past the aligned crop: the flood carries hair on where there is hair,
not onto the wall beside or above it.

Synthetic pictures, no networks: the crop's pixels (``known``) are parsed, the rows above it
are what the watershed (``flood_classes``) reached from them.
"""

from __future__ import annotations

import cv2
import numpy as np

from ca2sis.model.labels import BACKGROUND, CLASS_NAMES
from ca2sis.model.photo.framing import flood_checked, specks_in_hair_made_hair

HAIR = CLASS_NAMES.index("hair")
SIDE = 160  # the picture's side
CROP_TOP = 60  # rows above it lie past the aligned crop
FACE_SIDE = 150.0  # the aligned crop's side in the picture's pixels


def strands(shape: tuple[int, int], colour: tuple[int, int, int], seed: int) -> np.ndarray:
    """Hair: vertical strands of a colour, each a little lighter or darker than the next."""
    rng = np.random.default_rng(seed)
    shade = rng.normal(0, 10, (1, shape[1])) + rng.normal(0, 2, shape)
    return np.clip(np.array(colour, np.float32) + shade[..., None], 0, 255).astype(np.uint8)


def picture(above_left: np.ndarray, above_right: np.ndarray, wall: tuple[int, int, int] = (190, 190, 190)
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A picture whose hair (columns 30-130) runs past the crop's top: ``above_left`` and
    ``above_right`` fill the hair's columns above the crop (left and right half), a ``wall``
    the rest. The classes are what the flood gives: hair in the hair's columns all the way up."""
    rng = np.random.default_rng(1)
    pixels = np.clip(rng.normal(wall, 1, (SIDE, SIDE, 3)), 0, 255).astype(np.uint8)
    pixels[CROP_TOP:, 30:130] = strands((SIDE - CROP_TOP, 100), (35, 28, 24), seed=2)
    pixels[:CROP_TOP, 30:80] = above_left
    pixels[:CROP_TOP, 80:130] = above_right
    classes = np.full((SIDE, SIDE), BACKGROUND, np.uint8)
    classes[:, 30:130] = HAIR
    known = np.zeros((SIDE, SIDE), bool)
    known[CROP_TOP:] = True
    return pixels, classes, known


def test_hair_past_the_crop_stays_hair_and_a_flat_dark_smear_above_the_head_on_a_dark_wall_does_not():
    # As dark as the hair and the wall, between them in colour, without a strand.
    smear = np.full((CROP_TOP, 50, 3), (32, 28, 26), np.uint8)
    pixels, classes, known = picture(strands((CROP_TOP, 50), (35, 28, 24), seed=3), smear, wall=(28, 28, 30))
    # A smear (a frame stretched past the picture's edge) fades into the wall: no sharp edge.
    pixels[:CROP_TOP - 4, 80:] = cv2.GaussianBlur(pixels[:CROP_TOP, 80:], (0, 0), 6)[:CROP_TOP - 4]
    result = flood_checked(pixels, classes, known, FACE_SIDE)
    assert (result[:CROP_TOP, 30:80] == HAIR).mean() > 0.95
    # Fine detail is measured over a neighbourhood: the smear's rows next to the strands below may stay hair.
    assert (result[:CROP_TOP - 10, 90:130] == BACKGROUND).mean() > 0.9
    assert np.array_equal(result[known], classes[known])  # the parsed pixels are left as they are


def test_a_light_wall_the_flood_reached_above_dark_hair_is_background():
    wall = strands((CROP_TOP, 50), (190, 190, 190), seed=4)  # as much texture as the hair, the wall's colour
    pixels, classes, known = picture(strands((CROP_TOP, 50), (35, 28, 24), seed=3), wall)
    result = flood_checked(pixels, classes, known, FACE_SIDE)
    assert (result[:CROP_TOP, 30:80] == HAIR).mean() > 0.95
    assert (result[:CROP_TOP, 90:130] == BACKGROUND).mean() > 0.9


def test_flooded_hair_cut_off_from_the_parsed_hair_is_background():
    wall = strands((CROP_TOP, 50), (190, 190, 190), seed=4)
    pixels, classes, known = picture(wall, wall)
    pixels[:20, 40:70] = strands((20, 30), (35, 28, 24), seed=5)  # a dark patch beyond a strip of wall
    result = flood_checked(pixels, classes, known, FACE_SIDE)
    assert (result[:20, 40:70] == HAIR).mean() < 0.05


def test_a_speck_of_skin_the_parser_left_in_the_hair_is_hair_and_real_small_parts_stay():
    """A few pixels of skin inside the hair (strands crossing the temple) would keep the old
    hair colour as a blot when the hair is restyled: they are hair. An eye (in the skin) and a
    sliver of ear between the skin and the hair are left as parsed."""
    skin, eye, ear = (CLASS_NAMES.index(name) for name in ("skin", "l_eye", "l_ear"))
    mask = np.full((256, 256), HAIR, np.uint8)
    mask[60:200, 60:160] = skin
    mask[100:106, 80:90] = eye
    mask[120:130, 160:163] = ear  # between the skin and the hair
    mask[30:36, 200:206] = skin  # a speck inside the hair
    cleaned = specks_in_hair_made_hair(mask)
    assert (cleaned[30:36, 200:206] == HAIR).all()
    changed = cleaned != mask
    changed[30:36, 200:206] = False
    assert not changed.any()
