"""Evaluation of a CA2-SIS model on a labelled face folder: the paper's metrics, as far as
they can be measured without the paper's pretrained networks.

Every number comes from the product's own inference (``Engine``: E_s, E_m, G on the backend
in use). For each face of the folder (images + masks) the evaluation generates

- its **reconstruction** G(E_m(M), E_s(y, M));
- a **shape swap**: one random part's latent taken from a random other face's mask
  (m_j = E_m(M_j^other), α = 1), every style its own (the paper's FID-Sh setting, Table 4);
- a **one-part style swap**: one random part's style code taken from a random other face,
  generated together with the reconstruction it is compared with (Fig. 14).

and measures (``METRICS`` lists them with their directions):

- ``psnr``: PSNR in dB of reconstruction vs real, on uint8 RGB, per face then the mean
  (each face capped at ``PSNR_CAP_DB``; identical images have an infinite PSNR);
- ``ssim``: SSIM of reconstruction vs real (Wang et al. 2004: Gaussian window 11, σ 1.5,
  K1 0.01, K2 0.03, L 255, valid region), per RGB channel, averaged, then the mean over faces;
- ``swd``: sliced Wasserstein distance (Karras et al. 2018) between the reconstructions and
  the real faces on 7x7 Laplacian-pyramid patches, ×1e3, mean over the pyramid levels;
- ``swd_sh``: the same between the shape-swapped faces and the real faces;
- ``miou`` / ``pixel_accuracy``: the bundled face parser on the reconstructions against the
  input masks (confusion summed over faces; mean IoU over the classes that occur);
- ``frs``: identity similarity of reconstruction and real face, cosine similarity of 128-d
  embeddings of dlib's face-recognition ResNet (standing in for the paper's VGGFace2
  network); ``frs_unrelated`` is the same between real faces of different people, for scale;
  ``identity_match`` the share of reconstructions whose descriptor lies within dlib's
  same-person distance (0.6) of the real face's;
- ``style_leakage``: share of the mean absolute change of a one-part style swap that falls
  outside the swapped part (its region dilated by ``leakage_dilation`` px), mean over faces;
- ``ms_per_image``: median wall time of one reconstruction (E_s + E_m + G, caches cleared)
  in batch 1.

Memory: faces, masks and SWD descriptors are kept for the whole set (about 1.5 MB per face
at 256 px), so evaluate a held-out list (``assets/splits``), not a whole training set.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..errors import CA2SISError, DataError, WeightsError
from ..faces.parser import FaceParserModel
from ..inference.engine import Engine
from ..labels import CLASS_NAMES, NUM_CLASSES
from ..training.data import FaceMaskDataset, open_dataset
from .segmentation import confusion_matrix, scores

PSNR_CAP_DB = 100.0  # a face reproduced exactly would have an infinite PSNR; the mean needs a number
SWD_MIN_SIZE = 16  # the coarsest Laplacian level, as in Karras et al. 2018
SWD_PATCH = 7
SWD_PATCHES_PER_IMAGE = 128
SWD_PROJECTIONS = 512
SWD_REPEATS = 4
IDENTITY_DETECT_SIZE = 256  # dlib's HOG detector wants faces above ~80 px: detect on a copy this large
# Where dlib's HOG detector puts the face box in CelebA-HQ framing (median over 30
# celebamask-mini faces, fractions of the side: left, top, right, bottom); used when it
# finds no face, e.g. on a poor reconstruction.
IDENTITY_FALLBACK_BOX = (0.19, 0.305, 0.758, 0.891)
IDENTITY_SAME_PERSON = 0.6  # dlib's documented threshold: descriptors closer than this are one person
LEAKAGE_MIN_AREA = 0.002  # style swaps prefer parts covering at least this share of both faces
FRS_NOTE = (
    "FRS uses dlib's face-recognition ResNet (dlib_face_recognition_resnet_model_v1, from "
    "face-recognition-models) in place of the paper's VGGFace2-trained network, so its values are not "
    "comparable with the paper's Table 2; frs_unrelated (real faces of different people) gives the scale."
)

# key → (label, direction); the direction says which way is better.
METRICS: dict[str, tuple[str, str]] = {
    "psnr": ("PSNR of reconstructions (dB)", "↑"),
    "ssim": ("SSIM of reconstructions", "↑"),
    "swd": ("SWD ×1e3, reconstructions vs real", "↓"),
    "swd_sh": ("SWD-Sh ×1e3, one part's shape swapped vs real", "↓"),
    "miou": ("mIoU, face parser on reconstructions vs input masks", "↑"),
    "pixel_accuracy": ("Pixel accuracy (%), face parser on reconstructions", "↑"),
    "frs": ("FRS, identity cosine similarity real vs reconstruction (dlib)", "↑"),
    "frs_unrelated": ("FRS between different people (reference, not a score)", "·"),
    "identity_match": ("Identity kept: share of reconstructions within dlib's same-person distance 0.6", "↑"),
    "style_leakage": ("Style leakage of one-part style swaps (share outside the part)", "↓"),
    "ms_per_image": ("ms per image (reconstruction, batch 1)", "↓"),
}


# ---------------------------------------------------------------------------- image metrics


def _batched(images: np.ndarray) -> tuple[np.ndarray, bool]:
    images = np.asarray(images)
    if images.ndim == 3:
        return images[None], False
    if images.ndim == 4:
        return images, True
    raise ValueError(f"expected an image (H, W, 3) or a batch (B, H, W, 3), got shape {images.shape}")


def psnr(real: np.ndarray, generated: np.ndarray) -> float | np.ndarray:
    """PSNR in dB of uint8 RGB image(s), (H, W, 3) or (B, H, W, 3): 10 log10(255² / MSE) over
    all pixels and channels of each image; ``inf`` for identical images."""
    a, batched = _batched(real)
    b, _ = _batched(generated)
    if a.shape != b.shape:
        raise ValueError(f"PSNR of images of different shapes {a.shape} and {b.shape}")
    mse = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean(axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        values = 10.0 * np.log10(255.0**2 / mse)
    return values if batched else float(values[0])


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    offsets = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    window = torch.exp(-(offsets**2) / (2 * sigma**2))
    return window / window.sum()


def ssim(real: np.ndarray, generated: np.ndarray) -> float | np.ndarray:
    """SSIM (Wang et al. 2004) of uint8 RGB image(s), (H, W, 3) or (B, H, W, 3).

    Gaussian window of 11 taps with σ = 1.5, K1 = 0.01, K2 = 0.03, L = 255; the map is taken
    over the valid region (no padding, as the reference MATLAB code), on each channel, and
    averaged over the map and the three channels.
    """
    a, batched = _batched(real)
    b, _ = _batched(generated)
    if a.shape != b.shape:
        raise ValueError(f"SSIM of images of different shapes {a.shape} and {b.shape}")
    if min(a.shape[1:3]) < 11:
        raise ValueError(f"SSIM needs images of at least 11x11 pixels, got {a.shape[1:3]}")
    x = torch.from_numpy(a.astype(np.float64)).permute(0, 3, 1, 2)
    y = torch.from_numpy(b.astype(np.float64)).permute(0, 3, 1, 2)
    channels = x.shape[1]
    window = _gaussian_window()
    rows = window.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)
    cols = window.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)

    def blur(t: torch.Tensor) -> torch.Tensor:  # separable Gaussian, valid region
        return F.conv2d(F.conv2d(t, rows, groups=channels), cols, groups=channels)

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    values = ssim_map.mean(dim=(1, 2, 3)).numpy()
    return values if batched else float(values[0])


# ---------------------------------------------------------------------------- SWD


# The 5-tap binomial filter of Burt & Adelson's pyramid, applied separably.
_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _smooth(images: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    channels = images.shape[1]
    kernel = _BINOMIAL.to(images) * gain
    padded = F.pad(images, (2, 2, 2, 2), mode="reflect")
    out = F.conv2d(padded, kernel.view(1, 1, 5, 1).repeat(channels, 1, 1, 1), groups=channels)
    return F.conv2d(out, kernel.view(1, 1, 1, 5).repeat(channels, 1, 1, 1), groups=channels)


def laplacian_pyramid(images: np.ndarray, min_size: int = SWD_MIN_SIZE) -> list[np.ndarray]:
    """uint8 (B, H, W, 3) → Laplacian pyramid levels, float32 (B, 3, h, w), finest first.

    Each level but the last is the band G_l - up(G_{l+1}) of a Gaussian pyramid (blur,
    drop every other pixel); the last is the Gaussian level of side ``min_size`` itself
    (for 128 px: 128, 64, 32 bands and the 16 px low-pass).
    """
    batch, _ = _batched(images)
    current = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).float()
    levels = []
    while current.shape[-1] // 2 >= min_size and current.shape[-1] % 2 == 0:
        smaller = _smooth(current)[..., ::2, ::2]
        # Upsample: put the samples back on the even pixels and interpolate with the same
        # filter (gain 4: three quarters of the pixels are zeros).
        upsampled = torch.zeros_like(current)
        upsampled[..., ::2, ::2] = smaller
        levels.append((current - _smooth(upsampled, gain=4.0)).numpy())
        current = smaller
    levels.append(current.numpy())
    return levels


def swd_descriptors(
    images: np.ndarray,
    rng: np.random.Generator,
    patches_per_image: int = SWD_PATCHES_PER_IMAGE,
    patch: int = SWD_PATCH,
    min_size: int = SWD_MIN_SIZE,
) -> list[np.ndarray]:
    """Random patch descriptors of uint8 images (B, H, W, 3), per pyramid level:
    float32 (B * patches_per_image, 3, patch, patch), patches lying wholly inside the level."""
    out = []
    for level in laplacian_pyramid(images, min_size):
        count, _, height, width = level.shape
        if min(height, width) < patch:
            raise ValueError(f"a {height}x{width} pyramid level is smaller than the {patch}x{patch} patches")
        windows = np.lib.stride_tricks.sliding_window_view(level, (patch, patch), axis=(2, 3))
        which = np.repeat(np.arange(count), patches_per_image)
        ys = rng.integers(0, height - patch + 1, size=which.size)
        xs = rng.integers(0, width - patch + 1, size=which.size)
        out.append(np.ascontiguousarray(windows[which, :, ys, xs]))  # (N, 3, patch, patch)
    return out


def sliced_wasserstein(
    a: np.ndarray, b: np.ndarray, rng: np.random.Generator, projections: int = SWD_PROJECTIONS,
    repeats: int = SWD_REPEATS,
) -> float:
    """Sliced Wasserstein distance of two descriptor sets (n, d): for random unit directions p,
    mean |sort(a·p) - sort(b·p)|, averaged over ``projections`` directions and ``repeats`` draws.

    Sets of different sizes are first cut to the smaller size by a random subset.
    """
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"descriptors of different sizes {a.shape[1]} and {b.shape[1]}")
    count = min(len(a), len(b))
    if count == 0:
        raise ValueError("the sliced Wasserstein distance needs descriptors in both sets")
    if len(a) > count:
        a = a[np.sort(rng.choice(len(a), count, replace=False))]
    if len(b) > count:
        b = b[np.sort(rng.choice(len(b), count, replace=False))]
    results = []
    for _ in range(repeats):
        directions = rng.standard_normal((a.shape[1], projections)).astype(np.float32)
        directions /= np.linalg.norm(directions, axis=0, keepdims=True)
        total = 0.0
        for start in range(0, projections, 128):  # chunks: bounded memory for large sets
            chunk = directions[:, start : start + 128]
            projected_a = np.sort(a @ chunk, axis=0)
            projected_b = np.sort(b @ chunk, axis=0)
            total += float(np.abs(projected_a - projected_b).astype(np.float64).sum())
        results.append(total / (count * projections))
    return float(np.mean(results))


def swd(
    real: Sequence[np.ndarray], generated: Sequence[np.ndarray], seed: int = 0, projections: int = SWD_PROJECTIONS,
    repeats: int = SWD_REPEATS,
) -> list[float]:
    """SWD ×1e3 of two sets of per-level descriptors (as ``swd_descriptors`` returns, or their
    concatenation over batches), one value per level, finest first.

    Each level's descriptors are normalised per colour channel by the mean and standard
    deviation of that level over both sets together, then flattened (3 x 7 x 7 = 147).
    """
    if len(real) != len(generated):
        raise ValueError(f"{len(real)} pyramid levels against {len(generated)}")
    values = []
    for level, (a, b) in enumerate(zip(real, generated)):
        both = np.concatenate([a, b])
        mean = both.mean(axis=(0, 2, 3), keepdims=True, dtype=np.float64)
        std = both.std(axis=(0, 2, 3), keepdims=True, dtype=np.float64)
        std = np.where(std > 0, std, 1.0)
        a_norm = ((a - mean) / std).astype(np.float32).reshape(len(a), -1)
        b_norm = ((b - mean) / std).astype(np.float32).reshape(len(b), -1)
        rng = np.random.default_rng([seed, level])  # the same directions for every pair of sets
        values.append(1e3 * sliced_wasserstein(a_norm, b_norm, rng, projections, repeats))
    return values


# ---------------------------------------------------------------------------- style leakage


def dilate(region: np.ndarray, radius: int) -> np.ndarray:
    """A boolean (H, W) region grown by ``radius`` pixels (square neighbourhood)."""
    region = np.asarray(region, dtype=bool)
    if radius <= 0:
        return region.copy()
    grown = region.copy()
    for shift in range(1, radius + 1):  # separable: rows, then columns
        grown[shift:] |= region[:-shift]
        grown[:-shift] |= region[shift:]
    rows = grown.copy()
    for shift in range(1, radius + 1):
        grown[:, shift:] |= rows[:, :-shift]
        grown[:, :-shift] |= rows[:, shift:]
    return grown


def style_leakage(reference: np.ndarray, edited: np.ndarray, region: np.ndarray, dilation: int = 0) -> float:
    """Share of the absolute change from ``reference`` to ``edited`` (uint8 (H, W, 3)) that lies
    outside ``region`` (bool (H, W)) grown by ``dilation`` px: 0 = the edit stayed in the
    part, 1 = it changed only other parts. NaN when nothing changed at all."""
    change = np.abs(reference.astype(np.float64) - edited.astype(np.float64)).sum(axis=-1)
    total = change.sum()
    if total == 0:
        return float("nan")
    return float(change[~dilate(region, dilation)].sum() / total)


def leakage_dilation(size: int) -> int:
    """Pixels a part's region is grown by before measuring leakage: 2 px at 128 (1 at 64,
    4 at 256). Boundary pixels of a part legitimately change with its style."""
    return max(1, round(2 * size / 128))


# ---------------------------------------------------------------------------- identity


class IdentityEmbedder:
    """dlib's face-recognition ResNet: an aligned face → a 128-d identity descriptor.

    The face is found by dlib's HOG detector on a copy upscaled to at least
    ``IDENTITY_DETECT_SIZE`` px; when none is found (a poor generation), the box where the
    detector puts faces in CelebA-HQ framing is used instead and ``embed`` says so.
    """

    def __init__(self) -> None:
        try:
            import dlib
        except ImportError as exc:
            raise CA2SISError("the identity metric needs dlib (pip install dlib-bin), or pass --no-identity") from exc
        from ..faces.align import _models_folder

        folder = _models_folder()
        recognition = folder / "dlib_face_recognition_resnet_model_v1.dat"
        landmarks = folder / "shape_predictor_5_face_landmarks.dat"
        for path in (recognition, landmarks):
            if not path.is_file():
                raise WeightsError(f"dlib model missing: {path} (reinstall face-recognition-models, or --no-identity)")
        self._dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(landmarks))
        self.network = dlib.face_recognition_model_v1(str(recognition))

    def embed(self, image: np.ndarray) -> tuple[np.ndarray, bool]:
        """uint8 (S, S, 3) face → (128-d descriptor, whether the fallback box was used)."""
        import cv2

        side = image.shape[0]
        factor = max(1, math.ceil(IDENTITY_DETECT_SIZE / side))
        big = np.ascontiguousarray(image, dtype=np.uint8)
        if factor > 1:
            big = cv2.resize(big, (side * factor, side * factor), interpolation=cv2.INTER_CUBIC)
        boxes = list(self.detector(big, 0))
        fallback = not boxes
        if fallback:
            left, top, right, bottom = (round(f * big.shape[0]) for f in IDENTITY_FALLBACK_BOX)
            box = self._dlib.rectangle(left, top, right, bottom)
        else:
            box = max(boxes, key=lambda b: b.area())
        descriptor = self.network.compute_face_descriptor(big, self.predictor(big, box))
        return np.asarray(descriptor, dtype=np.float64), fallback


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


# ---------------------------------------------------------------------------- evaluation


@dataclass
class _Swap:
    other: int  # index of the face the part comes from
    part: int  # class index


def _pick_partners(areas: np.ndarray, rng: np.random.Generator, min_area: float) -> list[_Swap | None]:
    """For each face a random other face and a random part present in both (not background);
    parts of at least ``min_area`` (share of the image) in both are preferred when min_area > 0."""
    count = len(areas)
    swaps: list[_Swap | None] = []
    for index in range(count):
        if count < 2:
            swaps.append(None)
            continue
        other = int(rng.integers(count - 1))
        other += other >= index
        common = [c for c in range(1, areas.shape[1]) if areas[index, c] > 0 and areas[other, c] > 0]
        large = [c for c in common if areas[index, c] >= min_area and areas[other, c] >= min_area]
        choices = large or common
        swaps.append(_Swap(other, int(rng.choice(choices))) if choices else None)
    return swaps


def _finite_mean(values: Sequence[float]) -> float | None:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def _clean(value: object) -> object:
    """NaN and inf → None, numpy scalars → Python: the report must be strict JSON."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def evaluate(
    engine: Engine,
    data: str | Path | FaceMaskDataset,
    ids: Sequence[str] | None = None,
    limit: int | None = None,
    seed: int = 0,
    identity: bool = True,
    progress: bool = True,
    batch_size: int = 8,
    parser: FaceParserModel | str | Path | None = None,
    timing_faces: int = 5,
    weights: str | Path | None = None,
) -> dict:
    """Evaluate ``engine`` on a labelled face folder (or an opened dataset); see the module
    docstring for the metrics. Returns the report: ``metrics`` (the numbers, None where a
    metric could not be measured), ``counts``, settings, notes and per-face values.

    ids: only these faces (when ``data`` is a folder); limit: only the first ``limit`` of
    them; seed (>= 0): draws the swap pairs, the SWD patches and projections; identity:
    measure FRS (needs dlib); parser: the face parser or its folder (default: the bundled
    one); timing_faces: faces timed for ms_per_image; weights: recorded in the report.
    """
    from ..faces.reader import default_parser_weights

    if limit is not None and limit < 1:
        raise DataError(f"--limit must be at least 1, got {limit}")
    if seed < 0:
        raise ValueError(f"seed must be 0 or more, got {seed}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    started = time.perf_counter()
    size = engine.image_size
    device = getattr(engine.backend, "device", "cpu")
    if isinstance(data, FaceMaskDataset):
        dataset = data
        if dataset.image_size != size:
            raise DataError(f"the dataset is opened at {dataset.image_size} px but the model works at {size} px")
        source = str(getattr(dataset, "root", "dataset"))
    else:
        dataset = open_dataset(data, size, flip=False, include=ids)
        source = str(data)
    face_ids = dataset.ids[:limit] if limit is not None else list(dataset.ids)
    count = len(face_ids)

    # Load what can fail on setup before the long loops.
    if not isinstance(parser, FaceParserModel):
        parser = FaceParserModel.from_pretrained(parser if parser is not None else default_parser_weights(), device)
    embedder = IdentityEmbedder() if identity else None

    bar = {"file": None, "disable": not progress, "unit": "face", "dynamic_ncols": True}
    images = np.zeros((count, size, size, 3), np.uint8)
    masks = np.zeros((count, size, size), np.uint8)
    for index, face_id in enumerate(tqdm(face_ids, desc="loading", **bar)):
        images[index], masks[index] = dataset.load_pair(face_id)
    areas = np.stack([np.bincount(mask.ravel(), minlength=NUM_CLASSES) for mask in masks]) / (size * size)

    # Pairs first, from their own streams: they depend only on the seed and the faces.
    shape_swaps = _pick_partners(areas, np.random.default_rng([seed, 1]), 0.0)
    style_swaps = _pick_partners(areas, np.random.default_rng([seed, 2]), LEAKAGE_MIN_AREA)

    codes = np.zeros((count, engine.config.num_classes, engine.config.code_dim), np.float32)
    latents = np.zeros((count, engine.config.num_classes, engine.config.mask_latent_dim), np.float32)
    with tqdm(total=count, desc="encoding", **bar) as progress_bar:
        for start in range(0, count, batch_size):
            chunk = slice(start, min(start + batch_size, count))
            codes[chunk] = engine.encode_styles(list(images[chunk]), list(masks[chunk]))
            latents[chunk] = engine.embed_mask(list(masks[chunk]))
            progress_bar.update(chunk.stop - chunk.start)

    patch_rng = {name: np.random.default_rng([seed, 10 + k]) for k, name in enumerate(("real", "recon", "shape"))}
    descriptors: dict[str, list[list[np.ndarray]]] = {"real": [], "recon": [], "shape": []}
    confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    dilation = leakage_dilation(size)
    per_face = [{"id": face_id} for face_id in face_ids]
    embeddings: dict[str, list[np.ndarray | None]] = {"real": [None] * count, "recon": [None] * count}
    fallbacks = {"real": 0, "generated": 0}
    with tqdm(total=count, desc="generating", **bar) as progress_bar:
        for start in range(0, count, batch_size):
            rows = list(range(start, min(start + batch_size, count)))
            shape_rows = [i for i in rows if shape_swaps[i] is not None]
            style_rows = [i for i in rows if style_swaps[i] is not None]
            # One G call for the reconstructions and both kinds of swap: a swap and the
            # reconstruction it is compared with then go through the same kernels.
            batch_latents = [latents[i] for i in rows]
            batch_codes = [codes[i] for i in rows]
            for i in shape_rows:
                swap = shape_swaps[i]
                batch_latents.append(Engine.interpolate_parts(latents[i], {swap.part: (latents[swap.other], 1.0)}))
                batch_codes.append(codes[i])
            for i in style_rows:
                swap = style_swaps[i]
                batch_latents.append(latents[i])
                batch_codes.append(Engine.interpolate_parts(codes[i], {swap.part: (codes[swap.other], 1.0)}))
            generated, _ = engine.generate(np.stack(batch_latents), np.stack(batch_codes))
            recon = generated[: len(rows)]
            shaped = generated[len(rows) : len(rows) + len(shape_rows)]
            styled = generated[len(rows) + len(shape_rows) :]
            real = images[rows]

            psnr_values, ssim_values = psnr(real, recon), ssim(real, recon)
            predicted = parser.logits(recon).argmax(1).cpu().numpy()
            for k, i in enumerate(rows):
                per_face[i]["psnr"] = min(float(psnr_values[k]), PSNR_CAP_DB)
                per_face[i]["ssim"] = float(ssim_values[k])
                confusion += confusion_matrix(predicted[k], masks[i])
            descriptors["real"].append(swd_descriptors(real, patch_rng["real"]))
            descriptors["recon"].append(swd_descriptors(recon, patch_rng["recon"]))
            if shape_rows:
                descriptors["shape"].append(swd_descriptors(shaped, patch_rng["shape"]))
            for i in shape_rows:
                swap = shape_swaps[i]
                per_face[i]["shape_swap"] = {"from": face_ids[swap.other], "part": CLASS_NAMES[swap.part]}
            for k, i in enumerate(style_rows):
                swap = style_swaps[i]
                leakage = style_leakage(recon[i - start], styled[k], masks[i] == swap.part, dilation)
                per_face[i]["style_swap"] = {"from": face_ids[swap.other], "part": CLASS_NAMES[swap.part],
                                             "leakage": leakage}
            if embedder is not None:
                for k, i in enumerate(rows):
                    embeddings["real"][i], missed_real = embedder.embed(real[k])
                    embeddings["recon"][i], missed_recon = embedder.embed(recon[k])
                    fallbacks["real"] += missed_real
                    fallbacks["generated"] += missed_recon
                    per_face[i]["frs"] = cosine_similarity(embeddings["real"][i], embeddings["recon"][i])
                    per_face[i]["identity_distance"] = float(
                        np.linalg.norm(embeddings["real"][i] - embeddings["recon"][i])
                    )
            progress_bar.update(len(rows))

    def gather(name: str) -> list[np.ndarray]:
        return [np.concatenate(level) for level in zip(*descriptors[name])]

    real_descriptors = gather("real")
    swd_levels = swd(real_descriptors, gather("recon"), seed)
    swd_sh_levels = swd(real_descriptors, gather("shape"), seed) if descriptors["shape"] else None
    level_sizes = [str(size >> k) for k in range(len(swd_levels))]
    segmentation = scores(confusion)

    frs = frs_unrelated = identity_match = None
    if embedder is not None:
        frs = _finite_mean([face["frs"] for face in per_face])
        identity_match = _finite_mean([face["identity_distance"] < IDENTITY_SAME_PERSON for face in per_face])
        unrelated = [
            cosine_similarity(embeddings["real"][i], embeddings["real"][swap.other])
            for i, swap in enumerate(style_swaps) if swap is not None
        ]
        frs_unrelated = _finite_mean(unrelated)

    leakages = [face["style_swap"]["leakage"] for face in per_face if "style_swap" in face]
    timings = _time_reconstructions(engine, images, masks, timing_faces, bar)

    metrics = {
        "psnr": _finite_mean([face["psnr"] for face in per_face]),
        "ssim": _finite_mean([face["ssim"] for face in per_face]),
        "swd": float(np.mean(swd_levels)),
        "swd_levels": dict(zip(level_sizes, swd_levels)),
        "swd_sh": float(np.mean(swd_sh_levels)) if swd_sh_levels is not None else None,
        "swd_sh_levels": dict(zip(level_sizes, swd_sh_levels)) if swd_sh_levels is not None else None,
        "miou": segmentation["miou"],
        "pixel_accuracy": 100.0 * segmentation["pixel_accuracy"],
        "frs": frs,
        "frs_unrelated": frs_unrelated,
        "identity_match": identity_match,
        "style_leakage": _finite_mean(leakages),
        "ms_per_image": float(np.median(timings)) if timings else None,
    }
    report = {
        "metrics": metrics,
        "counts": {
            "faces": count,
            "shape_swaps": sum(swap is not None for swap in shape_swaps),
            "style_swaps": len(leakages),
            "style_swaps_without_change": sum(not np.isfinite(v) for v in leakages),
            "identity_fallback_real": fallbacks["real"] if identity else None,
            "identity_fallback_generated": fallbacks["generated"] if identity else None,
            "timing_faces": len(timings),
        },
        "config": engine.config.name,
        "image_size": size,
        "weights": str(weights) if weights is not None else None,
        "backend": engine.description,
        "device": device,
        "data": source,
        "faces": count,
        "seed": seed,
        "settings": {
            "psnr_cap_db": PSNR_CAP_DB,
            "ssim": {"window": 11, "sigma": 1.5, "k1": 0.01, "k2": 0.03},
            "swd": {"levels": level_sizes, "patch": SWD_PATCH, "patches_per_image": SWD_PATCHES_PER_IMAGE,
                    "projections": SWD_PROJECTIONS, "repeats": SWD_REPEATS},
            "leakage_dilation_px": dilation,
            "leakage_min_part_area": LEAKAGE_MIN_AREA,
            "parser_input_size": parser.config.input_size,
        },
        "notes": {
            "frs": FRS_NOTE if identity else "identity not measured (--no-identity)",
            "swd": "Karras et al. 2018: 7x7 patches of each Laplacian level down to 16 px, normalised per "
                   "channel over both sets, 512 random projections x 4; x1e3.",
            "style_leakage": f"part region dilated by {dilation} px: its boundary pixels legitimately change",
            "ms_per_image": "median wall time of one reconstruction (E_s + E_m + G, caches cleared), batch 1",
        },
        "per_class_iou": segmentation["iou"],
        "seconds": time.perf_counter() - started,
        "per_face": per_face,
    }
    return _clean(report)


def _time_reconstructions(engine: Engine, images: np.ndarray, masks: np.ndarray, faces: int, bar: dict) -> list[float]:
    """Wall time in ms of a full reconstruction of each of the first ``faces`` faces."""
    faces = min(faces, len(images))
    if faces < 1:
        return []
    engine.clear_caches()
    engine.reconstruct(images[0], masks[0])  # warm-up: first calls allocate and pick kernels
    timings = []
    for index in tqdm(range(faces), desc="timing", **bar):
        engine.clear_caches()  # measure E_s and every plane of E_m, not a cache hit
        start = time.perf_counter()
        engine.reconstruct(images[index], masks[index])
        timings.append((time.perf_counter() - start) * 1000)
    engine.clear_caches()
    return timings


def _format(key: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if key in ("ssim", "miou", "frs", "frs_unrelated", "identity_match", "style_leakage"):
        return f"{value:.4f}"
    if key in ("ms_per_image",):
        return f"{value:.1f}"
    return f"{value:.2f}"


def markdown_table(report: dict) -> str:
    """The report as one markdown table (metric | value | direction) with its notes."""
    metrics, counts = report["metrics"], report["counts"]
    lines = [
        f"CA2-SIS evaluation: {counts['faces']} faces of {report['data']}, config `{report['config']}` "
        f"({report['image_size']} px), {report['backend']} on {report['device']}, seed {report['seed']}",
        "",
        "| metric | value | direction |",
        "|---|---|---|",
    ]
    for key, (label, direction) in METRICS.items():
        value = _format(key, metrics.get(key))
        levels = metrics.get(f"{key}_levels")
        if levels:
            value += " (" + ", ".join(f"{side} px: {v:.2f}" for side, v in levels.items()) + ")"
        lines.append(f"| {label} | {value} | {direction} |")
    lines.append("")
    notes = report["notes"]
    lines.append(f"- {notes['frs']}")
    if counts.get("identity_fallback_real") is not None:
        lines.append(
            f"- dlib found no face in {counts['identity_fallback_real']} real and "
            f"{counts['identity_fallback_generated']} reconstructed faces of {counts['faces']}; "
            "those were embedded from a fixed central box."
        )
    lines.append(f"- SWD: {notes['swd']} SWD-Sh: one random part's shape from a random other face "
                 f"({counts['shape_swaps']} swaps, the paper's FID-Sh setting).")
    lines.append(f"- Style leakage: {counts['style_swaps']} one-part style swaps; {notes['style_leakage']}.")
    lines.append(f"- ms per image: {notes['ms_per_image']}, over {counts['timing_faces']} faces.")
    return "\n".join(lines) + "\n"
