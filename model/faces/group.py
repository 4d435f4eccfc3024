"""Several faces in one photo: their numbers, which of them can be edited alone, and where
each one's edit may land.

Faces are numbered from 1, left to right (``FaceAligner.find_faces``). A face is edited
alone only when it does not overlap another (their detector boxes share little) and is
large enough for its parse to mean something. An edit of one face is kept to the pixels
nearer to it than to any other face (distances in units of each face's crop, so a large
face reaches further than a small one): every other face keeps its exact bytes, however
far the edit's hair or its colour change runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import DataError
from .align import AlignedFace, box_overlap

# The side of a face's aligned crop, in photo pixels, below which it is not edited: the
# parser would see a face smaller than the smallest input the tools accept.
MIN_FACE_SIDE = 64
# Two faces whose detector boxes share more than this share of the smaller box overlap:
# neither can be edited without reaching into the other.
OVERLAP_SHARE = 0.1
# Where two faces' shares of the photo meet, an edit fades out over this much of its
# crop's side (no hard line in a change that reaches the boundary).
TERRITORY_BAND = 0.04


@dataclass(frozen=True)
class FaceInPhoto:
    """One face of a photo: its ``number`` (1-based, left to right), detector ``box`` (left,
    top, right, bottom) and its aligned crop's ``centre`` and ``side`` in photo pixels."""

    number: int
    box: tuple[int, int, int, int]
    centre: tuple[float, float]
    side: float
    cut_by_frame: bool  # part of the face (a landmark or its box) lies outside the photo
    overlaps: tuple[int, ...] = ()  # the numbers of the faces it overlaps

    @property
    def problem(self) -> str | None:
        """Why this face cannot be edited alone (None when it can)."""
        if self.overlaps:
            others = ", ".join(str(number) for number in self.overlaps)
            return f"it overlaps face{'s' if len(self.overlaps) > 1 else ''} {others}"
        if self.side < MIN_FACE_SIDE:
            return f"it is too small ({self.side:.0f} px across; at least {MIN_FACE_SIDE} px)"
        return None

    def as_dict(self) -> dict:
        left, top, right, bottom = self.box
        return {"face": self.number, "box": [left, top, right - left, bottom - top], "crop_side": round(self.side, 1),
                "cut_by_frame": self.cut_by_frame, "overlaps": list(self.overlaps), "editable": self.problem is None,
                "problem": self.problem}


def faces_in_photo(alignments: Sequence[AlignedFace]) -> list[FaceInPhoto]:
    """``alignments`` (left to right, as ``FaceAligner.align_all`` gives them) as numbered faces."""
    faces = []
    for index, alignment in enumerate(alignments):
        side_aligned = alignment.image.shape[0]
        scale = float(np.sqrt(abs(np.linalg.det(alignment.matrix[:, :2]))))  # aligned pixels per photo pixel
        inverse = np.linalg.inv(np.vstack([alignment.matrix, [0.0, 0.0, 1.0]]))
        centre = inverse[:2] @ np.array([side_aligned / 2, side_aligned / 2, 1.0])
        box = alignment.box or _landmark_box(alignment.landmarks)
        width, height = alignment.photo_size
        points = alignment.landmarks
        cut = bool(box[0] < 0 or box[1] < 0 or box[2] > width or box[3] > height or (points < 0).any()
                   or (points[:, 0] >= width).any() or (points[:, 1] >= height).any())
        overlaps = tuple(other + 1 for other, neighbour in enumerate(alignments) if other != index and
                         box_overlap(box, neighbour.box or _landmark_box(neighbour.landmarks)) > OVERLAP_SHARE)
        faces.append(FaceInPhoto(index + 1, box, (float(centre[0]), float(centre[1])), side_aligned / max(scale, 1e-6),
                                 cut, overlaps))
    return faces


def chosen_faces(faces: Sequence[FaceInPhoto], face: str | None, source: str = "photo") -> list[int]:
    """The indices (0-based) of the faces ``--face`` asks for: a number (1-based), "all", or
    None for the main (largest) face. A face asked for by number that cannot be edited alone
    is refused; "all" takes every face that can (``skipped_faces`` says which it leaves)."""
    if face is None:
        return [max(range(len(faces)), key=lambda index: _area(faces[index].box))]
    if face == "all":
        editable = [index for index, found in enumerate(faces) if found.problem is None]
        if not editable:
            reasons = "; ".join(f"face {found.number}: {found.problem}" for found in faces)
            raise DataError(f"{source}: no face can be edited alone ({reasons})")
        return editable
    number = parse_face_number(face)
    if number > len(faces):
        raise DataError(f"{source}: --face {number}, but {len(faces)} face{'s' if len(faces) > 1 else ''} "
                        f"{'were' if len(faces) > 1 else 'was'} found (ca2sis-parse --list-faces shows them)")
    problem = faces[number - 1].problem
    if problem is not None:
        raise DataError(f"{source}: face {number} cannot be edited alone: {problem}")
    return [number - 1]


def skipped_faces(faces: Sequence[FaceInPhoto]) -> list[str]:
    """Why each face that ``--face all`` leaves alone is left, one line each."""
    return [f"face {found.number} not edited: {found.problem}" for found in faces if found.problem is not None]


def parse_face_number(text: str) -> int:
    """``--face`` N: a whole number from 1."""
    try:
        number = int(text)
    except ValueError:
        raise DataError(f"--face {text!r}: expected a face number (1 is the leftmost) or 'all'") from None
    if number < 1:
        raise DataError(f"--face {text}: faces are numbered from 1 (the leftmost)")
    return number


def keep_to_territory(before: np.ndarray, after: np.ndarray, faces: Sequence[FaceInPhoto], index: int) -> np.ndarray:
    """``after`` (the photo with face ``index`` edited) with every pixel nearer to another face
    than to this one given back its bytes from ``before``; a band along the boundary on this
    face's side fades from the edit to the original."""
    if len(faces) < 2:
        return after
    changed = np.any(before != after, axis=-1)
    if not changed.any():
        return after
    rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1  # only where the edit changed pixels
    yy, xx = np.mgrid[top:bottom, left:right].astype(np.float32)

    def distance(face: FaceInPhoto) -> np.ndarray:
        return np.hypot(xx - face.centre[0], yy - face.centre[1]) / np.float32(face.side)

    own = distance(faces[index])
    nearest_other = np.min([distance(face) for number, face in enumerate(faces) if number != index], axis=0)
    weight = np.clip((nearest_other - own) / TERRITORY_BAND, 0.0, 1.0)[..., None]
    old, new = before[top:bottom, left:right], after[top:bottom, left:right]
    blended = np.clip(old + weight * (new.astype(np.float32) - old) + 0.5, 0, 255).astype(np.uint8)
    result = after.copy()
    result[top:bottom, left:right] = np.where(weight >= 1.0, new, np.where(weight <= 0.0, old, blended))
    return result


def _landmark_box(points: np.ndarray) -> tuple[int, int, int, int]:
    low, high = points.min(axis=0), points.max(axis=0)
    return round(low[0]), round(low[1]), round(high[0]), round(high[1])


def _area(box: tuple[int, int, int, int]) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])
