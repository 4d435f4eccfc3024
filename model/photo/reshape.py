"""A part given a new shape in a photo (hair made fuller or shorter), at the photo's resolution.

The network gives the new layout's shading at its own 128 px; every pixel it would paint is
re-made from the photo itself (``reshape_part``):

- **kept** (the part before and after): the photo's own pixels, untouched;
- **grown** (the part after, not before): the part's texture copied from a real exemplar at
  full resolution (``texture.synthesize``: the photo's own part, or ``Finish.exemplars``'s
  picture for a part restyled from a reference), guided at low frequency by the network's
  output. That guide is first given the source part's colour statistics (its CIELAB mean and
  spread, the spread never more than the source's), then joined to the kept part without a
  step (the difference along their border carried into the grown region as a membrane, the
  gradient-domain join of Poisson cloning);
- **vacated** (the part before, not after): each pixel becomes the class nearest to it in the
  photo's mask (the background, the forehead's skin, ...), continued from that class's own
  pixels (``inpaint.fill_vacated``: colour by a membrane, grain synthesised from it);
- objects that are no face class (``non_face_objects``: the background enclosed by the face,
  a hand on the forehead) keep their pixels and are never copied from.

The part's new edge fades like hair (``hair_edge_alpha``): over a few pixels (``FEATHER``),
along no straight line, strands reaching out further than the gaps between them; grown hair
is painted a little past the asked outline for it, and skin is filled a little under the kept
hair along a new hairline. Nothing outside the part's old and new regions changes, but that
fade and the rim of a vacated region (``RIM``, ``SKIN_FILL``), whose stray strands and shadow
go with the part.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..io.masks import nearest_class
from ..labels import BACKGROUND, CLASS_NAMES, NUM_CLASSES
from .colour import from_lab, to_lab
from .edge import cached_part_matte
from .inpaint import FillConfig, fill_vacated, membrane
from .regions import MIN_PART_PIXELS, box_around, grow, interior
from .texture import SynthesisConfig, masked_low_pass, split_sigma, synthesize

OLD_EDGE = 0.014  # share of the side: the old edge re-made where a part grows past it
RIM = 0.02  # share of the side: the background next to a vacated region re-made with it, fading out
# Where the new part's edge is invented (grown hair against the backdrop, a new hairline on the
# forehead) it fades like hair does: over this share of the side (6 px at 512 px) ...
FEATHER = 0.012
STRAND_REACH = 0.5  # ... each pixel's strand (its hair-like deviation) moving its fade by up to this of it
WOBBLE = 0.004  # ... and the whole fade line wandering by about this share of the side (no straight cut)
WOBBLE_SCALE = 0.012  # share of the side: the wandering's length scale
SPREAD_LIMITS = (0.5, 1.0)  # the guide's low-frequency spread scaled to the source's by at most these
# Behind a part: a backdrop's grain needs no long coherent strands, so fewer sweeps of the search.
FILL = FillConfig(blend=RIM, texture=SynthesisConfig(detail_limit=4.0, match_seen=False, sweeps=2, random=4))
# The forehead a fringe leaves: the skin along the old hairline lies in the hair's shadow (darker
# by 10-25 levels over some 3 % of the side); it is re-made with the fill, whose shading is then
# continued from the lit skin beyond it, not from the shadow (a dark flat patch above a light curve).
# Grown hair's copied detail softly limited (4 robust spreads of the photo's hair's): a few lit
# strands, stamped over the dark low-pass of hair grown in a dark photo, read as light streaks.
HAIR_SYNTHESIS = SynthesisConfig(detail_limit=4.0)
SKIN_FILL = FillConfig(blend=0.06, texture=FILL.texture)
REACH = max(SKIN_FILL.blend, 2 * RIM)  # share of the side: how far past the part's regions re-making it reaches
SKIN, NECK, NOSE, CLOTH = (CLASS_NAMES.index(name) for name in ("skin", "neck", "nose", "cloth"))
NECK_REACH = 0.015  # share of the side: how far past the neck a vacated pixel is neck
CLOTH_REACH = 0.015  # ... and past the clothes a vacated pixel is clothes
FOREHEAD = 0.8  # the forehead's height over the brows-to-nose-tip height (a face's thirds, a little short)
FOREHEAD_POINTS = 17  # points on the forehead's arc
ROUNDNESS = 2 / 3  # the arc's exponent: |x|^3 + |y|^3 = 1 (1: an ellipse, narrower half way up)
TEMPLE = 0.12  # the forehead reaches this share of the brows' span past each brow
LIPS = tuple(CLASS_NAMES.index(name) for name in ("u_lip", "l_lip", "mouth"))
CHEEK_REACH = 0.03  # share of the side: how far the face's skin goes on under hair that hung over it
BROWS = tuple(CLASS_NAMES.index(name) for name in ("l_brow", "r_brow"))
CLASS_BLEND = 0.012  # share of the side: two classes' fills cross-fade over this where they meet
# The network's part blurs into what lies beyond it over a couple of its pixels: the guide of the
# grown pixels this near the part's outer edge is continued from further in (its mix with the
# backdrop, given the part's colour, drew a dark or tinted outline round the new hair).
EDGE_GUIDE = 0.02
JOIN_REACH = 0.06  # share of the side: how far into grown pixels the kept part's own shading reaches
# What a vacated pixel can become: what lies behind a part (the face's skin only within the face).
BEHIND = tuple(CLASS_NAMES.index(name) for name in ("background", "neck", "cloth"))
# The face's oval (no ears: above an ear lies hair or the background, not skin).
FACE = tuple(CLASS_NAMES.index(name) for name in (
    "skin", "nose", "l_eye", "r_eye", "l_brow", "r_brow", "mouth", "u_lip", "l_lip"))


def non_face_objects(mask: np.ndarray) -> np.ndarray:
    """bool: the photo's background pixels enclosed by the face (not joined to the picture's
    border through the background): a hand or a microphone in front of the face, which the
    parser leaves as background and which an edit must never paint over."""
    background = (mask == BACKGROUND).astype(np.uint8)
    count, labels = cv2.connectedComponents(background, connectivity=4)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    enclosed = np.ones(count, bool)
    enclosed[border] = False
    enclosed[0] = False  # label 0: not background at all
    return enclosed[labels]


def behind(mask: np.ndarray, part: int, after: np.ndarray | None = None) -> np.ndarray:
    """(H, W): the class each pixel of ``part`` would show were the part gone: the face's skin
    inside the face (the convex hull of its skin and features and of the forehead a fringe may
    hide, ``forehead``) and, over the forehead's width, under the part as it is ``after`` the
    edit (the scalp between new hair and the brow: no band of background inside a head),
    elsewhere the nearest of what lies behind a part (``BEHIND``: the background, the neck, clothes)."""
    side = mask.shape[0]
    classes = nearest_class(mask, ~np.isin(mask, BEHIND) | (mask == part), fill=BACKGROUND)
    # The neck is continued only near itself (behind hair over a shoulder: clothes or the background).
    far_from_neck = cv2.distanceTransform((mask != NECK).astype(np.uint8), cv2.DIST_L2, 3) > NECK_REACH * side
    if (classes == NECK).any() and (mask != NECK).any():
        others = nearest_class(mask, ~np.isin(mask, tuple(set(BEHIND) - {NECK})) | (mask == part), fill=BACKGROUND)
        classes = np.where((classes == NECK) & far_from_neck, others, classes)
    # Clothes too, only near themselves: hair hanging past a shoulder hides the background, and
    # the shoulder's line is where the parsed clothes end.
    far_from_cloth = cv2.distanceTransform((mask != CLOTH).astype(np.uint8), cv2.DIST_L2, 3) > CLOTH_REACH * side
    classes = np.where((classes == CLOTH) & far_from_cloth, BACKGROUND, classes).astype(mask.dtype)
    points = cv2.findNonZero(np.isin(mask, FACE).astype(np.uint8))
    if points is not None and len(points) >= 3:
        points = points.reshape(-1, 2)
        hull = np.zeros(mask.shape, np.uint8)
        brow = forehead(mask, points)
        cv2.fillConvexPoly(hull, cv2.convexHull(np.concatenate([points, brow])), 1)
        brows = np.flatnonzero(np.isin(mask, BROWS).any(axis=1))
        if after is not None and len(brows):
            under = np.maximum.accumulate(after, axis=0)  # some of the part lies above, in the same column
            under[brows[0]:] = False
            under[:, :int(brow[:, 0].min())] = under[:, int(brow[:, 0].max()) + 1:] = False
            hull[under & (classes == BACKGROUND)] = 1
        # The cheeks go on a little under hair that hung over them: a narrow strip between new
        # hair and the face is skin, not a dark band of background (down to the lips' level).
        lips = np.flatnonzero(np.isin(mask, LIPS).any(axis=1))
        if after is not None and len(lips) and len(brows):
            reach = max(1, round(CHEEK_REACH * side))
            cheeks = grow(hull > 0, reach) & grow(after, reach) & (mask == part)
            cheeks[:brows[0]] = cheeks[lips[-1] + 1:] = False
            hull[cheeks] = 1
        classes = np.where(hull > 0, SKIN, classes).astype(mask.dtype)
    return classes


def forehead(mask: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(k, 2) x, y points of the forehead a part may hide (a fringe): up from the brows by
    ``FOREHEAD`` of the brows-to-nose-tip height (the face's thirds), across the temples' width,
    its top rounded. Without brows and a nose, the face's own points raised a little."""
    brows, brow_columns = np.nonzero(np.isin(mask, BROWS))
    nose = np.nonzero(mask == NOSE)[0]
    if len(brows) == 0 or len(nose) == 0 or nose.max() <= brows.min():
        return points - np.array([0, round(0.02 * mask.shape[0])], points.dtype)
    brow_top, height = int(brows.min()), int(nose.max() - brows.min())
    temples = points[(points[:, 1] >= brow_top) & (points[:, 1] <= brow_top + 0.3 * height)]
    if len(temples) == 0:
        temples = points
    # The forehead is about as wide as the brows and a little more, never wider than the face there.
    reach = TEMPLE * (brow_columns.max() - brow_columns.min())
    left = int(max(temples[:, 0].min(), brow_columns.min() - reach))
    right = int(min(temples[:, 0].max(), brow_columns.max() + reach))
    # Half a superellipse over the brows (as wide as the temples most of the way up, then
    # rounded): corners drew a flat-topped, straight-sided head where all the hair went.
    angles = np.linspace(0.0, np.pi, FOREHEAD_POINTS)
    cos, sin = np.cos(angles), np.sin(angles)
    centre, half_width = (left + right) / 2, (right - left) / 2
    arc = np.stack([centre + half_width * np.sign(cos) * np.abs(cos) ** ROUNDNESS,
                    brow_top - FOREHEAD * height * sin ** ROUNDNESS], axis=1)
    return np.round(arc).astype(points.dtype)


def source_coloured(guide: np.ndarray, region: np.ndarray, source: np.ndarray, source_region: np.ndarray,
                    sigma: float) -> np.ndarray:
    """``guide`` (float32 RGB) over ``region`` given the colour statistics of ``source`` over
    ``source_region``: the CIELAB mean and spread of the low-pass (what the network resolves),
    the guide's spread scaled by at most ``SPREAD_LIMITS`` (its blotches never grow)."""
    guide_lab = to_lab(masked_low_pass(guide, region, sigma)[region][None])[0]
    source_lab = to_lab(masked_low_pass(source, source_region, sigma)[source_region][None])[0]
    gain = np.clip(source_lab.std(axis=0) / np.maximum(guide_lab.std(axis=0), 1e-3), *SPREAD_LIMITS)
    pixels = to_lab(guide[region][None])[0]
    moved = (pixels - guide_lab.mean(axis=0)) * gain + source_lab.mean(axis=0)
    result = guide.copy()
    result[region] = from_lab(moved[None])[0]
    return result


def inward_guide(guide: np.ndarray, painted: np.ndarray, kept: np.ndarray, reach: int) -> np.ndarray:
    """``guide`` with its ``painted`` pixels within ``reach`` of the part's outer edge (not of
    the ``kept`` part) continued from the painted pixels further in, as a membrane."""
    rim = painted & grow(~(painted | kept), reach)
    inner = painted & ~rim
    if reach <= 0 or not rim.any() or inner.sum() < MIN_PART_PIXELS:
        return guide
    box = box_around(painted, 2)
    continued = membrane(guide[box].astype(np.float32), inner[box])
    result = guide.astype(np.float32).copy()
    result[box][rim[box]] = continued[rim[box]]
    return result


def joined(guide: np.ndarray, grown: np.ndarray, kept: np.ndarray, base: np.ndarray, sigma: float) -> np.ndarray:
    """``guide`` over ``grown`` moved, at low frequency, to meet the ``kept`` part's own pixels
    (``base``) without a step: their low-pass difference along the border, continued into
    ``grown`` as a membrane (harmonic, so far from the border it is the border's mean)."""
    # The kept part's pixels next to the grown ones, away from its other edges (mixed with the background).
    border = kept & grow(grown, max(2, round(2 * sigma))) & ~grow(~kept & ~grown, max(2, round(2 * sigma)))
    if border.sum() < MIN_PART_PIXELS:
        return guide
    box = box_around(grown | border, max(4, round(4 * sigma)))
    # Each side's low-pass over its own pixels, continued a little past them (normalised convolution).
    difference = masked_low_pass(base[box], border[box], sigma) - masked_low_pass(guide[box], grown[box], sigma)
    offset = membrane(difference.astype(np.float32), border[box])
    # Whole at the border, gone JOIN_REACH into the grown pixels (beyond, the source's statistics).
    distance = cv2.distanceTransform((~border[box]).astype(np.uint8), cv2.DIST_L2, 3)
    fade = np.clip(1.0 - distance / (JOIN_REACH * guide.shape[0]), 0.0, 1.0)
    result = guide.copy()
    inside = grown[box]
    result[box][inside] += (fade * fade * (3 - 2 * fade))[inside][:, None] * offset[inside]
    return result


def _behind_filled(base: np.ndarray, original: np.ndarray, part: int, vacated: np.ndarray, keep: np.ndarray,
                   after: np.ndarray, seed: int) -> np.ndarray:
    """``base`` with the ``vacated`` pixels of ``part`` made what lies behind (``behind``), each
    class continued from its own pixels (``fill_vacated``). Where two classes meet inside the
    vacated region (skin and background) their fills cross-fade over ``CLASS_BLEND``, not a cut."""
    side = base.shape[0]
    classes = behind(original, part, after)
    reach = max(1, round(CLASS_BLEND * side))
    fills, weights = [], []
    for index, kind in enumerate(np.unique(classes[vacated])):
        own = vacated & (classes == kind)
        source = (original == kind) & ~vacated & ~keep
        if source.sum() < MIN_PART_PIXELS:
            continue
        region = vacated & grow(own, 2 * reach)  # past its own pixels, as far as the cross-fade reaches
        config = SKIN_FILL if kind == SKIN else FILL
        fills.append(fill_vacated(base, region, source, keep=keep, seed=seed + index, config=config))
        weight = own.astype(np.float32)
        box = box_around(region, 2 * reach)
        weight[box] = cv2.GaussianBlur(weight[box], (0, 0), reach / 2.0) * region[box]
        weights.append(weight)
    if not fills:
        return base.copy()
    total = np.maximum(np.sum(weights, axis=0), 1e-6)[..., None]
    result = base + sum(fill - base for fill in fills)  # outside the vacated pixels each fill's rim, fading out
    result[vacated] = (sum(w[..., None] * fill for w, fill in zip(weights, fills)) / total)[vacated]
    covered = vacated & (np.sum(weights, axis=0) > 1e-6)
    result[vacated & ~covered] = base[vacated & ~covered]
    return result


def reshape_part(finished: np.ndarray, base: np.ndarray, original: np.ndarray, part: int, after: np.ndarray,
                 generated_side: int, exemplar: tuple[np.ndarray, np.ndarray] | None = None, seed: int = 0
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The picture with ``part`` in its new shape ``after``, and the pixels it changed.

    finished: float32 RGB (S, S, 3), the network's face as finished so far (the guide); base:
    the photo's pixels it replaces (S, S, 3); original: the photo's mask (S, S); after: bool,
    where the part is after the edit; generated_side: the network's side; exemplar: (picture,
    its part as bool) whose texture the grown pixels take (None: the photo's own part). Returns
    float32 (S, S, 3), the base's own pixels outside the changed ones, and bool (S, S) changed.
    """
    side = base.shape[0]
    base = base.astype(np.float32)
    result = base.copy()
    before = original == part
    keep = non_face_objects(original)
    # Strands past the parsed mask (``part_matte``: pixels of the background that look like the
    # part) leave with it: no wisps of the old part float where it was.
    restyled = np.zeros(NUM_CLASSES, bool)
    restyled[part] = True
    matte = cached_part_matte(base, original, part, restyled)
    if matte is not None:
        box, alpha, _ = matte
        strays = np.zeros_like(before)
        strays[box] = (alpha > 0.5) & (original[box] == BACKGROUND)
        before = before | (strays & ~keep & grow(before, round(RIM * side)))
    after = after & ~keep
    grown, vacated, kept = after & ~before, before & ~after & ~keep, before & after
    # The old edge where the part grows past it is re-made with the grown pixels: its pixels are
    # the part mixed with what lay beyond (lighter, or the backdrop's colour), which kept would
    # trace the old outline as a thin line inside the new part.
    old_edge = kept & grow(grown, max(1, round(OLD_EDGE * side)))
    if grown.sum() >= MIN_PART_PIXELS and (kept & ~old_edge).sum() >= MIN_PART_PIXELS:
        grown, kept = grown | old_edge, kept & ~old_edge
    changed = grown | vacated
    if not changed.any():
        return result, changed
    sigma = split_sigma(side, generated_side)
    feather = max(1.5, FEATHER * side)
    reach = int(np.ceil(feather))
    # The new edge fades over ``feather`` on both sides of it: the grown hair is painted a little
    # past the asked outline (its strands end there), and the kept hair along a new hairline has
    # the skin filled under it (the hair thins out onto the forehead).
    outer = grow(after, reach) & ~after & ~before & ~keep if grown.any() else np.zeros_like(after)
    hairline = after & before & grow(vacated, reach)
    # Under the part: what the photo shows where it left, each vacated pixel its nearest other class.
    under = base.copy()
    if vacated.any():
        under = _behind_filled(base, original, part, vacated | hairline, keep | (after & ~hairline), after, seed)
        changed |= np.any(under != base, axis=2)
    # Over it: the part, kept where it was, its grown pixels synthesised from the exemplar.
    over = base.copy()
    painted = grown | outer
    if grown.sum() >= MIN_PART_PIXELS:
        picture, region = (base, interior(before)) if exemplar is None else exemplar
        if region.sum() >= MIN_PART_PIXELS:
            guide = inward_guide(finished, painted, kept, round(EDGE_GUIDE * side))
            guide = source_coloured(guide, painted, picture.astype(np.float32), region, sigma)
            guide = joined(guide, painted, kept, base, sigma)
            made = synthesize(guide, painted, np.clip(picture + 0.5, 0, 255).astype(np.uint8), region,
                              generated_side, seed=seed, config=HAIR_SYNTHESIS)
            over[painted] = made[painted]
        else:  # no exemplar to copy from: the network's pixels
            over[painted] = finished[painted]
    alpha = np.zeros(after.shape, np.float32)
    if changed.any():
        box = box_around(changed | hairline, 3 * reach)
        alpha[box] = hair_edge_alpha(after[box], over[box], under[box], feather, side, seed)
    # The part's kept pixels stay the photo's own, but along a new hairline.
    alpha = np.where(before & after & ~hairline, 1.0, alpha)
    alpha[keep] = 0.0
    alpha = alpha[..., None]
    result = under + alpha * (over - under)
    result[keep] = base[keep]
    changed = np.any(np.abs(result - base) > 0, axis=2)
    return result, changed


def hair_edge_alpha(after: np.ndarray, over: np.ndarray, under: np.ndarray, feather: float, side: int,
                    seed: int = 0) -> np.ndarray:
    """float32 (H, W) in 0..1: how much of ``over`` (the part) shows over ``under`` (what
    lies behind it) about the edge of ``after`` (a box of a picture of ``side`` px). The fade
    is ``feather`` px wide, centred on the edge, and follows no straight line: it wanders
    smoothly (``WOBBLE``), and each pixel's own strand moves it by up to ``STRAND_REACH`` of
    the feather: a pixel that deviates from its surroundings the way the part differs from
    what is behind it (a dark strand on a light backdrop) reaches further out, the gaps
    between strands end sooner: wisps, not a cut."""
    inside = cv2.distanceTransform(after.astype(np.uint8), cv2.DIST_L2, 3)
    outside = cv2.distanceTransform((~after).astype(np.uint8), cv2.DIST_L2, 3)
    signed = np.where(after, inside - 0.5, 0.5 - outside).astype(np.float32)
    lightness_over, lightness_under = over.mean(axis=2), under.mean(axis=2)
    deviation = lightness_over - cv2.GaussianBlur(lightness_over, (0, 0), feather)
    # Which way a strand deviates: the part's side of the contrast with what is behind it, locally.
    contrast = cv2.GaussianBlur(lightness_over - lightness_under, (0, 0), 2 * feather)
    band = np.abs(signed) <= feather
    spread = float(np.median(np.abs(deviation[band]))) * 1.4826 if band.any() else 0.0
    strand = np.clip(deviation * np.sign(contrast) / max(spread, 1.0), -2.0, 2.0)
    rng = np.random.default_rng(seed)
    wobble = cv2.GaussianBlur(rng.normal(0.0, 1.0, after.shape).astype(np.float32), (0, 0),
                              max(1.0, WOBBLE_SCALE * side))
    wobble *= WOBBLE * side / max(float(wobble.std()), 1e-6)
    ramp = np.clip((signed + wobble + STRAND_REACH * feather * strand) / feather + 0.5, 0.0, 1.0)
    return (ramp * ramp * (3.0 - 2.0 * ramp)).astype(np.float32)
