"""Photos with a face in them, for the paste-back tests (no display, no network)."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from ca2sis.model.photo.source import SourcePhoto

from conftest import REPO

FACES = REPO / "assets" / "faces"


def textured_photo(height: int = 600, width: int = 800, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 3)


def photo_region(photo: SourcePhoto, region: np.ndarray, grow: int = 2) -> np.ndarray:
    """``region`` (aligned pixels) mapped into the photo, grown by ``grow`` photo pixels for interpolation."""
    side = region.shape[0]
    to_aligned = photo.matrix * (side / photo.aligned_size)
    width, height = photo.size
    mapped = cv2.warpAffine(region.astype(np.uint8), to_aligned, (width, height),
                            flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP)
    return cv2.dilate(mapped, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)) > 0


def photo_with_face(name: str = "face-02", angle: float = 12.0) -> tuple[np.ndarray, np.ndarray]:
    """A demo face shrunk, turned and set into a larger textured photo; and the face itself."""
    face = np.array(Image.open(FACES / f"{name}.jpg").convert("RGB"))
    photo = textured_photo(700, 900)
    photo[150:550, 250:650] = cv2.resize(face, (400, 400), interpolation=cv2.INTER_AREA)
    turn = cv2.getRotationMatrix2D((450, 350), angle, 1.0)
    return cv2.warpAffine(photo, turn, (900, 700), borderMode=cv2.BORDER_REFLECT), face
