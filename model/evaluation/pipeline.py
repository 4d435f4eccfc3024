"""Evaluation of a CA2-SIS model on a labelled face folder: the paper's metrics, as far as
they can be measured without the paper's pretrained networks.

Every number comes from the product's own inference (``Engine``: E_s, E_m, G on the backend
in use). For each face of the folder (images + masks) the evaluation generates

- its **reconstruction** G(E_m(M), E_s(y, M));
- a **shape swap**: one random part's latent taken from a random other face's mask
  (m_j = E_m(M_j^other), α = 1), every style its own (the paper's FID-Sh setting, Table 4);
- a **one-part style swap**: one random part's style code taken from a random other face,
  generated together with the reconstruction it is compared with (Fig. 14).

and measures the metrics selected by name (``metrics.METRIC_REGISTRY``: one accumulator per
metric, default all; ``report.METRICS`` labels their keys and gives their directions):

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

The registry's names and the keys they fill: ``psnr``, ``ssim``, ``swd`` (and its levels),
``swd_sh``, ``segmentation`` (``miou``, ``miou_real``, ``pixel_accuracy``), ``identity``
(``frs``, ``frs_unrelated``, ``identity_match``), ``style_swaps`` (``style_leakage``,
``style_transfer``), ``random_part`` (``random_part_leakage``), ``part_swaps`` (``per_part``),
``speed`` (``ms_per_image``). Shape swaps and style swaps are generated only when a selected
metric needs them (they share the reconstructions' generator call).

``compare_size`` compares at another size than the model's: the model still encodes and
generates at its own size, and its outputs are resized (bicubic) to ``compare_size`` before
they are measured against the real faces and masks loaded at ``compare_size``. That is how a
128 px model and a 256 px one are compared on the same 256 px faces.

Memory: faces, masks and SWD descriptors are kept for the whole set (about 1.5 MB per face
at 256 px), so evaluate a held-out list (``assets/splits``), not a whole training set.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..errors import DataError
from ..faces.parser import FaceParserModel
from ..faces.reader import default_parser_weights
from ..inference.engine import Engine
from ..labels import CLASS_NAMES
from ..training.data import FaceMaskDataset, open_dataset
from .identity import IdentityEmbedder
from .leakage import LEAKAGE_MIN_AREA, leakage_dilation
from .metrics import METRIC_REGISTRY, Batch, Metric, Run, metric_names
from .pairing import part_areas, pick_partners
from .report import build_report, clean_json
from .swd import pyramid_sides


@dataclass
class _Faces:
    """The faces under evaluation, loaded once at one size."""

    ids: list[str]
    images: np.ndarray  # uint8 (N, S, S, 3)
    masks: np.ndarray  # uint8 (N, S, S)
    source: str


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
    metrics: Sequence[str] | None = None,
) -> dict:
    """Evaluate ``engine`` on a labelled face folder (or an opened dataset); see the module
    docstring for the metrics. Returns the report: ``metrics`` (the numbers, None where a
    metric could not be measured or was not selected), ``selected_metrics``, ``counts``,
    settings, notes and per-face values.

    ids: only these faces (when ``data`` is a folder); limit: only the first ``limit`` of
    them; seed (>= 0): draws the swap pairs, the SWD patches and projections; identity:
    measure FRS (needs dlib; False drops "identity" from ``metrics``); parser: the face parser
    or its folder (default: the bundled one); timing_faces: faces timed for ms_per_image;
    weights: recorded in the report; compare_size: measure at this size instead of the
    model's (see the module docstring); metrics: names of ``METRIC_REGISTRY`` to measure
    (default: all of them).
    """
    if limit is not None and limit < 1:
        raise DataError(f"--limit must be at least 1, got {limit}")
    if seed < 0:
        raise DataError(f"seed must be 0 or more, got {seed}")
    if batch_size < 1:
        raise DataError(f"batch_size must be at least 1, got {batch_size}")
    if compare_size is not None and compare_size < 16:
        raise DataError(f"the comparison size must be at least 16 px, got {compare_size}")
    selected = metric_names(",".join(metrics)) if metrics is not None else list(METRIC_REGISTRY)
    if not identity:
        selected = [name for name in selected if name != "identity"]
    started = time.perf_counter()
    device = getattr(engine.backend, "device", "cpu")
    dataset, source = _open(engine, data, ids)
    face_ids = dataset.ids[:limit] if limit is not None else list(dataset.ids)

    # Load what can fail on setup before the long loops.
    if "segmentation" in selected and not isinstance(parser, FaceParserModel):
        parser = FaceParserModel.from_pretrained(parser if parser is not None else default_parser_weights(), device)
    embedder = IdentityEmbedder() if "identity" in selected else None

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
    run = Run(
        engine=engine, face_ids=list(face_ids), model_images=faces.images, model_masks=faces.masks,
        images=compared.images, masks=compared.masks, codes=codes, latents=latents, shape_swaps=shape_swaps,
        style_swaps=style_swaps, seed=seed, dilation=leakage_dilation(size),
        resize=lambda generated: _resize_images(generated, size), batch_size=batch_size, bar=bar,
        parser=parser if "segmentation" in selected else None, embedder=embedder, timing_faces=timing_faces,
    )
    accumulators = {name: METRIC_REGISTRY[name](run) for name in selected}
    _generate(run, list(accumulators.values()))
    values = {key: None for metric in METRIC_REGISTRY.values() for key in metric.keys}
    counts: dict[str, int | None] = {}
    for accumulator in accumulators.values():
        values.update(accumulator.result())
        counts.update(accumulator.counts)
    report = build_report(
        values, run.per_face, shape_swaps if "shape" in _needs(accumulators.values()) else [], counts,
        selected=selected, config=engine.config.name, image_size=engine.image_size, compared_at=size,
        weights=weights, backend=engine.description, device=device, data=faces.source, seed=seed,
        level_sizes=[str(side) for side in pyramid_sides(size)], dilation=leakage_dilation(size),
        parser_input_size=parser.config.input_size if isinstance(parser, FaceParserModel) else None,
        per_class_iou=values.pop("per_class_iou"), seconds=time.perf_counter() - started,
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


def _needs(accumulators: Iterable[Metric]) -> set[str]:
    return {need for accumulator in accumulators for need in accumulator.needs}


def _generate(run: Run, accumulators: list[Metric]) -> None:
    """Generate every reconstruction, and the swaps the metrics need, batch by batch, and
    hand each batch to every metric.

    The model's own faces were encoded into ``run.codes`` / ``run.latents``; what it generates
    is resized to the compared size (``run.resize``) before the metrics see it.
    """
    needs, count = _needs(accumulators), len(run.face_ids)
    codes, latents, per_face = run.codes, run.latents, run.per_face
    with tqdm(total=count, desc="generating", **run.bar) as progress_bar:
        for start in range(0, count, run.batch_size):
            rows = list(range(start, min(start + run.batch_size, count)))
            shape_rows = [i for i in rows if run.shape_swaps[i] is not None] if "shape" in needs else []
            style_rows = [i for i in rows if run.style_swaps[i] is not None] if "style" in needs else []
            # One G call for the reconstructions and both kinds of swap: a swap and the
            # reconstruction it is compared with then go through the same kernels.
            batch_latents = [latents[i] for i in rows]
            batch_codes = [codes[i] for i in rows]
            batch_layouts = [run.masks[i] for i in rows]  # what the mask bias reads, if any
            for i in shape_rows:
                swap = run.shape_swaps[i]
                batch_latents.append(Engine.interpolate_parts(latents[i], {swap.part: (latents[swap.other], 1.0)}))
                batch_codes.append(codes[i])
                batch_layouts.append(None)  # one part's latent moved: no mask describes it
                per_face[i]["shape_swap"] = {"from": run.face_ids[swap.other], "part": CLASS_NAMES[swap.part]}
            for i in style_rows:
                swap = run.style_swaps[i]
                batch_latents.append(latents[i])
                batch_codes.append(Engine.interpolate_parts(codes[i], {swap.part: (codes[swap.other], 1.0)}))
                batch_layouts.append(run.masks[i])
                per_face[i]["style_swap"] = {"from": run.face_ids[swap.other], "part": CLASS_NAMES[swap.part]}
            generated = run.engine.generate(np.stack(batch_latents), np.stack(batch_codes), batch_layouts)[0]
            generated = run.resize(generated)
            batch = Batch(
                run, rows, shape_rows, style_rows,
                recon=generated[: len(rows)],
                shaped=generated[len(rows) : len(rows) + len(shape_rows)],
                styled=generated[len(rows) + len(shape_rows) :],
            )
            for accumulator in accumulators:
                accumulator.update(batch)
            progress_bar.update(len(rows))
