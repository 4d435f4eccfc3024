"""A style edit of a photo framed as people frame them: the whole part recoloured, wherever it is.

Synthetic photos, no networks: a face whose hair runs past the aligned crop, strands over the
background, eyes, brows and lips in a skin. ``recolour_photo`` is what ``paste_edit`` runs for
an edit that only restyles parts.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ca2sis.model.labels import CLASS_NAMES
from ca2sis.model.photo.colour import (
    SKIN_CHROMA_MIN,
    ColourTarget,
    linear_rgb,
    real_skin,
    srgb,
    to_lab,
    white_point,
)
from ca2sis.model.photo.finish import Finish
from ca2sis.model.photo.framing import photo_parse
from ca2sis.model.photo.paste import paste_edit
from ca2sis.model.photo.recolour import recolour_photo
from ca2sis.model.photo.source import SourcePhoto

HAIR, SKIN = CLASS_NAMES.index("hair"), CLASS_NAMES.index("skin")
L_EYE, R_EYE, L_BROW, R_BROW = (CLASS_NAMES.index(name) for name in ("l_eye", "r_eye", "l_brow", "r_brow"))
U_LIP, L_LIP, NOSE = (CLASS_NAMES.index(name) for name in ("u_lip", "l_lip", "nose"))
ALIGNED = 256  # the aligned crop's side
CROP = 200  # the crop's side in photo pixels; it starts at (50, 40) of a 300 x 420 photo
WIDTH, HEIGHT = 300, 420


def photo_classes() -> np.ndarray:
    """The true classes of the photo: long hair that runs below the crop, a face with eyes,
    brows, nose and lips, a background."""
    classes = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.ellipse(classes, (150, 150), (80, 100), 0, 0, 360, HAIR, -1)
    classes[150:410, 70:230] = HAIR  # long hair, far past the crop's bottom (y 240)
    cv2.ellipse(classes, (150, 150), (50, 65), 0, 0, 360, SKIN, -1)
    for part, (x, y) in ((L_EYE, (130, 135)), (R_EYE, (170, 135))):
        cv2.ellipse(classes, (x, y), (9, 5), 0, 0, 360, part, -1)
    for part, x in ((L_BROW, 130), (R_BROW, 170)):
        classes[120:125, x - 11:x + 11] = part
    cv2.ellipse(classes, (150, 160), (7, 12), 0, 0, 360, NOSE, -1)
    classes[182:188, 135:165], classes[188:194, 137:163] = U_LIP, L_LIP
    return classes


COLOURS = {0: (40, 45, 50), HAIR: (60, 40, 25), SKIN: (215, 170, 140), L_EYE: (235, 235, 230), R_EYE: (235, 235, 230),
           L_BROW: (70, 50, 35), R_BROW: (70, 50, 35), NOSE: (210, 165, 135), U_LIP: (190, 90, 90),
           L_LIP: (190, 90, 90)}


def painted(classes: np.ndarray, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lut = np.zeros((256, 3), np.float32)
    for part, colour in COLOURS.items():
        lut[part] = colour
    pixels = lut[classes] + rng.normal(0, 3, classes.shape + (3,))
    return np.clip(pixels, 0, 255).astype(np.uint8)


def source_photo(pixels: np.ndarray) -> SourcePhoto:
    scale = ALIGNED / CROP
    return SourcePhoto(pixels, np.array([[scale, 0.0, -50 * scale], [0.0, scale, -40 * scale]]), ALIGNED)


def aligned_mask(photo: SourcePhoto, classes: np.ndarray) -> np.ndarray:
    return cv2.warpAffine(classes, photo.matrix, (ALIGNED, ALIGNED), flags=cv2.INTER_NEAREST,
                          borderMode=cv2.BORDER_REPLICATE)


def recoloured(classes: np.ndarray, part: int, mean: tuple[float, float, float], pixels: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    pixels = painted(classes) if pixels is None else pixels
    photo = source_photo(pixels)
    mask = aligned_mask(photo, classes)
    finish = Finish(mask, mask, frozenset({part}), colours={part: ColourTarget(np.array(mean, np.float32),
                                                                               np.ones(3, np.float32))})
    return pixels, recolour_photo(photo, mask, finish, None, ALIGNED)


def test_hair_past_the_aligned_crop_is_recoloured_like_the_hair_inside_it_with_no_seam():
    classes = photo_classes()
    photo = source_photo(painted(classes))
    parse = photo_parse(photo, aligned_mask(photo, classes), ALIGNED)
    assert (parse.classes[330:400, 100:200] == HAIR).mean() > 0.95  # the parse runs on past the crop
    before, after = recoloured(classes, HAIR, (75.0, 8.0, 30.0))  # dark brown → blonde
    hair = (classes == HAIR) & (cv2.erode((classes == HAIR).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0)
    lightness = to_lab(after)[..., 0]
    inside, past = hair.copy(), hair.copy()
    inside[240:], past[:260] = False, False  # the crop ends at y = 240
    assert lightness[inside].mean() > 65 and lightness[past].mean() > 65
    assert abs(lightness[inside].mean() - lightness[past].mean()) < 3
    # No straight edge where the crop ends: rows just inside and just past it look alike.
    assert np.abs(lightness[236, 80:220] - lightness[244, 80:220]).mean() < 3
    background = cv2.erode((classes == 0).astype(np.uint8), np.ones((41, 41), np.uint8)) > 0
    assert np.array_equal(after[background], before[background])  # far from the hair: the photo's bytes


def test_background_between_strands_at_the_hairs_edge_keeps_its_colour_and_gets_no_halo():
    classes = photo_classes()
    pixels = painted(classes)
    # Strands at the hair's right edge: the parse calls the whole fringe hair, gaps included.
    strands = np.zeros(classes.shape, bool)
    for x in range(230, 242, 6):
        strands[100:200, x:x + 2] = True
    fringe = np.zeros(classes.shape, bool)
    fringe[100:200, 230:242] = True
    light_background = (200, 205, 210)  # dark hair on a light wall
    pixels[classes == 0] = light_background
    pixels[fringe & ~strands] = light_background
    pixels[strands] = COLOURS[HAIR]
    parsed = classes.copy()
    parsed[fringe] = HAIR
    _, after = recoloured(parsed, HAIR, (85.0, 2.0, 15.0), pixels)  # dark brown → platinum
    change = np.abs(after.astype(int) - pixels.astype(int)).mean(axis=-1)
    gaps = fringe & ~cv2.dilate(strands.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    # The background between strands stays background (a gap right at the solid hair may take some).
    assert np.median(change[gaps]) < 3 and (change[gaps] < 5).mean() > 0.6
    assert change[strands].mean() > 40  # the strands take the colour
    beyond = np.zeros(classes.shape, bool)
    beyond[100:200, 245:255] = True  # the background just past the last strand
    assert change[beyond].mean() < 2


def test_a_skin_edit_leaves_the_eyes_brows_and_lips_as_they_were():
    classes = photo_classes()
    before, after = recoloured(classes, SKIN, (55.0, 22.0, 30.0))  # a fair skin given a tan
    skin = cv2.erode((classes == SKIN).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    assert to_lab(after)[skin][:, 0].mean() < to_lab(before)[skin][:, 0].mean() - 10
    for part in (L_EYE, R_EYE, L_BROW, R_BROW, U_LIP, L_LIP):
        core = cv2.erode((classes == part).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0  # 2 px in
        assert np.abs(after[core].astype(int) - before[core]).max() <= 2, CLASS_NAMES[part]


def test_a_grey_skin_from_a_desaturated_photo_is_moved_into_the_range_of_real_skins():
    grey = np.array([70.0, 2.0, 5.0], np.float32)  # a pale skin in a moody, desaturated photo: chroma 5
    skin = real_skin(grey, own=np.array([68.0, 14.0, 20.0], np.float32))
    assert np.hypot(skin[1], skin[2]) >= SKIN_CHROMA_MIN - 1e-3 and skin[0] == grey[0]
    # In a black-and-white photo the photo's own grey skin is the range: the edit stays grey.
    assert np.hypot(*real_skin(grey, own=np.array([68.0, 1.0, 1.0], np.float32))[1:]) < 6
    # A green cast is no skin hue: it turns towards a skin's.
    greenish = real_skin(np.array([60.0, -10.0, 20.0], np.float32), own=None)
    assert greenish[1] > 0


def test_the_white_of_a_face_photo_is_the_colour_of_its_light():
    classes = photo_classes()[40:240, 50:250]  # the face alone, 200 x 200
    neutral = painted(classes)
    # Cold light: a white balance off towards blue (gains in linear light, as a camera's).
    cast = np.clip(srgb(linear_rgb(neutral) * np.array([0.8, 0.95, 1.25])) + 0.5, 0, 255).astype(np.uint8)
    white_neutral, white_cast = white_point(neutral, classes), white_point(cast, classes)
    assert white_neutral is not None and white_cast is not None
    assert white_cast[2] / white_cast.mean() > white_neutral[2] / white_neutral.mean() + 0.2  # bluer
    closed = classes.copy()
    closed[np.isin(closed, (L_EYE, R_EYE))] = SKIN  # eyes closed, mouth shut: no white to tell by
    assert white_point(neutral, closed) is None


def test_the_skin_between_the_brows_hairs_takes_a_skin_edit_and_the_hairs_do_not():
    classes = photo_classes()
    pixels = painted(classes)
    brow = classes == L_BROW
    hairs = brow.copy()
    hairs[:, ::3] = False  # every third column of the brow is skin showing between its hairs
    pixels[brow & ~hairs] = COLOURS[SKIN]
    before, after = recoloured(classes, SKIN, (45.0, 20.0, 28.0), pixels)  # a fair skin given a dark one
    change = np.abs(after.astype(int) - before.astype(int)).mean(axis=-1)
    skin = cv2.erode((classes == SKIN).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    assert change[brow & ~hairs].mean() > 0.7 * change[skin].mean()  # no light band where the brows are
    assert change[hairs].mean() < 0.2 * change[skin].mean()  # the hairs keep their colour


def framed_case(name: str) -> tuple[SourcePhoto, np.ndarray, np.ndarray]:
    """A framed photo of the test fixtures (a validation face cropped as people crop), its true
    classes at the photo's framing, and its face's classes in the aligned crop."""
    folder = Path(__file__).parent / "fixtures" / "framed"
    record = next(photo for photo in json.loads((folder / "photos.json").read_text())["photos"]
                  if photo["name"] == name)
    pixels = np.array(Image.open(folder / f"{name}.jpg").convert("RGB"))
    classes = np.array(Image.open(folder / f"{name}.png"))
    to_aligned = cv2.invertAffineTransform(np.array(record["face_to_photo"], np.float64))
    photo = SourcePhoto(pixels, to_aligned, 512)
    aligned = cv2.warpAffine(classes, to_aligned, (512, 512), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
    return photo, classes, aligned


def test_a_fringe_cut_by_the_frame_is_recoloured_up_to_the_frame():
    photo, classes, mask = framed_case("tight-dark-fringe-small")  # dark hair, a fringe at the top of the frame
    finish = Finish(mask, mask, frozenset({HAIR}), colours={HAIR: ColourTarget(np.array([72.0, 8.0, 28.0], np.float32),
                                                                               np.ones(3, np.float32))})
    after = recolour_photo(photo, mask, finish, None, 512)
    before_l, after_l = to_lab(photo.pixels)[..., 0], to_lab(after)[..., 0]
    # The fixture's true mask takes in a strip of the light arm and wall beside the hair; the
    # hair is its dark pixels (recolouring the arm is no merit).
    hair = (cv2.erode((classes == HAIR).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0) & (before_l < 45)
    moved = (after_l - before_l)[hair]
    assert (moved < 0.5 * (72.0 - before_l[hair].mean())).mean() < 0.1  # under a tenth of the hair left behind
    top = hair.copy()
    top[12:] = False
    assert top.sum() > 50 and after_l[top].mean() > 55  # the hair at the frame's edge too: no box
    far = cv2.dilate((classes == HAIR).astype(np.uint8), np.ones((61, 61), np.uint8)) == 0
    assert np.array_equal(after[far], photo.pixels[far])  # away from the hair: the photo's own bytes


def test_light_hair_on_a_dark_background_given_dark_hair_leaves_the_background_dark():
    photo, classes, mask = framed_case("dark-bg-blonde-small")
    finish = Finish(mask, mask, frozenset({HAIR}), colours={HAIR: ColourTarget(np.array([22.0, 6.0, 10.0], np.float32),
                                                                               np.ones(3, np.float32))})
    after = recolour_photo(photo, mask, finish, None, 512)
    change = np.abs(after.astype(int) - photo.pixels.astype(int)).mean(axis=-1)
    hair = (classes == HAIR).astype(np.uint8)
    outside = cv2.distanceTransform(1 - hair, cv2.DIST_L2, 3)
    band = (classes == 0) & (outside > 3) & (outside <= 12)  # the background next to the hair
    assert band.sum() > 200 and change[band].mean() < 5  # no haze, no rim
    inner = cv2.erode(hair, np.ones((5, 5), np.uint8)) > 0
    assert change[inner].mean() > 40  # the hair took the new colour


def test_a_restyle_with_a_reshape_recolours_the_hair_and_leaves_only_the_nose_to_the_network():
    classes = photo_classes()
    pixels = painted(classes)
    photo = source_photo(pixels)
    mask = aligned_mask(photo, classes)
    target = {HAIR: ColourTarget(np.array([75.0, 8.0, 30.0], np.float32), np.ones(3, np.float32))}
    moved = mask.copy()
    moved[moved == NOSE] = CLASS_NAMES.index("skin")
    moved[np.roll(mask == NOSE, 6, axis=0)] = NOSE  # the nose six pixels lower
    grey = np.full((64, 64, 3), 128, np.uint8)  # the network's face: nothing of it may land on the hair
    both = paste_edit(photo, mask, mask, grey, Finish(mask, mask, frozenset({HAIR}), {NOSE: moved}, target))
    style_only = paste_edit(photo, mask, mask, grey, Finish(mask, mask, frozenset({HAIR}), colours=target))
    hair = cv2.erode((classes == HAIR).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    near_nose = cv2.dilate((classes == NOSE).astype(np.uint8), np.ones((61, 61), np.uint8)) > 0
    assert np.array_equal(both[hair & ~near_nose], style_only[hair & ~near_nose])  # recoloured, not generated
    assert not np.array_equal(both[near_nose], pixels[near_nose])  # the nose's new shape is pasted


def test_black_hair_on_a_black_background_keeps_its_colour_off_the_background_the_parse_strays_over():
    """Black hair on a nearly black wall given blonde, the parse wider than the hair all
    round (4 px, as a parser's strays where it cannot see the edge): the wall next to the hair stays black
    (the colours cannot tell the two apart, so the new colour fades in inside the parse's
    edge instead of stopping hard on it), and the hair itself turns blonde."""
    classes = photo_classes()
    rng = np.random.default_rng(4)
    pixels = painted(classes)
    for part, colour in ((HAIR, (22, 19, 18)), (0, (12, 13, 16))):  # colours too close to tell apart
        pixels[classes == part] = np.clip(rng.normal(colour, 2.0, ((classes == part).sum(), 3)), 0, 255)
    hair = (classes == HAIR).astype(np.uint8)
    parsed = classes.copy()
    parsed[(cv2.dilate(hair, np.ones((9, 9), np.uint8)) > 0) & (classes == 0)] = HAIR  # 4 px over the wall
    _, after = recoloured(parsed, HAIR, (70.0, 5.0, 25.0), pixels)
    change = np.abs(cv2.cvtColor(after, cv2.COLOR_RGB2GRAY).astype(float)
                    - cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY).astype(float))
    outside = cv2.distanceTransform(1 - hair, cv2.DIST_L2, 3)
    band = (classes == 0) & (outside > 2) & (outside <= 12)  # the wall next to the hair
    assert change[band].mean() < 5  # under the measure's limit for a halo or a spill
    inner = cv2.erode(hair, np.ones((25, 25), np.uint8)) > 0
    assert to_lab(after)[inner][:, 0].mean() > 55  # the hair is blonde


def test_black_hair_made_blonde_keeps_its_light_and_shade():
    """Black hair as it is: most of it a few levels above black, a thin sheen. Given a blonde
    whose lightness spreads 12 CIELAB units, the bulk of the new hair spreads too (its
    interquartile range; an affine change keeps the bulk at one lightness, a flat wash),
    lighter where the photo's hair was lighter, and its mean is the blonde's."""
    classes = photo_classes()
    pixels = painted(classes)
    hair = classes == HAIR
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH]
    sheen = (0.5 + 0.5 * np.sin(cols / 9.0) * np.cos(rows / 23.0)) ** 3  # mostly dark, a few light streaks
    shade = 4.0 + 56.0 * sheen  # grey levels 4..60
    pixels[hair] = np.clip(shade[hair][:, None] * [1.0, 0.9, 0.8], 0, 255).astype(np.uint8)
    photo = source_photo(pixels)
    mask = aligned_mask(photo, classes)
    own = to_lab(pixels)[hair][:, 0]
    wanted_spread = 12.0
    target = ColourTarget(np.array([65.0, 6.0, 24.0], np.float32),
                          np.array([wanted_spread / own.std(), 1.0, 1.0], np.float32))
    after = recolour_photo(photo, mask, Finish(mask, mask, frozenset({HAIR}), colours={HAIR: target}), None, ALIGNED)
    inner = cv2.erode(hair.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
    before_l, after_l = to_lab(pixels)[inner][:, 0], to_lab(after)[inner][:, 0]
    quartiles = np.percentile(after_l, [25, 75])
    assert quartiles[1] - quartiles[0] > 0.6 * 1.35 * wanted_spread  # a normal spread's IQR is 1.35 of it
    assert abs(after_l.mean() - 65.0) < 4
    assert np.corrcoef(before_l, after_l)[0, 1] > 0.9  # the light and shade are the photo's own
