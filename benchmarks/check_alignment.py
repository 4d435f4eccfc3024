"""How closely the face aligner reproduces CelebA-HQ's own framing on celebamask-mini.

Usage: python benchmarks/check_alignment.py DATA VAL_LIST
The faces of DATA are already CelebA-HQ crops, so aligning one should give (nearly) the
identity. On the training faces (VAL_LIST excluded) this measures the median side ratio
that calibrates ``CELEBAHQ_SCALE``; on the held-out faces it reports how far from the
identity the calibrated alignment lands: scale error and centre shift, in % of the side.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ca2sis.model.errors import DataError
from ca2sis.model.faces.align import CELEBAHQ_SCALE, FaceAligner, celebahq_matrix
from ca2sis.model.training.data import load_image, read_id_list


def measure(aligner: FaceAligner, paths: list[Path], scale: float) -> tuple[np.ndarray, np.ndarray, int]:
    zooms, shifts, missed = [], [], 0
    for path in tqdm(paths, unit="face", leave=False):
        image = load_image(path)
        side = image.shape[0]
        try:
            points = aligner.landmarks(image, str(path))
        except DataError:
            missed += 1
            continue
        matrix = celebahq_matrix(points, side, scale)
        zooms.append(np.sqrt(np.linalg.det(matrix[:, :2])))
        centre = matrix @ np.array([side / 2, side / 2, 1.0])
        shifts.append(np.hypot(*(centre - side / 2)) / side)
    return np.array(zooms), np.array(shifts), missed


def main() -> None:
    data, val_list = Path(sys.argv[1]), Path(sys.argv[2])
    held_out = set(read_id_list(val_list))
    paths = sorted((data / "images").glob("*.jpg"))
    aligner = FaceAligner()
    train_zoom, _, _ = measure(aligner, [p for p in paths if p.stem not in held_out], 1.0)
    print(f"training faces: median side ratio at scale 1.0 = {np.median(train_zoom):.4f} "
          f"(CELEBAHQ_SCALE is {CELEBAHQ_SCALE})")
    zoom, shift, missed = measure(aligner, [p for p in paths if p.stem in held_out], CELEBAHQ_SCALE)
    error = np.abs(zoom - 1)
    print(f"held-out faces ({len(zoom)} aligned, {missed} without a detected face):")
    for name, values in (("scale error", error), ("centre shift (of the side)", shift)):
        median, high = 100 * np.median(values), 100 * np.percentile(values, 95)
        print(f"  {name}: median {median:.1f} %, 95th percentile {high:.1f} %")


if __name__ == "__main__":
    main()
