"""A part's colour as the photo pipeline reads it: the person's colour, not the photo's grade,
read finer than the networks see it (``model/photo/colour.py``, ``PhotoPipeline.plan``)."""

from __future__ import annotations

import numpy as np
import pytest

from ca2sis.model.inference.bench import synthetic_face_mask
from ca2sis.model.inference.edits import Edit, Reference
from ca2sis.model.inference.engine import Engine
from ca2sis.model.labels import part_index
from ca2sis.model.photo.colour import from_lab, linear_rgb, photo_exposure, photo_saturation, srgb, to_lab
from ca2sis.model.photo.pipeline import PhotoPipeline

SKIN, L_EYE, U_LIP, HAIR = part_index("skin"), part_index("l_eye"), part_index("u_lip"), part_index("hair")
# CIELAB colours of a face painted class by class: a skin and lips of typical chroma (26 and 34).
FACE_COLOURS = {"skin": (66.0, 16.0, 21.0), "nose": (64.0, 17.0, 22.0), "u_lip": (52.0, 31.0, 13.0),
                "l_lip": (54.0, 30.0, 13.0), "hair": (25.0, 6.0, 12.0), "l_eye": (40.0, 2.0, 6.0),
                "r_eye": (40.0, 2.0, 6.0), "l_brow": (30.0, 5.0, 10.0), "r_brow": (30.0, 5.0, 10.0),
                "l_ear": (62.0, 18.0, 21.0), "r_ear": (62.0, 18.0, 21.0), "neck": (60.0, 16.0, 20.0),
                "cloth": (40.0, -5.0, -20.0), "background": (80.0, 0.0, 2.0)}


def painted_face(mask: np.ndarray, colours: dict[str, tuple[float, float, float]] = FACE_COLOURS,
                 seed: int = 0) -> np.ndarray:
    """uint8 RGB: each class of ``mask`` in its CIELAB colour, with a little grain."""
    lab = np.zeros(mask.shape + (3,), np.float32)
    for name, colour in colours.items():
        lab[mask == part_index(name)] = colour
    lab += np.random.default_rng(seed).normal(0, 1.5, lab.shape).astype(np.float32)
    return np.clip(from_lab(lab) + 0.5, 0, 255).astype(np.uint8)


def graded(image: np.ndarray, saturation: float) -> np.ndarray:
    """``image`` graded towards grey in linear light (a moody or cold look), about its luminance."""
    linear = linear_rgb(image)
    luminance = linear @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    linear = luminance[..., None] + saturation * (linear - luminance[..., None])
    return np.clip(srgb(linear) + 0.5, 0, 255).astype(np.uint8)


def chroma(lab: np.ndarray) -> float:
    return float(np.hypot(lab[1], lab[2]))


def test_a_photo_graded_towards_grey_reads_its_saturation_and_a_natural_one_reads_one():
    mask = synthetic_face_mask(256)
    face = painted_face(mask)
    assert photo_saturation(face, mask) == 1.0
    assert photo_saturation(graded(face, 0.3), mask) == pytest.approx(0.3, abs=0.08)
    # A person whose skin has little colour, photographed as it is (the lips say so): not graded.
    pale = painted_face(mask, {**FACE_COLOURS, "skin": (72.0, 6.0, 8.0)})
    assert photo_saturation(pale, mask) == 1.0


@pytest.fixture(scope="module")
def pipeline(tiny_weights) -> PhotoPipeline:
    return PhotoPipeline(Engine.from_pretrained(tiny_weights, device="cpu", backend="torch"))


def test_a_reference_from_a_grey_graded_photo_gives_the_persons_skin_and_a_grey_photo_keeps_its_grade(pipeline):
    mask = synthetic_face_mask(256)
    photo = painted_face(mask, seed=1)
    tanned = painted_face(mask, {**FACE_COLOURS, "skin": (50.0, 20.0, 26.0)}, seed=2)
    natural = chroma(to_lab(tanned)[mask == SKIN].mean(axis=0))

    def skin_target(photo_pixels: np.ndarray, reference_pixels: np.ndarray) -> float:
        edit = Edit(mask, Reference(photo_pixels, mask), part_styles={"skin": (Reference(reference_pixels, mask), 1.0)})
        return chroma(pipeline.plan(edit).colours[SKIN].mean)

    # The tanned person photographed in grey light (chroma 0.3 of hers) still gives her skin, within
    # what reading the grade off one face can tell (it takes her skin and lips for typical ones);
    # taken as the photo shows it, it was a grey skin of a third of that.
    assert skin_target(photo, graded(tanned, 0.3)) == pytest.approx(natural, rel=0.2)
    # A photo graded towards grey given her skin gets it under its own grade, not a colourful mask.
    assert skin_target(graded(photo, 0.3), tanned) == pytest.approx(0.3 * natural, rel=0.2)


def test_an_eyes_colour_is_read_on_the_reference_at_full_size_not_blurred_into_its_white(pipeline):
    side = 512
    mask = synthetic_face_mask(side)
    reference = painted_face(mask, {**FACE_COLOURS, "l_eye": (90.0, 0.0, 2.0), "r_eye": (90.0, 0.0, 2.0)}, seed=3)
    rows, cols = np.mgrid[0:side, 0:side]
    for centre_x in (0.4, 0.6):  # a dark brown iris in the middle of each white eye
        iris = (rows - 0.46 * side) ** 2 + (cols - centre_x * side) ** 2 <= (0.018 * side) ** 2
        reference[iris] = np.clip(from_lab(np.array([[[22.0, 10.0, 14.0]]], np.float32))[0, 0] + 0.5, 0, 255)
    photo = painted_face(mask, seed=4)
    edit = Edit(mask, Reference(photo, mask), part_styles={"l_eye": (Reference(reference, mask), 1.0)})
    eye = pipeline.plan(edit).colours[L_EYE].mean
    assert eye[0] < 35  # the iris's lightness (22); read at the networks' 64 px it came out near the white's


def darkened(image: np.ndarray, factor: float) -> np.ndarray:
    """``image`` under ``factor`` times the light (its luminance scaled in linear light)."""
    return np.clip(srgb(linear_rgb(image) * factor) + 0.5, 0, 255).astype(np.uint8)


def luminance(lab: np.ndarray) -> float:
    return float(((lab[0] + 16.0) / 116.0) ** 3)


def test_a_photo_in_low_light_reads_its_exposure_and_a_normally_lit_one_reads_one():
    mask = synthetic_face_mask(256)
    face = painted_face(mask)
    assert photo_exposure(face, mask) == 1.0
    # At 0.4 of the light its highlights (the background, L 83) read about half a normal photo's
    # least: the part of the light past the natural spread of highlights (``LOW_KEY_HIGHLIGHT``).
    assert 0.4 <= photo_exposure(darkened(face, 0.4), mask) < 0.55


def test_a_photo_in_low_light_gets_a_references_hair_darkened_alike_and_a_lit_one_unchanged(pipeline):
    mask = synthetic_face_mask(256)
    photo = painted_face(mask, seed=5)
    reference = painted_face(mask, {**FACE_COLOURS, "hair": (62.0, 8.0, 30.0)}, seed=6)  # blonde
    blonde = to_lab(reference)[mask == HAIR].mean(axis=0)

    def hair_target(photo_pixels: np.ndarray) -> np.ndarray:
        edit = Edit(mask, Reference(photo_pixels, mask), part_styles={"hair": (Reference(reference, mask), 1.0)})
        return pipeline.plan(edit).colours[HAIR].mean

    # Normally lit: the reference's blonde as it is.
    np.testing.assert_allclose(hair_target(photo), blonde, atol=0.5)
    # The same face at 0.4 of its light: the blonde as that light shows it, darker by the exposure
    # read (0.4-0.55 of the luminance); taken as it is, it was a lit blonde pasted into a dark photo.
    dark = hair_target(darkened(photo, 0.4))
    assert 0.4 <= luminance(dark) / luminance(blonde) < 0.55
    assert abs(np.degrees(np.arctan2(dark[2], dark[1])) - np.degrees(np.arctan2(blonde[2], blonde[1]))) < 3
