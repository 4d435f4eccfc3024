"""Checks a training folder once, before the first step, and writes run summaries safely.

A bad file found by the data loader hours into a run stops it with a worker traceback.
``check_training_files`` instead reads every file of a dataset once, quickly (JPEGs are
decoded at 1/8 scale, which still reads every byte, so a truncated file shows; masks are
decoded fully, for their labels), and reports every bad file at once in one ``DataError``;
with ``skip_bad`` it returns the faces that can be used so training goes on without the others.

``check_square`` is the one rule for face crops, shared with the engine: a face or mask
that is not square is refused, never stretched.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from PIL import Image

from ..errors import DataError
from ..io.decode import check_square
from ..labels import NUM_CLASSES
from .data import CelebAMaskHQDataset, FaceMaskDataset, FolderDataset, decode_file, load_official_mask, mask_from_pil

# A JPEG is decoded at about this side: every byte is still read, so truncation shows.
_DRAFT_SIDE = 64
_LISTED_PROBLEMS = 20  # problems spelled out in one error message; the rest are counted


def check_image_file(path: Path) -> None:
    """A training face: decodes to the end and is square (a DataError names the problem)."""

    def square_and_reduced(image: Image.Image) -> None:
        check_square(image.width, image.height, str(path), "face")
        if image.format == "JPEG":  # decoding at 1/8 still reads the whole file: truncation shows
            image.draft("RGB", (_DRAFT_SIDE, _DRAFT_SIDE))

    decode_file(path, lambda _image: None, before_load=square_and_reduced)


def check_mask_file(path: Path, num_classes: int = NUM_CLASSES) -> None:
    """A training mask: decodes, holds only labels 0..num_classes-1, and is square."""
    mask = decode_file(path, lambda image: mask_from_pil(image, str(path), num_classes))
    check_square(mask.shape[1], mask.shape[0], str(path), "mask")


@dataclass
class DataCheck:
    """What ``check_training_files`` found: the usable ids, and one message per bad face."""

    root: Path
    good_ids: list[str]
    problems: list[str]

    def message(self) -> str:
        total = len(self.good_ids) + len(self.problems)
        listed = "\n".join(f"  {problem}" for problem in self.problems[:_LISTED_PROBLEMS])
        more = len(self.problems) - _LISTED_PROBLEMS
        if more > 0:
            listed += f"\n  ... and {more} more"
        return f"{len(self.problems)} of {total} faces in {self.root} cannot be used:\n{listed}"


def _face_problem(dataset: FaceMaskDataset, face_id: str, num_classes: int) -> str | None:
    try:
        if isinstance(dataset, FolderDataset):
            check_image_file(dataset.images[face_id])
            check_mask_file(dataset.masks[face_id], num_classes)
        elif isinstance(dataset, CelebAMaskHQDataset):
            check_image_file(dataset.images[face_id])
            mask = load_official_mask(dataset.root, int(face_id))
            check_square(mask.shape[1], mask.shape[0], f"face {face_id}'s part masks", "mask")
        else:  # another dataset kind: load the pair as training will
            dataset.load_pair(face_id)
    except DataError as exc:
        return str(exc)
    return None


def check_training_files(
    dataset: FaceMaskDataset,
    skip_bad: bool = False,
    num_classes: int = NUM_CLASSES,
    log: TextIO | None = None,
) -> list[str]:
    """Read every file of ``dataset`` once; returns the ids to train on.

    Without ``skip_bad`` any bad file raises one DataError that lists them all (and says
    how to go on without them); with it, the bad faces are listed on ``log`` (stderr by
    default) and left out. A dataset with no usable face is always an error.
    """
    root = Path(getattr(dataset, "root", "the dataset"))
    good, problems = [], []
    for face_id in dataset.ids:
        problem = _face_problem(dataset, face_id, num_classes)
        if problem is None:
            good.append(face_id)
        else:
            problems.append(problem)
    report = DataCheck(root, good, problems)
    if not problems:
        return good
    if not good:
        raise DataError(report.message() + "\nno face is left to train on")
    if not skip_bad:
        raise DataError(
            report.message() + f"\nfix or remove them, or add --skip-bad to train on the other {len(good)} faces"
        )
    print(f"warning: {report.message()}\nskipping them (--skip-bad): training on {len(good)} faces",
          file=log if log is not None else sys.stderr)
    return good


def write_run_summary(path: str | Path, summary: dict[str, Any]) -> dict[str, Any]:
    """Write a run's summary as strict JSON, atomically; returns what was written.

    A run resumed when already finished trains no step, so it has no speed of its own
    (NaN): the speed of the summary already there is kept instead, or null when there is
    none. Any other non-finite number is written as null; JSON has no NaN.
    """
    path = Path(path)
    written = {key: _finite_or_none(value) for key, value in summary.items()}
    if written.get("images_per_second") is None and path.is_file():
        try:
            previous = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            previous = {}
        speed = previous.get("images_per_second") if isinstance(previous, dict) else None
        if isinstance(speed, (int, float)) and not isinstance(speed, bool):
            written["images_per_second"] = _finite_or_none(float(speed))
    text = json.dumps(written, indent=2, allow_nan=False) + "\n"
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")  # never a file of the user's
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return written


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(item) for item in value]
    return value
