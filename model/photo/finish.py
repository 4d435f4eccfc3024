"""Finishing a generated face against the pixels it replaces, so an edit looks like a photograph.

The networks generate a small, soft face (128 px for the bundled weights). A ``Finish``
turns it into an edit of a *base* picture (the photo's aligned crop, or the style face for
aligned output), in three steps, each with its switch:

1. **Confinement** (``confine``): the edit lands only where it was asked for: parts given
   another style (a reference, a strength, a random style), pixels repainted, and for a
   shape slider the union of the part's old and new regions: every changed pixel whole,
   faded out just past it (``Finish.blend``), nothing outside them grown by ``margin`` of
   the side. Everywhere else the base's own pixels are kept, byte for byte. Where a
   restyled part meets the background the change follows the base's own edge, not the
   mask's (``part_matte``): a parsed mask that strays over the background between wisps of
   hair does not paint that background as hair, and no halo of generated colour runs along it.
   Off, the network's whole face is used (the paper's global consistency).
2. **Detail transfer** (``keep_detail``): where a part keeps its shape and only changes its
   style, the result takes the generator's low frequencies (colour, shading) and the
   base's high frequencies (strands, pores), split by a Gaussian at about the scale the
   generator resolves. Where the shape changed (painted pixels, shape sliders) the
   generated pixels are used, despeckled (``despeckle``) and upsampled with a Lanczos filter;
   a part that keeps its style and is only moved and stretched by a shape slider (a nose, an
   eye, lips: old and new regions overlap) is the base's own part warped to the new shape.
3. **Reference colour** (``match_colour``): each part restyled from a reference face is
   given the reference part's colour: its CIELAB mean moves to the reference's and its
   spread by the reference's spread over the base's own, both by the part's strength. (The
   bundled generator still drifts from a reference's colours; this step makes the result
   carry them whatever the network gives.) The generated shading is kept within about a
   spread of the base's own shading recoloured the same way (``SHADING_LIMIT``), so a
   blotch of the generator does not become a dark blob; the recolouring is also what
   carries the change past the aligned crop (``paste_back``).

Everything works in aligned pixels at any side; masks of any side are resized (nearest).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..labels import NUM_CLASSES
from .colour import (
    IRIS_PARTS,
    ColourTarget,
    LabTransform,
    colour_sample,
    from_lab,
    gain_of,
    iris_weight,
    match_colours,
    to_lab,
)
from .detail import despeckle, is_moved, low_pass, upsampled
from .edge import cached_part_matte
from .part_warp import moved_field, moved_support, warped
from .regions import (
    MIN_PART_PIXELS,
    anchor_pixels,
    at_size,
    blend_weight,
    box_around,
    changed_pixels,
    edited_region,
    grow,
    strided,
)
from .reshape import REACH, reshape_part

# How far (in spreads of the part) the generated shading of a recoloured part may stray from
# the photo's own shading recoloured; further is softly limited.
SHADING_LIMIT = 0.75  # a spread is never scaled by more than this (a flat part must not blow up)


@dataclass(frozen=True, eq=False)
class Finish:
    """How a generated face becomes an edit of a base picture (see the module's text).

    original_mask: the base's own mask; edited_mask: the mask that was generated.
    restyled: parts given another style (references, random styles).
    reshaped: part → a mask whose part is the new shape (shape sliders above 0).
    shape_strengths: part → its shape slider (1 when not given): at 0.5 and above the part
        lies where the new shape has it (``part_after``).
    colours: part → the colour a restyled part should take.
    margin: how far (share of the side) the region grows past what changed. The blend fades
        out within that margin (``feather``), so every changed pixel is taken whole: a small
        part (a nose) is not half faded into the old one.
    """

    original_mask: np.ndarray
    edited_mask: np.ndarray
    restyled: frozenset[int] = frozenset()
    reshaped: Mapping[int, np.ndarray] = field(default_factory=dict)
    colours: Mapping[int, ColourTarget] = field(default_factory=dict)
    confine: bool = True
    keep_detail: bool = True
    match_colour: bool = True
    margin: float = 0.03
    shape_strengths: Mapping[int, float] = field(default_factory=dict)
    # part → (aligned picture, bool part mask): where a reshaped part's grown pixels take their
    # texture (a reference's part for a part also restyled); absent: the base's own part.
    exemplars: Mapping[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # Reshaped parts re-made at the base's resolution (``remade_parts``); off for the studio's
    # previews while a slider moves (about 0.8 s at 512 px), on for the frame after release.
    remake: bool = True
    notes: tuple[str, ...] = ()  # what the plan had to decide for the user (a closed eye's partner)

    @property
    def feather(self) -> float:
        """The blend's fade band (share of the side) for ``region``: a third of the margin, so
        that the fade (eroded by the band, blurred over it: ~2.4 bands with the square
        kernels of ``blend_weight``) lies wholly in the margin, outside what changed."""
        return self.margin / 3

    def part_after(self, part: int, side: int) -> np.ndarray:
        """bool (side, side): where ``part`` is in the edited face: the edited mask's part, or
        for a reshaped part the new shape once its slider is at 0.5 or more (the layout the
        latents were moved to, ``Engine.edit_layout``)."""
        _, edited = self.masks(side)
        if part not in self.reshaped:
            return edited == part
        alpha = float(self.shape_strengths.get(part, 1.0))
        share = (1 - alpha) * (edited == part) + alpha * smooth_part(self.reshaped[part], part, side)
        return share >= 0.5

    def masks(self, side: int) -> tuple[np.ndarray, np.ndarray]:
        return at_size(self.original_mask, side), at_size(self.edited_mask, side)

    def region(self, side: int) -> np.ndarray:
        """bool (side, side): where the finished face replaces the base."""
        original, edited = self.masks(side)
        if not self.confine:
            return np.ones((side, side), bool)
        region = edited_region(original, edited, self.restyled, self.margin, self.reshaped) | self.moved_support(side)
        return region | self.remade_reach(side, round(self.margin * side))

    def remade_reach(self, side: int, extra: int = 0) -> np.ndarray:
        """bool (side, side): where re-making the reshaped parts (``remade_parts``) may change
        pixels (``reshape.REACH`` past their old and new regions: the forehead's rim), grown by
        ``extra`` pixels; none when the base's detail is not kept."""
        reach = np.zeros((side, side), bool)
        for part in self.remade_parts(side) if self.keep_detail else ():
            reach |= grow((self.masks(side)[0] == part) | self.part_after(part, side), round(REACH * side) + extra)
        return reach

    @property
    def recolours(self) -> bool:
        """Whether parts take a reference's colour (carried past the crop in a photo)."""
        return self.match_colour and bool(self.colours)

    def blend(self, side: int, fade_border: bool = True) -> np.ndarray:
        """float (side, side): how much of the finished face replaces the base. Confined: 1 on
        every changed pixel, fading out over about a hundredth of the side past them (the
        generator's soft colours do not glow onto the unchanged surroundings), and exactly 0
        outside ``region``; unconfined: 1 everywhere. ``fade_border``: also fade at the crop's
        border (not when the change is carried on past it)."""
        if not self.confine:
            return np.ones((side, side), np.float32)
        original, edited = self.masks(side)
        band = blend_band(side)
        changed = grow(changed_pixels(original, edited, self.restyled, self.reshaped), band)
        changed |= self.remade_reach(side, band)  # a vacated region's rim is re-made too
        near = np.minimum(cv2.GaussianBlur(changed.astype(np.float32), (0, 0), band / 2.0) * 2, 1.0)
        weight = blend_weight(self.region(side), self.feather, fade_border) * near
        # A moved part's warp is whole wherever it reaches: it fades to no move by itself.
        return np.maximum(weight, self.moved_support(side).astype(np.float32))

    def anchor(self, side: int) -> np.ndarray:
        """Pixels on which the generated face takes the base's light (see ``anchor_pixels``)."""
        original, edited = self.masks(side)
        return anchor_pixels(original, edited, self.restyled | set(self.reshaped))

    def detail_weight(self, side: int) -> np.ndarray:
        """float (side, side): 1 where the base's fine detail is kept (same class before and
        after, not reshaped), 0 where the shape changed, with a soft edge between."""
        original, edited = self.masks(side)
        keep = original == edited
        for part, target in self.reshaped.items():  # the part's old and new regions both change shape
            keep &= (original != part) & (at_size(target, side) != part)
        keep = keep.astype(np.float32)
        band = max(1, round(0.01 * side))
        keep = cv2.erode(keep, np.ones((2 * band + 1, 2 * band + 1), np.uint8), borderType=cv2.BORDER_REPLICATE)
        return cv2.GaussianBlur(keep, (0, 0), band / 2.0, borderType=cv2.BORDER_REPLICATE)

    def apply(self, face: np.ndarray, base: np.ndarray, anchor: np.ndarray | None = None
              ) -> tuple[np.ndarray, list[LabTransform]]:
        """The finished face at the base's side (float32 RGB, 0..255) and the colour change
        made to each restyled part.

        face: uint8 (g, g, 3), the generated face; base: (S, S, 3), the pixels it replaces;
        anchor: bool, pixels to match the generated light to the base's on (None: none).
        """
        side, generated = base.shape[0], face.shape[0]
        base = base.astype(np.float32)
        resized = upsampled(face, side)
        same_shape = self.detail_weight(side) if self.keep_detail or self.colours else None
        if self.keep_detail and same_shape.min() < 1:  # a shape changed: its pixels are generated ones, despeckled
            cleaned = upsampled(despeckle(face), side)
            resized = cleaned + same_shape[..., None] * (resized - cleaned)
        if anchor is not None:
            resized = match_colours(resized, base, at_size(anchor.astype(np.uint8), side) > 0)
        finished = resized
        if self.keep_detail:
            low_generated = low_pass(resized, generated)
            high_base = base - low_pass(base, generated)
            finished = resized + same_shape[..., None] * (low_generated + high_base - resized)
            finished = self._moved_parts(finished, base)
            finished = self._remade_parts(finished, base, generated)
        transforms: list[LabTransform] = []
        if self.match_colour and self.colours:
            finished, transforms = self._match_part_colours(finished, base, same_shape)
        if self.confine and self.restyled:
            matte_side = self.detail_weight(side) if same_shape is None else same_shape
            finished = self._matted(finished, base, matte_side, {t.part: t for t in transforms})
        return finished, transforms

    def _matted(self, finished: np.ndarray, base: np.ndarray, same_shape: np.ndarray,
                transforms: Mapping[int, LabTransform]) -> np.ndarray:
        """Where each restyled part that keeps its shape meets the background, the edit is the
        base's own pixels recoloured (to the reference's colour, or the generated part's), as
        much as each pixel is the part (``part_matte``): the change follows the photo's edge,
        not the mask's. A pixel inside the part's mask that looks like the background (between
        wisps of hair that the parser took for hair) keeps its own colour instead of turning
        into generated hair, a background pixel just outside that looks like the part (a
        strand past the mask) is recoloured with it, and there is no halo of generated
        colour. Deeper inside the part the finished face takes over."""
        side = base.shape[0]
        original, _ = self.masks(side)
        restyled = np.zeros(NUM_CLASSES, bool)
        restyled[list(self.restyled)] = True
        result = finished.copy()
        # Outside every restyled part but near one, the likeliest such part decides (its alpha there).
        best = np.full((side, side), -1.0, np.float32)
        for part in sorted(self.restyled - set(self.reshaped)):
            matte = cached_part_matte(base, original, part, restyled)
            if matte is None:
                continue
            box, alpha, edge = matte
            # Only the pixels the edge reaches (where a shape changed, ``same_shape`` 0, the
            # generated pixels stand as they are), as flat lists: a fraction of the box.
            weight = same_shape[box] * edge
            inside = original[box] == part
            outside = (edge > 0) & ~restyled[original[box]] & (alpha > best[box])
            best[box][outside] = alpha[outside]
            touched = (weight > 0) & (inside | outside)
            if not touched.any():
                continue
            here, made = base[box][touched], finished[box][touched]
            if self.keep_detail:
                transform = transforms.get(part) or self._generated_colour(part, finished, base)
                recoloured = from_lab(transform.apply(to_lab(here[None])))[0]
            else:  # no photo detail asked for: the finished pixels, only placed by the matte
                recoloured = made
            asked = here + alpha[touched][:, None] * (recoloured - here)
            result[box][touched] = made + weight[touched][:, None] * (asked - made)
        return result

    def _generated_colour(self, part: int, finished: np.ndarray, base: np.ndarray) -> LabTransform:
        """The change that takes the base's ``part`` to the finished part's colour (mean and
        spread in CIELAB, over the part's interior): a random style's colour, for the part's edge."""
        original, _ = self.masks(base.shape[0])
        inner = colour_sample(original, part)
        step = strided(base.shape[0])
        if inner[::step, ::step].sum() >= MIN_PART_PIXELS:  # a sample is enough for statistics
            base, finished, inner = base[::step, ::step], finished[::step, ::step], inner[::step, ::step]
        own, made = to_lab(base[inner][None])[0], to_lab(finished[inner][None])[0]
        return LabTransform(part, own.mean(axis=0), gain_of(own.std(axis=0), made.std(axis=0)), made.mean(axis=0))

    def moves(self, part: int, side: int) -> bool:
        """Whether reshaped ``part`` is the base's own part warped (``_moved_parts``): a feature
        that keeps its style and is moved and stretched, not new (``detail.is_moved``)."""
        original, _ = self.masks(side)
        old, new = original == part, at_size(self.reshaped[part], side) == part
        if part in self.restyled or min(old.sum(), new.sum()) < MIN_PART_PIXELS:
            return False
        return is_moved(part, old, new)

    def remade_parts(self, side: int) -> list[int]:
        """Reshaped parts re-made from the base's pixels (``reshape.py``): every one not moved."""
        if not (self.confine and self.remake):
            return []
        return [part for part in sorted(self.reshaped) if not self.moves(part, side)]

    def _remade_parts(self, finished: np.ndarray, base: np.ndarray, generated: int) -> np.ndarray:
        """Each reshaped part that is not moved (``remade_parts``: hair made fuller or shorter)
        re-made at the base's resolution (``reshape_part``): its kept pixels the base's own, its
        grown ones the texture of its exemplar guided by the network, its vacated ones what lies
        behind (background or skin continued). Around it, where nothing else changes, the
        base's own pixels: no wash of generated colour."""
        side = finished.shape[0]
        parts = self.remade_parts(side)
        if not parts:
            return finished
        original, edited = self.masks(side)
        others = dict(self.reshaped)
        for part in parts:
            others.pop(part)
        # Pixels another change reaches keep the finishing they had.
        elsewhere = grow(changed_pixels(original, edited, self.restyled, others), max(1, round(self.margin * side)))
        if not np.array_equal(original, edited):
            elsewhere |= grow(original != edited, max(1, round(self.margin * side)))
        result = finished.copy()
        current = base.astype(np.float32)
        for seed, part in enumerate(parts):
            exemplar = self.exemplars.get(part)
            if exemplar is not None:
                exemplar = (np.asarray(exemplar[0]), np.asarray(exemplar[1], bool))
            current, _ = reshape_part(finished, current, original, part, self.part_after(part, side), generated,
                                      exemplar, seed=seed)
            # As far as the blend takes the finished face whole or in part (``blend``).
            reach = round(REACH * side) + 2 * blend_band(side) + 2
            near = grow((original == part) | self.part_after(part, side), reach)
            own = near & ~elsewhere  # the part's strays past its mask and the rim of what it vacated, too
            result[own] = current[own]
        return result

    def moved_targets(self, side: int) -> dict[int, np.ndarray]:
        """part → bool (side, side), its whole new region, for each reshaped part that ``moves``."""
        return {part: at_size(target, side) == part for part, target in self.reshaped.items()
                if self.moves(part, side)}

    def moved_support(self, side: int) -> np.ndarray:
        """bool (side, side): where the warp of the moved parts may change pixels (``part_warp``)."""
        original, _ = self.masks(side)
        if not self.keep_detail:
            return np.zeros((side, side), bool)
        return moved_support(original, self.moved_targets(side))

    def _moved_parts(self, finished: np.ndarray, base: np.ndarray) -> np.ndarray:
        """A reshaped feature that keeps its style and is moved and stretched rather than new
        (``moves``) is the base's own part carried to the new shape by a smooth warp of the base
        (``part_warp``): the skin around it is stretched or drawn in, no pixel is invented, no
        box or edge shows. Pixels another change reaches keep the finishing they had."""
        side = finished.shape[0]
        original, edited = self.masks(side)
        targets = self.moved_targets(side)
        field = moved_field(original, targets, self.shape_strengths)
        if field is None:
            return finished
        others = {part: target for part, target in self.reshaped.items() if part not in targets}
        reach = max(1, round(self.margin * side))
        elsewhere = grow(changed_pixels(original, edited, self.restyled, others), reach)
        if not np.array_equal(original, edited):
            elsewhere |= grow(original != edited, reach)
        own = (~elsewhere[field.box]).astype(np.float32)
        band = max(1, round(0.01 * side))
        own = np.minimum(own, cv2.GaussianBlur(own, (0, 0), band))[..., None]
        finished[field.box] += own * (warped(base, field)[field.box] - finished[field.box])
        return finished

    def _match_part_colours(self, finished: np.ndarray, base: np.ndarray, same_shape: np.ndarray
                            ) -> tuple[np.ndarray, list[LabTransform]]:
        """``same_shape``: ``detail_weight``. Where the shape changed, the base's pixels are
        another part (old hair where the new hair ends, a face where it begins): no shading is
        taken from them there, or they would show through the new shape as a ghost."""
        side = finished.shape[0]
        original, edited = self.masks(side)
        band = max(1, round(0.006 * side))
        step = strided(side)

        def sampled_lab(image: np.ndarray, where: np.ndarray) -> np.ndarray:
            """CIELAB of ``image`` at every ``step``-th pixel of ``where`` (all of it when too few)."""
            pixels = image[::step, ::step][where[::step, ::step]]
            return to_lab((pixels if len(pixels) >= MIN_PART_PIXELS else image[where])[None])[0]

        plans = []
        irises = {part for part in self.colours if part in IRIS_PARTS and part not in self.reshaped}
        base_lightness = to_lab(base)[..., 0] if irises else None
        for part, target in self.colours.items():
            inside = self.part_after(part, side)
            if inside.sum() < MIN_PART_PIXELS:
                continue
            own_inner = colour_sample(original, part, lightness=base_lightness if part in irises else None)
            inner = own_inner if part in irises else colour_sample(edited, part, inside)
            pixels = sampled_lab(finished, inner)
            mean, spread = pixels.mean(axis=0), pixels.std(axis=0)
            own = sampled_lab(base, own_inner) if own_inner.sum() >= MIN_PART_PIXELS else pixels
            # The spread is the base's own (photo detail included) scaled like the reference's.
            wanted = own.std(axis=0) * target.spread_ratio
            transform = LabTransform(part, mean, gain_of(spread, wanted), target.mean)
            recoloured = LabTransform(part, own.mean(axis=0), gain_of(own.std(axis=0), wanted), target.mean)
            plans.append((part, inside, wanted, transform, recoloured))
        if not plans:
            return finished, []
        # Colours are converted only in the box the parts' soft weights reach, not the whole face.
        union = np.zeros((side, side), bool)
        for _, inside, *_ in plans:
            union |= inside
        outer = box_around(union, 3 * band)
        lab, base_lab = to_lab(finished[outer]), to_lab(base[outer])
        result = lab.copy()
        for part, inside, wanted, transform, recoloured in plans:
            inside = inside[outer]
            box = box_around(inside, 3 * band)  # only where the part's soft weight reaches
            here = lab[box]
            expected = recoloured.apply(base_lab[box])
            if part in irises:  # the photo's own eye, only its iris recoloured (a few generated pixels are no eye)
                iris = iris_weight(base_lab[box][..., 0], inside[box])[..., None]
                matched = base_lab[box] + iris * (expected - base_lab[box])
            else:
                # The generator's shading is kept, but a blotch far from the photo's own shading
                # recoloured the same way (a dark blob on the crown) is softly limited to about
                # the part's spread: k tanh(d / k) leaves small differences as they are.
                limit = np.maximum(SHADING_LIMIT * wanted, 2.0).astype(np.float32)
                moved = transform.apply(here)
                limited = expected + limit * np.tanh((moved - expected) / limit)
                matched = moved + same_shape[outer][box][..., None] * (limited - moved)
            weight = cv2.GaussianBlur(inside[box].astype(np.float32), (0, 0), band)[..., None]
            result[box] += weight * (matched - here)
        finished = finished.copy()
        finished[outer] = from_lab(result)
        return finished, [recoloured for *_, recoloured in plans]


def smooth_part(mask: np.ndarray, part: int, side: int) -> np.ndarray:
    """float32 (side, side): ``part`` of a mask of any side, 1 inside, 0 outside; brought up to
    a larger side smoothly (a 128 px shape at 512 px has smooth edges, not steps of 4 px)."""
    region = (np.asarray(mask) == part).astype(np.float32)
    if region.shape[0] >= side:
        return at_size(region.astype(np.uint8), side).astype(np.float32)
    # Linear, then smoothed over about half a pixel of the mask: its steps are no shape.
    larger = cv2.resize(region, (side, side), interpolation=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(larger, (0, 0), 0.5 * side / region.shape[0])


def blend_band(side: int) -> int:
    """Pixels: how far past what changed the blend stays whole, then fades over as much (``Finish.blend``)."""
    return max(1, round(0.006 * side))


def finish_image(face: np.ndarray, base: np.ndarray, finish: Finish, anchor: np.ndarray | None = None
                 ) -> np.ndarray:
    """``base`` (uint8 (S, S, 3)) with the finished ``face`` blended in where ``finish``
    confines it (faded within its margin): uint8 (S, S, 3), the base's own bytes outside the region."""
    side = base.shape[0]
    finished, _ = finish.apply(face, base, anchor)
    weight = finish.blend(side)[..., None]
    mixed = base.astype(np.float32) + weight * (finished - base.astype(np.float32))
    result = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    outside = weight[..., 0] <= 0
    result[outside] = base[outside]
    return result

