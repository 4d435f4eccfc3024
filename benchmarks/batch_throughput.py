"""Photos per minute of `ca2sis-edit --paste-back DIR` against the single-photo command run
once per photo (docs/speed.md, "Editing many photos").

    python benchmarks/batch_throughput.py [--photos 4] [--large 2] [--weights weights/lite]

Makes ``--photos`` photos of 512 px (validation faces of celebamask-mini, as they are) and
``--large`` photos of 12 megapixels (4000x3000: a validation face of 1500 px set into a
blurred, noisy canvas), then times, for each set, one folder run and one
`ca2sis-edit --paste-back PHOTO` per photo (each a new process, as a shell loop runs it).
Every run is the same edit (a random hair style, `--random-part hair:3`). Prints the seconds
and photos per minute of each. Uses only the validation list's faces.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "celebamask-mini"
VALIDATION = REPO / "assets" / "splits" / "celebamask-mini-val.txt"
EDIT = [sys.executable, "-m", "ca2sis.model.cli.edit", "--random-part", "hair:3"]


def validation_faces(count: int, skip: int = 0) -> list[Path]:
    names = [line.strip() for line in VALIDATION.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return [DATA / "images" / f"{name}.jpg" for name in names[skip:skip + count]]


def large_photo(face: Path, seed: int) -> np.ndarray:
    """A 4000x3000 photo with the face 1500 px across in it."""
    noise = np.random.default_rng(seed).integers(0, 255, (3000 // 8, 4000 // 8, 3), dtype=np.uint8)
    canvas = cv2.resize(cv2.GaussianBlur(noise, (0, 0), 2), (4000, 3000), interpolation=cv2.INTER_CUBIC)
    portrait = cv2.resize(np.array(Image.open(face).convert("RGB")), (1500, 1500), interpolation=cv2.INTER_CUBIC)
    canvas[700:2200, 1200:2700] = portrait
    return canvas


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure(folder: Path, out: Path, weights: list[str], label: str) -> None:
    photos = sorted(folder.iterdir())
    batch = timed([*EDIT, "--paste-back", str(folder), "--out", str(out / "batch"), *weights])
    written = len(list((out / "batch").glob("*-edited.*")))
    (out / "single").mkdir(parents=True)
    single = sum(timed([*EDIT, "--paste-back", str(photo), "--out", str(out / "single" / photo.name), *weights])
                 for photo in photos)
    for name, seconds, count in (("folder run", batch, written), ("one command per photo", single, len(photos))):
        print(f"{label}: {name}: {count} photos in {seconds:.1f} s = {60 * count / seconds:.1f} photos/min")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=4, help="512 px photos (default 4)")
    parser.add_argument("--large", type=int, default=2, help="12 MP photos (default 2; 0 skips them)")
    parser.add_argument("--weights", help="weights folder (default: the bundled ones)")
    args = parser.parse_args()
    weights = ["--weights", args.weights] if args.weights else []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        small = root / "512"
        small.mkdir()
        for face in validation_faces(args.photos):
            Image.open(face).save(small / face.name)
        measure(small, root / "out-512", weights, "512 px")
        if args.large:
            large = root / "12mp"
            large.mkdir()
            for index, face in enumerate(validation_faces(args.large, skip=args.photos)):
                Image.fromarray(large_photo(face, index)).save(large / face.name, quality=92)
            measure(large, root / "out-12mp", weights, "12 MP")


if __name__ == "__main__":
    main()
