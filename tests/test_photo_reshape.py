"""A hair shape edit in a photo (model/photo/reshape.py through Finish): the kept hair is the
photo's own, grown hair has the photo hair's strands and colour whatever the network paints,
vacated hair shows the background, and an object in front of the face is never painted over."""

from __future__ import annotations

import cv2
import numpy as np

from ca2sis.model.labels import BACKGROUND, CLASS_NAMES
from ca2sis.model.photo.finish import Finish, finish_image
from ca2sis.model.photo.reshape import non_face_objects

SIDE = 256
GENERATED = 64
HAIR, SKIN, NOSE = (CLASS_NAMES.index(name) for name in ("hair", "skin", "nose"))
BACKDROP = (90, 110, 140)
HAIR_COLOUR = (95, 62, 40)
PERIOD = 6  # the strands' spacing, in pixels


def ellipse(cy: int, cx: int, ry: int, rx: int) -> np.ndarray:
    rows, cols = np.mgrid[0:SIDE, 0:SIDE]
    return ((rows - cy) / ry) ** 2 + ((cols - cx) / rx) ** 2 <= 1


def photo_and_mask(hair: np.ndarray, texture: str = "stripes", seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A photo-like picture: a grainy backdrop, a face (skin, a nose) and ``hair`` (vertical
    strands of ``PERIOD`` px, or fine noise), with its class mask."""
    rng = np.random.default_rng(seed)
    face = ellipse(150, 128, 70, 55)
    mask = np.full((SIDE, SIDE), BACKGROUND, np.uint8)
    mask[face] = SKIN
    mask[ellipse(160, 128, 12, 8)] = NOSE
    mask[hair & ~(face & (np.mgrid[0:SIDE, 0:SIDE][0] > 110))] = HAIR
    grain = cv2.GaussianBlur(rng.normal(0, 1, (SIDE, SIDE)).astype(np.float32), (0, 0), 0.8)
    image = np.empty((SIDE, SIDE, 3), np.float32)
    image[:] = BACKDROP
    image[mask == SKIN] = (220, 180, 150)
    image[mask == NOSE] = (210, 165, 140)
    if texture == "stripes":
        strands = 30 * np.sin(2 * np.pi * np.arange(SIDE) / PERIOD)[None, :] + 4 * grain
    else:
        strands = 25 * grain / grain.std()
    image[mask == HAIR] = np.array(HAIR_COLOUR, np.float32) + strands[mask == HAIR][:, None]
    image += 3 * grain[..., None] * (mask != HAIR)[..., None]
    return np.clip(image + 0.5, 0, 255).astype(np.uint8), mask


def network_face(mask: np.ndarray, hair: np.ndarray) -> np.ndarray:
    """What a small network paints for the new layout: flat, soft, the hair a wrong purple-grey
    and the old hair's place a pinkish wash (the faults the finish must not show)."""
    image = np.empty((SIDE, SIDE, 3), np.float32)
    image[:] = (200, 160, 165)
    image[mask == SKIN] = (220, 180, 150)
    image[hair] = (120, 105, 130)
    small = cv2.resize(cv2.GaussianBlur(image, (0, 0), 3), (GENERATED, GENERATED), interpolation=cv2.INTER_AREA)
    return np.clip(small + 0.5, 0, 255).astype(np.uint8)


def shape_edit(old_hair: np.ndarray, new_hair: np.ndarray, texture: str = "stripes",
               hand: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(photo, its mask, the asked mask, the edited photo) of a hair shape edit."""
    photo, mask = photo_and_mask(old_hair, texture)
    if hand is not None:  # an object in front of the face: the parser leaves it background
        mask[hand] = BACKGROUND
        photo[hand] = (40, 200, 60)
    after, result = reshaped_hair(photo, mask, new_hair)
    return photo, mask, after, result


def reshaped_hair(photo: np.ndarray, mask: np.ndarray, new_hair: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the hair asked for at the photo's side, the edited photo) of ``photo``'s hair (``mask``)
    given the shape ``new_hair``, the old hair's place skin."""
    asked = mask.copy()
    asked[asked == HAIR] = SKIN
    asked[new_hair] = HAIR
    small = cv2.resize(asked, (GENERATED * 2, GENERATED * 2), interpolation=cv2.INTER_NEAREST)  # as the engine loads it
    finish = Finish(original_mask=mask, edited_mask=mask, reshaped={HAIR: small})
    after = finish.part_after(HAIR, SIDE)
    return after, finish_image(network_face(mask, after), photo, finish)


def eroded(region: np.ndarray, pixels: int = 4) -> np.ndarray:
    return cv2.erode(region.astype(np.uint8), np.ones((2 * pixels + 1,) * 2, np.uint8)) > 0


def lab_mean(image: np.ndarray, region: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)[region].mean(axis=0)


CAP = ellipse(120, 128, 95, 85) & (np.mgrid[0:SIDE, 0:SIDE][0] < 175)  # hair down to the jaw
SHORT = ellipse(120, 128, 95, 85) & (np.mgrid[0:SIDE, 0:SIDE][0] < 80)  # only the crown
FULL = ellipse(128, 128, 118, 112) & (np.mgrid[0:SIDE, 0:SIDE][0] < 200)  # fuller and longer


def test_vacated_hair_takes_the_background_colour_and_the_rest_is_the_photo_own():
    """Hair made shorter: where it left by the sides of the face the backdrop continues (its
    colour, not the network's pinkish wash); the kept hair and everything away from the edit
    are the photo's own bytes (but along the new hairline, where the hair thins out over a few
    pixels)."""
    photo, mask, after, result = shape_edit(CAP, SHORT)
    vacated = eroded((mask == HAIR) & ~after & (mask != SKIN)) & ~ellipse(150, 128, 80, 65)
    assert vacated.sum() > 1000
    distance = np.linalg.norm(lab_mean(result, vacated) - lab_mean(photo, mask == BACKGROUND))
    assert distance < 4, f"vacated pixels are {distance:.1f} ΔE from the backdrop"
    kept = eroded((mask == HAIR) & after, 5)
    assert np.array_equal(result[kept], photo[kept])
    far = ~cv2.dilate(((mask == HAIR) | after).astype(np.uint8), np.ones((31, 31), np.uint8)).astype(bool)
    assert np.array_equal(result[far], photo[far])


def test_grown_hair_has_the_photo_hair_strands_and_colour_not_the_network_s():
    """Hair made fuller: the new hair's strands have the photo hair's spacing (its FFT peak at
    the same period), its contrast, and its colour, though the network painted it flat purple-grey."""
    photo, mask, after, result = shape_edit(CAP, FULL)
    grown = eroded(after & (mask != HAIR), 3)
    assert grown.sum() > 3000
    colour = np.linalg.norm(lab_mean(result, grown) - lab_mean(photo, eroded(mask == HAIR)))
    assert colour < 6, f"new hair is {colour:.1f} ΔE from the photo's hair"
    # A band of new hair below the old ends: rows 180..196, columns inside the grown region.
    rows = slice(180, 196)
    columns = np.flatnonzero(grown[rows].all(axis=0))
    run = max((np.split(columns, np.flatnonzero(np.diff(columns) > 1) + 1)), key=len)
    assert len(run) >= 32
    grey = result[rows, run[0]:run[-1] + 1].mean(axis=2).astype(np.float32)
    profile = grey.mean(axis=0) - grey.mean()
    spectrum = np.abs(np.fft.rfft(profile * np.hanning(len(profile))))
    peak = np.argmax(spectrum[1:]) + 1
    assert abs(len(profile) / peak - PERIOD) < 1.0, f"strands every {len(profile) / peak:.1f} px, not {PERIOD}"
    own = photo[eroded(mask == HAIR)].mean(axis=1).std()
    assert result[grown].mean(axis=1).std() > 0.6 * own


def repeated_blocks(image: np.ndarray, region: np.ndarray, source: np.ndarray, block: int = 24) -> int:
    """How many pairs of disjoint block x block squares of ``image`` inside ``region`` copy
    (normalised correlation > 0.9) the same place of ``source``: a repeated tile."""
    grey, source = image.mean(axis=2).astype(np.float32), source.mean(axis=2).astype(np.float32)
    copies = []
    for top in range(0, SIDE - block, 8):
        for left in range(0, SIDE - block, 8):
            if not region[top:top + block, left:left + block].all():
                continue
            scores = cv2.matchTemplate(source, np.ascontiguousarray(grey[top:top + block, left:left + block]),
                                       cv2.TM_CCOEFF_NORMED)
            _, best, _, (x, y) = cv2.minMaxLoc(scores)
            if best > 0.9:
                copies.append((top, left, y, x))
    return sum(1 for i, a in enumerate(copies) for b in copies[i + 1:]
               if abs(a[2] - b[2]) < 4 and abs(a[3] - b[3]) < 4 and max(abs(a[0] - b[0]), abs(a[1] - b[1])) >= block)


def test_grown_hair_repeats_no_tile_of_the_exemplar():
    """Fuller hair of fine grain: no two disjoint 24 px squares of the new hair copy the same
    place of the photo's hair (a repeated tile would show as a pattern); the check itself
    catches the photo's hair tiled over the same region. The grain is kept, not blurred."""
    photo, mask, after, result = shape_edit(CAP, FULL, texture="noise")
    grown = eroded(after & (mask != HAIR), 2)
    assert repeated_blocks(result, grown, photo) == 0
    tiled = result.copy()
    tiled[grown] = np.tile(photo[30:78, 90:166], (6, 4, 1))[:SIDE, :SIDE][grown]
    assert repeated_blocks(tiled, grown, photo) > 0
    own = photo[eroded(mask == HAIR)].mean(axis=1).std()
    assert result[grown].mean(axis=1).std() > 0.6 * own


def test_an_object_in_front_of_the_face_is_never_painted_over():
    """A hand on the forehead (background in the parsed mask, enclosed by the face) stays
    exactly as it is, whether the hair grows over it or leaves it."""
    hand = ellipse(75, 150, 12, 20)
    assert non_face_objects(np.where(hand, BACKGROUND, np.where(CAP, HAIR, SKIN)).astype(np.uint8))[hand].all()
    for new_hair in (FULL, SHORT):
        photo, mask, _, result = shape_edit(CAP, new_hair, hand=hand)
        assert np.array_equal(result[hand], photo[hand])


def test_grown_hair_takes_the_texture_of_the_exemplar_it_is_given():
    """A part restyled from a reference and reshaped takes its grown pixels' strands from the
    exemplar the finish is given (the reference's part): its spacing, not the photo's."""
    photo, mask = photo_and_mask(CAP)
    reference = np.empty_like(photo)
    reference[:] = (60, 45, 35)
    reference = np.clip(reference + 40 * np.sin(2 * np.pi * np.arange(SIDE) / 11)[None, :, None], 0, 255)
    asked = mask.copy()
    asked[FULL] = HAIR
    small = cv2.resize(asked, (GENERATED * 2, GENERATED * 2), interpolation=cv2.INTER_NEAREST)
    finish = Finish(original_mask=mask, edited_mask=mask, reshaped={HAIR: small},
                    exemplars={HAIR: (reference.astype(np.uint8), ellipse(128, 128, 100, 100))})
    result = finish_image(network_face(mask, finish.part_after(HAIR, SIDE)), photo, finish)
    grown = eroded(finish.part_after(HAIR, SIDE) & (mask != HAIR), 3)
    columns = np.flatnonzero(grown[180:196].all(axis=0))
    run = max((np.split(columns, np.flatnonzero(np.diff(columns) > 1) + 1)), key=len)
    profile = result[180:196, run[0]:run[-1] + 1].mean(axis=(0, 2))
    profile = profile - profile.mean()
    spectrum = np.abs(np.fft.rfft(profile * np.hanning(len(profile))))
    period = len(profile) / (np.argmax(spectrum[1:]) + 1)
    assert abs(period - 11) < 2, f"strands every {period:.1f} px, not the exemplar's 11"


def test_what_lies_behind_hair_is_the_forehead_under_new_hair_and_the_background_beside_the_head():
    """Hair taken back from the face: between the new hair and the brows lies the forehead (no
    band of background inside the head), beside the head the background, and never skin by the
    side of the face where the hair hung."""
    from ca2sis.model.photo.reshape import behind

    mask = np.full((SIDE, SIDE), BACKGROUND, np.uint8)
    mask[ellipse(150, 128, 70, 55)] = SKIN
    mask[ellipse(160, 128, 12, 8)] = NOSE
    mask[ellipse(125, 105, 4, 14)] = CLASS_NAMES.index("l_brow")
    mask[ellipse(125, 151, 4, 14)] = CLASS_NAMES.index("r_brow")
    old = CAP & (mask == BACKGROUND) | (CAP & (np.mgrid[0:SIDE, 0:SIDE][0] < 110))
    mask[old] = HAIR
    after = np.zeros((SIDE, SIDE), bool)
    after[:40] = CAP[:40]  # only a crown of hair is left
    classes = behind(mask, HAIR, after)
    assert classes[95, 128] == SKIN  # the forehead, under the crown and above the brows
    assert classes[60, 128] == SKIN  # the scalp between the crown and the forehead
    assert classes[150, 55] == BACKGROUND  # beside the face, where the hair hung


def test_a_live_frame_leaves_a_reshaped_hair_to_the_network_and_the_frame_after_release_remakes_it():
    """While a shape slider moves the frame must come quickly: no full-resolution re-making
    (about 0.8 s at 512 px); the frame drawn at release re-makes the hair from the photo's own."""
    photo, mask = photo_and_mask(CAP)
    asked = mask.copy()
    asked[asked == HAIR] = SKIN
    asked[FULL] = HAIR
    small = cv2.resize(asked, (GENERATED * 2, GENERATED * 2), interpolation=cv2.INTER_NEAREST)
    live = Finish(original_mask=mask, edited_mask=mask, reshaped={HAIR: small}, remake=False)
    released = Finish(original_mask=mask, edited_mask=mask, reshaped={HAIR: small})
    assert live.remade_parts(SIDE) == [] and released.remade_parts(SIDE) == [HAIR]
    network = network_face(mask, released.part_after(HAIR, SIDE))
    grown = eroded(released.part_after(HAIR, SIDE) & (mask != HAIR), 3)
    own = lab_mean(photo, eroded(mask == HAIR))
    live_colour = np.linalg.norm(lab_mean(finish_image(network, photo, live), grown) - own)
    released_colour = np.linalg.norm(lab_mean(finish_image(network, photo, released), grown) - own)
    assert released_colour < 6 < live_colour


def test_hair_that_hung_past_a_shoulder_leaves_the_background_not_a_patch_of_clothes():
    """Long hair made shorter: beside the head and above the shoulder's line lies the
    background; only just along the parsed clothes are they continued (the shoulder hidden)."""
    from ca2sis.model.photo.reshape import behind

    cloth = CLASS_NAMES.index("cloth")
    mask = np.full((SIDE, SIDE), BACKGROUND, np.uint8)
    mask[ellipse(110, 128, 60, 45)] = SKIN
    mask[210:, 40:216] = cloth  # the shoulders, seen below the hair
    columns = np.mgrid[0:SIDE, 0:SIDE][1]
    hair = (columns >= 40) & (columns < 100) & (np.arange(SIDE) >= 90)[:, None]
    mask[hair & (mask == BACKGROUND)] = HAIR  # a thick lock hanging beside the face down to the shoulder
    classes = behind(mask, HAIR, np.zeros((SIDE, SIDE), bool))
    assert classes[208, 62] == cloth  # just above the clothes: the hidden shoulder
    # Higher up, though nearer the clothes than the lock's outer edge: the background, not clothes.
    assert classes[200, 62] == BACKGROUND
    assert classes[150, 62] == BACKGROUND


def test_hair_made_fuller_leaves_no_line_along_the_old_outline():
    """The old hair's edge pixels are hair mixed with the backdrop (a lighter, bluer rim): where
    the hair grows past them they are re-made with the new hair, not left as a thin line
    tracing the old outline inside it."""
    photo, mask = photo_and_mask(CAP)
    hair = mask == HAIR
    rim = hair & ~eroded(hair, 2) & cv2.dilate((mask == BACKGROUND).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    photo[rim] = (93, 86, 90)  # half hair, half backdrop
    after, result = reshaped_hair(photo, mask, FULL)
    inside = rim & eroded(after, 6)  # the old rim, now well inside the new hair
    assert inside.sum() > 200
    new_hair = eroded(after & ~hair, 4)
    line = np.linalg.norm(lab_mean(result, inside) - lab_mean(result, new_hair))
    assert line < 6, f"the old outline shows {line:.1f} ΔE from the new hair round it"


def forehead_photo() -> tuple[np.ndarray, np.ndarray]:
    """A photo whose fringe covers the forehead (down to row 110), with brows, skin of a
    visible grain, and the fringe's shadow darkening the skin just below it (rows 110..118)."""
    photo, mask = photo_and_mask(CAP)
    mask[ellipse(125, 105, 4, 14)] = CLASS_NAMES.index("l_brow")
    mask[ellipse(125, 151, 4, 14)] = CLASS_NAMES.index("r_brow")
    photo[np.isin(mask, (CLASS_NAMES.index("l_brow"), CLASS_NAMES.index("r_brow")))] = (120, 85, 60)
    grain = cv2.GaussianBlur(np.random.default_rng(3).normal(0, 1, (SIDE, SIDE)).astype(np.float32), (0, 0), 0.8)
    skin = mask == SKIN
    lit = photo.astype(np.float32) + (6 * grain / grain.std())[..., None] * skin[..., None]
    rows = np.arange(SIDE)[:, None]
    lit[skin & (rows >= 110) & (rows < 118)] -= 20  # the fringe's shadow
    return np.clip(lit + 0.5, 0, 255).astype(np.uint8), mask


def forehead_edit() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(photo, its mask, the asked hair, the result) of the fringe taken back to the crown."""
    photo, mask = forehead_photo()
    asked = mask.copy()
    asked[asked == HAIR] = SKIN
    asked[SHORT] = HAIR
    small = cv2.resize(asked, (GENERATED * 2, GENERATED * 2), interpolation=cv2.INTER_NEAREST)
    finish = Finish(original_mask=mask, edited_mask=mask, reshaped={HAIR: small})
    after = finish.part_after(HAIR, SIDE)
    return photo, mask, after, finish_image(network_face(mask, after), photo, finish)


def grey(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32).mean(axis=2)


def test_a_vacated_forehead_continues_the_lit_skin_with_its_grain_and_no_edge():
    """A fringe taken back: the bare forehead has the skin's grain (not a flat patch), the tone
    of the lit skin below (not of the fringe's shadow, continued up as a dark patch), and no
    step where it meets the photo's own skin."""
    photo, mask, after, result = forehead_edit()
    columns = slice(100, 157)  # between the brows' outer ends
    fill = grey(result)[88:106, columns]
    lit_skin = grey(photo)[122:130, 120:137]  # between the brows, below the shadow
    assert abs(fill.mean() - lit_skin.mean()) < 4, f"forehead {fill.mean():.1f}, lit skin {lit_skin.mean():.1f}"

    def grain(values: np.ndarray) -> float:
        return float((values - cv2.GaussianBlur(values, (0, 0), 2.0)).std())

    assert grain(fill) > 0.5 * grain(grey(photo)[135:150, 100:118]), "the forehead is a flat patch"
    # Row by row down the forehead between the brows, across the old hairline and its shadow:
    # no step larger than the grain makes between two rows of the photo's own skin.
    between_brows = slice(120, 137)
    profile = grey(result)[84:135, between_brows].mean(axis=1)
    steps = np.abs(np.diff(profile))
    own_steps = np.abs(np.diff(grey(photo)[135:150, between_brows].mean(axis=1)))
    assert steps.max() < 3 * own_steps.max() + 1, f"a step of {steps.max():.1f} across the forehead"


def test_grown_hair_fades_into_the_backdrop_like_hair_not_a_cut():
    """Hair made fuller: its new outer edge against the backdrop takes more than a pixel to go
    from hair to backdrop, and where it is half hair does not follow the asked outline (a cut
    out and pasted shape would: a blurred outline is the outline)."""
    photo, mask, after, result = shape_edit(CAP, FULL, texture="noise")
    hair_blue, backdrop_blue = float(HAIR_COLOUR[2]), float(BACKDROP[2])
    # The share of hair in the blue channel (backdrop 140, hair 40: the noise moves it a little).
    share = np.clip((backdrop_blue - result[..., 2].astype(np.float32)) / (backdrop_blue - hair_blue), 0.0, 1.0)
    profiles, offsets = [], []
    for row in range(130, 195, 2):  # the left side of the grown hair, beside the face
        columns = np.flatnonzero(after[row, :64] & (mask[row, :64] == BACKGROUND))
        if not len(columns):
            continue
        outline = columns[0]  # the asked outline: backdrop left of it, hair right of it
        profiles.append(share[row, outline - 10:outline + 10])
        smooth = cv2.GaussianBlur(share[row - 1:row + 2, outline - 10:outline + 10], (0, 0), 0.7)[1]
        offsets.append(int(np.argmax(smooth > 0.5)) - 10)
    assert len(profiles) > 20
    # Along the outline on average (the hair's own grain averaged out): a cut goes from no hair to
    # most of it in a pixel (it did: 0 to 0.71); a hair's edge over several.
    mean = np.mean(profiles, axis=0)
    width = int(((mean > 0.1) & (mean < 0.7)).sum())
    assert width >= 3, f"the edge goes from backdrop to hair over {width} px"
    assert np.std(offsets) > 0.7, "the half-hair line follows the asked outline: a cut"



def test_a_narrow_strip_between_new_hair_and_the_cheek_is_skin_not_a_dark_band():
    """Hair that hung over the cheek, down past the jaw, pulled back a little: the strip it
    leaves between the new hair and the face shows the cheek going on (skin), not a band of
    background along the face (a dark halo); hair taken away wholly leaves the background there."""
    from ca2sis.model.photo.reshape import behind

    mask = np.full((SIDE, SIDE), BACKGROUND, np.uint8)
    mask[ellipse(150, 128, 70, 55)] = SKIN
    mask[ellipse(160, 135, 12, 8)] = NOSE
    mask[ellipse(125, 125, 4, 8)] = CLASS_NAMES.index("l_brow")
    mask[ellipse(125, 150, 4, 8)] = CLASS_NAMES.index("r_brow")
    mask[ellipse(185, 135, 5, 14)] = CLASS_NAMES.index("u_lip")
    columns = np.mgrid[0:SIDE, 0:SIDE][1]
    mask[(columns > 30) & (columns < 110)] = HAIR  # over the face's left side, top to bottom
    pulled_back = behind(mask, HAIR, (columns > 30) & (columns < 102))
    gone = behind(mask, HAIR, np.zeros((SIDE, SIDE), bool))
    for row in (140, 160, 175):  # between the brows and the lips
        assert (pulled_back[row, 103:110] == SKIN).all()
        assert (gone[row, 100:108] == BACKGROUND).all()


def test_a_head_whose_hair_all_went_is_rounded_not_flat_topped():
    """All the hair taken away: the forehead the fringe hid is rounded at the top like a head,
    not cut off by a flat line as wide as half the forehead."""
    from ca2sis.model.photo.reshape import behind

    mask = np.full((SIDE, SIDE), BACKGROUND, np.uint8)
    mask[ellipse(150, 128, 70, 55)] = SKIN
    mask[ellipse(160, 128, 12, 8)] = NOSE
    mask[ellipse(125, 105, 4, 14)] = CLASS_NAMES.index("l_brow")
    mask[ellipse(125, 151, 4, 14)] = CLASS_NAMES.index("r_brow")
    mask[CAP & (np.mgrid[0:SIDE, 0:SIDE][0] < 115)] = HAIR
    skin = behind(mask, HAIR, np.zeros((SIDE, SIDE), bool)) == SKIN
    rows = np.flatnonzero(skin.any(axis=1))
    top_width = int(skin[rows[0]].sum())
    brows_width = 165 - 91
    assert top_width < 0.25 * brows_width, f"the head's top is a flat line {top_width} px wide"


def test_a_few_lit_strands_are_not_stamped_as_light_streaks_over_grown_dark_hair():
    """Dark hair of fine grain with a few lit strands (one pixel column in 23, much lighter)
    made fuller: the grown hair keeps the hair's grain, but the lit strands are not stamped
    about it as light streaks (its lightest pixels stay near the grain, not at the lit strands'
    lightness)."""
    photo, mask = photo_and_mask(CAP, texture="noise")
    hair = mask == HAIR
    mean = photo[hair].astype(np.float32).mean(axis=0)
    photo[hair] = np.clip(mean + 0.4 * (photo[hair] - mean) + 0.5, 0, 255).astype(np.uint8)
    lit = hair & (np.arange(SIDE) % 23 == 0)[None, :]
    photo[lit] = np.clip(photo[lit].astype(np.int16) + 110, 0, 255).astype(np.uint8)
    after, result = reshaped_hair(photo, mask, FULL)
    grown = eroded(after & ~hair, 3)
    assert grown.sum() > 3000
    grey = result[grown].mean(axis=1)
    own = photo[eroded(hair) & ~grow_columns(lit)].mean(axis=1)
    excess = np.percentile(grey, 99.5) - np.median(grey)
    assert excess < 0.5 * 110, f"the grown hair's lightest pixels are {excess:.0f} above its median"
    assert 0.5 * own.std() < grey.std() < 1.5 * own.std(), f"grain {grey.std():.1f}, the hair's {own.std():.1f}"


def grow_columns(region: np.ndarray) -> np.ndarray:
    return cv2.dilate(region.astype(np.uint8), np.ones((1, 3), np.uint8)) > 0
