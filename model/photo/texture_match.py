"""The matching half of ``texture.synthesize``: what it compares on the coarse lattice and how.

Features of a picture (CIELAB deviations over a window), the texture's flow (the structure
tensor's orientation), the seeded partition of the cells into patches that run along that
flow, the nearest exemplar places of each cell, each cell's neighbours, and how much of the
exemplar the cells already copy. ``texture.py`` runs the search with them; ``texture_copy.py``
copies the exemplar along what it found. The exemplar's side of all this (``exemplar_part``)
depends on the exemplar's part alone and is kept for the next synthesis from it.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .regions import box_around

if TYPE_CHECKING:
    from .texture import SynthesisConfig

# Exemplar parts kept, newest first, up to this many bytes (a painted face asks for 4 or 5 parts
# of its 512 px style face at each render, a few MB each; a 12 MP photo's hair is some 50 MB).
EXEMPLAR_CACHE_BYTES = 96 * 2 ** 20
# The matching lattice: this many lattice pixels per sigma of the split (the low-pass is
# band-limited, so a coarser lattice loses nothing the guide holds); the flow is smoothed over it.
COARSE_SIGMA = 1.5


def lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.clip(rgb, 0, 255).astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def features(lab: np.ndarray, mean: np.ndarray, scale: np.ndarray, window: int) -> np.ndarray:
    """(h, w, D): at each lattice pixel the CIELAB deviations from ``mean`` (over ``scale``):
    lightness at every pixel of a (2 window + 1)^2 window (it holds the shading and the
    strands' flow as far as the generator resolves them), colour at every other pixel."""
    deviation = (lab - mean) / scale
    padded = np.pad(deviation, ((window, window), (window, window), (0, 0)), mode="edge")
    height, width = lab.shape[:2]
    taps = [padded[window + dy:window + dy + height, window + dx:window + dx + width, :1]
            for dy in range(-window, window + 1) for dx in range(-window, window + 1)]
    taps += [padded[window + dy:window + dy + height, window + dx:window + dx + width, 1:]
             for dy in range(-window, window + 1, 2) for dx in range(-window, window + 1, 2)]
    return np.ascontiguousarray(np.concatenate(taps, axis=2), dtype=np.float32)


def flow_tensor(grey: np.ndarray, weight: np.ndarray, factor: int) -> np.ndarray:
    """(h, w, 3) the structure tensor's entries (gx^2, gx gy, gy^2) of ``grey`` weighted by
    ``weight``, summed over each lattice pixel, with the weight as a fourth channel."""
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    products = np.stack([gx * gx, gx * gy, gy * gy, np.ones_like(gx)], axis=2) * weight[..., None]
    size = (max(1, grey.shape[1] // factor), max(1, grey.shape[0] // factor))
    return cv2.resize(products, size, interpolation=cv2.INTER_AREA) if factor > 1 else products


def flow(tensor: np.ndarray, sigma: float) -> np.ndarray:
    """(h, w, 2) the orientation of a summed structure tensor (``flow_tensor``) smoothed by
    ``sigma`` lattice pixels, as (cos 2t, sin 2t) times its coherence (0: no direction)."""
    blurred = cv2.GaussianBlur(tensor, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    xx, xy, yy = (blurred[..., k] for k in range(3))
    return np.stack([xx - yy, 2 * xy], axis=-1) / np.maximum(xx + yy, 1e-6)[..., None]


def patch_labels(rows: int, cols: int, size: float, rng: np.random.Generator,
                  flow: np.ndarray | None = None, stretch: float = 0.0) -> np.ndarray:
    """(rows, cols) int: a seeded random partition of the cell grid into patches of about
    ``size`` cells a side (Voronoi cells of a jittered grid). ``flow`` (rows, cols, 2): the
    texture's orientation per cell (``flow``); distances across it count ``1 + stretch``
    times (times its coherence), so patches run along strands, which then break less often."""
    size = max(1.0, size)
    tiles_y, tiles_x = int(np.ceil(rows / size)) + 4, int(np.ceil(cols / size)) + 4
    seeds = (np.stack(np.meshgrid(np.arange(tiles_y), np.arange(tiles_x), indexing="ij"), axis=-1)
             + rng.random((tiles_y, tiles_x, 2)) - 2.0) * size
    cell_y, cell_x = np.meshgrid(np.arange(rows) + 0.5, np.arange(cols) + 0.5, indexing="ij")
    tile_y, tile_x = (cell_y / size).astype(int) + 2, (cell_x / size).astype(int) + 2
    if flow is not None and stretch > 0:
        # The gradient's direction (across the strands) and how sure it is.
        angle = 0.5 * np.arctan2(flow[..., 1], flow[..., 0])
        across = np.stack([np.sin(angle), np.cos(angle)], axis=-1)  # (y, x)
        weight = stretch * np.linalg.norm(flow, axis=-1)
    best = np.full((rows, cols), np.inf)
    labels = np.zeros((rows, cols), np.int64)
    reach = (-2, -1, 0, 1, 2) if flow is not None and stretch > 0 else (-1, 0, 1)
    for dy in reach:
        for dx in reach:
            ty, tx = np.clip(tile_y + dy, 0, tiles_y - 1), np.clip(tile_x + dx, 0, tiles_x - 1)
            seed = seeds[ty, tx]
            offset_y, offset_x = seed[..., 0] - cell_y, seed[..., 1] - cell_x
            distance = offset_y ** 2 + offset_x ** 2
            if flow is not None and stretch > 0:
                distance += weight * (offset_y * across[..., 0] + offset_x * across[..., 1]) ** 2
            closer = distance < best
            best[closer] = distance[closer]
            labels[closer] = (ty * tiles_x + tx)[closer]
    return labels


def usage(used_places: np.ndarray, lattice_shape: tuple[int, int], cell_lattice: int) -> np.ndarray:
    """(h * w,) how many of ``used_places`` (flat lattice indices) copy within a cell of each place."""
    counts = np.bincount(used_places, minlength=lattice_shape[0] * lattice_shape[1])
    return cv2.boxFilter(counts.reshape(lattice_shape).astype(np.float32), -1,
                         (2 * cell_lattice - 1, 2 * cell_lattice - 1), normalize=False,
                         borderType=cv2.BORDER_CONSTANT).ravel()


def best_matches(queries: np.ndarray, keys: np.ndarray, count: int) -> np.ndarray:
    """(n, count) indices of the nearest ``keys`` to each query (squared distance), in blocks
    that bound the memory of the distance matrix."""
    count = min(count, len(keys))
    result = np.empty((len(queries), count), np.int64)
    key_norms = (keys ** 2).sum(1)
    block = max(1, 2_000_000 // len(keys))
    for start in range(0, len(queries), block):
        part = queries[start:start + block]
        distance = key_norms[None, :] - 2.0 * part @ keys.T  # the query's own norm ranks nothing
        if count < len(keys):
            result[start:start + block] = np.argpartition(distance, count - 1, axis=1)[:, :count]
        else:
            result[start:start + block] = np.arange(len(keys))
    return result


def cell_neighbours(cells: np.ndarray, rows: int, cols: int, patch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, 4) the index among ``cells`` (flat indices of a rows x cols grid) of each cell's
    4-neighbours, -1 where none, and (n, 4) whether each is in the cell's patch (``patch``: a
    label per grid cell)."""
    index_of = np.full(rows * cols, -1, np.int64)
    index_of[cells] = np.arange(len(cells))
    cell_row, cell_col = np.divmod(cells, cols)
    result = np.full((len(cells), 4), -1, np.int64)
    same = np.zeros((len(cells), 4), bool)
    for k, (dy, dx) in enumerate(((-1, 0), (1, 0), (0, -1), (0, 1))):
        row, col = cell_row + dy, cell_col + dx
        on_grid = (row >= 0) & (row < rows) & (col >= 0) & (col < cols)
        flat = np.where(on_grid, row * cols + col, 0)
        result[:, k] = np.where(on_grid, index_of[flat], -1)
        same[:, k] = on_grid & (patch[flat] == patch[cells])
    return result, same


def masked_low_pass(image: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """The Gaussian low-pass of ``image`` (float32 (H, W, C)) over the pixels of ``mask`` only
    (normalised convolution: what lies outside does not bleed in), computed at a reduced
    size for speed (the result is band-limited) and valid everywhere the blur reaches."""
    height, width = mask.shape
    factor = max(1, int(sigma / 3.0))
    weight = mask.astype(np.float32)
    weighted = np.concatenate([image * weight[..., None], weight[..., None]], axis=2)
    if factor > 1:
        small = (max(1, round(width / factor)), max(1, round(height / factor)))
        weighted = cv2.resize(weighted, small, interpolation=cv2.INTER_AREA)
    blurred = cv2.GaussianBlur(weighted, (0, 0), sigma / factor, borderType=cv2.BORDER_REFLECT)
    if factor > 1:
        blurred = cv2.resize(blurred, (width, height), interpolation=cv2.INTER_LINEAR)
    if blurred.ndim == 2:
        blurred = blurred[..., None]
    return blurred[..., :-1] / np.maximum(blurred[..., -1:], 1e-6)


def on_lattice(image: np.ndarray, factor: int) -> np.ndarray:
    """``image`` on the matching lattice (``factor`` pixels a lattice pixel, area-averaged)."""
    size = (max(1, image.shape[1] // factor), max(1, image.shape[0] // factor))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA) if factor > 1 else image


@dataclass(frozen=True)
class ExemplarPart:
    """An exemplar's part as the matching reads it (lattice indices; arrays read-only)."""

    high: np.ndarray  # float32 (h, w, 3): its detail in its box, limited
    usable: np.ndarray  # bool (h, w): its inner pixels, where detail is copied from
    mean: np.ndarray  # CIELAB mean of the part on the lattice
    scale: np.ndarray  # the features' scale (its CIELAB spread over the channels' weights)
    lattice_shape: tuple[int, int]
    places: np.ndarray  # flat lattice indices of the places a cell may copy
    place_y: np.ndarray
    place_x: np.ndarray
    place_of: np.ndarray  # the place of each lattice pixel, -1: none
    place_vectors: np.ndarray  # float32 (n, D + 4): features, position, flow
    coarse: np.ndarray  # the places searched for best matches (every other lattice pixel)
    carried_flow: np.ndarray  # (h', w', 2) its flow carried past the part over the whole exemplar
    place_texture: np.ndarray  # float32 (n, T): a grey sample of each place's detail over a cell
    texture_norms: np.ndarray
    texture_variance: float


_EXEMPLAR_CACHE: OrderedDict[tuple, ExemplarPart | None] = OrderedDict()
_EXEMPLAR_LOCK = threading.Lock()  # a painted face synthesises two surfaces at once


def exemplar_part(exemplar: np.ndarray, exemplar_region: np.ndarray, sigma: float, factor: int,
                  config: SynthesisConfig) -> ExemplarPart | None:
    """``exemplar``'s ``exemplar_region`` (not empty) made ready for matching at split ``sigma``
    on a lattice of ``factor`` pixels, kept for the next call with the same pictures and
    settings; None when the part leaves no place to copy from."""
    digest = hashlib.blake2b(np.ascontiguousarray(exemplar).tobytes(), digest_size=16)
    digest.update(np.ascontiguousarray(exemplar_region).tobytes())
    key = (digest.hexdigest(), exemplar.shape, round(sigma, 4), factor, config)
    with _EXEMPLAR_LOCK:
        if key in _EXEMPLAR_CACHE:
            _EXEMPLAR_CACHE.move_to_end(key)
            return _EXEMPLAR_CACHE[key]
    part = _make_exemplar_part(exemplar, exemplar_region, sigma, factor, config)
    with _EXEMPLAR_LOCK:
        _EXEMPLAR_CACHE[key] = part
        while len(_EXEMPLAR_CACHE) > 1 and sum(map(_bytes, _EXEMPLAR_CACHE.values())) > EXEMPLAR_CACHE_BYTES:
            _EXEMPLAR_CACHE.popitem(last=False)
    return part


def _bytes(part: ExemplarPart | None) -> int:
    if part is None:
        return 0
    return sum(value.nbytes for value in vars(part).values() if isinstance(value, np.ndarray))


def _make_exemplar_part(exemplar: np.ndarray, exemplar_region: np.ndarray, sigma: float, factor: int,
                        config: SynthesisConfig) -> ExemplarPart | None:
    cell = config.cell * factor
    # The part, split in its own box; the detail comes from its inner pixels (one on the
    # part's edge is partly background).
    ex_box = box_around(exemplar_region, int(3 * sigma))
    ex_inside = exemplar_region[ex_box]
    ex_pixels = exemplar[ex_box].astype(np.float32)
    ex_low = masked_low_pass(ex_pixels, ex_inside, sigma)
    ex_high = ex_pixels - ex_low
    usable = cv2.erode(ex_inside.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    if not usable.any():
        usable = ex_inside
    if config.detail_limit is not None:
        spread = 1.4826 * np.median(np.abs(ex_high[usable]), axis=0) * config.detail_limit
        spread = np.maximum(spread, 1.0).astype(np.float32)
        ex_high = spread * np.tanh(ex_high / spread)
    # Features: deviations from the part's CIELAB mean on the part's spread, the part seen as a
    # generator of the lattice's size sees it (beyond its edge, its own low-pass continued).
    seen = np.where(ex_inside[..., None], ex_pixels, ex_low) if config.match_seen else ex_low
    ex_lab = lab(on_lattice(seen, factor))
    ex_part = on_lattice(ex_inside.astype(np.float32), factor) > 0.5
    if not ex_part.any():
        ex_part = np.ones_like(ex_part)
    mean = ex_lab[ex_part].mean(axis=0)
    weights = np.array([config.lightness_weight, config.chroma_weight, config.chroma_weight], np.float32)
    scale = np.maximum(ex_lab[ex_part].std(axis=0), 1.0) / weights
    ex_features = features(ex_lab, mean, scale, config.window)
    dims = ex_features.shape[2]

    # Places: lattice pixels whose cell-sized copy (and its blend) lies in the part.
    half = cell // 2 + 1
    ex_valid = cv2.erode(usable.astype(np.uint8), np.ones((2 * half + 1, 2 * half + 1), np.uint8)) > 0
    if not ex_valid.any():
        ex_valid = usable
    lattice_shape = ex_features.shape[:2]
    centre_y = np.minimum(np.arange(lattice_shape[0]) * factor + factor // 2, ex_valid.shape[0] - 1)
    centre_x = np.minimum(np.arange(lattice_shape[1]) * factor + factor // 2, ex_valid.shape[1] - 1)
    places = np.flatnonzero(ex_valid[np.ix_(centre_y, centre_x)])
    if len(places) == 0:
        return None
    place_y, place_x = np.divmod(places, lattice_shape[1])
    place_of = np.full(lattice_shape[0] * lattice_shape[1], -1, np.int64)
    place_of[places] = np.arange(len(places))
    # The position prior is folded into the feature vector (a distance of shares of the side).
    position_scale = np.sqrt(config.position_weight * dims)
    place_vectors = np.concatenate([ex_features.reshape(-1, dims)[places], position_scale * np.stack(
        [(ex_box[0].start + place_y * factor + factor / 2) / exemplar.shape[0],
         (ex_box[1].start + place_x * factor + factor / 2) / exemplar.shape[1]], axis=1)], axis=1)
    # A grey sample of each place's high-pass over a cell: how alike two copies are where they meet.
    grey = ex_high.mean(axis=2)
    # The flow of the texture (strands' orientation) at each place, and carried past the part
    # over the whole exemplar (the flow a grown part continues).
    ex_tensor = flow_tensor(grey, usable.astype(np.float32), factor)
    ex_flow = flow(ex_tensor, COARSE_SIGMA)
    frame = np.zeros((max(1, exemplar.shape[0] // factor), max(1, exemplar.shape[1] // factor), 4), np.float32)
    top, left = ex_box[0].start // factor, ex_box[1].start // factor
    fit = ex_tensor[:frame.shape[0] - top, :frame.shape[1] - left]
    frame[top:top + fit.shape[0], left:left + fit.shape[1]] = fit
    carried_flow = flow(frame, config.flow_reach)
    flow_scale = np.sqrt(config.flow_weight * dims)
    place_vectors = np.concatenate([place_vectors, flow_scale * ex_flow.reshape(-1, 2)[places]], axis=1)
    taps = np.arange(0, cell, 2)
    tap_y = np.minimum(place_y[:, None, None] * factor + taps[None, :, None], grey.shape[0] - 1)
    tap_x = np.minimum(place_x[:, None, None] * factor + taps[None, None, :], grey.shape[1] - 1)
    place_texture = grey[tap_y, tap_x].reshape(len(places), -1).astype(np.float32)
    # The best matches are searched among every other lattice pixel's place (the low-pass barely
    # changes in between, and the sweeps try the places next to them through the neighbours).
    coarse = np.flatnonzero((place_y % 2 == 0) & (place_x % 2 == 0))
    if len(coarse) < config.best:
        coarse = np.arange(len(places))
    arrays = dict(high=ex_high.astype(np.float32), usable=usable, mean=mean, scale=scale, places=places,
                  place_y=place_y, place_x=place_x, place_of=place_of,
                  place_vectors=place_vectors.astype(np.float32), coarse=coarse, carried_flow=carried_flow,
                  place_texture=place_texture, texture_norms=(place_texture ** 2).sum(axis=1))
    for array in arrays.values():
        array.flags.writeable = False  # shared by the syntheses that find it kept
    return ExemplarPart(lattice_shape=lattice_shape, texture_variance=max(float(grey[usable].var()), 1e-3), **arrays)
