"""Finishing a generated face against the photo: confinement, detail, reference colour, no box edges."""

from __future__ import annotations

import cv2
import numpy as np

from ca2sis.model.inference.shapes import composite_mask
from ca2sis.model.labels import CLASS_NAMES
from ca2sis.model.photo.colour import colour_target, part_colour, to_lab
from ca2sis.model.photo.finish import Finish, finish_image
from ca2sis.model.photo.paste import paste_back
from ca2sis.model.photo.regions import edited_region
from ca2sis.model.photo.source import SourcePhoto

from photo_cases import photo_region

HAIR, SKIN, NOSE, L_EYE = (CLASS_NAMES.index(name) for name in ("hair", "skin", "nose", "l_eye"))
SIDE = 128


def face_mask() -> np.ndarray:
    mask = np.zeros((SIDE, SIDE), np.uint8)
    cv2.ellipse(mask, (64, 70), (40, 50), 0, 0, 360, SKIN, -1)
    mask[10:40, 20:108][mask[10:40, 20:108] == 0] = HAIR
    mask[14:30, 30:98] = HAIR
    cv2.ellipse(mask, (64, 78), (6, 12), 0, 0, 360, NOSE, -1)
    return mask


def textured(side: int = SIDE, seed: int = 0, colour=(120, 90, 70), amount: float = 40) -> np.ndarray:
    """A flat colour with fine, strong texture (strands, pores) on it."""
    noise = np.random.default_rng(seed).normal(0, amount, (side, side, 1))
    return np.clip(np.array(colour, np.float32) + noise, 0, 255).astype(np.uint8)


def laplacian_energy(image: np.ndarray, inside: np.ndarray) -> float:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float((cv2.Laplacian(grey, cv2.CV_32F, ksize=1)[inside] ** 2).mean())


def test_a_style_edit_changes_nothing_outside_the_parts_grown_region():
    mask = face_mask()
    base = textured(seed=1)
    generated = textured(64, seed=2, colour=(200, 40, 160))
    finish = Finish(mask, mask, frozenset({HAIR}))
    out = finish_image(generated, base, finish)
    region = edited_region(mask, mask, {HAIR})
    assert np.array_equal(out[~region], base[~region])  # byte for byte
    assert np.abs(out[mask == HAIR].astype(int) - base[mask == HAIR]).mean() > 10
    # Unconfined (the network's whole face), the skin changes too.
    unconfined = finish_image(generated, base, Finish(mask, mask, frozenset({HAIR}), confine=False))
    assert np.abs(unconfined[mask == SKIN].astype(int) - base[mask == SKIN]).mean() > 10
    # In a photo: outside the region mapped into it, every byte is the photo's.
    pixels = np.tile(textured(seed=3), (3, 4, 1))
    matrix = np.array([[1.0, 0.0, -100.0], [0.0, 1.0, -90.0]])  # the face at (100, 90) in the photo
    photo = SourcePhoto(pixels, matrix, SIDE, "photo.png")
    pasted = paste_back(photo, generated, region, finish=finish)
    inside = photo_region(photo, region)
    assert np.array_equal(pasted[~inside], pixels[~inside]) and not np.array_equal(pasted, pixels)


def test_detail_transfer_keeps_the_photos_texture_and_takes_the_generated_colour():
    mask = face_mask()
    base = textured(seed=4, colour=(120, 90, 70), amount=30)
    generated = np.full((32, 32, 3), (60, 110, 160), np.uint8)  # a soft, flat new colour (blurry generator)
    hair = cv2.erode((mask == HAIR).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    kept = finish_image(generated, base, Finish(mask, mask, frozenset({HAIR}), match_colour=False))
    lost = finish_image(generated, base, Finish(mask, mask, frozenset({HAIR}), keep_detail=False, match_colour=False))
    assert laplacian_energy(kept, hair) > 0.8 * laplacian_energy(base, hair)
    assert laplacian_energy(lost, hair) < 0.05 * laplacian_energy(base, hair)
    assert np.abs(kept[hair].mean(axis=0) - (60, 110, 160)).max() < 6  # the colour is the generated one
    # A repainted part (a new shape) takes the generated pixels, not the photo's texture there.
    painted = mask.copy()
    painted[90:110, 40:60] = HAIR
    new = np.zeros_like(mask, bool)
    new[93:107, 43:57] = True
    reshaped = finish_image(generated, base, Finish(mask, painted, frozenset(), match_colour=False))
    assert laplacian_energy(reshaped, new) < 0.05 * laplacian_energy(base, new)


def test_colour_matching_moves_the_parts_colour_to_the_references_by_the_strength():
    mask = face_mask()
    base = textured(seed=5, colour=(70, 50, 40), amount=10)  # dark brown hair
    reference = textured(seed=6, colour=(230, 200, 120), amount=10)  # blond
    generated = np.full((64, 64, 3), (90, 80, 80), np.uint8)  # the network drifted to a dull grey
    hair = cv2.erode((mask == HAIR).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    own, wanted = part_colour(base, mask, HAIR), part_colour(reference, mask, HAIR)

    def hair_lab(strength: float, match: bool = True) -> np.ndarray:
        finish = Finish(mask, mask, frozenset({HAIR}), colours={HAIR: colour_target(own, wanted, strength)},
                        match_colour=match)
        return to_lab(finish_image(generated, base, finish))[hair].mean(axis=0)

    unmatched = hair_lab(1.0, match=False)
    gap = np.linalg.norm(unmatched - wanted.mean)
    assert np.linalg.norm(hair_lab(1.0) - wanted.mean) < 0.1 * gap
    halfway = (own.mean + wanted.mean) / 2
    assert np.linalg.norm(hair_lab(0.5) - halfway) < 0.2 * np.linalg.norm(own.mean - wanted.mean)


def test_a_recoloured_part_that_runs_off_the_crop_fades_out_past_it_instead_of_ending_at_its_edge():
    # Hair across the crop's top edge, and the same hair colour on above it in the photo.
    mask = face_mask()
    mask[:12, 20:108] = HAIR
    pixels = np.full((400, 400, 3), (40, 80, 40), np.uint8)  # a green wall
    pixels[40:200, 150:250] = (90, 60, 40)  # brown hair, from above the crop down into it
    matrix = np.array([[1.0, 0.0, -130.0], [0.0, 1.0, -100.0]])  # the crop starts 60 px below the hair's top
    photo = SourcePhoto(pixels, matrix, SIDE, "photo.png")
    generated = np.full((64, 64, 3), (200, 170, 90), np.uint8)
    finish = Finish(mask, mask, frozenset({HAIR}), colours={HAIR: colour_target(
        part_colour(photo.aligned(), mask, HAIR), part_colour(np.full((SIDE, SIDE, 3), (200, 170, 90), np.uint8),
                                                               mask, HAIR), 1.0)})
    pasted = paste_back(photo, generated, edited_region(mask, mask, {HAIR}), finish=finish).astype(int)
    change = np.abs(pasted - pixels).sum(axis=-1)
    column = change[40:118, 200]  # straight up the hair, across the crop's top edge (photo row 100)
    assert column[-1] > 100 and column[52] > 0.25 * column[-1]  # the change goes on past the edge
    assert np.abs(np.diff(column)).max() < 0.25 * column[-1]  # and fades: no step anywhere
    assert change[20:38].max() == 0 and change[300:, :].max() == 0  # the green wall is not touched
    assert change[:, :120].max() == 0


def test_the_composite_mask_takes_the_sources_part_and_fills_what_it_vacates_from_the_neighbours():
    mask = face_mask()
    source = np.zeros_like(mask)
    cv2.ellipse(source, (64, 90), (9, 10), 0, 0, 360, NOSE, -1)  # a wider nose, lower down
    source[:8, :] = HAIR  # and a short crop of hair
    nose = composite_mask(mask, source, NOSE)
    assert np.array_equal(nose == NOSE, source == NOSE)  # the part is the source's exactly
    vacated = (mask == NOSE) & (source != NOSE)
    assert vacated.any() and (nose[vacated] == SKIN).all()  # the old nose's top becomes skin around it
    untouched = (mask != NOSE) & (source != NOSE)
    assert np.array_equal(nose[untouched], mask[untouched])  # every other pixel as it was
    hair = composite_mask(mask, source, HAIR)
    gone = (mask == HAIR) & (source != HAIR)
    # The hair's old pixels go to its neighbours: skin below the hairline, background beyond the head.
    assert set(np.unique(hair[gone])) <= {0, SKIN} and (hair[gone] == SKIN).any() and (hair[gone] == 0).any()
    assert not (hair == HAIR)[8:].any()


def test_a_new_hair_shape_shows_none_of_the_old_face_or_hair_through_it():
    mask = face_mask()
    moved = mask.copy()
    moved[mask == HAIR] = SKIN  # the old hair goes: skin where it was (the composite fills it so)
    moved[:8, 20:108] = 0
    moved[40:60, 30:98] = HAIR  # the new hair comes down over the forehead
    base = textured(seed=7, colour=(180, 140, 120), amount=5)
    base[mask == HAIR] = (40, 30, 20)  # dark old hair
    base[40:60, 30:98:4] = (20, 20, 20)  # dark stripes on the old forehead (brows, wrinkles)
    # The network's face: the new hair (mid brown) where the moved mask has it, skin elsewhere.
    generated = np.where((cv2.resize(moved, (64, 64), interpolation=cv2.INTER_NEAREST) == HAIR)[..., None],
                         np.uint8([120, 80, 50]), np.uint8([190, 150, 130])).astype(np.uint8)
    own, wanted = part_colour(base, mask, HAIR), part_colour(textured(seed=8, colour=(150, 100, 60), amount=8),
                                                             mask, HAIR)
    finish = Finish(mask, mask, frozenset({HAIR}), {HAIR: moved}, {HAIR: colour_target(own, wanted, 1.0)})
    out = finish_image(generated, base, finish).astype(np.float32)
    stripes, between = out[44:56, 36:92:4], out[44:56, 38:92:4]
    assert np.abs(stripes.mean(axis=(0, 1)) - between.mean(axis=(0, 1))).max() < 3  # no ghost of the old stripes
    new_hair = np.zeros_like(mask, bool)
    new_hair[44:56, 36:92] = True
    assert np.linalg.norm(to_lab(out[new_hair][None])[0].mean(axis=0) - wanted.mean) < 8  # the reference's colour
    # Where the old hair was and is skin now: the new skin, not the old dark hair recoloured.
    vacated = np.zeros_like(mask, bool)
    vacated[22:34, 40:88] = True
    assert np.abs(out[vacated].mean(axis=0) - (190, 150, 130)).max() < 12


def test_a_small_reshaped_part_is_taken_whole_not_faded_into_the_old_one():
    mask = face_mask()
    source = mask.copy()
    source[mask == NOSE] = SKIN
    cv2.ellipse(source, (64, 84), (9, 12), 0, 0, 360, NOSE, -1)  # a wider nose, lower down
    base = textured(seed=9, colour=(200, 150, 130), amount=4)
    generated = np.full((64, 64, 3), (120, 60, 50), np.uint8)  # the new nose, darker
    out = finish_image(generated, base, Finish(mask, mask, reshaped={NOSE: source}))
    nose = (source == NOSE) | (mask == NOSE)
    generated_colour = finish_image(generated, base, Finish(mask, mask, reshaped={NOSE: source}, confine=False))
    assert np.abs(out[nose].astype(int) - generated_colour[nose]).max() <= 1  # every pixel of it, whole
    # Nothing changes past the finish's region (for a moved nose: as far as its warp reaches).
    outside = ~Finish(mask, mask, reshaped={NOSE: source}).region(SIDE)
    assert outside.any() and np.array_equal(out[outside], base[outside])


def test_despeckling_removes_single_wrong_pixels_and_keeps_an_edge():
    from ca2sis.model.photo.detail import despeckle

    face = np.full((32, 32, 3), 150, np.uint8)
    face[:, 16:] = 60  # an edge
    face[8, 8] = (255, 0, 255)  # confetti
    face[20, 24] = (0, 255, 0)
    clean = despeckle(face).astype(int)
    assert np.abs(clean[8, 8] - 150).max() < 25 and np.abs(clean[20, 24] - 60).max() < 25
    assert clean[16, 10].mean() > 140 and clean[16, 22].mean() < 70  # the edge stays where it was


def test_a_nose_given_another_shape_is_the_photos_own_nose_moved_and_stretched_to_it():
    mask = face_mask()
    source = mask.copy()
    source[mask == NOSE] = SKIN
    cv2.ellipse(source, (66, 84), (10, 13), 0, 0, 360, NOSE, -1)  # wider, lower, a little to the side
    base = textured(seed=10, colour=(200, 150, 130), amount=6)
    base[mask == NOSE] = textured(seed=11, colour=(110, 60, 50), amount=6)[mask == NOSE]  # a dark, textured nose
    generated = np.full((64, 64, 3), (200, 150, 130), np.uint8)  # the network lost the nose: flat skin
    out = finish_image(generated, base, Finish(mask, mask, reshaped={NOSE: source}))
    dark = out[..., 0] < 155
    new_nose = source == NOSE
    assert (dark & new_nose).sum() > 0.85 * new_nose.sum() and (dark & ~new_nose).sum() < 0.1 * new_nose.sum()
    inner = cv2.erode(new_nose.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert out[inner].std(axis=0).mean() > 3  # the photo's texture, not a flat fill
    # A restyled nose (a reference's style) is the generated one: no old nose is moved into it.
    restyled = finish_image(generated, base, Finish(mask, mask, frozenset({NOSE}), reshaped={NOSE: source}))
    assert (restyled[..., 0] < 155)[inner].mean() < 0.1


def test_a_restyled_part_does_not_glow_onto_its_unchanged_surroundings():
    mask = cv2.resize(face_mask(), (512, 512), interpolation=cv2.INTER_NEAREST)
    base = textured(512, seed=12, colour=(60, 50, 40), amount=10)
    generated = np.full((128, 128, 3), (230, 220, 200), np.uint8)  # a bright generated face: hair and beyond
    out = finish_image(generated, base, Finish(mask, mask, frozenset({HAIR}), keep_detail=False, match_colour=False))
    hair = mask == HAIR
    assert np.abs(out[hair].astype(int) - (230, 220, 200)).max() <= 1  # the hair itself, whole
    distance = cv2.distanceTransform((~hair).astype(np.uint8), cv2.DIST_L2, 5)
    beyond = (distance > 8) & (distance < 15)  # inside the confinement margin, past the fade
    assert edited_region(mask, mask, {HAIR})[beyond].all()
    assert np.abs(out[beyond].astype(int) - base[beyond]).max() <= 1


def hair_over_background(side: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A photo of dark, strand-textured hair over a smooth light-brown background, and the
    parser's mask of it, whose hair strays a strip of 10 px onto the background beside it
    (as a parsed mask does between wisps). Returns the photo, the mask and the stray strip."""
    rng = np.random.default_rng(5)
    photo = np.empty((side, side, 3), np.float32)
    photo[:] = (170, 125, 80)  # out of focus: smooth
    hair = np.zeros((side, side), bool)
    hair[20:120, 40:200] = True
    strands = cv2.GaussianBlur(rng.normal(0, 1, (side, side)).astype(np.float32), (0, 0), 0.7) * 60
    photo[hair] = np.array((70, 55, 45), np.float32) + strands[hair][:, None]
    mask = np.zeros((side, side), np.uint8)
    cv2.ellipse(mask, (120, 170), (60, 70), 0, 0, 360, SKIN, -1)
    skin = mask == SKIN
    photo[skin & ~hair] = (200, 160, 140)
    mask[hair] = HAIR
    stray = np.zeros((side, side), bool)
    stray[20:120, 200:210] = True
    mask[stray] = HAIR
    return np.clip(photo, 0, 255).astype(np.uint8), mask, stray


def test_a_hair_mask_straying_onto_the_background_does_not_paint_the_background_as_hair():
    # A reported fault: where the parsed hair covered background between wisps, a hair swap
    # filled it with a solid patch of generated hair, and a halo of it ran along the hair's edge.
    photo, mask, stray = hair_over_background()
    generated = np.full((64, 64, 3), (225, 195, 130), np.uint8)  # blonde hair (and a face) from the generator
    out = finish_image(generated, photo, Finish(mask, mask, frozenset({HAIR}))).astype(int)
    change = np.abs(out - photo).sum(axis=-1)
    hair = (mask == HAIR) & ~stray
    assert change[hair].mean() > 150  # the hair takes the new colour, to its edge
    assert change[hair[:, 180:200].nonzero()[0], hair[:, 180:200].nonzero()[1] + 180].mean() > 120
    assert change[stray].mean() < 0.2 * change[hair].mean()  # the background the mask strayed onto stays
    beside = np.zeros_like(stray)
    beside[20:120, 210:216] = True  # background just past the mask: no halo
    assert change[beside].mean() < 10


def test_the_edge_matte_is_found_once_while_the_same_photo_is_rendered_again(monkeypatch):
    # A slider drag renders the same photo's edit again and again: only the generated face
    # changes, and the matte (which reads only the photo and its mask) is not searched again.
    from ca2sis.model.photo import edge

    photo, mask, _ = hair_over_background()
    monkeypatch.setattr(edge, "_matte_cache", type(edge._matte_cache)(8))  # none found before
    calls = []
    original = edge.part_matte
    monkeypatch.setattr(edge, "part_matte", lambda *args: calls.append(args[2]) or original(*args))
    finish = Finish(mask, mask, frozenset({HAIR}))
    first = finish_image(np.full((64, 64, 3), (225, 195, 130), np.uint8), photo, finish)
    second = finish_image(np.full((64, 64, 3), (60, 40, 30), np.uint8), photo, finish)
    assert calls == [HAIR]
    assert np.abs(first.astype(int) - second).mean() > 20  # the new face shows all the same
    other = photo.copy()
    other[200:, :] = 0  # another photo: its own matte
    finish_image(np.full((64, 64, 3), (60, 40, 30), np.uint8), other, finish)
    assert calls == [HAIR, HAIR]


def test_a_bearded_shaven_reference_gives_the_tone_of_its_cheeks_not_of_its_beard_or_scalp():
    # The skin class covers a shaved scalp and a grey beard too; the tone is the cheeks' brown.
    mask = np.zeros((SIDE, SIDE), np.uint8)
    cv2.ellipse(mask, (64, 64), (44, 60), 0, 0, 360, SKIN, -1)
    mask[40:48, 40:54] = mask[40:48, 74:88] = L_EYE
    cv2.ellipse(mask, (64, 62), (6, 14), 0, 0, 360, NOSE, -1)
    face = textured(seed=13, colour=(110, 70, 50), amount=4)  # brown skin
    skin = mask == SKIN
    face[skin & (np.arange(SIDE)[:, None] < 30)] = (120, 120, 120)  # a grey stubble scalp above the eyes
    face[skin & (np.arange(SIDE)[:, None] > 80)] = (95, 95, 95)  # a grey beard below the nose
    brown = to_lab(np.array([[[110, 70, 50]]], np.float32))[0, 0]
    tone = part_colour(face, mask, SKIN)
    assert np.linalg.norm(tone.mean - brown) < 3  # the cheeks' brown, not pulled to grey
    whole = to_lab(face[skin].astype(np.float32)[None])[0].mean(axis=0)
    assert np.linalg.norm(whole - brown) > 8  # (the whole skin's mean would be far off)


def test_an_eye_from_a_brown_eyed_reference_browns_the_iris_and_keeps_the_white_of_the_eye():
    mask = face_mask()
    cv2.ellipse(mask, (44, 56), (20, 10), 0, 0, 360, L_EYE, -1)
    eye = mask == L_EYE
    rows, cols = np.mgrid[:SIDE, :SIDE]
    from_centre = (rows - 56) ** 2 + (cols - 44) ** 2

    def eye_photo(iris_colour, seed: int) -> np.ndarray:
        image = textured(seed=seed, colour=(200, 160, 140), amount=3)
        image[eye] = (235, 232, 228)  # the white of the eye
        image[eye & (from_centre <= 49)] = iris_colour
        image[eye & (from_centre <= 6)] = (15, 15, 15)  # the pupil
        return image

    photo, reference = eye_photo((90, 130, 190), 14), eye_photo((95, 55, 30), 15)  # blue eyes, brown eyes
    own, wanted = part_colour(photo, mask, L_EYE), part_colour(reference, mask, L_EYE)
    finish = Finish(mask, mask, frozenset({L_EYE}), colours={L_EYE: colour_target(own, wanted, 1.0)})
    generated = cv2.resize(photo, (32, 32), interpolation=cv2.INTER_AREA)  # a small network's blur of the eye
    out = finish_image(generated, photo, finish).astype(int)
    deep = cv2.erode(eye.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0  # away from the eyelids' blend
    white = deep & (from_centre > 81)
    iris = eye & (from_centre > 9) & (from_centre < 36)
    assert white.sum() > 40 and np.abs(out[white] - photo[white]).mean() < 6  # still white, not pink
    brown, blue = to_lab(np.array([[[95, 55, 30], [90, 130, 190]]], np.float32))[0]
    now = to_lab(out[iris].astype(np.float32)[None])[0].mean(axis=0)
    assert np.linalg.norm(now - brown) < 0.5 * np.linalg.norm(blue - brown)  # the iris went most of the way
