"""How photo-like a hair or skin swap pasted back into a photo is, measured on real faces.

    python scripts/measure_photo_edits.py --data ../shared/data/celebamask-mini --count 20 \\
        [--out runs/photo-edits] [--json docs/bench/photo-edits.json] [-- EXTRA ca2sis-edit OPTIONS]

Photos: faces of the data set (real 512 px CelebAMask-HQ faces, with their masks) set into
larger pictures that continue them out of focus (so hair runs on past the face's crop, as
in a portrait with a blurred background): shrunk a little and moved inside a 760 x 700
picture, every fourth cut off-centre first (part of the head missing).
Each photo gets two edits with ``ca2sis-edit --paste-back`` (what a user runs): the hair of
the next photo's face, and its skin. For each edit, with the photo's true mask:

- change outside: mean absolute change (grey levels, over RGB) of the pixels outside the
  part grown by 4 % of the face's side (the feather and the parser's own boundary lie
  within that); for the skin, outside the skin, nose, ears and neck (the skin's tone
  carries to them, ``SKIN_TONE_PARTS``);
- colour gap closed: 1 - |mean_edit - mean_ref| / |mean_photo - mean_ref|, CIELAB means
  inside the part (eroded by 2 % of the face, away from its edge) of the edited photo, of
  the photo, and of the reference's part; for the skin, in the band between the eyes and
  the nose's tip (``colour_sample``: a beard or a shaved scalp is no skin tone);
- detail: the edited part's fine detail over the photo's, where fine detail is the
  Laplacian energy per unit of contrast, mean(Laplacian(grey)^2) / var(grey), inside the
  eroded part.

The summary gives the median of each over the photos; ``--out`` keeps the photos, the
results and a contact sheet to look at.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ca2sis.model.cli import edit as cli_edit
from ca2sis.model.faces import reader as face_reader
from ca2sis.model.labels import CLASS_NAMES
from ca2sis.model.photo.colour import SKIN, SKIN_TONE_PARTS, colour_sample

PARTS = {"hair": CLASS_NAMES.index("hair"), "skin": CLASS_NAMES.index("skin")}
CANVAS = (760, 700)  # width, height


def place(face: np.ndarray, mask: np.ndarray, index: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The face set into a larger picture, its true mask there (0 outside the face's own
    pixels) and the face's side in the picture. Around the face the picture continues it
    out of focus (the face's edge colours, blurred), so hair cut by the face's crop runs on
    softly as in a portrait with a blurred background."""
    if index % 4 == 3:  # cut off-centre: the top and one side of the head are missing
        top, left = 40 + 10 * (index % 3), (0 if index % 8 == 3 else 90)
        face, mask = face[top:, left:left + 422], mask[top:, left:left + 422]
    scale = 0.78 + 0.04 * (index % 5)
    height, width = round(face.shape[0] * scale), round(face.shape[1] * scale)
    face = cv2.resize(face, (width, height), interpolation=cv2.INTER_AREA)
    mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)
    left, top = 120 + 37 * (index % 5), 90 + 29 * (index % 4)
    right, bottom = CANVAS[0] - left - width, CANVAS[1] - top - height
    borders = (top, bottom, left, right)
    around = cv2.GaussianBlur(cv2.copyMakeBorder(face, *borders, cv2.BORDER_REPLICATE), (0, 0), 12)
    inside = cv2.copyMakeBorder(np.ones(face.shape[:2], np.float32), *borders, cv2.BORDER_CONSTANT, value=0)
    inside = cv2.GaussianBlur(cv2.erode(inside, np.ones((9, 9), np.uint8)), (0, 0), 3)[..., None]
    photo = cv2.copyMakeBorder(face, *borders, cv2.BORDER_CONSTANT, value=0) * inside + around * (1 - inside)
    true_mask = cv2.copyMakeBorder(mask, *borders, cv2.BORDER_CONSTANT, value=0)
    return np.clip(photo + 0.5, 0, 255).astype(np.uint8), true_mask, max(height, width)


def lab(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def fine_detail(image: np.ndarray, inside: np.ndarray) -> float:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    laplacian = cv2.Laplacian(grey, cv2.CV_32F, ksize=1)
    return float((laplacian[inside] ** 2).mean() / max(grey[inside].var(), 1e-6))


def disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def tone(mask: np.ndarray, part: int, eroded: np.ndarray) -> np.ndarray:
    """Where a part's colour is measured: ``eroded``, and for the skin only the band the
    product measures the tone on (``colour_sample``: between the eyes and the nose's tip)."""
    return eroded & colour_sample(mask, part) if part == SKIN else eroded


def measure(photo: np.ndarray, edited: np.ndarray, true_mask: np.ndarray, side: int, part: int,
            reference: np.ndarray, reference_mask: np.ndarray) -> dict[str, float]:
    # A skin taken from a reference changes the nose, ears and neck with it (one skin tone).
    region = np.isin(true_mask, [part, *(SKIN_TONE_PARTS if part == SKIN else ())]).astype(np.uint8)
    grown = cv2.dilate(region, disk(round(0.04 * side))) > 0
    inner = tone(true_mask, part, cv2.erode((true_mask == part).astype(np.uint8), disk(round(0.02 * side))) > 0)
    change = np.abs(edited.astype(np.float32) - photo.astype(np.float32)).mean(axis=-1)
    ref_inner = tone(reference_mask, part, cv2.erode((reference_mask == part).astype(np.uint8), disk(10)) > 0)
    mean_ref = lab(reference)[ref_inner].mean(axis=0)
    mean_photo, mean_edit = lab(photo)[inner].mean(axis=0), lab(edited)[inner].mean(axis=0)
    gap = np.linalg.norm(mean_photo - mean_ref)
    return {
        "change_outside": float(change[~grown].mean()),
        "changed_outside_share": float((change[~grown] > 0).mean()),
        "colour_gap": float(gap),
        "gap_closed": float(1 - np.linalg.norm(mean_edit - mean_ref) / max(gap, 1e-6)),
        "detail": fine_detail(edited, inner) / max(fine_detail(photo, inner), 1e-9),
    }


def sheet(rows: list[list[np.ndarray]], height: int = 240) -> np.ndarray:
    lines = []
    for row in rows:
        scaled = [cv2.resize(image, (round(image.shape[1] * height / image.shape[0]), height),
                             interpolation=cv2.INTER_AREA) for image in row]
        lines.append(np.concatenate(scaled, axis=1))
    width = max(line.shape[1] for line in lines)
    return np.concatenate([np.pad(line, ((0, 0), (0, width - line.shape[1]), (0, 0))) for line in lines])


def load_once() -> None:
    """ca2sis-edit loads the weights and the face parser on each call; here once for all edits."""
    engine = functools.cache(cli_edit.Engine.from_pretrained)
    cli_edit.Engine = type("CachedEngine", (), {"from_pretrained": staticmethod(engine)})
    face_reader.FaceReader = functools.cache(face_reader.FaceReader)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a folder with images/*.jpg and masks/*.png")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--out", type=Path, help="keep the photos, results and a contact sheet here")
    parser.add_argument("--json", type=Path)
    parser.add_argument("extra", nargs="*", help="more ca2sis-edit options (after --)")
    args = parser.parse_args()
    load_once()
    out = args.out or Path(tempfile.mkdtemp(prefix="ca2sis-photo-edits-"))
    out.mkdir(parents=True, exist_ok=True)
    names = sorted(path.stem for path in (args.data / "images").glob("*.jpg"))[: args.count + 1]
    faces = [(np.array(Image.open(args.data / "images" / f"{name}.jpg").convert("RGB")),
              np.array(Image.open(args.data / "masks" / f"{name}.png"))) for name in names]
    edits, rows = [], []
    for index in range(args.count):
        face, mask = faces[index]
        photo, true_mask, side = place(face, mask, index)
        photo_path = out / f"photo-{index:02d}.png"
        Image.fromarray(photo).save(photo_path)
        reference_path = args.data / "images" / f"{names[index + 1]}.jpg"
        reference_mask_path = args.data / "masks" / f"{names[index + 1]}.png"
        reference, reference_mask = faces[index + 1]
        row = [photo]
        for part_name, part in PARTS.items():
            if not (true_mask == part).any() or not (reference_mask == part).any():
                continue
            result_path = out / f"photo-{index:02d}-{part_name}.png"
            code = cli_edit.main(["--paste-back", str(photo_path), "--part",
                                  f"{part_name}={reference_path}:{reference_mask_path}", "--out", str(result_path),
                                  *args.extra])
            if code != 0:
                edits.append({"photo": index, "part": part_name, "failed": code})
                continue
            edited = np.array(Image.open(result_path).convert("RGB"))
            figures = measure(photo, edited, true_mask, side, part, reference, reference_mask)
            edits.append({"photo": index, "part": part_name, **{k: round(v, 4) for k, v in figures.items()}})
            print(json.dumps(edits[-1]), file=sys.stderr)
            row += [edited, reference]
        rows.append(row)
    summary = {}
    for part_name in PARTS:
        done = [edit for edit in edits if edit["part"] == part_name and "failed" not in edit]
        summary[part_name] = {"edits": len(done), "failed": sum(1 for e in edits if e["part"] == part_name) - len(done)}
        for key in ("change_outside", "changed_outside_share", "gap_closed", "detail"):
            if done:
                summary[part_name][f"median_{key}"] = round(statistics.median(edit[key] for edit in done), 4)
    report = {"options": args.extra, "summary": summary, "edits": edits}
    Image.fromarray(sheet(rows[:10])).save(out / "sheet.png")
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
