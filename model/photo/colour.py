"""Colour: CIELAB conversions, a part's colour and where a restyled part's colour goes.

A restyled part takes its reference's colour as a per-channel affine change in CIELAB
(``LabTransform``); a skin's tone is measured on the cheeks (``colour_sample``), an eye's
on its iris (``iris_weight``), and a skin's change is carried to the parts of its tone.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..io.cache import LRUCache, content_digest
from ..labels import CLASS_NAMES
from .light import highlight_exposure
from .regions import MIN_PART_PIXELS, at_size, interior, strided

# Below this share of the face's pixels, the anchor is too small to measure colours on.
MIN_ANCHOR_SHARE = 0.01
SKIN = CLASS_NAMES.index("skin")
# A skin restyled from a reference carries its colour change to these parts, unless they are
# given a style of their own: a person sees one skin tone over the face, nose, ears and neck,
# and a dark face around the photo's pale nose and neck is no skin tone (``skin_tone_target``).
SKIN_TONE_PARTS = tuple(CLASS_NAMES.index(name) for name in ("nose", "l_ear", "r_ear", "neck"))
# Where the skin's tone is measured: between the eyes' level and the tip of the nose (cheeks and
# temples), since the skin class also holds a shaved scalp, stubble and beards (``colour_sample``).
TONE_CLASSES = frozenset({SKIN, *SKIN_TONE_PARTS})
EYE_PARTS = tuple(CLASS_NAMES.index(name) for name in ("l_eye", "r_eye", "eye_g"))
NOSE = CLASS_NAMES.index("nose")
LIPS = tuple(CLASS_NAMES.index(name) for name in ("u_lip", "l_lip"))
# A lip's lightness contrast (its shine, its line against the skin) is scaled by at most this: a
# pale reference's flat lips made a dark face's glossy lips a flat pink paint.
LIP_LIGHTNESS_GAIN = (0.85, 1.2)
# An eye's colour is its iris's: the eye class holds the white of the eye too, and moving the
# white with the iris to a brown eye's mean made it pink, bloodshot. An eye restyled from a
# reference is the photo's own eye with its iris recoloured (``iris_weight``).
IRIS_PARTS = frozenset(CLASS_NAMES.index(name) for name in ("l_eye", "r_eye"))
# A lip's or an eye's colour is read without its edge, at most this share of its half-thickness:
# a lip read on its middle alone is its shine (a lower lip's read 7 CIELAB units lighter).
THIN_PART_EDGE = 0.25
IRIS_SOFTNESS = 4.0  # CIELAB lightness units over which a pixel goes from the iris to the white
# The darkest share of what is not the white of the eye is the lashes' and the pupil's near-black,
# not the iris's colour: an iris is read without it (a brown iris read with it came out grey).
IRIS_DARKEST_SHARE = 0.3
IRIS_LIGHTEST_SHARE = 0.2  # nor the lightest, the iris's rim blurred into the white
GAIN_RANGE = (0.5, 2.0)
# Colours are read on faces at this side, not at the networks' (128 px for the bundled weights):
# there an iris is a few pixels blurred into the white of the eye and reads far too light.
COLOUR_SIDE = 512


def match_colours(face: np.ndarray, target: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """``face`` with each channel's mean and spread over ``anchor`` moved to ``target``'s
    (float32). Unchanged when the anchor is too small to measure on."""
    face = face.astype(np.float32)
    if anchor.sum() < MIN_ANCHOR_SHARE * anchor.size:
        return face
    step = strided(anchor.shape[0])
    sample = anchor[::step, ::step]
    ours, theirs = face[::step, ::step][sample], target[::step, ::step][sample].astype(np.float32)
    mean_ours, mean_theirs = ours.mean(axis=0), theirs.mean(axis=0)
    gain = np.clip(theirs.std(axis=0) / np.maximum(ours.std(axis=0), 1e-3), *GAIN_RANGE)
    return (face - mean_ours) * gain + mean_theirs



def to_lab(rgb: np.ndarray) -> np.ndarray:
    """RGB in 0..255 (any dtype) → CIELAB float32 (L 0..100)."""
    return cv2.cvtColor(np.clip(rgb.astype(np.float32), 0, 255) / 255.0, cv2.COLOR_RGB2LAB)


def from_lab(lab: np.ndarray) -> np.ndarray:
    """CIELAB float32 → RGB float32 in 0..255."""
    return cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB) * 255.0



def white_of_eye_threshold(lightness: np.ndarray, bins: int = 64) -> float:
    """The CIELAB lightness above which an eye's pixels are the white of the eye: the upper
    of the two thresholds that split the values into three classes of the least spread
    within them (Otsu's criterion with three classes): lashes and pupil, iris, white. Two
    classes would split a light iris off with the white of the eye."""
    counts, edges = np.histogram(lightness, bins=bins, range=(0.0, 100.0))
    centres = 0.5 * (edges[:-1] + edges[1:])
    weight, moment = np.cumsum(counts).astype(np.float64), np.cumsum(counts * centres)
    total, total_moment = weight[-1], moment[-1]
    best, upper = -1.0, float(edges[-1])
    for low in range(bins - 2):  # class 1: bins 0..low; class 2: low+1..high; class 3: the rest
        highs = np.arange(low + 1, bins - 1)
        w1, m1 = weight[low], moment[low]
        w2, m2 = weight[highs] - w1, moment[highs] - m1
        w3, m3 = total - weight[highs], total_moment - moment[highs]
        with np.errstate(divide="ignore", invalid="ignore"):
            spread = (m1 ** 2 / w1 if w1 > 0 else 0.0) + np.where(w2 > 0, m2 ** 2 / w2, 0.0) \
                + np.where(w3 > 0, m3 ** 2 / w3, 0.0)
        spread[(w2 <= 0) | (w3 <= 0)] = -1.0
        if w1 > 0 and spread.max() > best:
            best, upper = float(spread.max()), float(edges[highs[int(spread.argmax())] + 1])
    return upper


def iris_weight(lightness: np.ndarray, region: np.ndarray) -> np.ndarray:
    """float32 like ``lightness`` (CIELAB L): how much each pixel of an eye's ``region`` is its
    iris (pupil and lashes too) rather than the white of the eye (``white_of_eye_threshold``),
    softly over ``IRIS_SOFTNESS``; 0 outside the region."""
    values = lightness[region]
    if values.size < MIN_PART_PIXELS:
        return region.astype(np.float32)
    threshold = white_of_eye_threshold(values)
    weight = 1.0 / (1.0 + np.exp(np.clip((lightness - threshold) / IRIS_SOFTNESS, -30, 30)))
    return (weight * region).astype(np.float32)


def colour_sample(mask: np.ndarray, part: int, region: np.ndarray | None = None,
                  lightness: np.ndarray | None = None) -> np.ndarray:
    """bool: the pixels a part's colour is measured on, in a face whose class mask is ``mask``:
    the interior of ``region`` (default: the mask's ``part``). For the skin only its band
    between the eyes' level and the nose's tip, where the face has eyes (or glasses) and a
    nose: the skin class also covers a shaved scalp, stubble and beards, whose grey would
    pass for the tone (a bearded reference gave a grey-green face). For an eye, given the
    picture's ``lightness``, only the irises of both eyes (``iris_weight``): not the white of
    the eye, nor the lashes and the pupil (``IRIS_DARKEST_SHARE``), whose near-black read a
    brown iris as grey, nor the rim against the white (``IRIS_LIGHTEST_SHARE``)."""
    if part in IRIS_PARTS and lightness is not None:
        # Both eyes together (a person's irises share a colour): one eye of a turned face or a
        # glance is mostly the white and the rim of the iris against it.
        inside = interior(np.isin(mask, list(IRIS_PARTS)) if region is None else region, THIN_PART_EDGE)
        iris = inside & (iris_weight(lightness, inside) > 0.5)
        if iris.sum() < MIN_PART_PIXELS:
            return inside
        low, high = np.percentile(lightness[iris], [100 * IRIS_DARKEST_SHARE, 100 * (1 - IRIS_LIGHTEST_SHARE)])
        coloured = iris & (lightness >= low) & (lightness <= high)
        return coloured if coloured.sum() >= MIN_PART_PIXELS else iris
    inside = interior(mask == part if region is None else region, THIN_PART_EDGE if part in LIPS else None)
    if part != SKIN:
        return inside
    eyes, nose = np.isin(mask, EYE_PARTS), mask == NOSE
    if eyes.sum() < MIN_PART_PIXELS or nose.sum() < MIN_PART_PIXELS:
        return inside
    top, bottom = int(np.nonzero(eyes)[0].mean()), int(np.nonzero(nose)[0].max())
    band = inside.copy()
    band[:top], band[bottom + 1:] = False, False
    return band if band.sum() >= 4 * MIN_PART_PIXELS else inside


@dataclass(frozen=True)
class PartColour:
    """A part's colour: CIELAB mean and spread (standard deviation) per channel."""

    mean: np.ndarray  # (3,)
    spread: np.ndarray  # (3,)


class FaceColours:
    """A face's part colours, each read once when first asked for, on one CIELAB conversion
    of the face (``face_colours`` keeps them: a render plans with the same faces again)."""

    def __init__(self, image: np.ndarray, mask: np.ndarray):
        self.lab = to_lab(image)
        self.mask = at_size(mask, image.shape[0])
        self._parts: dict[int, PartColour | None] = {}
        self._saturation: float | None = None
        self._exposure: float | None = None

    def part(self, part: int) -> PartColour | None:
        """The colour of class ``part`` (``colour_sample``), None when too small to measure."""
        if part not in self._parts:
            inside = colour_sample(self.mask, part, lightness=self.lab[..., 0])
            pixels = self.lab[inside]
            self._parts[part] = PartColour(pixels.mean(axis=0), pixels.std(axis=0)) \
                if len(pixels) >= MIN_PART_PIXELS else None
        return self._parts[part]

    @property
    def saturation(self) -> float:
        """The saturation of the photo's grade (``photo_saturation``)."""
        if self._saturation is None:
            self._saturation = _saturation_of(self)
        return self._saturation

    @property
    def exposure(self) -> float:
        """The exposure of the photo's light relative to a normally lit photo's (``light.py``)."""
        if self._exposure is None:
            self._exposure = highlight_exposure(self.lab[..., 0])
        return self._exposure


_faces_cache = LRUCache(8)


def clear_cache() -> None:
    """Forget the faces' colours read so far (they are read again when asked for)."""
    _faces_cache.clear()


def face_colours(image: np.ndarray, mask: np.ndarray) -> FaceColours:
    """The colours of a face ``image`` with its class ``mask`` (any side), found once per face."""
    key = content_digest(image, mask)
    face = _faces_cache.get(key)
    if face is None:
        face = FaceColours(image, mask)
        _faces_cache.put(key, face)
    return face


def part_colour(image: np.ndarray, mask: np.ndarray, part: int) -> PartColour | None:
    """The colour of ``part`` in ``image`` (its ``mask`` of any side), None when too small."""
    return face_colours(image, mask).part(part)


@dataclass(frozen=True)
class ColourTarget:
    """Where a restyled part's colour goes: an absolute CIELAB mean and the factor its
    spread is scaled by (both already mixed by the part's strength)."""

    mean: np.ndarray  # (3,)
    spread_ratio: np.ndarray  # (3,)


def colour_target(own: PartColour | None, reference: PartColour, strength: float) -> ColourTarget:
    """The colour of a part taking ``reference``'s style at ``strength``, from ``own`` (the
    base's part, None when the base has none: then the reference's colour, whole)."""
    if own is None:
        return ColourTarget(reference.mean, np.ones(3, np.float32))
    ratio = reference.spread / np.maximum(own.spread, 1e-3)
    mean = (1 - strength) * own.mean + strength * reference.mean
    return ColourTarget(mean.astype(np.float32), ((1 - strength) + strength * ratio).astype(np.float32))


def skin_tone_target(own_skin: PartColour, own: PartColour, skin: ColourTarget) -> ColourTarget:
    """The colour of a part of the skin's tone (``SKIN_TONE_PARTS``, ``own`` in the base) when
    the skin moves from ``own_skin`` to ``skin``: the skin's change, carried over, so the part
    keeps how it differs from the skin in the base (a neck in the chin's shadow stays darker
    than the face)."""
    gain = np.clip(skin.spread_ratio, *GAIN_RANGE)
    return ColourTarget((skin.mean + gain * (own.mean - own_skin.mean)).astype(np.float32),
                        skin.spread_ratio.astype(np.float32))


def gain_of(spread: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The factor that takes a spread to the wanted one, within ``GAIN_RANGE``."""
    return np.clip(wanted / np.maximum(spread, 1e-3), *GAIN_RANGE).astype(np.float32)



@dataclass(frozen=True)
class LabTransform:
    """A part's colour change as a per-channel affine map in CIELAB: (x - source) * gain + target.
    Kept so the same change can be carried past the aligned crop (see ``paste``)."""

    part: int
    source: np.ndarray
    gain: np.ndarray
    target: np.ndarray
    spread: np.ndarray | None = None  # the source part's own spread, where it is known

    def apply(self, lab: np.ndarray) -> np.ndarray:
        if self.part in TONE_CLASSES:
            return tone_change(lab, self.source, self.target)
        gain = self.gain
        if self.part in LIPS:  # a lip keeps its shine and its line: its lightness contrast is held
            gain = np.array([np.clip(gain[0], *LIP_LIGHTNESS_GAIN), *gain[1:]], np.float32)
        return (lab - self.source) * gain + self.target

    def within(self, lab: np.ndarray, spreads: float) -> np.ndarray:
        """``lab`` softly held within ``spreads`` of the part's own spreads of its colour: an
        estimate of the part's colour at its edge that took in some of the background."""
        if self.spread is None:
            return lab
        limit = spreads * np.maximum(self.spread, 2.0)
        return self.source + limit * np.tanh((lab - self.source) / limit)


# A skin's change (and its parts') is a change of the skin's own colour under the photo's light:
# its lightness about the mean by the factor that scaling its luminance would give (held within
# ``TONE_LIGHTNESS_GAIN``: the face's shading kept, neither flattened nor made harsh), rolled off
# softly above ``TONE_KNEE`` (a forehead's shine on a face made pale went flat white), and its
# chroma plane scaled and turned about grey (``tone_change``): a pixel greyer than the skin (a
# lash line, an eyelid's shade) stays grey; moved as the mean is, with the reference's spread, it
# turned blue-grey on a face made lighter. The chroma's factor is held within ``TONE_CHROMA_GAIN``.
TONE_LIGHTNESS_GAIN = (0.85, 1.2)
TONE_KNEE = 90.0
TONE_CHROMA_GAIN = (1.0 / 3.0, 3.0)


def tone_change(lab: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """CIELAB pixels (..., 3) of a part whose colour moves from ``source`` to ``target`` (CIELAB
    means), as a change of the part's own colour: the lightness about the mean by the factor
    that scaling the luminance would give (``TONE_LIGHTNESS_GAIN``, ``TONE_KNEE``) and the
    chroma plane (a, b) scaled and turned about grey so that ``source`` goes to ``target`` (the
    scale within ``TONE_CHROMA_GAIN``, the rest an offset)."""
    lab = np.asarray(lab, np.float32)
    result = np.empty_like(lab)
    # Luminance scaled by k scales L + 16 by the cube root of k (above the darkest tones).
    gain = float(np.clip((target[0] + 16.0) / max(float(source[0]) + 16.0, 1.0), *TONE_LIGHTNESS_GAIN))
    lightness = (lab[..., 0] - source[0]) * gain + target[0]
    headroom = 100.0 - TONE_KNEE
    above = np.maximum(lightness - TONE_KNEE, 0.0)
    result[..., 0] = np.where(above > 0, TONE_KNEE + headroom * np.tanh(above / headroom), lightness)
    own, wanted = np.asarray(source[1:], np.float32), np.asarray(target[1:], np.float32)
    own_chroma, wanted_chroma = float(np.hypot(*own)), float(np.hypot(*wanted))
    if own_chroma < 1.0 or wanted_chroma < 1.0:  # no hue to turn: the chroma moves as the mean does
        result[..., 1:] = lab[..., 1:] + (wanted - own)
        return result
    scale = float(np.clip(wanted_chroma / own_chroma, *TONE_CHROMA_GAIN))
    turn = np.arctan2(wanted[1], wanted[0]) - np.arctan2(own[1], own[0])
    matrix = scale * np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]], np.float32)
    result[..., 1:] = lab[..., 1:] @ matrix.T + (wanted - matrix @ own)
    return result


# What is white in a face photo (the whites of the eyes, the teeth) tells its light's colour; a
# saved style records it (``io/styles.py``). Rendering a reference's colour under the edited
# photo's white (von Kries gains) was tried and measured: on the framed test photos it left more
# of the colour gap than taking the reference's colour as it is (skin 0.56 against 0.18 of the
# gap, lips 0.81 against 0.30, medians; benchmarks/photo_edits.py on commit ec1ad63 and on the
# code since f23ff32): at the networks' 128 px the whites are a few pixels in the shade of the
# lids, too few to tell the light by.
MOUTH = CLASS_NAMES.index("mouth")
TEETH_MIN_LIGHTNESS = 55.0  # the mouth's pixels at least this light are teeth (the rest: tongue, shade)
WHITE_MAX_CHROMA = 25.0  # whites this colourful are no white (a red eye, lipstick on a tooth)
MIN_WHITE_PIXELS = 8
# Real skins (the cheeks of 400 training faces of celebamask-mini, `benchmarks/skin_range.py`):
# chroma from its 5th percentile, hue (degrees, CIELAB) between its 5th and 95th percentiles. A
# skin edit stays inside unless the photo's own skin is outside (a black-and-white photo, a cast).
SKIN_CHROMA_MIN = 12.9
SKIN_HUE_RANGE = (27.3, 66.6)


def linear_rgb(rgb: np.ndarray) -> np.ndarray:
    """sRGB 0..255 → linear light 0..1."""
    value = np.clip(np.asarray(rgb, np.float32) / 255.0, 0.0, 1.0)
    return np.where(value <= 0.04045, value / 12.92, ((value + 0.055) / 1.055) ** 2.4)


def srgb(linear: np.ndarray) -> np.ndarray:
    """Linear light 0..1 → sRGB 0..255 (float)."""
    value = np.clip(np.asarray(linear, np.float32), 0.0, 1.0)
    return 255.0 * np.where(value <= 0.0031308, value * 12.92, 1.055 * value ** (1 / 2.4) - 0.055)


def white_pixels(lab: np.ndarray, mask: np.ndarray, teeth_min: float = TEETH_MIN_LIGHTNESS) -> np.ndarray:
    """bool: the pixels of a face (``lab``, its class ``mask`` at the same side) that are white:
    the whites of its eyes (``white_of_eye_threshold``) and its teeth (the mouth's pixels at least
    ``teeth_min`` light), none of them colourful (``WHITE_MAX_CHROMA``)."""
    lightness, chroma = lab[..., 0], np.hypot(lab[..., 1], lab[..., 2])
    whites = np.zeros(mask.shape, bool)
    for eye in IRIS_PARTS:
        region = mask == eye
        if region.sum() >= MIN_PART_PIXELS:
            white = region & (lightness > white_of_eye_threshold(lightness[region]))
            if white.sum() < MIN_WHITE_PIXELS:  # an eye of one even tone: its lightest quarter
                white = region & (lightness >= np.percentile(lightness[region], 75))
            whites |= white
    whites |= (mask == MOUTH) & (lightness >= teeth_min)
    return whites & (chroma < WHITE_MAX_CHROMA)


def white_point(image: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """The colour of white in a face photo (linear RGB): the median of the whites of its eyes
    and its teeth (``white_pixels``); None when it shows too little of either (eyes closed,
    mouth shut). Its balance tells the light's colour."""
    mask = at_size(mask, image.shape[0])
    whites = white_pixels(to_lab(image), mask)
    if whites.sum() < MIN_WHITE_PIXELS:
        return None
    return np.median(linear_rgb(image[whites]), axis=0).astype(np.float32)


def real_skin(mean: np.ndarray, own: np.ndarray | None) -> np.ndarray:
    """A skin's CIELAB ``mean`` moved into the range of real skins (``SKIN_CHROMA_MIN``,
    ``SKIN_HUE_RANGE``), a range widened to take in the photo's ``own`` skin (a graded photo's
    skin may be greyer or cast, and the edit stays in its light)."""
    chroma_min = SKIN_CHROMA_MIN
    low, high = SKIN_HUE_RANGE
    if own is not None:
        chroma_min = min(chroma_min, float(np.hypot(own[1], own[2])))
        own_hue = float(np.degrees(np.arctan2(own[2], own[1])))
        low, high = min(low, own_hue), max(high, own_hue)
    chroma = max(float(np.hypot(mean[1], mean[2])), chroma_min)
    hue = float(np.clip(np.degrees(np.arctan2(mean[2], mean[1])), low, high))
    radians = np.radians(hue)
    return np.array([mean[0], chroma * np.cos(radians), chroma * np.sin(radians)], np.float32)


# A photo graded towards grey (a moody or cold, desaturated look) shows its skin and lips with
# less chroma than real skins and lips have: when both are below ``DESATURATED_BELOW`` of their
# typical chroma (the medians of 400 training faces, `benchmarks/skin_range.py`: 26.1 and 33.6 at
# 512 px), the photo's saturation is taken as their ratio to the typical (geometric mean). A
# reference's colour is read relative to its photo's saturation and rendered under the edited
# photo's (``resaturated``), so a pale person in cold grey light gives a pale skin, not a grey
# one, and a grey photo given a colourful reference stays in its grade. Only saturation is read:
# a colour cast read from the whites of the eyes and the teeth was measured as worse than none
# (see ``white_point``), and the range of real skins' hues is too wide to read one by.
TYPICAL_CHROMA = {SKIN: 26.1, LIPS[0]: 33.6, LIPS[1]: 33.6}
DESATURATED_BELOW = 0.5
MIN_SATURATION = 0.15


def photo_saturation(image: np.ndarray, mask: np.ndarray) -> float:
    """The saturation of a face photo's grade relative to an ungraded photo's (1: not graded
    towards grey), read on its skin and lips (``TYPICAL_CHROMA``); 1 when it shows neither."""
    return face_colours(image, mask).saturation


def _saturation_of(face: FaceColours) -> float:
    ratios = []
    for part, typical in TYPICAL_CHROMA.items():
        colour = face.part(part)
        if colour is not None:
            ratios.append(max(float(np.hypot(colour.mean[1], colour.mean[2])) / typical, 1e-3))
    if not ratios or max(ratios) >= DESATURATED_BELOW:
        return 1.0
    return float(np.clip(np.exp(np.mean(np.log(ratios))), MIN_SATURATION, 1.0))


def resaturated(colour: PartColour, factor: float) -> PartColour:
    """``colour`` with its chroma (CIELAB a and b: the mean and the spread) scaled by ``factor``."""
    if abs(factor - 1.0) < 1e-6:
        return colour
    scale = np.array([1.0, factor, factor], np.float32)
    return PartColour((colour.mean * scale).astype(np.float32), (colour.spread * scale).astype(np.float32))



def photo_exposure(image: np.ndarray, mask: np.ndarray) -> float:
    """The exposure of a face photo's light relative to a normally lit photo's (``light.py``)."""
    return face_colours(image, mask).exposure


def exposed(colour: PartColour, factor: float) -> PartColour:
    """``colour`` under light ``factor`` times as strong: its mean's luminance scaled in linear
    light, its spread (CIELAB's cube root of the luminance) by the cube root of ``factor``."""
    if abs(factor - 1.0) < 1e-6:
        return colour
    rgb = from_lab(np.asarray(colour.mean, np.float32)[None, None])
    mean = to_lab(srgb(linear_rgb(rgb) * factor))[0, 0]
    return PartColour(mean.astype(np.float32), (colour.spread * np.cbrt(factor)).astype(np.float32))
