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
  ``miou_real``: the same parser on the real faces, the scale ``miou`` is judged against;
- ``frs``: identity similarity of reconstruction and real face, cosine similarity of 128-d
  embeddings of dlib's face-recognition ResNet (standing in for the paper's VGGFace2
  network); ``frs_unrelated`` is the same between real faces of different people, for scale;
  ``identity_match`` the share of reconstructions whose descriptor lies within dlib's
  same-person distance (0.6) of the real face's;
- ``style_leakage``: share of the mean absolute change of a one-part style swap that falls
  outside the swapped part (its region dilated by ``leakage_dilation`` px), mean over faces;
- ``style_transfer``: share of the part's mean-colour gap to the reference's part that the
  same swap closes (1: the part took the reference's colour, 0: it did not move);
- ``random_part_leakage``: the leakage of the same parts given a random style from M_s;
- ``per_part``: for hair, skin, lips and nose on every face, the leakage and transfer of a
  swap from the next face, and the leakage and seed-to-seed diversity of M_s's random
  styles of that part (``part_swaps.py``);
- ``ms_per_image``: median wall time of one reconstruction (E_s + E_m + G, caches cleared)
  in batch 1.

``compare_size`` compares at another size than the model's: the model still encodes and
generates at its own size, and its outputs are resized (bicubic) to ``compare_size`` before
they are measured against the real faces and masks loaded at ``compare_size``. That is how a
128 px model and a 256 px one are compared on the same 256 px faces.

Memory: faces, masks and SWD descriptors are kept for the whole set (about 1.5 MB per face
at 256 px), so evaluate a held-out list (``assets/splits``), not a whole training set.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..errors import DataError
from ..faces.parser import FaceParserModel
from ..faces.reader import default_parser_weights
from ..faces.segmentation import confusion_matrix, scores
from ..inference.engine import Engine
from ..labels import CLASS_NAMES, NUM_CLASSES
from ..training.data import FaceMaskDataset, open_dataset
from .identity import IDENTITY_SAME_PERSON, IdentityEmbedder, cosine_similarity
from .image_quality import PSNR_CAP_DB, psnr, ssim
from .leakage import LEAKAGE_MIN_AREA, leakage_dilation, style_leakage, style_transfer
from .pairing import Swap, part_areas, pick_partners
from .part_swaps import measure_part_swaps
from .report import build_report, clean_json
from .swd import swd, swd_descriptors


@dataclass
class _Faces:
    """The faces under evaluation, loaded once at one size."""

    ids: list[str]
    images: np.ndarray  # uint8 (N, S, S, 3)
    masks: np.ndarray  # uint8 (N, S, S)
    source: str


@dataclass
class _Measurements:
    """What the generation pass measured, before anything is averaged."""

    per_face: list[dict]
    descriptors: dict[str, list[list[np.ndarray]]]  # "real" | "recon" | "shape" → per batch, per level
    confusion: np.ndarray  # the parser on the reconstructions
    confusion_real: np.ndarray  # the parser on the real faces
    embeddings: dict[str, list[np.ndarray | None]] = field(default_factory=dict)
    fallbacks: dict[str, int] = field(default_factory=lambda: {"real": 0, "generated": 0})


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
    compare_size: int | None = None,
) -> dict:
    """Evaluate ``engine`` on a labelled face folder (or an opened dataset); see the module
    docstring for the metrics. Returns the report: ``metrics`` (the numbers, None where a
    metric could not be measured), ``counts``, settings, notes and per-face values.

    ids: only these faces (when ``data`` is a folder); limit: only the first ``limit`` of
    them; seed (>= 0): draws the swap pairs, the SWD patches and projections; identity:
    measure FRS (needs dlib); parser: the face parser or its folder (default: the bundled
    one); timing_faces: faces timed for ms_per_image; weights: recorded in the report;
    compare_size: measure at this size instead of the model's (see the module docstring).
    """
    if limit is not None and limit < 1:
        raise DataError(f"--limit must be at least 1, got {limit}")
    if seed < 0:
        raise ValueError(f"seed must be 0 or more, got {seed}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if compare_size is not None and compare_size < 16:
        raise DataError(f"the comparison size must be at least 16 px, got {compare_size}")
    started = time.perf_counter()
    device = getattr(engine.backend, "device", "cpu")
    dataset, source = _open(engine, data, ids)
    face_ids = dataset.ids[:limit] if limit is not None else list(dataset.ids)

    # Load what can fail on setup before the long loops.
    if not isinstance(parser, FaceParserModel):
        parser = FaceParserModel.from_pretrained(parser if parser is not None else default_parser_weights(), device)
    embedder = IdentityEmbedder() if identity else None

    bar = {"file": None, "disable": not progress, "unit": "face", "dynamic_ncols": True}
    faces = _load(dataset, face_ids, source, bar)
    size = compare_size or engine.image_size
    if size == engine.image_size:
        compared = faces
    elif isinstance(data, FaceMaskDataset):
        raise DataError("comparing at another size than the model's needs the dataset folder, not an opened dataset")
    else:
        compared = _load(open_dataset(data, size, flip=False, include=face_ids), face_ids, source, bar)
    # Pairs first, from their own streams: they depend only on the seed and the faces.
    areas = part_areas(compared.masks)
    shape_swaps = pick_partners(areas, np.random.default_rng([seed, 1]), 0.0)
    style_swaps = pick_partners(areas, np.random.default_rng([seed, 2]), LEAKAGE_MIN_AREA)
    codes, latents = _encode(engine, faces, batch_size, bar)
    measured = _measure(engine, codes, latents, faces, compared, shape_swaps, style_swaps, parser, embedder, seed,
                        batch_size, bar)
    metrics, level_sizes = _aggregate(measured, style_swaps, size, seed, embedder is not None)
    metrics["per_part"] = measure_part_swaps(
        engine, codes, latents, compared.images, compared.masks, leakage_dilation(size),
        lambda generated: _resize_images(generated, size), batch_size, bar,
    )
    timings = _time_reconstructions(engine, faces.images, faces.masks, timing_faces, bar)
    metrics["ms_per_image"] = float(np.median(timings)) if timings else None
    report = build_report(
        metrics, measured.per_face, shape_swaps, measured.fallbacks if identity else None, len(timings),
        config=engine.config.name, image_size=engine.image_size, compared_at=size, weights=weights,
        backend=engine.description, device=device, data=faces.source, seed=seed, level_sizes=level_sizes,
        dilation=leakage_dilation(size), parser_input_size=parser.config.input_size,
        per_class_iou=metrics.pop("per_class_iou"), seconds=time.perf_counter() - started,
    )
    return clean_json(report)


def _open(engine: Engine, data: str | Path | FaceMaskDataset, ids: Sequence[str] | None) -> tuple[FaceMaskDataset, str]:
    size = engine.image_size
    if isinstance(data, FaceMaskDataset):
        if data.image_size != size:
            raise DataError(f"the dataset is opened at {data.image_size} px but the model works at {size} px")
        return data, str(getattr(data, "root", "dataset"))
    return open_dataset(data, size, flip=False, include=ids), str(data)


def _load(dataset: FaceMaskDataset, face_ids: list[str], source: str, bar: dict) -> _Faces:
    size, count = dataset.image_size, len(face_ids)
    images = np.zeros((count, size, size, 3), np.uint8)
    masks = np.zeros((count, size, size), np.uint8)
    for index, face_id in enumerate(tqdm(face_ids, desc="loading", **bar)):
        images[index], masks[index] = dataset.load_pair(face_id)
    return _Faces(list(face_ids), images, masks, source)


def _resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 (N, S, S, 3) → (N, size, size, 3): bicubic up, area-averaged down."""
    if images.shape[1] == size:
        return images
    interpolation = cv2.INTER_CUBIC if size > images.shape[1] else cv2.INTER_AREA
    return np.stack([cv2.resize(image, (size, size), interpolation=interpolation) for image in images])


def _encode(engine: Engine, faces: _Faces, batch_size: int, bar: dict) -> tuple[np.ndarray, np.ndarray]:
    """Style codes and mask latents of every face, in batches."""
    count = len(faces.ids)
    codes = np.zeros((count, engine.config.num_classes, engine.config.code_dim), np.float32)
    latents = np.zeros((count, engine.config.num_classes, engine.config.mask_latent_dim), np.float32)
    with tqdm(total=count, desc="encoding", **bar) as progress_bar:
        for start in range(0, count, batch_size):
            chunk = slice(start, min(start + batch_size, count))
            codes[chunk] = engine.encode_styles(list(faces.images[chunk]), list(faces.masks[chunk]))
            latents[chunk] = engine.embed_mask(list(faces.masks[chunk]))
            progress_bar.update(chunk.stop - chunk.start)
    return codes, latents


def _measure(
    engine: Engine,
    codes: np.ndarray,
    latents: np.ndarray,
    faces: _Faces,
    compared: _Faces,
    shape_swaps: list[Swap | None],
    style_swaps: list[Swap | None],
    parser: FaceParserModel,
    embedder: IdentityEmbedder | None,
    seed: int,
    batch_size: int,
    bar: dict,
) -> _Measurements:
    """Generate every reconstruction and swap, batch by batch, and measure each face.

    ``faces`` (at the model's size) go into the model; what it generates is resized to the
    size of ``compared`` (the same faces) and measured against those; ``codes`` and
    ``latents`` are ``faces``' own (``_encode``).
    """
    count, face_ids, images, masks = len(faces.ids), faces.ids, compared.images, compared.masks
    size = images.shape[1]
    patch_rng = {name: np.random.default_rng([seed, 10 + k]) for k, name in enumerate(("real", "recon", "shape"))}
    dilation = leakage_dilation(size)
    measured = _Measurements(
        per_face=[{"id": face_id} for face_id in face_ids],
        descriptors={"real": [], "recon": [], "shape": []},
        confusion=np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64),
        confusion_real=np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64),
        embeddings={"real": [None] * count, "recon": [None] * count},
    )
    per_face, embeddings = measured.per_face, measured.embeddings
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
            generated = _resize_images(generated, size)
            recon = generated[: len(rows)]
            shaped = generated[len(rows) : len(rows) + len(shape_rows)]
            styled = generated[len(rows) + len(shape_rows) :]
            real = images[rows]

            psnr_values, ssim_values = psnr(real, recon), ssim(real, recon)
            predicted = parser.logits(recon).argmax(1).cpu().numpy()
            predicted_real = parser.logits(real).argmax(1).cpu().numpy()
            for k, i in enumerate(rows):
                per_face[i]["psnr"] = min(float(psnr_values[k]), PSNR_CAP_DB)
                per_face[i]["ssim"] = float(ssim_values[k])
                measured.confusion += confusion_matrix(predicted[k], masks[i])
                measured.confusion_real += confusion_matrix(predicted_real[k], masks[i])
            measured.descriptors["real"].append(swd_descriptors(real, patch_rng["real"]))
            measured.descriptors["recon"].append(swd_descriptors(recon, patch_rng["recon"]))
            if shape_rows:
                measured.descriptors["shape"].append(swd_descriptors(shaped, patch_rng["shape"]))
            for i in shape_rows:
                swap = shape_swaps[i]
                per_face[i]["shape_swap"] = {"from": face_ids[swap.other], "part": CLASS_NAMES[swap.part]}
            for k, i in enumerate(style_rows):
                swap = style_swaps[i]
                region = masks[i] == swap.part
                leakage = style_leakage(recon[i - start], styled[k], region, dilation)
                transfer = style_transfer(recon[i - start], styled[k], region, images[swap.other],
                                          masks[swap.other] == swap.part)
                per_face[i]["style_swap"] = {"from": face_ids[swap.other], "part": CLASS_NAMES[swap.part],
                                             "leakage": leakage, "transfer": transfer}
            if engine.has_mapping and style_rows:
                # The same parts drawn from M_s instead of another face (the studio's "Random").
                random_codes = [Engine.interpolate_parts(codes[i], {style_swaps[i].part: (
                    engine.random_codes(seed * 100_003 + i), 1.0)}) for i in style_rows]
                randomised, _ = engine.generate(np.stack([latents[i] for i in style_rows]), np.stack(random_codes))
                randomised = _resize_images(randomised, size)
                for k, i in enumerate(style_rows):
                    region = masks[i] == style_swaps[i].part
                    per_face[i]["random_part"] = {
                        "part": CLASS_NAMES[style_swaps[i].part],
                        "leakage": style_leakage(recon[i - start], randomised[k], region, dilation),
                    }
            if embedder is not None:
                for k, i in enumerate(rows):
                    embeddings["real"][i], missed_real = embedder.embed(real[k])
                    embeddings["recon"][i], missed_recon = embedder.embed(recon[k])
                    measured.fallbacks["real"] += missed_real
                    measured.fallbacks["generated"] += missed_recon
                    per_face[i]["frs"] = cosine_similarity(embeddings["real"][i], embeddings["recon"][i])
                    per_face[i]["identity_distance"] = float(
                        np.linalg.norm(embeddings["real"][i] - embeddings["recon"][i])
                    )
            progress_bar.update(len(rows))
    return measured


def _finite_mean(values: Sequence[float]) -> float | None:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def _aggregate(
    measured: _Measurements, style_swaps: list[Swap | None], size: int, seed: int, identity: bool
) -> tuple[dict, list[str]]:
    """The per-face measurements → the set's metrics (and the SWD levels' sides)."""
    descriptors, per_face = measured.descriptors, measured.per_face

    def gather(name: str) -> list[np.ndarray]:
        return [np.concatenate(level) for level in zip(*descriptors[name])]

    real_descriptors = gather("real")
    swd_levels = swd(real_descriptors, gather("recon"), seed)
    swd_sh_levels = swd(real_descriptors, gather("shape"), seed) if descriptors["shape"] else None
    level_sizes = [str(size >> k) for k in range(len(swd_levels))]
    segmentation = scores(measured.confusion)

    frs = frs_unrelated = identity_match = None
    if identity:
        embeddings = measured.embeddings
        frs = _finite_mean([face["frs"] for face in per_face])
        identity_match = _finite_mean([face["identity_distance"] < IDENTITY_SAME_PERSON for face in per_face])
        unrelated = [
            cosine_similarity(embeddings["real"][i], embeddings["real"][swap.other])
            for i, swap in enumerate(style_swaps) if swap is not None
        ]
        frs_unrelated = _finite_mean(unrelated)

    leakages = [face["style_swap"]["leakage"] for face in per_face if "style_swap" in face]
    transfers = [face["style_swap"]["transfer"] for face in per_face if "style_swap" in face]
    random_leakages = [face["random_part"]["leakage"] for face in per_face if "random_part" in face]
    metrics = {
        "psnr": _finite_mean([face["psnr"] for face in per_face]),
        "ssim": _finite_mean([face["ssim"] for face in per_face]),
        "swd": float(np.mean(swd_levels)),
        "swd_levels": dict(zip(level_sizes, swd_levels)),
        "swd_sh": float(np.mean(swd_sh_levels)) if swd_sh_levels is not None else None,
        "swd_sh_levels": dict(zip(level_sizes, swd_sh_levels)) if swd_sh_levels is not None else None,
        "miou": segmentation["miou"],
        "miou_real": scores(measured.confusion_real)["miou"],
        "pixel_accuracy": 100.0 * segmentation["pixel_accuracy"],
        "frs": frs,
        "frs_unrelated": frs_unrelated,
        "identity_match": identity_match,
        "style_leakage": _finite_mean(leakages),
        "style_transfer": _finite_mean(transfers),
        "random_part_leakage": _finite_mean(random_leakages),
        "per_class_iou": segmentation["iou"],
    }
    return metrics, level_sizes


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
