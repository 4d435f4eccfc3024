"""A skin, lips or eyes restyled in a photo: what a user checks at full size.

Synthetic pictures, no networks: the skin's change fades over hair the parser took for skin
(``edge.tone_edge_alpha``, ``pipeline.faded_edit``), a skin's colour change keeps the face's
shading and leaves grey pixels grey (``colour.tone_change``), an iris is read without its
pupil and lashes and a lip without being only its shine (``colour.colour_sample``), a lip
keeps its shine, and both lips take one reference's colour together (``pipeline.lips_together``).
"""

from __future__ import annotations

import numpy as np
import pytest

from ca2sis.model.labels import CLASS_NAMES
from ca2sis.model.photo.colour import (
    LabTransform,
    PartColour,
    colour_sample,
    face_colours,
    from_lab,
    to_lab,
    tone_change,
)
from ca2sis.model.photo.edge import tone_edge_alpha
from ca2sis.model.photo.pipeline import faded_edit, lips_together
from ca2sis.model.photo.source import SourcePhoto

SKIN, HAIR, L_EYE, U_LIP, L_LIP = (CLASS_NAMES.index(name) for name in ("skin", "hair", "l_eye", "u_lip", "l_lip"))
SIDE = 512


def lab_picture(lab: np.ndarray) -> np.ndarray:
    return np.clip(from_lab(lab.astype(np.float32)) + 0.5, 0, 255).astype(np.uint8)


def forehead_under_dark_hair(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An aligned picture: dark curly hair (strands: a texture) over the top third, skin below;
    the true classes, and the parse that took the hair's lowest 8 rows for skin."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:SIDE, 0:SIDE]
    truth = np.full((SIDE, SIDE), SKIN, np.uint8)
    truth[:180] = HAIR
    lab = np.zeros((SIDE, SIDE, 3), np.float32)
    lab[truth == SKIN] = (55.0, 16.0, 23.0)
    strands = 14.0 * np.sin(cols / 2.1 + 3 * np.sin(rows / 7.0)) + 22.0
    lab[..., 0] = np.where(truth == HAIR, strands, lab[..., 0])
    lab[truth == HAIR, 1:] = (10.0, 16.0)
    lab += rng.normal(0, 1.0, lab.shape).astype(np.float32)
    parsed = truth.copy()
    parsed[172:180] = SKIN
    return lab_picture(lab), truth, parsed


def test_a_skin_edit_fades_over_hair_the_parser_took_for_skin_and_keeps_the_forehead_whole():
    picture, truth, parsed = forehead_under_dark_hair()
    alpha = tone_edge_alpha(picture, parsed, [SKIN], [SKIN])
    assert alpha[172:180].mean() < 0.3  # the hair's strands laid into the skin by the parser keep their colour
    assert alpha[190:].min() == pytest.approx(1.0)  # the forehead a little below the hairline takes the edit whole
    assert alpha[:150].min() == 1.0  # the hair beyond the edge's band is not the fade's business
    assert alpha[183:].mean() > 0.97


def test_a_skin_edit_by_blonde_hair_of_the_skins_colour_keeps_the_parsed_edge_softly():
    # Hair that looks like the skin cannot be told from it: the parse's edge is kept, a pixel or two soft.
    picture, _, parsed = forehead_under_dark_hair()
    flat = np.full_like(picture, lab_picture(np.array([[[55.0, 16.0, 23.0]]]))[0, 0])
    alpha = tone_edge_alpha(flat, parsed, [SKIN], [SKIN])
    assert alpha[176:].min() > 0.95 and alpha[:150].min() == 1.0


def test_a_faded_edit_changes_the_photo_by_the_fade_and_not_past_it():
    photo = SourcePhoto(np.full((40, 60, 3), 100, np.uint8), np.array([[2.0, 0, 0], [0, 2.0, 0]]), 64)
    pasted = np.full((40, 60, 3), 200, np.uint8)
    alpha = np.ones((64, 64), np.float32)
    alpha[:, :32] = 0.5  # the left half of the aligned crop (photo x < 16) half faded
    faded = faded_edit(photo, pasted, alpha)
    assert abs(int(faded[20, 5, 0]) - 150) <= 2  # half the change
    assert np.array_equal(faded[:, 40:], pasted[:, 40:])  # the rest of the crop and past it: the change whole


def test_a_skin_made_lighter_keeps_its_shading_and_its_grey_lash_line_stays_grey():
    source, target = np.array([53.0, 15.0, 23.0]), np.array([84.0, 10.0, 21.0])
    pixels = np.array([[53.0, 15.0, 23.0], [35.0, 11.0, 17.0], [20.0, 4.0, 4.0]], np.float32)
    lit, shade, lash = tone_change(pixels, source, target)
    np.testing.assert_allclose(lit, target, atol=0.05)  # the skin's own colour goes where it is asked
    assert 55 < shade[0] < lit[0] - 12  # a shadow stays a shadow (no flat mask) on the lighter skin
    assert lash[0] < shade[0] and lash[2] > 0 and lash[1] > -1  # the lash line: dark, not turned blue or green
    assert np.hypot(lash[1], lash[2]) < 8


def test_a_skin_made_darker_takes_the_hue_asked_for_and_a_cast_in_the_chroma_is_turned_with_it():
    source, target = np.array([72.0, 14.0, 23.0]), np.array([45.0, 21.0, 26.0])
    changed = tone_change(np.array([[72.0, 14.0, 23.0], [72.0, 7.0, 11.5]], np.float32), source, target)
    np.testing.assert_allclose(changed[0], target, atol=0.05)
    hue = np.degrees(np.arctan2(changed[1, 2], changed[1, 1]))  # half the chroma: the same hue, half the chroma
    assert hue == pytest.approx(np.degrees(np.arctan2(26.0, 21.0)), abs=1.0)
    assert np.hypot(changed[1, 1], changed[1, 2]) == pytest.approx(0.5 * np.hypot(21.0, 26.0), rel=0.05)


def eye_picture() -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """A face-sized picture with one open eye: the white, a brown iris round a black pupil and a
    line of dark lashes along the top; its mask and the iris's CIELAB colour."""
    side = 512
    rows, cols = np.mgrid[0:side, 0:side]
    mask = np.zeros((side, side), np.uint8)
    eye = ((rows - 200) / 14.0) ** 2 + ((cols - 200) / 34.0) ** 2 <= 1
    mask[eye] = L_EYE
    iris_colour = (42.0, 14.0, 24.0)
    lab = np.zeros((side, side, 3), np.float32)
    lab[...] = (66.0, 14.0, 20.0)
    lab[eye] = (88.0, 0.0, 3.0)
    radius = np.hypot(rows - 200, cols - 200)
    lab[eye & (radius <= 12)] = iris_colour
    lab[eye & (radius <= 5)] = (8.0, 0.0, 0.0)  # the pupil
    lab[eye & (rows <= 190)] = (10.0, 1.0, 2.0)  # the lashes over the top of the eye
    return lab_picture(lab), mask, iris_colour


def test_an_iris_is_read_without_its_pupil_and_lashes():
    picture, mask, iris = eye_picture()
    lab = to_lab(picture)
    read = lab[colour_sample(mask, L_EYE, lightness=lab[..., 0])].mean(axis=0)
    assert read[0] == pytest.approx(iris[0], abs=6)  # the pupil and lashes read it darker, and grey
    assert np.hypot(read[1], read[2]) > 0.8 * np.hypot(iris[1], iris[2])  # a brown iris is brown


def test_a_lip_is_read_on_the_whole_lip_not_only_its_shine():
    rows, cols = np.mgrid[0:512, 0:512]
    mask = np.zeros((512, 512), np.uint8)
    lip = (np.abs(rows - 300) <= 9) & (np.abs(cols - 256) <= 40)
    mask[lip] = L_LIP
    lab = np.zeros((512, 512, 3), np.float32)
    lab[...] = (66.0, 14.0, 20.0)
    lab[lip] = (50.0, 35.0, 15.0)
    lab[lip & (np.abs(rows - 300) <= 2)] = (78.0, 20.0, 8.0)  # the shine along the lower lip's middle
    picture = lab_picture(lab)
    read = to_lab(picture)[colour_sample(mask, L_LIP)].mean(axis=0)
    assert read[0] < 60  # read 5 px in (1 % of the side) from each edge, the lip was its shine (L 78)


def test_a_lip_given_flat_lips_keeps_its_shine():
    # A reference's lips of a third of the photo's lightness spread: the photo's shine is kept nearly whole.
    change = LabTransform(L_LIP, np.array([50.0, 30.0, 15.0]), np.array([1 / 3, 1.0, 1.0]),
                          np.array([60.0, 25.0, 10.0]))
    lip, shine = change.apply(np.array([[50.0, 30.0, 15.0], [70.0, 25.0, 12.0]], np.float32))
    np.testing.assert_allclose(lip, (60.0, 25.0, 10.0), atol=1e-4)  # the lip's colour is the one asked for
    assert shine[0] - lip[0] >= 0.85 * 20.0  # the shine 20 units lighter stays about as much lighter


def test_both_lips_from_one_reference_take_its_colour_and_keep_which_lip_the_photo_lights():
    side = 512
    mask = np.zeros((side, side), np.uint8)
    mask[280:296, 200:312], mask[296:320, 200:312] = U_LIP, L_LIP
    lab = np.zeros((side, side, 3), np.float32)
    lab[...] = (66.0, 14.0, 20.0)
    lab[mask == U_LIP], lab[mask == L_LIP] = (42.0, 30.0, 12.0), (52.0, 28.0, 12.0)  # the lower lip lit
    own = face_colours(lab_picture(lab), mask)
    reference = {U_LIP: PartColour(np.array([47.0, 40.0, 20.0]), np.ones(3)),
                 L_LIP: PartColour(np.array([69.0, 38.0, 20.0]), np.ones(3))}  # a pale mouth, its lower lip shining
    source = object()
    targets = lips_together(own, {lip: (colour, source, 1.0) for lip, colour in reference.items()})
    upper, lower = targets[U_LIP].mean, targets[L_LIP].mean
    np.testing.assert_allclose(0.5 * (upper + lower), (58.0, 39.0, 20.0), atol=0.6)  # the reference's colour
    assert lower[0] - upper[0] == pytest.approx(10.0, abs=0.6)  # the photo's light on its lips, not the reference's 22
    # Lips from two references (or one at two strengths) each take their own.
    assert lips_together(own, {U_LIP: (reference[U_LIP], source, 1.0), L_LIP: (reference[L_LIP], object(), 1.0)}) == {}
