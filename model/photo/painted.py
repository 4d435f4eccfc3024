"""A painted face at the style face's resolution: the network's layout and shading, the
style face's colour and texture.

A face painted from a template (File > New, ``ca2sis-edit --mask OTHER --style FACE``) shares
too few pixels with any face to keep that face's pixels (``FINISH_MIN_AGREEMENT``): every
pixel is invented. The network invents them at its own 128 px; ``paint_face`` makes them at
the style face's side, surface by surface of the edited mask:

- low frequencies (layout, shading) are the network's output upsampled, low-passed over the
  part's interior only, so a pixel on the part's edge takes the part's colour, not the
  network's blend with its neighbour (no halo between hair and background: that edge is the
  mask's, crisp);
- colour: that low-pass is moved, in CIELAB, to the mean and spread of the same part of the
  style face (of its low-pass: the texture below brings the rest of the spread);
- fine texture (strands, pores, grain) is the style face's same part at full resolution: where
  the style face has that part at the same place (both are aligned faces) its own detail is
  kept there, elsewhere it is synthesised from that part (``texture.synthesize``, guided by the
  network's shading), the two joined variance-preserving over a band.

The skin, nose, ears and neck are one surface (one skin with the network's shading, no edge
round the nose, each part with its own colour); the small features on it (eyes, brows, lips,
mouth, glasses, jewellery) are the network's own drawing over that skin, with soft edges,
brows and lips moved to the style part's mean colour; an eye, the mouth, a lip or an ear painted
alike in shape to the style face's is that part of the style face, carried onto it
(``painted_features.py``). A part the style face lacks takes its pair partner's (a right eye
from the left one), a nose or an ear the skin's, else the network's own colour. What depends
on the style face alone is kept for the next render, and so is the synthesised texture: after
a stroke it is made again only where the stroke reached (``repaint.py``).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
from PIL import Image

from ..inference.edits import Reference
from ..io.images import as_image, as_mask
from ..labels import CLASS_NAMES, NUM_CLASSES, pair_partner
from .colour import from_lab, to_lab
from .detail import despeckle
from .painted_features import carried_features
from .regions import box_around, grow
from .repaint import DetailMemory
from .texture import DEFAULT_CONFIG, SynthesisConfig, split_sigma, synthesize

_INDEX = {name: index for index, name in enumerate(CLASS_NAMES)}
# Surfaces whose edges are the mask's, crisp: each is low-passed, coloured and textured alone.
CRISP_SURFACES = tuple(_INDEX[name] for name in ("background", "hair", "hat", "cloth"))
# One skin: its parts share the network's shading, each with its own colour, blended softly.
SKIN_SURFACE = tuple(_INDEX[name] for name in ("skin", "nose", "l_ear", "r_ear", "neck"))
SKIN, BACKGROUND = _INDEX["skin"], _INDEX["background"]
# Features whose colour stays the network's (already the style's): an eye's mean mixes its
# white and iris, a mouth's its teeth and its dark, a brow's mask its hairs and the skin
# between; moved to another's mean they came out a pale blind eye, grey-blue teeth, a brow
# painted as a flat orange stroke.
KEEP_NETWORK_COLOUR = frozenset(_INDEX[name] for name in ("l_eye", "r_eye", "eye_g", "mouth", "l_brow", "r_brow"))
# A part needs this share of the picture's pixels to lend its colour and texture.
MIN_SOURCE_SHARE = 2e-4
# Limits of the gain on a part's low-frequency spread (a flat network part is not blown up to
# a contrasted style part's, nor a contrasted one flattened). A backdrop's is never raised: the
# network's shapes in it, made stronger, were read as clothes or a hat; nor a skin's (its blotches).
GAIN_RANGE = (0.5, 2.0)
EDGE_SOFTNESS = 0.8  # the Gaussian (output pixels) a part's edge pixels are anti-aliased with
PAINT_THREADS = 2  # surfaces painted at once (numpy and OpenCV release the GIL; our CPUs have 2 cores)
STYLE_CACHE_SIZE = 4
# A painted face is made at the style face's side up to this (a 12 MP photo given as the style
# face would take seconds; an aligned face of this side shows every strand).
MAX_PAINT_SIDE = 1024  # style faces whose own measurements are kept (the studio renders one style many times)


@dataclass(frozen=True)
class PaintConfig:
    """How ``paint_face`` makes a painted face."""

    # The low/high split of crisp surfaces: what a generator of this side resolves is the
    # network's, finer is the style face's texture.
    generated_side: int = 128
    # The skin's split is finer: all the network draws of a face's shading is kept, only
    # pores are the style's (a wrinkle or a nostril copied to another face would be a scar).
    skin_generated_side: int = 256
    # A part's edge band, in network pixels: its colour there is its interior's (the network
    # blurs neighbouring parts into each other over about a pixel).
    edge_band: float = 1.5
    # Copied detail softly limited to this many robust spreads of the style part's (a
    # backdrop's lettering, a wrinkle: a few strong edges are not stamped about).
    detail_limit: float = 2.5
    # The backdrop's: lower (a street's lit windows or a flag's stripes copied about read as
    # objects, a hat or clothes, where a backdrop was painted).
    backdrop_detail_limit: float = 1.5
    # The skin's: lower still (strands of the style face's hair over its cheek, a wrinkle, a
    # glasses frame's shadow are no pores: copied, they streaked another face's cheek).
    skin_detail_limit: float = 2.5
    feature_sharpening: float = 1.0  # the unsharp mask's amount on the features' drawing
    texture: bool = True  # False: colour only, with the network's own detail
    # Keep the last render's synthesised texture (per style face and surface) where the painted
    # mask did not change (``repaint.py``); False: every render synthesises it all again.
    reuse_texture: bool = True
    # The style face's own eyes, mouth, lips and ears carried onto the painted ones close in shape
    # (``painted_features.py``); False: the network's drawing.
    carry_features: bool = True
    seed: int = 0
    # Fewer sweeps and tries than the shape edits' default: a painted face's synthesised zones are
    # its parts' margins beyond the style face's, and the cheaper search looked the same on the
    # gallery (12 % less CPU time).
    synthesis: SynthesisConfig = field(default_factory=lambda: replace(DEFAULT_CONFIG, sweeps=3, random=4,
                                                                        patch_tries=8, best=6))
    # The skin's (pores: a texture alike everywhere, whose matches matter little): cheaper still.
    skin_synthesis: SynthesisConfig = field(default_factory=lambda: replace(DEFAULT_CONFIG, sweeps=1, random=2,
                                                                             patch_tries=4, best=4))


DEFAULT_PAINT = PaintConfig()


def mask_at(mask: np.ndarray, side: int) -> np.ndarray:
    """A class mask at ``side``: nearest when it shrinks, smooth outlines when it grows (each
    class's plane resized linearly, the strongest wins: no staircase of the small mask's pixels)."""
    mask = np.asarray(mask, np.uint8)
    if mask.shape[0] == side:
        return mask
    if mask.shape[0] > side:
        return cv2.resize(mask, (side, side), interpolation=cv2.INTER_NEAREST)
    classes = np.unique(mask)
    planes = np.stack([cv2.resize((mask == part).astype(np.float32), (side, side), interpolation=cv2.INTER_LINEAR)
                       for part in classes])
    return classes[planes.argmax(axis=0)].astype(np.uint8)


def source_part(part: int, style_mask: np.ndarray) -> int | None:
    """The style face's part that lends ``part`` its colour and texture: the same part, else
    its pair partner, else (a nose, an ear, a neck) the skin; None: the network's own."""
    least = MIN_SOURCE_SHARE * style_mask.size
    candidates = [part, pair_partner(part)] + ([SKIN] if part in SKIN_SURFACE else [])
    for candidate in candidates:
        if candidate is not None and np.count_nonzero(style_mask == candidate) >= least:
            return candidate
    return None


def interior(region: np.ndarray, pixels: int) -> np.ndarray:
    """The region less a band of ``pixels`` along its edge; the region itself when that
    leaves too little of it."""
    core = ~grow(~region, pixels)
    return core if core.sum() >= max(16, 0.2 * region.sum()) else region


def low_pass(image: np.ndarray, where: np.ndarray, sigma: float) -> np.ndarray:
    """The Gaussian low-pass of ``image`` (float32 (H, W, C)) over the pixels of ``where``
    only (normalised convolution), valid wherever the blur reaches; computed at a size
    reduced to about 2 pixels per sigma (it is band-limited)."""
    height, width = where.shape
    factor = max(1, int(sigma / 2))
    weight = where.astype(np.float32)[..., None]
    stacked = np.concatenate([image * weight, weight], axis=2)
    if factor > 1:
        stacked = cv2.resize(stacked, (-(-width // factor), -(-height // factor)), interpolation=cv2.INTER_AREA)
    blurred = cv2.GaussianBlur(stacked, (0, 0), sigma / factor, borderType=cv2.BORDER_REFLECT)
    if factor > 1:
        blurred = cv2.resize(blurred, (width, height), interpolation=cv2.INTER_LINEAR)
    return blurred[..., :-1] / np.maximum(blurred[..., -1:], 1e-6)


@dataclass(frozen=True)
class _StylePart:
    """One part of the style face, as the painting reads it."""

    region: np.ndarray  # bool (S, S)
    low_mean: np.ndarray  # CIELAB mean and spread of its low-pass over its interior
    low_spread: np.ndarray
    mean: np.ndarray  # CIELAB mean and spread over its interior (as a person sees the part's colour)
    spread: np.ndarray
    high: np.ndarray | None  # float32 (S, S, 3): its detail finer than the split, limited


class _StyleFace:
    """The style face's own measurements, made once per style face, part and split."""

    def __init__(self, image: np.ndarray, mask: np.ndarray, band: int):
        self.image, self.mask, self.band = image, mask, band
        self.pixels = image.astype(np.float32)
        self.lab = to_lab(image)
        self._parts: dict[tuple, _StylePart] = {}
        self.memory = DetailMemory()  # the texture of the last face painted in this style

    def part(self, parts: tuple[int, ...], sigma: float, limit: float = DEFAULT_PAINT.detail_limit,
             inset: int = 0) -> _StylePart:
        """``parts`` of the style face (less ``inset`` pixels along their edge) split at
        ``sigma``, its detail limited to ``limit`` spreads."""
        key = (parts, round(sigma, 3), limit, inset)
        if key not in self._parts:
            region = interior(np.isin(self.mask, parts), inset)
            core = interior(region, self.band)
            box = box_around(region, int(3 * sigma) + 2)
            low = low_pass(self.pixels[box], core[box], sigma)
            low_lab = to_lab(low)[core[box]]
            high = np.zeros_like(self.pixels)
            high[box] = self.pixels[box] - low
            spread = np.maximum(1.4826 * np.median(np.abs(high[core]), axis=0) * limit, 1.0)
            high[box] = spread * np.tanh(high[box] / spread) * region[box][..., None]
            self._parts[key] = _StylePart(region, low_lab.mean(axis=0), low_lab.std(axis=0),
                                          self.lab[core].mean(axis=0), self.lab[core].std(axis=0), high)
        return self._parts[key]


_STYLE_CACHE: OrderedDict[tuple, _StyleFace] = OrderedDict()


def _style_face(image: np.ndarray, mask: np.ndarray, band: int) -> _StyleFace:
    digest = hashlib.blake2b(image.tobytes(), digest_size=16)
    digest.update(mask.tobytes())
    key = (digest.hexdigest(), image.shape, band)
    if key in _STYLE_CACHE:
        _STYLE_CACHE.move_to_end(key)
    else:
        _STYLE_CACHE[key] = _StyleFace(image, mask, band)
        while len(_STYLE_CACHE) > STYLE_CACHE_SIZE:
            _STYLE_CACHE.popitem(last=False)
    return _STYLE_CACHE[key]


class _Painter:
    """One painted face: the network's drawing and the style face, shared by its surfaces."""

    def __init__(self, raw: np.ndarray, mask: np.ndarray, style: _StyleFace, config: PaintConfig):
        self.side = mask.shape[0]
        self.mask, self.style, self.config = mask, style, config
        self.network_side = raw.shape[0]
        size = (self.side, self.side)
        # The network's drawing, and for the crisp surfaces without its speckle (pixels of a
        # wrong colour are no shading to keep; an eye is no speckle to remove).
        self.drawing = cv2.resize(raw, size, interpolation=cv2.INTER_CUBIC).astype(np.float32)
        self.guide = cv2.resize(despeckle(raw), size, interpolation=cv2.INTER_CUBIC).astype(np.float32)
        self.band = style.band
        # The splits, never finer than the network resolves (a smaller network: coarser).
        self.generated = min(config.generated_side, raw.shape[0])
        self.skin_generated = min(config.skin_generated_side, 2 * raw.shape[0])

    def texture(self, seen: np.ndarray, region: np.ndarray, source: _StylePart, generated: int,
                seed: int, limit: float, in_place: bool = True) -> np.ndarray:
        """The style part's fine detail over ``region`` (float32 (S, S, 3)), finer than what a
        generator of ``generated`` px resolves: its own where the style face has that part at
        the same place, synthesised from it elsewhere (guided by ``seen``: the coloured guide
        with the network's own strands), joined variance-preserving; ``in_place`` False: all
        synthesised."""
        sigma = split_sigma(self.side, generated)
        copied = region & interior(source.region, self.band + 2) if in_place else np.zeros_like(region)
        new = region & ~copied
        if new.sum() < 16:
            return source.high * copied[..., None]
        blend = 2 * self.band
        zone = region & grow(new, blend)
        synthesis = replace(self.config.synthesis if in_place else self.config.skin_synthesis, detail_limit=limit)
        # Matched on the crisp surfaces' coarser lattice whatever the split (a finer lattice
        # costs four times the cells and finds the same places); the copy is then split.
        matched = min(generated, self.generated)

        def synthesised(where: np.ndarray) -> np.ndarray:
            box = box_around(where, int(3 * sigma) + 2)
            made = synthesize(seen, where, self.style.image, source.region, matched, seed=seed, config=synthesis)
            made_detail = np.zeros_like(made)
            made_detail[box] = (made[box] - low_pass(made[box], where[box], sigma)) * where[box][..., None]
            return made_detail

        if self.config.reuse_texture:  # the last render's texture kept where the stroke did not reach
            key = (seed, in_place, generated, limit, synthesis)
            made_detail = self.style.memory.detail(key, zone, blend, blend, synthesised)
        else:
            made_detail = synthesised(zone)
        # The synthesis fades in over ``blend`` pixels from the new region into the copied one
        # (all of it within the region's box).
        box = box_around(region, 1)
        distance = cv2.distanceTransform((~new[box]).astype(np.uint8), cv2.DIST_L2, 3)
        new_weight = np.clip(1.0 - distance / blend, 0.0, 1.0) * zone[box]
        copy_weight = copied[box] * (1.0 - new_weight * (distance > 0))
        norm = np.maximum(np.sqrt(new_weight ** 2 + copy_weight ** 2), 1e-6)
        detail = np.zeros_like(made_detail)
        copy_weight, new_weight = (copy_weight / norm)[..., None], (new_weight / norm)[..., None]
        detail[box] = copy_weight * source.high[box] + new_weight * made_detail[box]
        return detail

    def crisp(self, part: int, result: np.ndarray) -> None:
        """A crisp surface (background, hair, hat, cloth) painted into ``result``."""
        region = self.mask == part
        core = interior(region, self.band)
        generated = self.generated
        sigma = split_sigma(self.side, generated)
        box = box_around(region, int(3 * sigma) + 2 * self.band + 8)
        low = low_pass(self.guide[box], core[box], sigma)
        source = source_part(part, self.style.mask)
        if source is None:
            result[box][region[box]] = np.where(core[box][region[box]][:, None], self.guide[box][region[box]],
                                                low[region[box]])
            return
        limit = self.config.backdrop_detail_limit if part == BACKGROUND else self.config.detail_limit
        style_part = self.style.part((source,), sigma, limit)
        # Colours are converted on the part's own pixels only (its box holds others': the face
        # in the hair's box); the synthesis reads the guide inside the part only.
        inside = region[box]
        inner = core[box][inside]
        low_lab = to_lab(low[inside][None])[0]
        ours = low_lab[inner]
        gain = np.clip(style_part.low_spread / np.maximum(ours.std(axis=0), 1e-3),
                       GAIN_RANGE[0], 1.0 if part == BACKGROUND else GAIN_RANGE[1])
        coloured = np.zeros_like(low)
        coloured[inside] = from_lab(((low_lab - ours.mean(axis=0)) * gain + style_part.low_mean)[None])[0]
        # The network's own finer detail (its strands' flow), inside the part's interior only.
        own_detail = np.where(core[box][..., None], self.guide[box] - low, 0.0)
        made = coloured + own_detail
        if self.config.texture:  # matched on the coloured guide with that detail, replaced by the style's
            seen = np.zeros_like(self.guide)
            seen[box] = made
            made = coloured + self.texture(seen, region, style_part, generated, self.config.seed + part, limit)[box]
        # The part's mean is the style part's (copied detail is zero-mean only roughly).
        made_lab = to_lab(made[inside][None])[0]
        made_lab += style_part.mean - made_lab[inner].mean(axis=0)
        result[box][inside] = from_lab(made_lab[None])[0]

    def skin(self, result: np.ndarray) -> None:
        """The skin surface and the features on it painted into ``result``."""
        face = ~np.isin(self.mask, CRISP_SURFACES)
        if not face.any():
            return
        skin_region = np.isin(self.mask, SKIN_SURFACE)
        generated = self.skin_generated
        sigma = split_sigma(self.side, generated)
        soft = 2.0 * self.side / self.network_side  # a nose's colour fades into the cheek's over ~2 network pixels
        box = box_around(face, int(3 * max(sigma, soft)) + 2 * self.band + 8)
        mask, inside = self.mask[box], face[box]
        skin_core = interior(skin_region, self.band)[box] if skin_region.any() else inside
        # The skin's shading, carried under the features: all the network draws of it.
        drawing = self.drawing[box]
        low = low_pass(drawing, skin_core, sigma)
        low_lab = to_lab(low)
        moved, weights = np.zeros_like(low_lab), np.zeros(low_lab.shape[:2], np.float32)
        for part in SKIN_SURFACE:
            region = mask == part
            source = source_part(part, self.style.mask)
            if region.sum() < 16 or source is None:
                continue
            style_part = self.style.part((source,), sigma)
            ours = low_lab[interior(region, self.band)]
            gain = np.clip(style_part.low_spread / np.maximum(ours.std(axis=0), 1e-3), GAIN_RANGE[0], 1.0)
            # Within the reach of its blur (OpenCV's Gaussian reaches 4 sigma) only.
            near = box_around(region, int(4 * soft) + 2)
            weight = cv2.GaussianBlur(region[near].astype(np.float32), (0, 0), soft) + 1e-4 * region[near]
            shift = (style_part.mean - ours.mean(axis=0) * gain).astype(np.float32)
            moved[near] += weight[..., None] * (low_lab[near] * gain.astype(np.float32) + shift)
            weights[near] += weight
        coloured_lab = np.where(weights[..., None] > 0, moved / np.maximum(weights[..., None], 1e-6), low_lab)
        # Features: the network's drawing over its own skin, on the coloured skin, soft-edged.
        features = inside & ~skin_region[box]
        feature_weight = np.maximum(cv2.GaussianBlur(features.astype(np.float32), (0, 0), self.band / 2), features)
        # The features' drawing sharpened by what upsampling from the network's pixels blurs (an
        # unsharp mask of about a network pixel): beside textured skin and hair, an eye or a lip
        # four times upsampled read as out of focus.
        blur = cv2.GaussianBlur(drawing, (0, 0), 0.5 * self.side / self.network_side)
        drawn = drawing + self.config.feature_sharpening * (drawing - blur)
        made_lab = coloured_lab + feature_weight[..., None] * (to_lab(drawn) - low_lab)
        # An eye or a mouth keeps the network's chroma: the skin's change of hue carried onto
        # teeth made them cyan where a skin went less red.
        kept = np.isin(mask, tuple(KEEP_NETWORK_COLOUR))
        kept_weight = np.maximum(cv2.GaussianBlur(kept.astype(np.float32), (0, 0), self.band / 2), kept)
        made_lab[..., 1:] -= kept_weight[..., None] * (coloured_lab - low_lab)[..., 1:]
        for part in np.unique(mask[features]):
            region = mask == part
            source = source_part(int(part), self.style.mask)
            if source is None or region.sum() < 16 or part in KEEP_NETWORK_COLOUR:
                continue
            # The mean only: a gain on a brow's spread lit the skin round the drawn hairs (a white rim).
            shift = self.style.part((source,), sigma).mean - made_lab[interior(region, self.band)].mean(axis=0)
            weight = np.maximum(cv2.GaussianBlur(region.astype(np.float32), (0, 0), self.band / 2), region)
            made_lab += weight[..., None] * shift
        made = from_lab(made_lab)
        # The skin's texture from the style face's plain skin (cheeks, forehead) alone, never in
        # place: the skin round its nose, eyes and mouth holds their outlines and folds, which
        # copied in place drew a ghost of the style face's features on the painted one.
        if self.config.texture and source_part(SKIN, self.style.mask) is not None:
            style_skin = self.style.part((SKIN,), sigma, self.config.skin_detail_limit, inset=3 * self.band)
            seen = np.zeros_like(self.guide)
            seen[box] = from_lab(coloured_lab) + np.where(skin_core[..., None], drawing - low, 0.0)
            detail = self.texture(seen, skin_region, style_skin, generated, self.config.seed + SKIN,
                                  self.config.skin_detail_limit, in_place=False)[box]
            made += (1.0 - feature_weight[..., None]) * detail
        if self.config.carry_features:  # the style's own eyes, mouth, lips and ears where painted alike
            under = np.zeros_like(self.guide)
            under[box] = made
            pixels, weight = carried_features(self.style.pixels, self.style.mask, self.mask, self.band / 2, under)
            made += weight[box][..., None] * (pixels[box] - made)
        result[box][inside] = made[inside]


def style_picture(style: Reference, parsed_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The style face at its own side (up to ``MAX_PAINT_SIDE``) and its mask at that side:
    the one given with it, else ``parsed_mask`` (the engine's parse, at the networks' side)."""
    image = style.image
    if isinstance(image, np.ndarray):
        side = image.shape[0]
    elif isinstance(image, Image.Image):
        side = image.height
    else:
        with Image.open(image) as opened:  # the header only: the face is decoded once, below
            side = opened.height
    side = min(side, MAX_PAINT_SIDE)
    picture = as_image(image, side)
    mask = as_mask(style.mask, side, NUM_CLASSES) if style.mask is not None else mask_at(parsed_mask, side)
    return picture, mask


def paint_face(raw: np.ndarray, edited_mask: np.ndarray, style_image: np.ndarray, style_mask: np.ndarray,
               config: PaintConfig = DEFAULT_PAINT) -> np.ndarray:
    """The painted face ``edited_mask`` at ``style_image``'s side: the network's output ``raw``
    (uint8 (g, g, 3)) gives layout and shading, each part of the style face (``style_mask``,
    any side) its colour and fine texture. Returns uint8 (S, S, 3), S = the style face's side
    (never below the network's)."""
    raw, style_image = np.asarray(raw), np.asarray(style_image)
    if raw.ndim != 3 or raw.shape[2] != 3 or style_image.ndim != 3 or style_image.shape[2] != 3:
        raise ValueError(f"raw and style_image must be (H, W, 3) RGB; got {raw.shape} and {style_image.shape}")
    if style_image.shape[0] != style_image.shape[1]:
        raise ValueError(f"the style face must be square; got {style_image.shape[:2]}")
    side = max(style_image.shape[0], raw.shape[0])
    if style_image.shape[0] != side:
        style_image = cv2.resize(style_image, (side, side), interpolation=cv2.INTER_CUBIC)
    band = max(1, round(config.edge_band * side / raw.shape[0]))
    style = _style_face(np.ascontiguousarray(style_image, np.uint8), mask_at(style_mask, side), band)
    painter = _Painter(raw, mask_at(edited_mask, side), style, config)
    result = painter.guide.copy()
    # The surfaces are independent (each writes its own pixels): two at a time, the slowest first.
    surfaces = [part for part in CRISP_SURFACES if (painter.mask == part).any()]
    surfaces.sort(key=lambda part: -np.count_nonzero(painter.mask == part))
    with ThreadPoolExecutor(max_workers=PAINT_THREADS) as pool:
        done = [pool.submit(painter.skin, result)] + [pool.submit(painter.crisp, part, result) for part in surfaces]
        for future in done:
            future.result()
    # Part edges anti-aliased over the pixel either side (both sides have their own colours up
    # to the edge: a blend of the two, no halo); a staircase of the mask's pixels read as a cut-out.
    mask = painter.mask
    edge = cv2.morphologyEx(mask, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    result[edge] = cv2.GaussianBlur(result, (0, 0), EDGE_SOFTNESS)[edge]
    return np.clip(result + 0.5, 0, 255).astype(np.uint8)

__all__ = ["DEFAULT_PAINT", "PaintConfig", "mask_at", "paint_face", "source_part", "style_picture"]
