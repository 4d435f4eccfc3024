"""The edge matte of a restyled part against the background, judged by the base's own pixels."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from ..io.cache import LRUCache, content_digest
from ..labels import BACKGROUND, CLASS_NAMES
from .colour import to_lab
from .regions import MIN_PART_PIXELS, box_around

# mask's edge, on either side, the base's pixels decide (share of the side; the parser's hair
# mask strays this far over the background between wisps); how many nats the mask's own class
# counts; the smallest spread of a model (CIELAB units, dB of texture); the weight of a kind's
# pixels over the whole box in its local model.
MATTE_BAND = 0.05
MATTE_PRIOR = 4.0
MATTE_FLOOR = np.array([2.0, 2.0, 2.0, 1.0])
MATTE_TEXTURE_SIGMA = 1.5  # pixels: strands a few pixels apart keep the gaps between them smooth
MATTE_GLOBAL_WEIGHT = 0.02
# Models that tell the part's own pixels from the background's at the first accuracy
# (balanced) are not trusted at all, at the second whole.
MATTE_ACCURACY = (0.75, 0.95)


@dataclass(frozen=True)
class LocalModel:
    """A Gaussian model of some pixels' features that varies over the picture: per square
    cell of ``cell`` pixels, the mean, inverse covariance and log-determinant of the pixels
    of the kind near it (``local_model``)."""

    cell: int
    mean: np.ndarray  # (h, w, n)
    inverse: np.ndarray  # (h, w, n, n)
    log_det: np.ndarray  # (h, w)

    def log_likelihood(self, features: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Log-likelihood (up to a constant) of pixels at ``rows``, ``cols`` with ``features`` (k, n)."""
        cell_rows = np.minimum(rows // self.cell, self.mean.shape[0] - 1)
        cell_cols = np.minimum(cols // self.cell, self.mean.shape[1] - 1)
        delta = features - self.mean[cell_rows, cell_cols]
        mahalanobis = np.einsum("ki,kij,kj->k", delta, self.inverse[cell_rows, cell_cols], delta)
        return -0.5 * mahalanobis - 0.5 * self.log_det[cell_rows, cell_cols]


def local_model(features: np.ndarray, where: np.ndarray, reach: float) -> LocalModel:
    """The features (h, w, n) of the pixels ``where``, modelled near each cell: their mean and
    covariance under Gaussian weights of ``reach`` pixels (normalised convolution). Far from
    every such pixel the model falls back on all of them (as if ``MATTE_GLOBAL_WEIGHT`` of
    them were everywhere); the covariance is widened by ``MATTE_FLOOR`` (a flat colour is
    no point)."""
    # Cells of about a tenth of the reach (the models vary smoothly), with moments from every
    # other pixel in each direction when the cells are wide (an unbiased sample, a quarter of
    # the work); a narrow band of a thin part takes every pixel.
    size = 2 * int(np.clip(reach // 10, 1, 4))
    stride = 2 if size >= 4 else 1
    features, where = features[::stride, ::stride], where[::stride, ::stride]
    cell = size // stride
    height, width, count = features.shape
    rows, cols = -(-height // cell), -(-width // cell)
    pairs = [(i, j) for i in range(count) for j in range(i, count)]
    inside = where.astype(np.float32)[..., None]
    products = np.stack([features[..., i] * features[..., j] for i, j in pairs], axis=-1)
    planes = np.concatenate([inside, features * inside, products * inside], axis=-1)
    overall = planes[where].mean(axis=0) if where.any() else planes.reshape(-1, planes.shape[-1]).mean(axis=0)
    # Cell sums (the picture padded with nothing to whole cells), then blurred plane by plane.
    padded = np.zeros((rows * cell, cols * cell, planes.shape[-1]), np.float32)
    padded[:height, :width] = planes
    cells = padded.reshape(rows, cell, cols, cell, -1).mean(axis=(1, 3))
    sigma = max(1.0, reach / size)
    moments = np.stack([cv2.GaussianBlur(np.ascontiguousarray(cells[..., k]), (0, 0), sigma)
                        for k in range(cells.shape[-1])], axis=-1) + MATTE_GLOBAL_WEIGHT * overall
    total = moments[..., :1]
    mean, second = moments[..., 1:1 + count] / total, moments[..., 1 + count:] / total
    covariance = np.empty(mean.shape + (count,), np.float32)
    for pair, (i, j) in enumerate(pairs):
        covariance[..., i, j] = covariance[..., j, i] = second[..., pair] - mean[..., i] * mean[..., j]
    covariance += np.diag(MATTE_FLOOR[:count] ** 2).astype(np.float32)
    return LocalModel(size, mean, np.linalg.inv(covariance), np.linalg.slogdet(covariance)[1].astype(np.float32))


class TwoSides:
    """Local colour models of a part (its pixels ``core``) and of what lies beyond it (``ring``),
    over ``features`` (H, W, F): which side a pixel looks like, and how far to believe it."""

    SAMPLES = 4096  # pixels of each side the trust is judged on

    def __init__(self, features: np.ndarray, core: np.ndarray, ring: np.ndarray, reach: float):
        self.features, self.core, self.ring = features, core, ring
        self.own, self.others = local_model(features, core, reach), local_model(features, ring, reach)

    def ratio(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Log-likelihood ratio, the part over what lies beyond, of the pixels at ``rows``, ``cols``."""
        judged = self.features[rows, cols]
        return self.own.log_likelihood(judged, rows, cols) - self.others.log_likelihood(judged, rows, cols)

    def trust(self) -> float:
        """0..1: how well the models tell each side's own pixels apart (balanced accuracy,
        ``MATTE_ACCURACY``); 0 where they cannot (black hair on a black background)."""
        def sampled(where: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            rows, cols = np.nonzero(where)
            step = max(1, len(rows) // self.SAMPLES)
            return rows[::step], cols[::step]

        accuracy = 0.5 * (float((self.ratio(*sampled(self.core)) > 0).mean())
                          + float((self.ratio(*sampled(self.ring)) < 0).mean()))
        return float(np.clip((accuracy - MATTE_ACCURACY[0]) / (MATTE_ACCURACY[1] - MATTE_ACCURACY[0]), 0.0, 1.0))


def matte_features(image: np.ndarray) -> np.ndarray:
    """What tells a part from its neighbours in a picture (float32 RGB, 0..255): CIELAB and
    the fine texture (local energy of the lightness gradient, in dB): hair is strands, an
    out-of-focus background behind it is smooth even where the two share a colour."""
    lab = to_lab(image)
    lightness = lab[..., 0]
    energy = cv2.Sobel(lightness, cv2.CV_32F, 1, 0, ksize=3) ** 2 + cv2.Sobel(lightness, cv2.CV_32F, 0, 1, ksize=3) ** 2
    texture = 10 * np.log10(1 + cv2.GaussianBlur(energy, (0, 0), MATTE_TEXTURE_SIGMA))
    return np.concatenate([lab, texture[..., None]], axis=-1)


def part_matte(base: np.ndarray, mask: np.ndarray, part: int, restyled: np.ndarray
               ) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray] | None:
    """How much each pixel where ``part`` meets the background is the part, judged by the
    base's own pixels.

    base: float32 RGB (S, S, 3); mask: the base's class mask (S, S); restyled: bool per
    class, the parts that change anyway. Within ``MATTE_BAND`` of the side of where the part
    meets the background (less for a thin part), on either side, each pixel's colour and
    texture (``matte_features``) are scored against the part's pixels nearby and the
    background's nearby (local Gaussian models: the background behind hair changes along
    it); the mask's own word grows to ``MATTE_PRIOR`` nats a quarter of the band from the
    edge, so a pixel the two could share keeps the mask's class and only one clearly of the
    other kind changes side. Only the background: that is where a parsed mask strays
    (between wisps of hair), while a part's edge with another part of the face (skin and
    nose, of one colour) is where the parser is right and colours cannot tell.
    Returns the box, alpha in it (float32: 1 deep inside the part, 0 far outside) and the
    edge's share (float32: 1 on the background within the band and in the band's outer
    half inside, fading to 0 at the band's depth); None when there is nothing to judge.
    """
    side = base.shape[0]
    region = mask == part
    if region.sum() < MIN_PART_PIXELS or restyled[BACKGROUND]:
        return None
    reach = max(2, round(MATTE_BAND * side))
    box = box_around(region, 2 * reach)
    region, background = region[box], mask[box] == BACKGROUND
    if not background.any():
        return None
    thickness = cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 3).max()
    band = min(reach, max(2, round(0.5 * float(thickness))))  # a thin part: a thin band
    to_background = cv2.distanceTransform((~background).astype(np.uint8), cv2.DIST_L2, 3)
    to_part = cv2.distanceTransform((~region).astype(np.uint8), cv2.DIST_L2, 3)
    zone = (region & (to_background <= band)) | (background & (to_part <= band))
    core = region & (to_background > band)  # the part's pixels away from where the mask may stray
    ring = background & (to_part <= 2 * band)
    if core.sum() < 4 * MIN_PART_PIXELS or ring.sum() < 4 * MIN_PART_PIXELS or not zone.any():
        return None
    sides = TwoSides(matte_features(base[box]), core, ring, band)
    # A part that looks like the background (black hair on a black background) keeps the mask's edge.
    trust = sides.trust()
    alpha = region.astype(np.float32)
    if trust > 0:
        # The mask's word grows from nothing on its edge to MATTE_PRIOR a quarter band away: no step where it ends.
        signed = np.where(region, to_background, -to_part)[zone]
        prior = MATTE_PRIOR * np.clip(signed / (0.25 * band), -1.0, 1.0)
        judged = 1.0 / (1.0 + np.exp(-np.clip(sides.ratio(*np.nonzero(zone)) + prior, -30, 30)))
        alpha[zone] = alpha[zone] + trust * (judged - alpha[zone])
    # The edge's share: whole on the background and in the outer half of the band inside, none deeper.
    edge = np.where(region, np.clip(2.0 - 2.0 * to_background / band, 0.0, 1.0), zone).astype(np.float32)
    return box, alpha, edge


MATTE_CACHE_SIZE = 8  # mattes kept: a few photos x parts (each a few MB at the largest work side)
_matte_cache = LRUCache(MATTE_CACHE_SIZE)  # the studio renders and saves on two threads: it locks


def cached_part_matte(base: np.ndarray, mask: np.ndarray, part: int, restyled: np.ndarray
                      ) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray] | None:
    """``part_matte``, kept for the same base pixels, mask, part and restyled parts: it does
    not depend on the generated face, so while a slider or a stroke renders a photo's edit
    again and again it is found once (the returned arrays are shared: read them only)."""
    key = content_digest(base, mask, restyled, part)
    if key in _matte_cache:
        return _matte_cache.get(key)
    matte = part_matte(base, mask, part, restyled)
    _matte_cache.put(key, matte)
    return matte


# The skin and the parts of its tone (nose, ears, neck) against what is not the face: the small
# parser lays the skin over the hairline's wisps, a fringe's edge, a collar, and a skin edit that
# moves the tone far (dark to pale) showed that edge as a hard blot over the hair. Within
# ``TONE_EDGE_BAND`` of the side of that edge, on either side, the photo's own pixels say how
# much each is the skin (``tone_edge_alpha``): the edit fades over the hairline's mixed pixels.
TONE_NEIGHBOURS = tuple(CLASS_NAMES.index(name) for name in ("background", "hair", "hat", "ear_r", "neck_l", "cloth"))
TONE_EDGE_BAND = 0.025
TONE_EDGE_SOFTNESS = 1.5  # pixels (at the mask's side): the parsed edge is a ramp this wide at the least
TONE_SPILL = 3  # pixels past the parsed edge the recolour's soft class edge reaches, faded too
_tone_cache = LRUCache(MATTE_CACHE_SIZE)


def tone_edge_alpha(base: np.ndarray, mask: np.ndarray, tone: Iterable[int], kept: Iterable[int] = ()
                    ) -> np.ndarray:
    """How much of a skin edit each pixel of the aligned ``base`` (RGB, the side of its class
    ``mask``) takes (float32, 1 wherever the edit is not faded): along the edge of the ``tone``
    parts with ``TONE_NEIGHBOURS`` (less the parts in ``kept``, restyled themselves), as much
    as the pixel is the skin, judged like ``part_matte`` (local colour models of either side,
    the mask's word growing away from its edge, trusted as far as they tell the two sides' own
    pixels apart: light skin by blonde hair leaves the mask's soft edge)."""
    tone, kept = sorted(set(tone)), sorted(set(kept))
    key = content_digest(base, mask, np.array(tone), np.array(kept))
    cached = _tone_cache.get(key)  # one look: another thread may drop it between two
    if cached is not None:
        return cached
    alpha = _tone_edge_alpha(np.asarray(base, np.float32), mask, tone, kept)
    alpha.setflags(write=False)  # shared by every render of the photo
    _tone_cache.put(key, alpha)
    return alpha


def _tone_edge_alpha(base: np.ndarray, mask: np.ndarray, tone: list[int], kept: list[int]) -> np.ndarray:
    alpha = np.ones(mask.shape, np.float32)
    region = np.isin(mask, tone)
    beyond = np.isin(mask, [part for part in TONE_NEIGHBOURS if part not in kept])
    if region.sum() < 4 * MIN_PART_PIXELS or beyond.sum() < 4 * MIN_PART_PIXELS:
        return alpha
    reach = max(2, round(TONE_EDGE_BAND * mask.shape[0]))
    box = box_around(region, 2 * reach)
    region, beyond = region[box], beyond[box]
    to_beyond = cv2.distanceTransform((~beyond).astype(np.uint8), cv2.DIST_L2, 3)
    to_region = cv2.distanceTransform((~region).astype(np.uint8), cv2.DIST_L2, 3)
    zone = (region & (to_beyond <= reach)) | (beyond & (to_region <= TONE_SPILL))
    core = region & (to_beyond > reach)
    ring = beyond & (to_region <= 2 * reach)
    if core.sum() < 4 * MIN_PART_PIXELS or ring.sum() < 4 * MIN_PART_PIXELS or not zone.any():
        return alpha
    rows, cols = np.nonzero(zone)
    # Signed distance to the parsed edge: inside the tone parts positive.
    signed = np.where(region, to_beyond - 0.5, 0.5 - to_region)[rows, cols]
    parsed = np.clip(0.5 + signed / (2 * TONE_EDGE_SOFTNESS), 0.0, 1.0)
    # Colour alone: the hairline's own edge is texture, and with it the skin next to the hair
    # read as hair (a light rim round a face made darker).
    sides = TwoSides(np.ascontiguousarray(matte_features(base[box])[..., :3]), core, ring, reach)
    trust = sides.trust()
    within = parsed
    if trust > 0:
        # The mask's word grows from nothing on its edge to MATTE_PRIOR at half the band.
        prior = MATTE_PRIOR * np.clip(signed / (0.5 * reach), -1.0, 1.0)
        judged = 1.0 / (1.0 + np.exp(-np.clip(sides.ratio(rows, cols) + prior, -30, 30)))
        within = parsed + trust * (judged - parsed)
    plane = np.ones(zone.shape, np.float32)
    plane[rows, cols] = within
    plane[~region & ~zone] = 0.0  # beyond the spill nothing changes anyway; no step at the zone's edge
    plane = cv2.GaussianBlur(plane, (0, 0), 0.5 * TONE_EDGE_SOFTNESS)
    # Only the zone is faded: elsewhere the edit is as it is (another part's own change kept).
    alpha[box] = np.where(zone, plane, 1.0)
    return alpha
