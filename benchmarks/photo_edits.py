"""How many part edits on framed photos a user would throw away, measured through ``ca2sis-edit``.

    python benchmarks/photo_edits.py --data ../shared/data/celebamask-mini \\
        [--parts hair skin lips eyes] [--count N] [--out docs/bench/photo-edits-framed.json] [--keep-images DIR] \\
        [--edit-command "ca2sis-edit"] [--jobs 1]

The photos are the committed set ``benchmarks/framed-photos`` (``framed_photos.py``: validation
faces cropped tight, turned, on new backgrounds, in low-key light, graded), each with its true
class mask at the photo's framing. Each edit of ``EDITS`` is what a user runs:
``ca2sis-edit --paste-back PHOTO --part PART=REFERENCE --out RESULT.png``; a reference is another
photo of the set (given alone: found and parsed as a user's photo would be) or a validation
face (given with its true mask). Per edit, with ``s`` the photo's pixels per face pixel (the
validation faces are 512 px), ``P`` the true part (hair; skin; both lips; both eyes) and ``E``
its interior (``P`` eroded by ``ERODE[part] * s``; for the skin only the cheek band between
the eyes' level and the nose's tip, as the product measures a skin tone):

- ``band_change``: mean absolute grey change over the pixels of the part's surroundings
  (``SURROUNDINGS``: background for hair; background, hair and clothes for skin; skin for the
  lips and eyes) that lie 2 to 12 face px (times ``s``) outside ``P``: a halo or a spill;
- target ``T``: the reference person's un-graded part colour (its original validation face,
  true part, same interior) rendered under the edited photo's light: each pixel through the
  photo's recorded grade (``framed_photos.grade_colours``, the vignette at its mean gain over
  ``E``), then the CIELAB mean; ``before`` and ``after``: CIELAB means over ``E``;
- ``gap``: |before - T|; ``left``: |after - T| / max(gap, ``MIN_GAP``): the colour distance left;
- ``untouched``: share of ``E`` whose CIELAB change, projected on the part's gap direction
  (T - before), is under 20 % of the gap: pixels the edit did not carry towards the target
  (a box, a seam). Not judged (null) when the gap is under ``MIN_GAP``;
- ``grey_skin`` (skin only): chroma(after) < 0.5 chroma(T) while chroma(T) > 10;
- ``detail``: fine detail after over before, fine detail being mean(Laplacian(grey)^2) /
  var(grey) over ``E``;
- ``change_outside``: mean absolute change (grey levels, over RGB) outside ``P`` and the
  parts that follow it (``FOLLOWERS``: the skin carries its tone to the nose, ears and neck)
  grown by 20 face px (times ``s``); ``changed_outside_share``: share of those pixels that
  moved by more than 2 levels;
- ``thrown_away``: band_change > 5, or untouched > 0.10, or left > 0.5, or a grey skin, or the
  edit refused (exit code not 0). ``reasons`` says which.

The summary gives, per part, the share thrown away and the medians. The eyes are measured the
same way on the darker half of each eye's interior (iris and lashes, not the white).
``--measure-only`` measures again the results a run kept (``--keep-images``) without editing;
``--code`` records which code made them (e.g. a commit). ``--check-targets`` checks the targets
themselves: each photo against its own face must show no gap (within 2 CIELAB units).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from framed_photos import DEFAULT_OUT as SET_FOLDER  # noqa: E402
from framed_photos import grade_colours, load_set, validation_faces, vignette_gain  # noqa: E402

# CelebAMask-HQ classes (the data set's order).
BACKGROUND, SKIN, NOSE, L_EYE, R_EYE, L_BROW, R_BROW, L_EAR, R_EAR = 0, 1, 2, 4, 5, 6, 7, 8, 9
U_LIP, L_LIP, HAIR, NECK, CLOTH = 11, 12, 13, 17, 18
EYE_GLASSES = 3
PART_CLASSES = {"hair": (HAIR,), "skin": (SKIN,), "lips": (U_LIP, L_LIP), "eyes": (L_EYE, R_EYE)}
FOLLOWERS = {"skin": (NOSE, L_EAR, R_EAR, NECK)}
SURROUNDINGS = {"hair": (BACKGROUND,), "skin": (BACKGROUND, HAIR, CLOTH), "lips": (SKIN,), "eyes": (SKIN,)}
ERODE = {"hair": 8, "skin": 6, "lips": 2, "eyes": 1}  # face px: the interior a part's colour is read on
BAND = (2, 12)  # face px outside the part: where a halo or spill shows
GROW_OUTSIDE = 20  # face px: the part's edge and the feather lie within this
MIN_GAP = 6.0  # CIELAB: a smaller colour gap is not judged (untouched) nor divided by (left)
LIMITS = {"band_change": 5.0, "untouched": 0.10, "left": 0.5}


@dataclass(frozen=True)
class PhotoEdit:
    """One edit: ``photo`` (a set photo's name) takes ``part`` from ``reference``: another set
    photo's name, or ``val:N`` for the N-th validation face (0-based line of the list)."""

    photo: str
    part: str
    reference: str
    tags: tuple[str, ...] = ()  # what the swap is (dark-to-light, curly, fringe, graded-reference, ...)


def _edits(part: str, rows: list[tuple[str, str, str]]) -> list[PhotoEdit]:
    return [PhotoEdit(photo, part, reference, tuple(tags.split())) for photo, reference, tags in rows]


EDITS: tuple[PhotoEdit, ...] = tuple(
    _edits("hair", [
        ("tight-dark-long", "dark-bg-blonde", "dark-to-light"),
        ("tight-black-fringe", "tight-blonde-long", "dark-to-light fringe"),
        ("tilted-black-dark-skin", "val:84", "dark-to-light"),
        ("light-bg-black", "tilted-blonde", "dark-to-light light-background"),
        ("busy-bg-dark-curly", "val:51", "dark-to-light curly busy-background"),
        ("low-key-dark", "green-cast-blonde", "dark-to-light graded-reference low-key"),
        ("cold-desaturated-dark", "val:33", "dark-to-light graded"),
        ("tight-blonde-long", "tight-dark-long", "light-to-dark"),
        ("tight-blonde-fringe", "val:4", "light-to-dark fringe"),
        ("tight-light-curly", "light-bg-curly-dark-skin", "light-to-dark curly"),
        ("dark-bg-blonde", "val:69", "light-to-dark dark-background"),
        ("dark-bg-light-bob", "warm-cast-dark", "light-to-dark dark-background graded-reference"),
        ("tilted-blonde", "val:32", "light-to-dark"),
        ("moody-desaturated-blonde", "val:0", "light-to-dark graded"),
        ("busy-bg-light-curly", "low-key-dark-skin", "light-to-dark curly graded-reference"),
        ("tight-dark-curly", "val:81", "curly dark-to-light"),
        ("tight-dark-fringe", "val:56", "fringe dark-to-light"),
        ("tilted-auburn-curly", "val:39", "curly light-to-dark"),
        ("tight-blonde-fringe-long", "cold-desaturated-brown", "fringe graded-reference"),
        ("low-key-blonde", "val:95", "light-to-light low-key"),
        ("green-cast-blonde", "val:21", "light-to-dark graded"),
        ("warm-cast-dark", "val:66", "dark-to-light graded"),
        ("tilted-dark-skin", "val:47", "dark-to-light"),
        ("tilted-brown", "val:17", "dark-to-light"),
        ("light-bg-curly-dark-skin", "val:64", "curly dark-to-light light-background"),
        ("cold-desaturated-brown", "val:54", "light-to-dark graded"),
        ("low-key-dark-skin", "val:24", "dark-to-light low-key"),
    ])
    + _edits("skin", [
        ("tight-blonde-long", "tilted-dark-skin", "light-to-dark"),
        ("tilted-dark-skin", "val:61", "dark-to-light"),
        ("tight-dark-curly", "val:98", "dark-to-light"),
        ("low-key-dark-skin", "val:87", "dark-to-light low-key"),
        ("light-bg-curly-dark-skin", "tight-light-curly", "dark-to-light"),
        ("tilted-black-dark-skin", "moody-desaturated-blonde", "dark-to-light graded-reference"),
        ("dark-bg-blonde", "low-key-dark-skin", "light-to-dark graded-reference"),
        ("tight-black-fringe", "val:36", "light-to-dark"),
        ("cold-desaturated-brown", "val:7", "light-to-dark graded"),
        ("warm-cast-dark", "cold-desaturated-brown", "graded graded-reference"),
        ("green-cast-blonde", "val:52", "light-to-dark graded"),
        ("tight-light-curly", "val:44", "light-to-dark"),
        ("moody-desaturated-blonde", "val:38", "light-to-light graded"),
        ("tilted-brown", "val:85", "light-to-dark"),
        ("busy-bg-light-curly", "val:39", "light-to-dark"),
        ("tight-blonde-fringe", "cold-desaturated-dark", "light-to-light graded-reference"),
    ])
    + _edits("lips", [
        ("tight-blonde-long", "warm-cast-dark", "graded-reference"),
        ("tight-dark-long", "val:61", ""),
        ("tilted-dark-skin", "val:89", ""),
        ("low-key-dark-skin", "val:98", "low-key"),
        ("dark-bg-blonde", "val:42", ""),
        ("light-bg-black", "tight-blonde-long", ""),
        ("green-cast-blonde", "val:60", "graded"),
        ("busy-bg-dark-curly", "val:92", ""),
        ("cold-desaturated-dark", "val:49", "graded"),
        ("tight-dark-curly", "tilted-black-dark-skin", ""),
    ])
    + _edits("eyes", [
        ("tight-dark-long", "val:89", ""),
        ("tight-blonde-long", "tight-dark-curly", ""),
        ("dark-bg-light-bob", "val:2", ""),
        ("tilted-blonde", "tilted-black-dark-skin", ""),
        ("warm-cast-dark", "val:98", "graded"),
        ("tight-light-curly", "val:49", ""),
    ])
)


# ---------------------------------------------------------------- pixels


def disk(radius: int) -> np.ndarray:
    radius = max(int(radius), 0)
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB of sRGB colours (uint8, or floats 0..1)."""
    rgb = np.asarray(rgb)
    x = rgb.astype(np.float32) / 255.0 if rgb.dtype == np.uint8 else rgb.astype(np.float32)
    return cv2.cvtColor(x.reshape(-1, 1, 3), cv2.COLOR_RGB2LAB).reshape(rgb.shape)


def grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)


def fine_detail(image: np.ndarray, inside: np.ndarray) -> float:
    luma = grey(image)
    laplacian = cv2.Laplacian(luma, cv2.CV_32F, ksize=1)
    return float((laplacian[inside] ** 2).mean() / max(float(luma[inside].var()), 1e-6))


def cheek_band(mask: np.ndarray) -> np.ndarray:
    """bool: rows between the eyes' level and the nose's tip, in an upright face's mask."""
    eyes, nose = np.isin(mask, (L_EYE, R_EYE, EYE_GLASSES)), mask == NOSE
    band = np.ones(mask.shape, bool)
    if eyes.any() and nose.any():
        band[: int(np.nonzero(eyes)[0].mean())] = False
        band[int(np.nonzero(nose)[0].max()) + 1:] = False
    return band


def interior(mask: np.ndarray, part: str, radius: int, band: np.ndarray | None,
             image: np.ndarray | None = None) -> np.ndarray:
    """bool: the part's interior (eroded by ``radius``); for the skin only inside ``band``; for
    the eyes, given the picture, only their darker half (iris and lashes, not the white)."""
    inside = cv2.erode(np.isin(mask, PART_CLASSES[part]).astype(np.uint8), disk(radius)) > 0
    if part == "skin" and band is not None and (inside & band).sum() >= 200:
        inside &= band
    if part == "eyes" and image is not None and inside.sum() >= 20:
        lightness = grey(image)
        inside &= lightness <= np.median(lightness[inside])
    return inside


def photo_band(record: dict, face_mask: np.ndarray) -> np.ndarray:
    """The cheek band of the photo's face, drawn on the upright face and carried by its framing."""
    band = cheek_band(face_mask).astype(np.uint8)
    matrix = np.array(record["face_to_photo"], np.float64)
    width, height = record["size"]
    return cv2.warpAffine(band, matrix, (width, height), flags=cv2.INTER_NEAREST,
                          borderMode=cv2.BORDER_REFLECT_101) > 0


def scale_of(record: dict) -> float:
    matrix = np.array(record["face_to_photo"], np.float64)
    return float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))


# ---------------------------------------------------------------- the measure


class Library:
    """The set's photos and the validation faces, read once."""

    def __init__(self, data: Path, folder: Path):
        self.data, self.folder = data, folder
        self.records = {record["name"]: record for record in load_set(folder)}
        self.faces = validation_faces()
        self._cache: dict = {}

    def read(self, path: Path) -> np.ndarray:
        if path not in self._cache:
            self._cache[path] = np.array(Image.open(path).convert("RGB") if path.suffix == ".jpg" else Image.open(path))
        return self._cache[path]

    def original(self, face_id: str) -> tuple[np.ndarray, np.ndarray]:
        return (self.read(self.data / "images" / f"{face_id}.jpg"), self.read(self.data / "masks" / f"{face_id}.png"))

    def reference_face(self, reference: str) -> str:
        """The validation face id a reference shows."""
        if reference.startswith("val:"):
            return self.faces[int(reference[4:])]
        return self.records[reference]["face_id"]

    def reference_argument(self, reference: str) -> str:
        if reference.startswith("val:"):
            face_id = self.reference_face(reference)
            return f"{self.data / 'images' / f'{face_id}.jpg'}:{self.data / 'masks' / f'{face_id}.png'}"
        return str(self.records[reference]["photo"])

    def reference_pixels(self, reference: str) -> tuple[np.ndarray, np.ndarray]:
        """What the reference looks like to a user (for the contact sheets) and its true mask."""
        if reference.startswith("val:"):
            return self.original(self.reference_face(reference))
        record = self.records[reference]
        return self.read(record["photo"]), self.read(record["mask"])


def target_colour(library: Library, edit: PhotoEdit, record: dict, inside: np.ndarray) -> np.ndarray | None:
    """CIELAB mean of the reference person's un-graded part, rendered under the photo's grade."""
    face, mask = library.original(library.reference_face(edit.reference))
    region = interior(mask, edit.part, ERODE[edit.part], cheek_band(mask), face)
    if region.sum() < 20:
        return None
    vignette = float(vignette_gain_cached(record)[inside].mean())
    graded = grade_colours(face[region], record["grade"], vignette)
    return lab(graded.astype(np.float32)).mean(axis=0)


_VIGNETTES: dict = {}


def vignette_gain_cached(record: dict) -> np.ndarray:
    if record["name"] not in _VIGNETTES:
        from framed_photos import Grade

        grade = Grade(**{**record["grade"], "white_balance": tuple(record["grade"]["white_balance"])})
        _VIGNETTES[record["name"]] = vignette_gain(grade, tuple(record["size"]))
    return _VIGNETTES[record["name"]]


def chroma(colour: np.ndarray) -> float:
    return float(np.hypot(colour[1], colour[2]))


def measure(library: Library, edit: PhotoEdit, photo: np.ndarray, edited: np.ndarray) -> dict:
    record = library.records[edit.photo]
    true_mask = library.read(record["mask"])
    _, face_mask = library.original(record["face_id"])
    s = scale_of(record)
    part = np.isin(true_mask, PART_CLASSES[edit.part])
    inside = interior(true_mask, edit.part, round(ERODE[edit.part] * s), photo_band(record, face_mask), photo)
    part8 = part.astype(np.uint8)
    ring = (cv2.dilate(part8, disk(round(BAND[1] * s))) > 0) & ~(cv2.dilate(part8, disk(round(BAND[0] * s))) > 0)
    ring &= np.isin(true_mask, SURROUNDINGS[edit.part])
    region = np.isin(true_mask, PART_CLASSES[edit.part] + FOLLOWERS.get(edit.part, ())).astype(np.uint8)
    outside = ~(cv2.dilate(region, disk(round(GROW_OUTSIDE * s))) > 0)
    change = np.abs(edited.astype(np.float32) - photo.astype(np.float32)).mean(axis=-1)
    grey_change = np.abs(grey(edited) - grey(photo))
    row: dict = {
        "band_change": float(grey_change[ring].mean()) if ring.any() else None,
        "change_outside": float(change[outside].mean()) if outside.any() else 0.0,
        "changed_outside_share": float((change[outside] > 2).mean()) if outside.any() else 0.0,
        "detail": fine_detail(edited, inside) / max(fine_detail(photo, inside), 1e-9) if inside.any() else None,
    }
    target = target_colour(library, edit, record, inside) if inside.sum() >= 20 else None
    if target is None:
        return {**row, "gap": None, "left": None, "untouched": None}
    before_lab, after_lab = lab(photo[inside]), lab(edited[inside])
    before, after = before_lab.mean(axis=0), after_lab.mean(axis=0)
    direction = target - before
    gap = float(np.linalg.norm(direction))
    row.update({
        "before_lab": before.round(2).tolist(), "after_lab": after.round(2).tolist(),
        "target_lab": target.round(2).tolist(),
        "gap": gap,
        "left": float(np.linalg.norm(after - target)) / max(gap, MIN_GAP),
        "untouched": (float(((after_lab - before_lab) @ direction / gap**2 < 0.2).mean()) if gap >= MIN_GAP else None),
    })
    if edit.part == "skin":
        row["target_chroma"], row["after_chroma"] = chroma(target), chroma(after)
        row["grey_skin"] = chroma(target) > 10 and chroma(after) < 0.5 * chroma(target)
    return row


def judge(row: dict) -> list[str]:
    """Why a user would throw the edit away (empty: kept)."""
    if "failed" in row:
        return ["refused"]
    reasons = [name for name, limit in LIMITS.items() if row.get(name) is not None and row[name] > limit]
    return reasons + (["grey_skin"] if row.get("grey_skin") else [])


# ---------------------------------------------------------------- running


def edit_id(index: int, edit: PhotoEdit) -> str:
    return f"{edit.part}-{index:02d}-{edit.photo}"


def run_edit(library: Library, command: list[str], index: int, edit: PhotoEdit, out_dir: Path) -> dict:
    record = library.records[edit.photo]
    result = out_dir / f"{edit_id(index, edit)}.png"
    argv = [*command, "--paste-back", str(record["photo"]), "--part",
            f"{edit.part}={library.reference_argument(edit.reference)}", "--out", str(result)]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    row = {"id": edit_id(index, edit), "photo": edit.photo, "part": edit.part, "reference": edit.reference,
           "tags": list(edit.tags), "seconds": round(time.perf_counter() - started, 1)}
    if done.returncode != 0 or not result.exists():
        message = (done.stderr.strip().splitlines() or [""])[-1][:300]
        return {**row, "failed": done.returncode, "error": message}
    return score(library, edit, row, result)


def score(library: Library, edit: PhotoEdit, row: dict, result: Path) -> dict:
    """``row`` with the figures of the edited photo ``result``."""
    photo, edited = library.read(library.records[edit.photo]["photo"]), np.array(Image.open(result).convert("RGB"))
    if edited.shape != photo.shape:
        return {**row, "failed": "size", "error": f"result {edited.shape} for a photo {photo.shape}"}
    figures = measure(library, edit, photo, edited)
    row = {**row, **{key: (round(value, 4) if isinstance(value, float) else value) for key, value in figures.items()}}
    row["result"] = result.name
    return row


def rescore(library: Library, index: int, edit: PhotoEdit, out_dir: Path, earlier: dict[str, dict]) -> dict:
    """The edit measured again on the result a previous run kept (``--measure-only``)."""
    kept = earlier.get(edit_id(index, edit))
    if kept is None:
        raise SystemExit(f"error: {out_dir} holds no result of {edit_id(index, edit)}")
    row = {key: kept[key] for key in ("id", "photo", "part", "reference", "tags", "seconds", "failed", "error")
           if key in kept}
    return row if "failed" in row else score(library, edit, row, out_dir / kept["result"])


def check_targets(library: Library, tolerance: float = 2.0) -> int:
    """Each photo against its own validation face: the target (that face's un-graded part
    through the photo's recorded grade) must equal the photo's own part colour within
    ``tolerance`` (CIELAB). Checks the recorded transforms and the masks' framing; 0 if all hold."""
    worst = 0.0
    with tempfile.TemporaryDirectory() as folder:
        for name, record in library.records.items():
            same = Path(folder) / f"{name}.png"
            Image.fromarray(library.read(record["photo"])).save(same)
            for part in ("hair", "skin", "lips"):
                row = score(library, PhotoEdit(name, part, f"val:{record['face']}"), {}, same)
                if row.get("gap") is not None:
                    worst = max(worst, row["gap"])
                    if row["gap"] > tolerance:
                        print(f"{name} {part}: own colour {row['before_lab']}, target {row['target_lab']}")
    print(f"largest gap of a photo to its own face: {worst:.2f} (tolerance {tolerance})")
    return 0 if worst <= tolerance else 1


def summarise(rows: list[dict], parts: list[str]) -> dict:
    summary = {}
    for part in parts:
        mine = [row for row in rows if row["part"] == part]
        if not mine:
            continue
        done = [row for row in mine if "failed" not in row]
        thrown = [row for row in mine if row["thrown_away"]]
        entry = {"edits": len(mine), "refused": len(mine) - len(done), "thrown_away": len(thrown),
                 "thrown_away_share": round(len(thrown) / len(mine), 3),
                 "reasons": {reason: sum(reason in row["reasons"] for row in mine)
                             for reason in ("band_change", "untouched", "left", "grey_skin", "refused")}}
        for key in ("left", "untouched", "band_change", "detail", "change_outside", "changed_outside_share", "gap"):
            values = [row[key] for row in done if row.get(key) is not None]
            entry[f"median_{key}"] = round(statistics.median(values), 4) if values else None
        summary[part] = entry
    return summary


def cell(value: object) -> str:
    return "-" if value is None else f"{value:.3g}" if isinstance(value, float) else str(value)


def table(summary: dict) -> str:
    columns = ("edits", "refused", "thrown_away_share", "median_left", "median_untouched", "median_band_change",
               "median_detail", "median_change_outside")
    heads = ("part", "edits", "refused", "thrown away", "left/gap", "untouched", "band", "detail", "outside")
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for part, entry in summary.items():
        cells = [part] + [cell(entry[column]) for column in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def select(parts: list[str], count: int | None) -> list[tuple[int, PhotoEdit]]:
    chosen = []
    for part in parts:
        mine = [(index, edit) for index, edit in enumerate(EDITS) if edit.part == part]
        chosen += mine[:count] if count else mine
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="celebamask-mini: images/*.jpg and masks/*.png")
    parser.add_argument("--set", type=Path, default=SET_FOLDER, help="the framed photos (framed_photos.py)")
    parser.add_argument("--parts", nargs="+", default=list(PART_CLASSES), choices=list(PART_CLASSES))
    parser.add_argument("--count", type=int, help="at most this many edits per part (default: all)")
    parser.add_argument("--out", type=Path, help="write the rows and the summary here (JSON)")
    parser.add_argument("--keep-images", type=Path, help="keep the edited photos here (for contact_sheets.py)")
    parser.add_argument("--edit-command", default="ca2sis-edit", help="how to run ca2sis-edit (split like a shell)")
    parser.add_argument("--jobs", type=int, default=1, help="edits run at once")
    parser.add_argument("--code", default="", help="which code the edits ran (recorded in the JSON)")
    parser.add_argument("--check-targets", action="store_true",
                        help="only check that each photo's own face, graded as recorded, gives the photo's colours")
    parser.add_argument("--measure-only", action="store_true",
                        help="measure again the results kept in --keep-images, without running ca2sis-edit")
    args = parser.parse_args(argv)
    library = Library(args.data, args.set)
    if args.check_targets:
        return check_targets(library)
    out_dir = args.keep_images or Path(tempfile.mkdtemp(prefix="ca2sis-photo-edits-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    command = shlex.split(args.edit_command)
    chosen = select(args.parts, args.count)
    started = time.perf_counter()

    earlier: dict[str, dict] = {}
    if args.measure_only:
        if not args.keep_images:
            parser.error("--measure-only needs --keep-images")
        previous = json.loads((out_dir / "results.json").read_text())
        earlier = {row["id"]: row for row in previous["edits"]}
        report_head = {key: previous[key] for key in ("command", "edit_command", "pythonpath", "seconds")}
        previous_code = previous.get("code", "")

    def one(item: tuple[int, PhotoEdit]) -> dict:
        if args.measure_only:
            row = rescore(library, *item, out_dir, earlier)
        else:
            row = run_edit(library, command, *item, out_dir)
        row["reasons"] = judge(row)
        row["thrown_away"] = bool(row["reasons"])
        shown = {k: row.get(k) for k in ("id", "reference", "band_change", "untouched", "left", "detail", "reasons")}
        print(json.dumps(shown), file=sys.stderr, flush=True)
        return row

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        rows = list(pool.map(one, chosen))
    summary = summarise(rows, args.parts)
    head = {
        "command": "python benchmarks/photo_edits.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
        "edit_command": args.edit_command, "pythonpath": os.environ.get("PYTHONPATH", ""), "code": args.code,
        "seconds": round(time.perf_counter() - started, 1)}
    if args.measure_only:
        head = {**report_head, "code": args.code or previous_code, "measured_again": head["command"]}
    report = {
        **head,
        "limits": {**LIMITS, "grey_skin": "chroma(after) < 0.5 chroma(target), target chroma > 10"},
        "summary": summary, "edits": rows,
    }
    print(table(summary))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    if args.keep_images:
        (out_dir / "results.json").write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
