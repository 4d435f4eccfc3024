"""How many part edits on framed photos a user would throw away, measured through ``ca2sis-edit``.

The photos are the framed set (``framed_set``: validation faces cropped tight, turned, on new
backgrounds, in low-key light, graded), each with its true class mask at the photo's framing.
Each edit of ``EDITS`` is what a user runs:
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
  photo's recorded grade (``framed_set.grade_colours``, the vignette at its mean gain over
  ``E``), then the CIELAB mean; ``before`` and ``after``: CIELAB means over ``E``;
- ``gap``: |before - T|; ``left``: |after - T| / max(gap, ``MIN_GAP``): the colour distance left;
- ``untouched``: share of ``E`` whose CIELAB change, projected on the part's gap direction
  (T - before), is under 20 % of the gap, of the pixels that had that far to go: pixels the
  edit did not carry towards the target (a box, a seam). A pixel already within 20 % of the
  gap of ``T`` along that direction (a near-black shadow in hair made near-black, a sheen
  already as light as the blonde asked for) is not one: it has no room to move. Not judged
  (null) when the gap is under ``MIN_GAP``;
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
``measure_only`` measures again the results a run kept without editing; ``check_targets``
checks the targets themselves: each photo against its own face must show no gap (within 2
CIELAB units).
"""

from __future__ import annotations

import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..errors import DataError
from ..labels import part_index
from .framed_set import EDITS, Grade, Library, PhotoEdit, grade_colours, vignette_gain

# CelebAMask-HQ classes (labels.py's order).
BACKGROUND, SKIN, NOSE, EYE_GLASSES = (part_index(name) for name in ("background", "skin", "nose", "eye_g"))
L_EYE, R_EYE, L_BROW, R_BROW = (part_index(name) for name in ("l_eye", "r_eye", "l_brow", "r_brow"))
L_EAR, R_EAR, U_LIP, L_LIP = (part_index(name) for name in ("l_ear", "r_ear", "u_lip", "l_lip"))
HAIR, NECK, CLOTH = (part_index(name) for name in ("hair", "neck", "cloth"))
PART_CLASSES = {"hair": (HAIR,), "skin": (SKIN,), "lips": (U_LIP, L_LIP), "eyes": (L_EYE, R_EYE)}
FOLLOWERS = {"skin": (NOSE, L_EAR, R_EAR, NECK)}
SURROUNDINGS = {"hair": (BACKGROUND,), "skin": (BACKGROUND, HAIR, CLOTH), "lips": (SKIN,), "eyes": (SKIN,)}
ERODE = {"hair": 8, "skin": 6, "lips": 2, "eyes": 1}  # face px: the interior a part's colour is read on
BAND = (2, 12)  # face px outside the part: where a halo or spill shows
GROW_OUTSIDE = 20  # face px: the part's edge and the feather lie within this
MIN_GAP = 6.0  # CIELAB: a smaller colour gap is not judged (untouched) nor divided by (left)
UNTOUCHED_PROGRESS = 0.2  # a pixel carried less than this share of the gap towards the target is untouched
LIMITS = {"band_change": 5.0, "untouched": 0.10, "left": 0.5}


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
        grade = Grade.from_record(record["grade"])
        _VIGNETTES[record["name"]] = vignette_gain(grade, tuple(record["size"]))
    return _VIGNETTES[record["name"]]


def chroma(colour: np.ndarray) -> float:
    return float(np.hypot(colour[1], colour[2]))


def untouched_share(before: np.ndarray, after: np.ndarray, target: np.ndarray) -> float:
    """Share of the pixels (CIELAB rows ``before`` and ``after``) the edit left short of the
    target colour ``target``: moved along the gap (``target`` - the mean before) by under
    ``UNTOUCHED_PROGRESS`` of it, though they stood farther than that from ``target`` along it."""
    direction = target - before.mean(axis=0)
    scale = float(direction @ direction)
    moved = (after - before) @ direction / scale
    to_go = (target - before) @ direction / scale
    return float(((moved < UNTOUCHED_PROGRESS) & (to_go >= UNTOUCHED_PROGRESS)).mean())


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
        "untouched": untouched_share(before_lab, after_lab, target) if gap >= MIN_GAP else None,
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
        raise DataError(f"{out_dir}: results.json holds no result of {edit_id(index, edit)}")
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


def run_photo_edits(library: Library, parts: list[str], count: int | None = None, keep_images: Path | None = None,
                    edit_command: str = "ca2sis-edit", jobs: int = 1, code: str = "", measure_only: bool = False,
                    command_line: str = "") -> dict:
    """Every chosen edit run (or, ``measure_only``, the results kept in ``keep_images`` measured
    again), judged; the report: how it was made, the limits, the summary per part, the rows.
    One line per edit goes to stderr as it is measured."""
    out_dir = keep_images or Path(tempfile.mkdtemp(prefix="ca2sis-photo-edits-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    command = shlex.split(edit_command)
    chosen = select(parts, count)
    started = time.perf_counter()
    earlier: dict[str, dict] = {}
    if measure_only:
        try:
            previous = json.loads((out_dir / "results.json").read_text())
            earlier = {row["id"]: row for row in previous["edits"]}
        except (OSError, ValueError, KeyError) as error:
            raise DataError(f"{out_dir / 'results.json'}: no results of an earlier run to measure ({error})") from None
        report_head = {key: previous[key] for key in ("command", "edit_command", "pythonpath", "seconds")}
        previous_code = previous.get("code", "")

    def one(item: tuple[int, PhotoEdit]) -> dict:
        row = rescore(library, *item, out_dir, earlier) if measure_only else run_edit(library, command, *item, out_dir)
        row["reasons"] = judge(row)
        row["thrown_away"] = bool(row["reasons"])
        shown = {k: row.get(k) for k in ("id", "reference", "band_change", "untouched", "left", "detail", "reasons")}
        print(json.dumps(shown), file=sys.stderr, flush=True)
        return row

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        rows = list(pool.map(one, chosen))
    head = {"command": command_line, "edit_command": edit_command, "pythonpath": os.environ.get("PYTHONPATH", ""),
            "code": code, "seconds": round(time.perf_counter() - started, 1)}
    if measure_only:
        head = {**report_head, "code": code or previous_code, "measured_again": command_line}
    report = {
        **head,
        "limits": {**LIMITS, "grey_skin": "chroma(after) < 0.5 chroma(target), target chroma > 10"},
        "summary": summarise(rows, parts), "edits": rows,
    }
    if keep_images:
        (out_dir / "results.json").write_text(json.dumps(report, indent=1) + "\n")
    return report
