"""Whether a faster backend still draws the same faces: its images against PyTorch fp32's.

One rule for every check of a backend variant (the int8 G at export, ``ca2sis-bench quality``,
the tests): on real faces (an ``images/`` + ``masks/`` folder, or the gallery layout ``NAME.jpg`` +
``NAME.png``) each variant

- reconstructs every face from its own mask and styles, scored by PSNR against the real face;
  a variant may lose at most ``MAX_PSNR_DROP_DB`` of PyTorch fp32's reconstruction PSNR;
- reconstructs and part-edits (face i's hair in face i + 1's style) every face, scored by PSNR
  against PyTorch fp32's image of the same edit; a mean of at least ``MIN_AGREEMENT_DB`` counts
  as visually identical (an RMS error of 2.5 grey levels in 255, the usual "visually lossless"
  bar of image codecs); the lowest face is reported beside it.

Images are the raw network output (no finishing), in uint8 as the studio shows them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..labels import part_index
from .engine import Engine

MAX_PSNR_DROP_DB = 0.5
MIN_AGREEMENT_DB = 40.0
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
HAIR = part_index("hair")


@dataclass(frozen=True)
class FaceFiles:
    """One real face and its mask, as files."""

    name: str
    image: Path
    mask: Path


def face_files(folder: str | Path, ids: Sequence[str] | None = None, limit: int | None = None) -> list[FaceFiles]:
    """The faces of ``folder``: ``images/ID.jpg`` + ``masks/ID.png`` (a data set) or ``NAME.jpg``
    + ``NAME.png`` side by side (the bundled gallery); only ``ids`` when given, in their order,
    at most ``limit``."""
    folder = Path(folder)
    images, masks = (folder / "images", folder / "masks") if (folder / "images").is_dir() else (folder, folder)
    found = {
        path.stem: path for path in sorted(images.iterdir())
        if path.suffix.lower() in IMAGE_SUFFIXES and (masks / f"{path.stem}.png") != path
    }
    names = list(ids) if ids is not None else sorted(found)
    missing = [name for name in names if name not in found or not (masks / f"{name}.png").exists()]
    if missing:
        more = " ..." if len(missing) > 3 else ""
        raise DataError(f"{folder} has no face and mask for {', '.join(missing[:3])}{more}")
    faces = [FaceFiles(name, found[name], masks / f"{name}.png") for name in names]
    faces = faces[:limit] if limit is not None else faces
    if not faces:
        raise DataError(f"{folder} holds no face with a mask (images/ + masks/, or NAME.jpg + NAME.png)")
    return faces


def psnr(first: np.ndarray, second: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two uint8 images, in dB (inf when identical)."""
    error = float(np.mean((first.astype(np.float64) - second.astype(np.float64)) ** 2))
    return float("inf") if error == 0 else float(10 * np.log10(255.0**2 / error))


@dataclass
class FaceArrays:
    """Faces and masks at the networks' size."""

    names: list[str]
    images: np.ndarray  # (N, H, W, 3) uint8
    masks: np.ndarray  # (N, H, W) uint8 class indices

    @classmethod
    def load(cls, engine: Engine, faces: Sequence[FaceFiles]) -> FaceArrays:
        images = np.stack([engine.load_image(face.image) for face in faces])
        masks = np.stack([engine.load_mask(face.mask) for face in faces])
        return cls([face.name for face in faces], images, masks)


def generator_inputs(engine: Engine, faces: FaceArrays) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """G's inputs (latents, codes, mask) of each face's reconstruction and of its part edit
    (its hair styled like the next face's): what the studio feeds G."""
    latents = engine.embed_mask(list(faces.masks))
    codes = engine.encode_styles(list(faces.images), list(faces.masks))
    inputs = []
    for index in range(len(faces.names)):
        inputs.append((latents[index], codes[index], faces.masks[index]))
        edited = codes[index].copy()
        edited[HAIR] = codes[(index + 1) % len(codes)][HAIR]
        inputs.append((latents[index], edited, faces.masks[index]))
    return inputs


def compare_to_reference(reference: Engine, candidates: dict[str, Engine], faces: FaceArrays) -> dict[str, dict]:
    """Per variant: mean reconstruction PSNR against the real faces, its drop from the
    reference's, and the mean and lowest PSNR against the reference's images (reconstructions
    and part edits), with whether it passes (``passes``). The reference is PyTorch fp32.

    Every variant gets the reference's E_s codes and E_m latents, so the scores measure its G."""
    inputs = generator_inputs(reference, faces)
    reference_images = [reference.generate(*item)[0] for item in inputs]
    reference_psnr = float(np.mean([psnr(image, face) for image, face in zip(reference_images[::2], faces.images)]))
    report = {"reference": {"reconstruction_psnr_db": round(reference_psnr, 3), "engine": reference.description}}
    for name, engine in candidates.items():
        images = [engine.generate(*item)[0] for item in inputs]
        reconstruction = float(np.mean([psnr(image, face) for image, face in zip(images[::2], faces.images)]))
        agreement = [psnr(image, expected) for image, expected in zip(images, reference_images)]
        row = {
            "engine": engine.description,
            "reconstruction_psnr_db": round(reconstruction, 3),
            "psnr_drop_db": round(reference_psnr - reconstruction, 3),
            "faces": len(faces.names),
        }
        for operation, scores in (("reconstruction", agreement[::2]), ("part_edit", agreement[1::2])):
            row[f"{operation}_vs_reference_mean_db"] = round(float(np.mean(scores)), 2)
            row[f"{operation}_vs_reference_min_db"] = round(min(scores), 2)
        row["passes"] = passes(row)
        report[name] = row
    return report


def passes(row: dict) -> bool:
    """Within ``MAX_PSNR_DROP_DB`` of the reference's reconstruction PSNR and visually identical
    to its images (mean PSNR against them at least ``MIN_AGREEMENT_DB``)."""
    agreement = min(row["reconstruction_vs_reference_mean_db"], row["part_edit_vs_reference_mean_db"])
    return bool(row["psnr_drop_db"] <= MAX_PSNR_DROP_DB and agreement >= MIN_AGREEMENT_DB)
