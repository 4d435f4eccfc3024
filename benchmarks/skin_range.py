"""Real skin colours (CIELAB lightness, chroma, hue of the cheeks; lips' chroma; whites) on training faces.

    python benchmarks/skin_range.py --data ../shared/data/celebamask-mini [--count 400]

Prints percentiles; ``model/photo/colour.py`` keeps the chroma's 5th and the hue's 5th and 95th
(``SKIN_CHROMA_MIN``, ``SKIN_HUE_RANGE``) and the skin's and lips' median chromas (``TYPICAL_CHROMA``);
the whites of the eyes and the teeth (``white_point``) show how far a face's white strays
from the next face's, under the same kind of light (docs/studio.md: why no cast is read).
Validation faces are left out.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from ca2sis.model.photo.colour import LIPS, SKIN, part_colour, srgb, to_lab, white_point

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="celebamask-mini: images/*.jpg and masks/*.png")
    parser.add_argument("--count", type=int, default=400, help="training faces measured (sorted ids)")
    args = parser.parse_args()
    split = (REPO / "assets" / "splits" / "celebamask-mini-val.txt").read_text().splitlines()
    validation = {line for line in split if line and not line.startswith("#")}
    names = sorted(path.stem for path in (args.data / "images").glob("*.jpg") if path.stem not in validation)
    lightness, chroma, hue, lips, whites = [], [], [], [], []
    for name in names[:args.count]:
        image = np.array(Image.open(args.data / "images" / f"{name}.jpg").convert("RGB"))
        mask = np.array(Image.open(args.data / "masks" / f"{name}.png"))
        lip_colours = (part_colour(image, mask, part) for part in LIPS)
        lips += [np.hypot(*lip.mean[1:]) for lip in lip_colours if lip is not None]
        white = white_point(image, mask)
        if white is not None:
            whites.append(to_lab(srgb(white)[None, None])[0, 0])
        colour = part_colour(image, mask, SKIN)
        if colour is None:
            continue
        lightness.append(colour.mean[0])
        chroma.append(np.hypot(colour.mean[1], colour.mean[2]))
        hue.append(np.degrees(np.arctan2(colour.mean[2], colour.mean[1])))
    percentiles = [1, 2, 5, 50, 95, 98, 99]
    print(f"{len(chroma)} faces; percentiles {percentiles}")
    for label, values in (("lightness", lightness), ("chroma", chroma), ("hue", hue), ("lips' chroma", lips)):
        print(f"{label:>12}: {np.percentile(values, percentiles).round(1).tolist()}")
    whites = np.array(whites)
    quartiles = np.percentile(whites, [25, 50, 75], axis=0).round(1).T.tolist()
    print(f"whites of {len(whites)} faces: CIELAB L, a, b percentiles 25/50/75 {quartiles}, "
          f"spread {whites.std(axis=0).round(1).tolist()}")


if __name__ == "__main__":
    main()
