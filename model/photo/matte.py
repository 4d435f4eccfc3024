"""A restyled part's alpha matte against the photo's background, and the part recoloured over it.

Hair against a background is an alpha-matting problem: a pixel between wisps is partly hair
and partly whatever is behind it, and the parser's mask strays both ways (it covers the
background between wisps and misses strands past its edge). Recolouring the mask's pixels
recolours the background between strands and leaves a rim of the old colour; recolouring a
blurred mask leaves a haze over the background. Here, in a band along where the part meets
the background (``trimap``), each pixel's alpha comes from the photo's own colours
(closed-form matting, Levin, Lischinski and Weiss 2008: alpha is locally a linear function of
the colour, so it follows the photo's edges), the part's own colour F and the background's B
are estimated under it (blur fusion, Forte and Pitié 2021), and a recolour changes F only:
``image + alpha * (recolour(F) - F)`` is the recoloured part over the photo's own background.

Where the part meets another part of the face (hair on skin), the parse decides: colours
cannot tell skin from skin-coloured strands, and that edge is the parser's strength.

Numpy, SciPy's sparse solver and OpenCV only: no JIT, so the first call costs what the others
do. The band is solved at reduced resolution when its box is large and brought back to full
size edge-aware (a guided filter on the full-size photo).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import scipy.sparse
import scipy.sparse.linalg

# Trimap values: definitely not the part (the background far from it, and every other class),
# unknown (the band where the part meets the background), definitely the part.
TRIMAP_BACKGROUND, TRIMAP_UNKNOWN, TRIMAP_FOREGROUND = 0, 128, 255

# The band's half-width as a share of the face's side: the parser's hair mask strays this far
# over the background between wisps and misses strands this far past its edge.
BAND_SHARE = 0.05
# The unknown band's box is solved with its long side at most this many pixels (then brought
# back to full size by the guided filter): a 768-pixel crop's hair is solved at half size.
WORK_SIDE = 400
# Closed-form matting: 3x3 windows, and the regulariser of each window's colour covariance
# (colours in 0..1). Larger smooths alpha across weak edges.
WINDOW_RADIUS = 1
MATTING_EPSILON = 1e-6
# The data term (``_alpha_prior``), per pixel against the Laplacian's O(1) entries: the pull
# towards the colours' own alpha where the part's and the background's colours nearby differ
# (a tie-break: the Laplacian follows the edges), and towards the parse where they do not
# (firm: a transition a few pixels wide); colours ``SEPARATION`` apart (RGB 0..1, Euclidean)
# are half way between. On the background's side the parse also pulls with up to
# ``PARSE_PRIOR``, growing with the distance past the mask's edge (full a band away).
COLOUR_PRIOR = 1e-3
MASK_PRIOR = 0.5
SEPARATION = 0.2
PARSE_PRIOR = 1e-2
# The parse's word is soft near its edge: it says "part" fully only this share of a band inside
# its edge, nothing at the edge. The parser's edge strays a few pixels over the background, and
# where the colours cannot tell the two apart (black hair on a black wall) a firm parse carried
# the new colour that far onto the background, a hard, invented outline.
PARSE_RAMP = 0.5
PRIOR_REACH = 2.5  # the part's and the background's colours are taken this many bands around
# Conjugate gradients: relative residual and iteration cap.
SOLVER_TOLERANCE = 1e-4
SOLVER_ITERATIONS = 2000
# Alpha this close to 0 or 1 is 0 or 1, the rest stretched linearly between: closed-form
# matting leaves a few hundredths of alpha on the background next to strands (its linear
# model shrinks towards the window's mean), a haze once dark hair turns platinum.
ALPHA_SNAP = 0.06
# The guided filter that brings alpha back to full size: window radius (working pixels) and
# regulariser (colours in 0..1).
GUIDE_RADIUS = 2
GUIDE_EPSILON = 1e-4
# Blur fusion: the wide blur's radius as a multiple of the band, then a narrow one (pixels).
WIDE_BLUR_BANDS = 2.0
NARROW_BLUR = 3


def band_for(face_side: float) -> int:
    """The unknown band's half-width, in pixels, for a face ``face_side`` pixels across."""
    return max(2, round(BAND_SHARE * face_side))


def trimap(part: np.ndarray, background: np.ndarray, band: int) -> np.ndarray:
    """The trimap (uint8: ``TRIMAP_FOREGROUND`` / ``TRIMAP_UNKNOWN`` / ``TRIMAP_BACKGROUND``)
    of ``part`` (bool (H, W)) against ``background`` (bool (H, W)).

    Unknown: the part's pixels within ``band`` of the background and the background's within
    ``band`` of the part. Foreground: the rest of the part (it is eroded on the background's
    side only; where it meets another class the parse stands). Background: everything else,
    the far background and the other classes.
    """
    part, background = np.asarray(part, bool), np.asarray(background, bool) & ~np.asarray(part, bool)
    if part.shape != background.shape or part.ndim != 2:
        raise ValueError(f"part and background must be two masks of one (H, W) shape, got {part.shape} and "
                         f"{background.shape}")
    result = np.where(part, TRIMAP_FOREGROUND, TRIMAP_BACKGROUND).astype(np.uint8)
    if not part.any() or not background.any() or band < 1:
        return result
    to_background = cv2.distanceTransform((~background).astype(np.uint8), cv2.DIST_L2, 5)
    to_part = cv2.distanceTransform((~part).astype(np.uint8), cv2.DIST_L2, 5)
    result[(part & (to_background <= band)) | (background & (to_part <= band))] = TRIMAP_UNKNOWN
    return result


@dataclass(frozen=True)
class PartMatte:
    """A part's matte in a photo: ``alpha`` float32 (H, W) in 0..1 (1 in the definite part, 0
    in the definite background and every other class), the part's own colour ``foreground``
    and the background's ``background`` (float32 (H, W, 3), RGB 0..255; where alpha is 1 the
    foreground is the photo's pixel, where 0 the background is), and ``box``, the rows and
    columns outside which alpha is exactly 0 or 1."""

    alpha: np.ndarray
    foreground: np.ndarray
    background: np.ndarray
    box: tuple[slice, slice]


def part_matte(image: np.ndarray, part: np.ndarray, background: np.ndarray, band: int) -> PartMatte:
    """The matte of ``part`` (bool (H, W)) against ``background`` (bool (H, W)) in ``image``
    (uint8 RGB (H, W, 3)), with an unknown band ``band`` pixels wide on either side of their
    edge (``band_for``)."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be uint8 RGB (H, W, 3), got {image.dtype} {image.shape}")
    if np.shape(part) != image.shape[:2] or np.shape(background) != image.shape[:2]:
        raise ValueError(f"masks must be {image.shape[:2]}, got {np.shape(part)} and {np.shape(background)}")
    part = np.asarray(part, bool)
    trimap_full = trimap(part, background, band)
    alpha = (trimap_full == TRIMAP_FOREGROUND).astype(np.float32)
    colours = image.astype(np.float32)
    foreground, background_colour = colours.copy(), colours.copy()
    unknown = trimap_full == TRIMAP_UNKNOWN
    if not unknown.any():
        return PartMatte(alpha, foreground, background_colour, (slice(0, 0), slice(0, 0)))
    box = _box(unknown, margin=2 * WINDOW_RADIUS + GUIDE_RADIUS + 2, shape=unknown.shape)
    local = colours[box] / 255.0
    local_trimap = trimap_full[box]
    local_alpha = _solve_alpha(local, local_trimap, part[box], np.asarray(background, bool)[box], band)
    local_alpha = np.clip((local_alpha - ALPHA_SNAP) / (1.0 - 2.0 * ALPHA_SNAP), 0.0, 1.0)
    alpha[box] = np.where(local_trimap == TRIMAP_UNKNOWN, local_alpha, alpha[box])
    local_foreground, local_background = _foreground_background(local, alpha[box], band)
    mixed = unknown[box]
    foreground[box][mixed] = 255.0 * local_foreground[mixed]
    background_colour[box][mixed] = 255.0 * local_background[mixed]
    return PartMatte(alpha, foreground, background_colour, box)


def _box(where: np.ndarray, margin: int, shape: tuple[int, ...]) -> tuple[slice, slice]:
    """The rows and columns of ``where``'s pixels, ``margin`` wider on each side (clipped)."""
    rows, cols = np.nonzero(where.any(axis=1))[0], np.nonzero(where.any(axis=0))[0]
    return (slice(max(0, rows[0] - margin), min(shape[0], rows[-1] + 1 + margin)),
            slice(max(0, cols[0] - margin), min(shape[1], cols[-1] + 1 + margin)))


def _solve_alpha(colours: np.ndarray, trimap_box: np.ndarray, part: np.ndarray, background: np.ndarray,
                 band: float) -> np.ndarray:
    """Alpha (float32, the box's size) of the unknown pixels of ``trimap_box``, the known ones
    as the trimap says; colours float32 RGB in 0..1. A large box is solved smaller and brought
    back to full size by a guided filter on the full-size colours."""
    height, width = trimap_box.shape
    scale = min(1.0, WORK_SIDE / max(height, width))
    if scale >= 1.0:
        return _closed_form_alpha(colours, trimap_box, part, background, band)
    size = (max(2, round(width * scale)), max(2, round(height * scale)))

    def shrunk(values: np.ndarray) -> np.ndarray:
        return cv2.resize(values.astype(np.float32), size, interpolation=cv2.INTER_AREA)

    small = shrunk(colours)
    # A working pixel is known only where every pixel it covers is, and as the trimap says.
    small_trimap = np.full(small.shape[:2], TRIMAP_UNKNOWN, np.uint8)
    small_trimap[shrunk(trimap_box == TRIMAP_FOREGROUND) > 0.999] = TRIMAP_FOREGROUND
    small_trimap[shrunk(trimap_box == TRIMAP_BACKGROUND) > 0.999] = TRIMAP_BACKGROUND
    small_alpha = _closed_form_alpha(small, small_trimap, shrunk(part) > 0.5, shrunk(background) > 0.5,
                                     band * scale)
    return _guided_upsample(small, small_alpha, colours)


def _closed_form_alpha(colours: np.ndarray, trimap_box: np.ndarray, part: np.ndarray, background: np.ndarray,
                       band: float) -> np.ndarray:
    """Closed-form matting of the unknown pixels: minimise alpha' L alpha over them, the
    known pixels fixed, plus a data term (``_alpha_prior``): the colours' own word where the
    part's and the background's colours nearby differ, the parse's where they do not."""
    unknown = trimap_box == TRIMAP_UNKNOWN
    alpha = (trimap_box == TRIMAP_FOREGROUND).astype(np.float64)
    if not unknown.any():
        return alpha.astype(np.float32)
    colours = colours.astype(np.float64)
    laplacian = _matting_laplacian(colours, unknown)
    target, weight = _alpha_prior(colours, trimap_box, part, background, band)
    flat_unknown = unknown.ravel()
    inside, known = np.nonzero(flat_unknown)[0], np.nonzero(~flat_unknown)[0]
    rows = laplacian[inside]
    weight = weight.ravel()[inside]
    system = (rows[:, inside] + scipy.sparse.diags(weight)).tocsr()
    rhs = weight * target.ravel()[inside] - rows[:, known] @ alpha.ravel()[known]
    alpha.ravel()[inside] = _conjugate_gradients(system, rhs, start=target.ravel()[inside])
    return np.clip(alpha, 0.0, 1.0).astype(np.float32)


def _alpha_prior(colours: np.ndarray, trimap_box: np.ndarray, part: np.ndarray, background: np.ndarray,
                 band: float) -> tuple[np.ndarray, np.ndarray]:
    """What each pixel's alpha is pulled towards, and how hard. Nearby (``PRIOR_REACH``
    bands) the part's definite pixels have a mean colour F and the background's definite
    pixels B; a pixel's colour projected on B..F says its alpha when F and B differ
    (``SEPARATION``), and the parse (``part``) says it when they do not (black hair on a
    black background), firmly: there the colours leave alpha free and the closed form would
    spread it into a haze."""
    radius = max(2, round(PRIOR_REACH * band))  # from anywhere in the band, both sides' definite pixels
    size = (2 * radius + 1, 2 * radius + 1)

    def local_mean(where: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        weight = cv2.blur(where.astype(np.float32), size)
        total = cv2.blur(colours.astype(np.float32) * where[..., None], size)
        return total / np.maximum(weight, 1e-6)[..., None], weight

    foreground, foreground_weight = local_mean(trimap_box == TRIMAP_FOREGROUND)
    behind, background_weight = local_mean((trimap_box == TRIMAP_BACKGROUND) & background)
    difference = foreground - behind
    distance = np.einsum("hwc,hwc->hw", difference, difference)
    projected = np.einsum("hwc,hwc->hw", colours - behind, difference) / np.maximum(distance, 1e-6)
    # How far the colours can tell the two apart: 0 for one colour, 1/2 at SEPARATION, soon 1 past it.
    separation = 1.0 / (1.0 + (SEPARATION ** 2 / np.maximum(distance, 1e-12)) ** 2)
    # Where one kind is not seen nearby (a narrow strip of background, a corner) the colours
    # have nothing to compare with: the parse decides.
    separation[np.minimum(foreground_weight, background_weight) < 0.02] = 0.0
    # On the background's side, the parse's word also grows with the distance from its edge
    # (full a band away): strands reach past the mask's edge, thinning out, and a patch of
    # the background as dark as the hair would otherwise be free to join them. (On the
    # part's side no such pull: the mask covers the background between wisps deep inside.)
    to_part = cv2.distanceTransform((~part).astype(np.uint8), cv2.DIST_L2, 5)
    depth = np.where(background & ~part, np.clip(to_part / max(band, 1.0), 0.0, 1.0), 0.0)
    # Where the colours cannot tell the part from the background, the parse's word fades in
    # over ``PARSE_RAMP`` of a band inside its edge; where they can, it is the parse's edge
    # (a fade there only left a rim of the old colour on strands the colours would have kept).
    inside = cv2.distanceTransform(part.astype(np.uint8), cv2.DIST_L2, 5)
    parsed = np.clip(inside / max(PARSE_RAMP * band, 1.0), 0.0, 1.0)
    colour_weight = COLOUR_PRIOR * separation
    mask_weight = MASK_PRIOR * (1.0 - separation) + PARSE_PRIOR * depth ** 2
    weight = colour_weight + mask_weight
    target = (colour_weight * np.clip(projected, 0.0, 1.0) + mask_weight * parsed) / weight
    return target.astype(np.float64), weight.astype(np.float64)


def _conjugate_gradients(system: scipy.sparse.csr_matrix, rhs: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Jacobi-preconditioned conjugate gradients for the symmetric positive definite
    ``system``. Own loop, not SciPy's: its dot products call a threaded BLAS that, on a
    machine of few busy cores, costs ten times the arithmetic."""
    inverse_diagonal = 1.0 / np.maximum(system.diagonal(), 1e-12)
    solution = start.astype(np.float64).copy()
    residual = rhs - system @ solution
    direction = inverse_diagonal * residual
    product = float(np.sum(residual * direction))
    limit = SOLVER_TOLERANCE ** 2 * float(np.sum(rhs * rhs))
    for _ in range(SOLVER_ITERATIONS):
        if float(np.sum(residual * residual)) <= limit:
            break
        applied = system @ direction
        step = product / float(np.sum(direction * applied))
        solution += step * direction
        residual -= step * applied
        preconditioned = inverse_diagonal * residual
        previous, product = product, float(np.sum(residual * preconditioned))
        direction = preconditioned + (product / previous) * direction
    return solution


def _matting_laplacian(colours: np.ndarray, unknown: np.ndarray) -> scipy.sparse.csr_matrix:
    """Levin et al.'s matting Laplacian (sparse, over the box's pixels) from every window that
    holds an unknown pixel."""
    height, width = unknown.shape
    radius = WINDOW_RADIUS
    size = 2 * radius + 1
    count = size * size
    centres = cv2.dilate(unknown.astype(np.uint8), np.ones((size, size), np.uint8)) > 0
    centres[:radius], centres[-radius:], centres[:, :radius], centres[:, -radius:] = False, False, False, False
    rows, cols = np.nonzero(centres)
    offsets_r, offsets_c = np.meshgrid(np.arange(-radius, radius + 1), np.arange(-radius, radius + 1), indexing="ij")
    members = ((rows[:, None] + offsets_r.ravel()) * width + (cols[:, None] + offsets_c.ravel())).astype(np.int32)
    window = colours.reshape(-1, 3)[members]  # (n, count, 3)
    centred = window - window.mean(axis=1, keepdims=True)
    covariance = np.matmul(centred.transpose(0, 2, 1), centred) / count
    inverse = np.linalg.inv(covariance + (MATTING_EPSILON / count) * np.eye(3))
    values = -(1.0 + np.matmul(np.matmul(centred, inverse), centred.transpose(0, 2, 1))) / count
    values[:, np.arange(count), np.arange(count)] += 1.0
    pixels = height * width
    return scipy.sparse.coo_matrix(
        (values.ravel(), (np.repeat(members, count, axis=1).ravel(), np.tile(members, (1, count)).ravel())),
        shape=(pixels, pixels)).tocsr()


def _guided_upsample(small: np.ndarray, small_alpha: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """Alpha at the size of ``colours`` from alpha at the size of ``small``: the guided filter's
    local linear model of alpha in the colours, fitted small (He and Sun's fast guided
    filter) and applied to the full-size colours, so edges come from the full-size photo."""
    height, width = colours.shape[:2]
    size = (2 * GUIDE_RADIUS + 1, 2 * GUIDE_RADIUS + 1)

    def mean(values: np.ndarray) -> np.ndarray:
        return cv2.blur(values, size, borderType=cv2.BORDER_REFLECT)

    guide = small.astype(np.float32)
    alpha = small_alpha.astype(np.float32)
    mean_guide, mean_alpha = mean(guide), mean(alpha)
    covariance_ga = mean(guide * alpha[..., None]) - mean_guide * mean_alpha[..., None]
    outer = np.einsum("hwi,hwj->hwij", guide, guide).reshape(*guide.shape[:2], 9)
    variance = mean(outer).reshape(*guide.shape[:2], 3, 3) - np.einsum("hwi,hwj->hwij", mean_guide, mean_guide)
    a = np.linalg.solve(variance + GUIDE_EPSILON * np.eye(3, dtype=np.float32), covariance_ga[..., None])[..., 0]
    b = mean_alpha - np.einsum("hwi,hwi->hw", a, mean_guide)
    mean_a, mean_b = mean(a), mean(b)
    full_a = cv2.resize(mean_a, (width, height), interpolation=cv2.INTER_LINEAR)
    full_b = cv2.resize(mean_b, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(np.einsum("hwi,hwi->hw", full_a, colours.astype(np.float32)) + full_b, 0.0, 1.0)


def _foreground_background(colours: np.ndarray, alpha: np.ndarray, band: int) -> tuple[np.ndarray, np.ndarray]:
    """The part's own colour F and the background's B (float32 RGB 0..1) under ``alpha``:
    blur fusion (Forte and Pitié 2021), a wide then a narrow pass, each F the alpha-weighted
    blur of the part's colours corrected by alpha times what the composite leaves
    unexplained; B likewise, with the rest of the residual."""
    colours = colours.astype(np.float32)
    alpha3 = alpha[..., None].astype(np.float32)
    foreground, background = colours, colours
    for radius in (max(NARROW_BLUR + 1, round(WIDE_BLUR_BANDS * band)), NARROW_BLUR):
        size = (2 * radius + 1, 2 * radius + 1)
        blurred_alpha = cv2.blur(alpha3[..., 0], size)[..., None]
        blurred_foreground = cv2.blur(foreground * alpha3, size) / (blurred_alpha + 1e-5)
        background = cv2.blur(background * (1.0 - alpha3), size) / (1.0 - blurred_alpha + 1e-5)
        residual = colours - alpha3 * blurred_foreground - (1.0 - alpha3) * background
        foreground = np.clip(blurred_foreground + alpha3 * residual, 0.0, 1.0)
    # The background that, with this F, composes to the photo, (I - alpha F) / (1 - alpha)
    # (the background a recolour of F keeps); where alpha is near 1, the blurred background
    # plus (1 + alpha) times the residual, which is the same before F is clipped.
    exact = (colours - alpha3 * foreground) / np.maximum(1.0 - alpha3, 1e-6)
    background = np.where(alpha3 < 0.98, exact, background + (1.0 + alpha3) * residual)
    return foreground, np.clip(background, 0.0, 1.0)
