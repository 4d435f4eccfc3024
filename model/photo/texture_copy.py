"""The copying half of ``texture.synthesize``: the exemplar's detail copied along the shifts the
matching chose, one per cell, blended where cells meet (see ``texture.py``'s docstring, step 4)."""

from __future__ import annotations

import numpy as np


def copy_detail(shift: np.ndarray, has: np.ndarray, cell: int, high: np.ndarray, usable: np.ndarray,
                 shape: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) the exemplar's ``high`` copied along the shifts of the four cells around each
    pixel (bilinear weights, smoothstep), merged where two cells share a shift and blended
    variance-preserving where they do not; a copy from outside ``usable`` counts nothing.

    The pixels between four cell centres form a block of cell x cell pixels (the cell grid
    moved by half a cell), whose four copies are four blocks of the exemplar: everything is
    done per block, vectorised over the blocks."""
    rows, cols = has.shape
    half = cell // 2
    # Blocks: (rows + 1) x (cols + 1); block (r, c) covers pixels from ((r - 1) cell + half,
    # (c - 1) cell + half) and lies between the centres of cells (r - 1, c - 1) .. (r, c).
    block_row, block_col = np.meshgrid(np.arange(rows + 1), np.arange(cols + 1), indexing="ij")
    corners = ((-1, -1), (-1, 0), (0, -1), (0, 0))
    keys, shifts, present = [], [], []
    for dy, dx in corners:
        r, c = block_row + dy, block_col + dx
        on_grid = (r >= 0) & (r < rows) & (c >= 0) & (c < cols)
        r, c = np.clip(r, 0, rows - 1), np.clip(c, 0, cols - 1)
        here = on_grid & has[r, c]
        present.append(here)
        shifts.append(np.where(here[..., None], shift[r, c], 0))
        keys.append(np.where(here, shift[r, c, 0] * 1_000_003 + shift[r, c, 1], -1 - len(keys)))
    present = np.stack(present, axis=-1).reshape(-1, 4)
    live = np.flatnonzero(present.any(axis=1))
    keys = np.stack(keys, axis=-1).reshape(-1, 4)[live]
    shifts = np.stack(shifts, axis=-2).reshape(-1, 4, 2)[live]
    origin_y = ((block_row.ravel()[live] - 1) * cell + half)[:, None] + shifts[..., 0]
    origin_x = ((block_col.ravel()[live] - 1) * cell + half)[:, None] + shifts[..., 1]
    # The exemplar's blocks, from a padded copy (a block reaching past it is not usable there).
    pad = cell
    padded_high = np.pad(high, ((pad, pad + cell), (pad, pad + cell), (0, 0)))
    padded_usable = np.pad(usable, ((pad, pad + cell), (pad, pad + cell))).astype(np.float32)
    origin_y = np.clip(origin_y + pad, 0, padded_usable.shape[0] - cell)
    origin_x = np.clip(origin_x + pad, 0, padded_usable.shape[1] - cell)
    windows = np.lib.stride_tricks.sliding_window_view(padded_high, (cell, cell), axis=(0, 1))
    usable_windows = np.lib.stride_tricks.sliding_window_view(padded_usable, (cell, cell))
    blocks = windows[origin_y, origin_x]  # (n, 4, 3, cell, cell)
    weights = usable_windows[origin_y, origin_x] * present[live][..., None, None]  # (n, 4, cell, cell)
    # Bilinear smoothstep weights of the four corners over a block (the same for every block).
    t = (np.arange(cell) + 0.5) / cell
    t = t * t * (3 - 2 * t)
    ramp = np.stack([1 - t, t])
    template = np.stack([np.outer(ramp[a], ramp[b]) for a, b in ((0, 0), (0, 1), (1, 0), (1, 1))]).astype(np.float32)
    weights = weights * template[None]
    # Corners that share a shift copy the same pixels: their weights add, on the first of them.
    same = keys[:, :, None] == keys[:, None, :]
    first = ~(same & np.tril(np.ones((4, 4), bool), -1)).any(-1)
    merge = (same & first[:, :, None]).astype(np.float32)
    merged = np.einsum("nkj,njyx->nkyx", merge, weights)
    merged /= np.maximum(np.sqrt((merged ** 2).sum(axis=1, keepdims=True)), 1e-6)
    detail = np.einsum("nkyx,nkcyx->nyxc", merged, blocks)
    canvas = np.zeros(((rows + 1) * cell, (cols + 1) * cell, 3), np.float32)
    canvas = canvas.reshape(rows + 1, cell, cols + 1, cell, 3)
    canvas[block_row.ravel()[live], :, block_col.ravel()[live]] = detail
    canvas = canvas.reshape((rows + 1) * cell, (cols + 1) * cell, 3)
    return canvas[half:half + shape[0], half:half + shape[1]]
