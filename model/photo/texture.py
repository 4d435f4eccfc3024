"""Invented pixels with a real picture's texture: exemplar-based synthesis guided at low frequency.

Where a part grows or appears, the network gives its layout and shading but only at its own
resolution (a 128 px generator resolves about two of its pixels). ``synthesize`` keeps those
low frequencies of the *guide* (the network's output upsampled) and takes the high
frequencies (strands, pores, grain) from an *exemplar*: the same part in a real picture.

The method (a guided, coherent patch copy, in the spirit of Image Analogies and
PatchMatch-based texture optimisation, made cheap enough for the studio's release frame):

1. Both pictures are split by a Gaussian of ``DETAIL_SIGMA`` generated pixels, each inside its
   own region (normalised convolution, so a part's edge against the background is no detail).
2. Matching is done on a coarse lattice (about one lattice pixel per ``COARSE_SIGMA`` of the
   split: the generator's own resolution), on each picture as a generator of that size sees
   it, the part alone: a feature is a window of CIELAB deviations from the part's mean (the
   guide's shading pattern is matched, not its colour: a restyled part has another colour),
   the orientation of the texture's flow (the exemplar's own strands at each place; wanted:
   the guide's, else the exemplar's flow carried past its part, so grown hair keeps the
   direction of the hair next to it) and a weak prior for the same place in the aligned face.
3. The output is cut into cells of a few lattice pixels, each of which copies the exemplar
   along one offset (an integer shift at full resolution); cells are grouped in seeded random
   patches (Voronoi cells, smaller where the exemplar is small for the region). Each patch
   starts as one copy: of a few shifts tried, the one that suits the whole patch best, with
   the patches choosing in turns and paying for exemplar places the others already copy (no
   block of the exemplar is stamped twice). A few sweeps of iterated conditional modes then
   let each cell take its best matches, random places or its neighbours' offsets. The energy
   holds the feature distance, the usage penalty and a coherence bonus per neighbour whose
   copy, carried to the cell, is alike the candidate's (a correlation of their high-pass: the
   same pixels, or another period of a stripe): neighbouring pixels copy neighbouring
   exemplar pixels, so strands continue. Across patches only another period earns the bonus,
   never the very same copy, or patches would merge into one big copy: a tile.
4. At full resolution every pixel copies the exemplar's high-pass along the offsets of the
   four cells around it, blended bilinearly. Where those offsets differ the copies are
   uncorrelated textures, so they are blended variance-preserving (weights over the root of
   their sum of squares, Heitz and Neyret 2018): a seam keeps the texture's contrast instead of
   fading to a blur, and a stripe blended with a shifted stripe is still a stripe of the same
   period.
5. The detail's own residue at low frequency is removed, so the result's low frequencies are
   the guide's.

Everything is integer shifts of the exemplar's own pixels: no resampling blurs the detail.

This module runs steps 1-3 and 5; the features, flow, patches and nearest matches they use are
``texture_match.py``'s, the copy of step 4 is ``texture_copy.py``'s.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .regions import box_around
from .texture_copy import copy_detail
from .texture_match import (
    COARSE_SIGMA,
    best_matches,
    cell_neighbours,
    exemplar_part,
    features,
    flow,
    flow_tensor,
    lab,
    masked_low_pass,
    on_lattice,
    patch_labels,
    usage,
)

# The low/high split: a Gaussian of this many generated pixels (the finishing's split: a
# 128 px generator resolves detail of about two of its pixels; finer than that is copied).
DETAIL_SIGMA = 1.5


@dataclass(frozen=True)
class SynthesisConfig:
    """How ``synthesize`` matches and copies; the defaults were tuned on hair of celebamask-mini."""

    cell: int = 2  # lattice pixels per side of a cell (one exemplar offset each)
    window: int = 2  # feature window radius, in samples two lattice pixels apart
    lightness_weight: float = 1.0  # CIELAB L in the feature (a, b get chroma_weight)
    chroma_weight: float = 0.7
    position_weight: float = 0.5  # prior for the same place in the aligned face (per unit of side)
    flow_weight: float = 1.5  # the texture's orientation (strands' flow) against the wanted one
    flow_reach: float = 8.0  # lattice pixels over which the exemplar's flow is carried past its part
    best: int = 8  # best feature matches kept per cell as candidates
    random: int = 6  # random exemplar places tried per cell and sweep
    sweeps: int = 5
    coherence: float = 3.0  # bonus for each neighbour whose offset a cell shares (in feature-variance units)
    usage: float = 0.6  # penalty per unit of other cells copying the same exemplar place, over the even share
    patch: float = 6.0  # mean side of a coherent patch, in cells
    patch_stretch: float = 3.0  # patches run along the texture's flow: distances across it count 1 + this
    patch_tries: int = 12  # shifts tried for a whole patch at the start (its cells' best matches)
    max_lattice: int = 160  # longest side of the matching lattice (a split of a pixel or two is not searched per pixel)
    # Match the pictures as a generator of the lattice's size sees them (a network's output
    # shows strand bundles there); off, their low-pass only (a smooth guide, such as an
    # inpainting membrane, would otherwise pick the exemplar's smoothest places).
    match_seen: bool = True
    # Copied detail softly limited to this many robust spreads of the exemplar's (None: as it
    # is). A backdrop's few strong edges (a halo, a lamp's rim) would otherwise be stamped about.
    detail_limit: float | None = None
    noise: float = 0.15  # seeded jitter of every candidate's cost (ties broken by the seed, not the scan order)


DEFAULT_CONFIG = SynthesisConfig()


def split_sigma(side: int, generated_side: int) -> float:
    """The Gaussian sigma (output pixels) that splits what a generator of ``generated_side``
    px resolves, at an output of ``side`` px, from the finer detail it does not."""
    return DETAIL_SIGMA * side / max(1, generated_side)


def synthesize(guide: np.ndarray, region: np.ndarray, exemplar: np.ndarray, exemplar_region: np.ndarray,
               generated_side: int, seed: int = 0, config: SynthesisConfig = DEFAULT_CONFIG) -> np.ndarray:
    """``guide`` with the pixels of ``region`` re-made: the guide's low frequencies (what a
    generator of ``generated_side`` px resolves) and the high frequencies of ``exemplar``'s
    ``exemplar_region``, copied coherently (see the module's docstring).

    guide: float32 (H, W, 3) RGB 0..255, e.g. the network's output upsampled to the output's
    side; region: bool (H, W); exemplar: uint8 (h, w, 3) RGB at the output's pixel scale (its
    texture keeps its period in pixels); exemplar_region: bool (h, w), the part whose texture
    is wanted. Both pictures are taken to be aligned faces (a weak prior prefers the same
    place, as a share of each side). Returns float32 (H, W, 3); outside ``region`` the guide's
    own values. Deterministic for a given ``seed``.
    """
    guide = np.asarray(guide, np.float32)
    region = np.asarray(region, bool)
    exemplar_region = np.asarray(exemplar_region, bool)
    if guide.ndim != 3 or guide.shape[2] != 3 or region.shape != guide.shape[:2]:
        raise ValueError(f"guide must be (H, W, 3) with region (H, W); got {guide.shape} and {region.shape}")
    if exemplar.ndim != 3 or exemplar.shape[2] != 3 or exemplar_region.shape != exemplar.shape[:2]:
        raise ValueError(f"exemplar must be (h, w, 3) with its region (h, w); got {exemplar.shape} "
                         f"and {exemplar_region.shape}")
    result = guide.copy()
    if not region.any():
        return result
    sigma = split_sigma(max(guide.shape[:2]), generated_side)
    # Output pixels per lattice pixel.
    factor = max(1, round(sigma / COARSE_SIGMA), -(-max(guide.shape[:2]) // config.max_lattice))
    cell = config.cell * factor  # output pixels per cell side

    # The guide's low frequencies, over the region alone (its edge is the region's, not a blur
    # of what lies outside), in a box around the region.
    box = box_around(region, cell + int(3 * sigma))
    inside = region[box]
    guide_low = masked_low_pass(guide[box], inside, sigma)
    detail_pixels = _detail(guide[box], guide_low, inside, exemplar, exemplar_region, sigma, factor,
                            (box[0].start / guide.shape[0], box[1].start / guide.shape[1]),
                            guide.shape[:2], seed, config)
    made = guide_low + detail_pixels
    result[box][inside] = made[inside]
    return result


def _detail(guide: np.ndarray, guide_low: np.ndarray, inside: np.ndarray, exemplar: np.ndarray,
            exemplar_region: np.ndarray, sigma: float, factor: int, origin: tuple[float, float],
            full_shape: tuple[int, int], seed: int, config: SynthesisConfig) -> np.ndarray:
    """The high-frequency detail (float32, zero at low frequency) for the box of the region
    ``inside`` (``guide``: the guide in the box, ``guide_low`` its low-pass); ``origin``: the
    box's corner as a share of the output's sides."""
    rng = np.random.default_rng(seed)
    if not exemplar_region.any():
        return np.zeros_like(guide_low)
    cell_lattice = config.cell
    cell = cell_lattice * factor

    # The exemplar's side (its detail, features, places, flow) depends on it alone: made once
    # per exemplar part and kept (a painted face's repaint asks for the same parts again).
    part = exemplar_part(exemplar, exemplar_region, sigma, factor, config)
    if part is None:
        return np.zeros_like(guide_low)
    ex_high, usable, lattice_shape = part.high, part.usable, part.lattice_shape
    places, place_y, place_x, place_of = part.places, part.place_y, part.place_x, part.place_of
    place_vectors, carried_flow, coarse = part.place_vectors, part.carried_flow, part.coarse
    place_texture, texture_norms, texture_variance = part.place_texture, part.texture_norms, part.texture_variance

    # The guide's features on the matching lattice, on the exemplar's scale (its shading
    # pattern is matched, not its colour: a restyled part is another colour than its exemplar);
    # matched as a generator of the lattice's size sees it, the part alone.
    seen_guide = np.where(inside[..., None], guide, guide_low) if config.match_seen else guide_low
    guide_lab = lab(on_lattice(seen_guide, factor))
    guide_part = on_lattice(inside.astype(np.float32), factor) > 0.5
    guide_mean = guide_lab[guide_part].mean(axis=0) if guide_part.any() else part.mean
    guide_features = features(guide_lab, guide_mean, part.scale, config.window)
    dims = guide_features.shape[2]
    position_scale = np.sqrt(config.position_weight * dims)
    flow_scale = np.sqrt(config.flow_weight * dims)

    # Cells of cell x cell output pixels, those whose blend reaches the region; each has an
    # anchor lattice pixel.
    height, width = inside.shape
    rows, cols = -(-height // cell), -(-width // cell)
    padded = np.zeros((rows * cell, cols * cell), bool)
    padded[:height, :width] = inside
    active = cv2.dilate(padded.reshape(rows, cell, cols, cell).any(axis=(1, 3)).astype(np.uint8),
                        np.ones((3, 3), np.uint8)) > 0
    cells = np.flatnonzero(active)
    cell_row, cell_col = np.divmod(cells, cols)
    anchor = np.stack([np.minimum(cell_row * cell_lattice + cell_lattice // 2, guide_features.shape[0] - 1),
                       np.minimum(cell_col * cell_lattice + cell_lattice // 2, guide_features.shape[1] - 1)], axis=1)
    cell_position = np.stack([origin[0] + (anchor[:, 0] * factor + factor / 2) / full_shape[0],
                              origin[1] + (anchor[:, 1] * factor + factor / 2) / full_shape[1]], axis=1)
    cell_vectors = np.concatenate([guide_features[anchor[:, 0], anchor[:, 1]], position_scale * cell_position], axis=1)
    count = len(cells)
    # The wanted flow: the guide's own where it shows one, else the exemplar's carried there.
    guide_grey = (seen_guide - guide_low).mean(axis=2)
    guide_flow = flow(flow_tensor(guide_grey, inside.astype(np.float32), factor), COARSE_SIGMA)
    wanted = guide_flow[anchor[:, 0], anchor[:, 1]]
    frame_y = np.clip((cell_position[:, 0] * exemplar.shape[0] / factor).astype(int), 0, carried_flow.shape[0] - 1)
    frame_x = np.clip((cell_position[:, 1] * exemplar.shape[1] / factor).astype(int), 0, carried_flow.shape[1] - 1)
    wanted = wanted + carried_flow[frame_y, frame_x]
    wanted /= np.maximum(np.linalg.norm(wanted, axis=1, keepdims=True), 1.0)
    cell_vectors = np.concatenate([cell_vectors, flow_scale * wanted], axis=1)

    cell_vectors = cell_vectors.astype(np.float32)
    # Patches are smaller where the exemplar is small for the region: n patches copied from an
    # exemplar of fewer than 4 n patches' area would show the same block twice.
    exemplar_cells = len(places) / cell_lattice ** 2
    fitting = np.sqrt(exemplar_cells / (4.0 * max(1.0, count / max(exemplar_cells, 1.0))))
    cell_flow = np.zeros((rows, cols, 2), np.float32)
    cell_flow[cell_row, cell_col] = wanted
    patch = patch_labels(rows, cols, float(np.clip(fitting, 2.0, config.patch)), rng, cell_flow,
                          config.patch_stretch).ravel()
    neighbours, same_patch = cell_neighbours(cells, rows, cols, patch)
    even_share = max(count / len(places), 1e-6) * cell_lattice ** 2

    def place_via(which: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """The place (-1: none) that lattice ``offsets`` (n, k, 2) give cells ``which``."""
        target = anchor[which][:, None, :] + offsets
        within = ((target[..., 0] >= 0) & (target[..., 0] < lattice_shape[0])
                  & (target[..., 1] >= 0) & (target[..., 1] < lattice_shape[1]))
        return np.where(within, place_of[np.where(within, target[..., 0] * lattice_shape[1] + target[..., 1], 0)], -1)

    def alike(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
        """(n, k, j) in 0..1: how alike the copies of places ``mine`` (n, k) and ``theirs`` (n, j)
        are (a correlation of their high-pass samples: 1 for the same pixels or another period
        of a stripe; two smooth places are not alike for being smooth)."""
        seam = (texture_norms[mine][:, :, None] + texture_norms[theirs][:, None, :]
                - 2.0 * np.einsum("nkd,njd->nkj", place_texture[mine], place_texture[theirs]))
        energies = texture_norms[mine][:, :, None] + texture_norms[theirs][:, None, :]
        return np.clip(1.0 - seam / (energies + 0.05 * place_texture.shape[1] * texture_variance), 0.0, 1.0)

    def seam_bonus(which: np.ndarray, mine: np.ndarray, around: np.ndarray, counted: np.ndarray) -> np.ndarray:
        """(n, k) the coherence bonus of places ``mine`` for cells ``which`` against neighbours
        ``around`` (n, 4; -1: none) where ``counted``: per neighbour whose copy, carried here,
        is alike. Across patches the very same copy earns nothing (patches would merge into
        one big copy, a tile), only another period of a periodic texture does."""
        safe = np.maximum(around, 0)
        offsets = np.stack([place_y[chosen[safe]], place_x[chosen[safe]]], -1) - anchor[safe]
        carried = np.where(counted, place_via(which, offsets), -1)
        weight = alike(mine, np.maximum(carried, 0)) * (carried >= 0)[:, None, :]
        weight *= same_patch[which][:, None, :] | (mine[:, :, None] != carried[:, None, :])
        return config.coherence * weight.sum(-1)

    # Only one cell in four (its 2 x 2 group's first, when active) is searched; the others
    # start from its matches carried along (the same offsets: the guide changes slowly).
    index_of = np.full(rows * cols, -1, np.int64)
    index_of[cells] = np.arange(count)
    parent = index_of[(cell_row - cell_row % 2) * cols + (cell_col - cell_col % 2)]
    parent = np.where(parent >= 0, parent, np.arange(count))
    searched = np.flatnonzero(parent == np.arange(count))
    best_places = np.empty((count, min(config.best, len(coarse))), np.int64)
    best_places[searched] = coarse[best_matches(cell_vectors[searched], place_vectors[coarse], config.best)]
    others = np.flatnonzero(parent != np.arange(count))
    if len(others):
        found = best_places[parent[others]]
        offsets = np.stack([place_y[found], place_x[found]], -1) - anchor[parent[others]][:, None, :]
        carried = place_via(others, offsets)
        best_places[others] = np.where(carried >= 0, carried, found)
    chosen = best_places[np.arange(count), rng.integers(0, best_places.shape[1], count)]
    # Every patch starts as one copy: of a few of its cells' best matches, the shift that suits
    # the whole patch best is carried to all of its cells (a cell it takes out of the exemplar's
    # part keeps its own). Started cell by cell, the sweeps would stay in a mosaic of cells: no
    # single cell gains by joining a neighbour that does not share its copy yet.
    _, member = np.unique(patch[cells], return_inverse=True)
    size = np.bincount(member)
    by_patch = np.argsort(member, kind="stable")
    starts = np.r_[0, np.cumsum(size)[:-1]]
    tried = by_patch[starts[:, None] + (rng.random((len(size), config.patch_tries)) * size[:, None]).astype(np.int64)]
    # A tried cell's shift: one of its best matches, or (every other try) a random place.
    tried_places = np.where(np.arange(config.patch_tries) % 2 == 0,
                            best_places[tried, rng.integers(0, best_places.shape[1], tried.shape)],
                            rng.integers(0, len(places), tried.shape))
    tried_offsets = np.stack([place_y[tried_places], place_x[tried_places]], -1) - anchor[tried]
    carried_start = place_via(np.arange(count), tried_offsets[member])  # (count, tries)
    own_difference = cell_vectors - place_vectors[chosen]
    own_cost = (own_difference ** 2).sum(-1) / dims
    difference = cell_vectors[:, None, :] - place_vectors[np.maximum(carried_start, 0)]
    start_cost = np.where(carried_start >= 0, (difference ** 2).sum(-1) / dims,
                          own_cost[:, None] + 2 * config.coherence)
    start_cost += config.noise * rng.random(start_cost.shape)
    start = np.zeros(count, np.int64)
    # Patches choose in turns (half of them at a time), each seeing how much of the exemplar
    # the others copy: two patches do not both take the same place.
    for turn in range(4):
        moving = (np.arange(len(size)) + turn) % 2 == 0
        if turn == 0:
            still = np.zeros(count, bool)
        else:
            still = ~moving[member]
        used = usage(places[np.where(still, chosen, 0)][still], lattice_shape, cell_lattice)
        crowd = used[places[np.maximum(carried_start, 0)]] * (carried_start >= 0) / even_share
        cost = start_cost + config.usage * crowd
        # A patch's edge continues its settled neighbours' texture where it can (a stripe in phase).
        counted = (neighbours >= 0) & ~same_patch & still[np.maximum(neighbours, 0)] & moving[member][:, None]
        if counted.any():
            edge = np.flatnonzero(counted.any(axis=1))
            cost[edge] -= seam_bonus(edge, np.maximum(carried_start[edge], 0), neighbours[edge], counted[edge]) \
                * (carried_start[edge] >= 0)
        patch_cost = np.stack([np.bincount(member, cost[:, k], minlength=len(size))
                               for k in range(config.patch_tries)], axis=1)
        best_try = np.argmin(patch_cost, axis=1)
        start = np.where(moving[member], best_try[member], start)
        picked = carried_start[np.arange(count), start]
        chosen = np.where(moving[member] & (picked >= 0), picked, chosen)

    parity = (cell_row + cell_col) % 2
    for _ in range(config.sweeps):
        for colour in (0, 1):
            which = np.flatnonzero(parity == colour)
            if len(which) == 0:
                continue
            # Usage of each exemplar place by all cells, spread over a cell's footprint.
            used = usage(places[chosen], lattice_shape, cell_lattice)
            # The neighbours' offsets carried to this cell (a coherent copy).
            around = neighbours[which]
            present = around >= 0
            around_chosen = chosen[np.maximum(around, 0)]
            offsets = np.stack([place_y[around_chosen], place_x[around_chosen]], -1) - anchor[np.maximum(around, 0)]
            carried = np.where(present, place_via(which, offsets), -1)
            candidates = np.concatenate([chosen[which][:, None], best_places[which],
                                         rng.integers(0, len(places), (len(which), config.random)), carried], axis=1)
            valid = candidates >= 0
            candidates = np.maximum(candidates, 0)
            difference = cell_vectors[which][:, None, :] - place_vectors[candidates]
            cost = np.einsum("nkd,nkd->nk", difference, difference) / dims
            cost -= seam_bonus(which, candidates, around, present)
            # Usage by the other cells (this cell's own copy taken out), over the even share.
            mine = chosen[which][:, None]
            own = (np.abs(place_y[candidates] - place_y[mine]) < cell_lattice) \
                & (np.abs(place_x[candidates] - place_x[mine]) < cell_lattice)
            cost += config.usage * np.maximum(used[places[candidates]] - own, 0.0) / even_share
            cost += config.noise * rng.random(cost.shape)
            cost[~valid] = np.inf
            chosen[which] = candidates[np.arange(len(which)), np.argmin(cost, axis=1)]

    shift = np.zeros((rows, cols, 2), np.int64)
    shift[cell_row, cell_col] = (np.stack([place_y[chosen], place_x[chosen]], 1) - anchor) * factor
    has = np.zeros((rows, cols), bool)
    has[cell_row, cell_col] = True
    image = copy_detail(shift, has, cell, ex_high, usable, inside.shape) * inside[..., None]
    # The copies' own low frequencies (a blend is not exactly zero-mean) are the guide's to give.
    return image - masked_low_pass(image, inside, sigma) * inside[..., None]
