"""The matching half of ``texture.synthesize``: what it compares on the coarse lattice and how.

Features of a picture (CIELAB deviations over a window), the texture's flow (the structure
tensor's orientation), the seeded partition of the cells into patches that run along that
flow, the nearest exemplar places of each cell, each cell's neighbours, and how much of the
exemplar the cells already copy. ``texture.py`` runs the search with them; ``texture_copy.py``
copies the exemplar along what it found.
"""

from __future__ import annotations

import cv2
import numpy as np


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
