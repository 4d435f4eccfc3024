"""The 19 CelebAMask-HQ semantic classes: names, display colours and left/right pairs.

The order is the one every CelebAMask-HQ code base uses (and the class index stored in
the masks of ``celebamask-mini``). "l_" and "r_" are the person's own left and right, so
a horizontal flip of a face must swap each pair.
"""

from __future__ import annotations

import numpy as np

from .errors import DataError

CLASS_NAMES: tuple[str, ...] = (
    "background",
    "skin",
    "nose",
    "eye_g",
    "l_eye",
    "r_eye",
    "l_brow",
    "r_brow",
    "l_ear",
    "r_ear",
    "mouth",
    "u_lip",
    "l_lip",
    "hair",
    "hat",
    "ear_r",
    "neck_l",
    "neck",
    "cloth",
)
NUM_CLASSES = len(CLASS_NAMES)
BACKGROUND = CLASS_NAMES.index("background")  # class 0: everything that is not the face

# Names a person reads in the studio; CLASS_NAMES stay the dataset's own spelling.
DISPLAY_NAMES: tuple[str, ...] = (
    "Background",
    "Skin",
    "Nose",
    "Eyeglasses",
    "Left eye",
    "Right eye",
    "Left brow",
    "Right brow",
    "Left ear",
    "Right ear",
    "Mouth",
    "Upper lip",
    "Lower lip",
    "Hair",
    "Hat",
    "Earring",
    "Necklace",
    "Neck",
    "Cloth",
)

# The CelebAMask-HQ palette (as stored in the palette PNG masks), RGB per class.
COLORS: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0),
    (204, 0, 0),
    (76, 153, 0),
    (204, 204, 0),
    (51, 51, 255),
    (204, 0, 204),
    (0, 255, 255),
    (255, 204, 204),
    (102, 51, 0),
    (255, 0, 0),
    (102, 204, 0),
    (255, 255, 0),
    (0, 0, 153),
    (0, 0, 204),
    (255, 51, 153),
    (0, 204, 204),
    (0, 51, 0),
    (255, 153, 51),
    (0, 204, 0),
)

LEFT_RIGHT_PAIRS: tuple[tuple[int, int], ...] = ((4, 5), (6, 7), (8, 9))


def _flip_permutation() -> tuple[int, ...]:
    perm = list(range(NUM_CLASSES))
    for left, right in LEFT_RIGHT_PAIRS:
        perm[left], perm[right] = right, left
    return tuple(perm)


# FLIP_PERMUTATION[c] is the class that c becomes in the mirrored face.
FLIP_PERMUTATION: tuple[int, ...] = _flip_permutation()

# File-name part of each class (1..18) in the official CelebAMask-HQ annotation layout,
# ``CelebAMask-HQ-mask-anno/<k>/<id:05d>_<part>.png``; background has no file.
ANNOTATION_PARTS: tuple[str, ...] = CLASS_NAMES[1:]


Part = int | str  # a class index, a dataset name ("l_eye") or a display name ("Left eye")


def part_index(part: Part, num_classes: int = NUM_CLASSES) -> int:
    """A part given as an index, a dataset name ("l_eye") or a display name ("Left eye")."""
    if isinstance(part, (int, np.integer)) and not isinstance(part, bool):
        if 0 <= part < num_classes:
            return int(part)
        raise DataError(f"part index {part} is outside 0..{num_classes - 1}")
    if isinstance(part, str):
        key = part.strip().lower().replace(" ", "_")
        for index, (name, display) in enumerate(zip(CLASS_NAMES, DISPLAY_NAMES)):
            if key in (name, display.lower().replace(" ", "_")):
                return index
        if key.isdigit():
            return part_index(int(key), num_classes)
    raise DataError(f"unknown part {part!r}: use one of {', '.join(CLASS_NAMES)}")


# Pairs a person names as one part: ``ca2sis-edit --part lips=B.jpg`` styles both lips.
PART_GROUPS: dict[str, tuple[str, ...]] = {
    "lips": ("u_lip", "l_lip"), "eyes": ("l_eye", "r_eye"), "brows": ("l_brow", "r_brow"), "ears": ("l_ear", "r_ear"),
}


def pair_partner(index: int) -> int | None:
    """The other member of the pair (``PART_GROUPS``) that class ``index`` belongs to, None for
    a class of no pair: a reference with one eye closed lends its open eye to both."""
    for members in PART_GROUPS.values():
        classes = [CLASS_NAMES.index(name) for name in members]
        if index in classes:
            return classes[1 - classes.index(index)]
    return None


def part_indices(part: Part, num_classes: int = NUM_CLASSES) -> tuple[int, ...]:
    """The classes a part names: one (as ``part_index``), or both of a pair in ``PART_GROUPS``."""
    if isinstance(part, str) and part.strip().lower() in PART_GROUPS:
        return tuple(part_index(name, num_classes) for name in PART_GROUPS[part.strip().lower()])
    try:
        return (part_index(part, num_classes),)
    except DataError as error:
        raise DataError(f"{error}, or a pair: {', '.join(PART_GROUPS)}") from None


def palette_bytes() -> list[int]:
    """The 768-entry palette list for a PIL "P" image (19 colours, rest black)."""
    flat = [channel for color in COLORS for channel in color]
    return flat + [0] * (768 - len(flat))


def colorize(mask: np.ndarray) -> np.ndarray:
    """Index mask (H, W) → RGB uint8 image (H, W, 3) in the CelebAMask-HQ colours."""
    table = np.asarray(COLORS, dtype=np.uint8)
    return table[np.clip(mask, 0, NUM_CLASSES - 1)]


def flip_mask(mask: np.ndarray) -> np.ndarray:
    """Mirror an index mask (..., H, W) left-right and swap the l_/r_ classes."""
    table = np.asarray(FLIP_PERMUTATION, dtype=mask.dtype)
    return table[mask[..., ::-1]]


# The parts that make a face (skin to lips). A mask with none of them (background, hair or
# clothes only) gives E_s no face style to read, and G a degenerate face.
FACE_PARTS: tuple[str, ...] = CLASS_NAMES[1:13]


def has_face_parts(mask: np.ndarray) -> bool:
    """Whether a class-index mask holds any pixel of a face part (``FACE_PARTS``)."""
    first, last = CLASS_NAMES.index(FACE_PARTS[0]), CLASS_NAMES.index(FACE_PARTS[-1])
    return bool(((mask >= first) & (mask <= last)).any())
