"""The evaluation's metrics as accumulators, picked by name (as StyleGAN3's ``metric_main``).

``evaluate`` (``pipeline.py``) generates every face's reconstruction and swaps batch by
batch; each selected metric sees every batch (``update``) and then gives its numbers
(``result``). A metric is a class registered under its name in ``METRIC_REGISTRY``:

- ``keys``: the report keys it fills (``report.METRICS`` labels them);
- ``needs``: the swaps the generation pass must produce for it ("shape", "style");
- ``update(batch)``: measures one ``Batch``, writing per-face values into ``run.per_face``;
- ``result()``: the set's values, one per key (None where they could not be measured);
- ``counts``: what the report's counts need from it (identity fallbacks, faces timed).

Metrics that are not batch-wise (``part_swaps``, ``speed``) do their work in ``result``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from tqdm import tqdm

from ..faces.parser import FaceParserModel
from ..faces.segmentation import confusion_matrix, scores
from ..inference.engine import Engine
from ..labels import CLASS_NAMES, NUM_CLASSES
from .identity import IDENTITY_SAME_PERSON, IdentityEmbedder, cosine_similarity
from .image_quality import PSNR_CAP_DB, psnr, ssim
from .leakage import style_leakage, style_transfer
from .pairing import Swap
from .part_swaps import measure_part_swaps
from .swd import pyramid_sides, swd, swd_descriptors


@dataclass
class Run:
    """What every metric may read: the faces, their codes, the swap pairs and the settings.

    ``images`` / ``masks`` are the faces at the size they are compared at (``size``);
    ``model_images`` / ``model_masks`` the same faces at the model's size; ``codes`` and
    ``latents`` are encoded from the latter. ``resize`` maps a generated uint8 batch to ``size``.
    """

    engine: Engine
    face_ids: list[str]
    model_images: np.ndarray
    model_masks: np.ndarray
    images: np.ndarray
    masks: np.ndarray
    codes: np.ndarray
    latents: np.ndarray
    shape_swaps: list[Swap | None]
    style_swaps: list[Swap | None]
    seed: int
    dilation: int
    resize: Callable[[np.ndarray], np.ndarray]
    batch_size: int = 8
    bar: dict = field(default_factory=lambda: {"disable": True})
    parser: FaceParserModel | None = None
    embedder: IdentityEmbedder | None = None
    timing_faces: int = 5
    per_face: list[dict] = field(default_factory=list)
    # One patch stream for the real faces' SWD descriptors, shared by swd and swd_sh.
    real_patch_rng: np.random.Generator | None = None

    def __post_init__(self) -> None:
        if not self.per_face:
            self.per_face = [{"id": face_id} for face_id in self.face_ids]
        if self.real_patch_rng is None:
            self.real_patch_rng = np.random.default_rng([self.seed, 10])

    @property
    def size(self) -> int:
        return self.images.shape[1]


@dataclass
class Batch:
    """One generator call's faces: ``rows`` index the run's faces; ``recon`` holds their
    reconstructions, ``shaped`` / ``styled`` the swaps of ``shape_rows`` / ``style_rows``
    (empty when no selected metric needs them), all at the compared size."""

    run: Run
    rows: list[int]
    shape_rows: list[int]
    style_rows: list[int]
    recon: np.ndarray
    shaped: np.ndarray
    styled: np.ndarray

    @property
    def real(self) -> np.ndarray:
        return self.run.images[self.rows]

    @cached_property
    def real_descriptors(self) -> list[np.ndarray]:
        """The real faces' SWD descriptors, drawn once per batch whichever metrics ask."""
        return swd_descriptors(self.real, self.run.real_patch_rng)


class Metric:
    """An accumulator: ``update`` once per batch, then ``result`` (see the module docstring)."""

    keys: tuple[str, ...] = ()
    needs: frozenset[str] = frozenset()

    def __init__(self, run: Run) -> None:
        self.run = run
        self.counts: dict[str, int | None] = {}

    def update(self, batch: Batch) -> None:
        pass

    def result(self) -> dict:
        raise NotImplementedError


METRIC_REGISTRY: dict[str, type[Metric]] = {}


def register(name: str) -> Callable[[type[Metric]], type[Metric]]:
    def add(metric: type[Metric]) -> type[Metric]:
        METRIC_REGISTRY[name] = metric
        return metric

    return add


def finite_mean(values: Sequence[float]) -> float | None:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(finite)) if finite else None


@register("psnr")
class PSNR(Metric):
    """PSNR of each reconstruction against its real face (capped at ``PSNR_CAP_DB``)."""

    keys = ("psnr",)

    def update(self, batch: Batch) -> None:
        for i, value in zip(batch.rows, psnr(batch.real, batch.recon)):
            self.run.per_face[i]["psnr"] = min(float(value), PSNR_CAP_DB)

    def result(self) -> dict:
        return {"psnr": finite_mean([face["psnr"] for face in self.run.per_face])}


@register("ssim")
class SSIM(Metric):
    keys = ("ssim",)

    def update(self, batch: Batch) -> None:
        for i, value in zip(batch.rows, ssim(batch.real, batch.recon)):
            self.run.per_face[i]["ssim"] = float(value)

    def result(self) -> dict:
        return {"ssim": finite_mean([face["ssim"] for face in self.run.per_face])}


class _SWDAgainstReal(Metric):
    """SWD between the real faces and one kind of generated face (``_generated``)."""

    _stream = 0  # the patch stream of the generated faces: [seed, 10 + stream]

    def __init__(self, run: Run) -> None:
        super().__init__(run)
        self.patch_rng = np.random.default_rng([run.seed, 10 + self._stream])
        self.real: list[list[np.ndarray]] = []
        self.generated: list[list[np.ndarray]] = []

    def _generated(self, batch: Batch) -> np.ndarray:
        raise NotImplementedError

    def update(self, batch: Batch) -> None:
        self.real.append(batch.real_descriptors)
        generated = self._generated(batch)
        if len(generated):
            self.generated.append(swd_descriptors(generated, self.patch_rng))

    def _levels(self) -> list[float] | None:
        if not self.generated:
            return None
        real = [np.concatenate(level) for level in zip(*self.real)]
        generated = [np.concatenate(level) for level in zip(*self.generated)]
        return swd(real, generated, self.run.seed)

    def _result(self, key: str) -> dict:
        levels = self._levels()
        if levels is None:
            return {key: None, f"{key}_levels": None}
        sides = [str(side) for side in pyramid_sides(self.run.size)]
        return {key: float(np.mean(levels)), f"{key}_levels": dict(zip(sides, levels))}


@register("swd")
class SWD(_SWDAgainstReal):
    """SWD ×1e3 of the reconstructions against the real faces."""

    keys = ("swd", "swd_levels")
    _stream = 1

    def _generated(self, batch: Batch) -> np.ndarray:
        return batch.recon

    def result(self) -> dict:
        return self._result("swd")


@register("swd_sh")
class SWDShape(_SWDAgainstReal):
    """SWD ×1e3 of the faces with one part's shape swapped against the real faces."""

    keys = ("swd_sh", "swd_sh_levels")
    needs = frozenset({"shape"})
    _stream = 2

    def _generated(self, batch: Batch) -> np.ndarray:
        return batch.shaped

    def result(self) -> dict:
        return self._result("swd_sh")


@register("segmentation")
class Segmentation(Metric):
    """The face parser on the reconstructions (and, for scale, on the real faces) against the input masks."""

    keys = ("miou", "miou_real", "pixel_accuracy", "per_class_iou")

    def __init__(self, run: Run) -> None:
        super().__init__(run)
        if run.parser is None:
            raise ValueError("the segmentation metric needs the face parser")
        self.confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
        self.confusion_real = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)

    def update(self, batch: Batch) -> None:
        parser, masks = self.run.parser, self.run.masks
        predicted = parser.logits(batch.recon).argmax(1).cpu().numpy()
        predicted_real = parser.logits(batch.real).argmax(1).cpu().numpy()
        for k, i in enumerate(batch.rows):
            self.confusion += confusion_matrix(predicted[k], masks[i])
            self.confusion_real += confusion_matrix(predicted_real[k], masks[i])

    def result(self) -> dict:
        segmentation = scores(self.confusion)
        return {
            "miou": segmentation["miou"],
            "miou_real": scores(self.confusion_real)["miou"],
            "pixel_accuracy": 100.0 * segmentation["pixel_accuracy"],
            "per_class_iou": segmentation["iou"],
        }


@register("identity")
class Identity(Metric):
    """FRS: dlib's identity descriptors of reconstruction and real face."""

    keys = ("frs", "frs_unrelated", "identity_match")

    def __init__(self, run: Run) -> None:
        super().__init__(run)
        if run.embedder is None:
            raise ValueError("the identity metric needs the identity embedder")
        self.real: list[np.ndarray | None] = [None] * len(run.face_ids)
        self.counts = {"identity_fallback_real": 0, "identity_fallback_generated": 0}

    def update(self, batch: Batch) -> None:
        embedder, per_face = self.run.embedder, self.run.per_face
        for k, i in enumerate(batch.rows):
            self.real[i], missed_real = embedder.embed(batch.real[k])
            recon, missed_recon = embedder.embed(batch.recon[k])
            self.counts["identity_fallback_real"] += missed_real
            self.counts["identity_fallback_generated"] += missed_recon
            per_face[i]["frs"] = cosine_similarity(self.real[i], recon)
            per_face[i]["identity_distance"] = float(np.linalg.norm(self.real[i] - recon))

    def result(self) -> dict:
        per_face = self.run.per_face
        unrelated = [
            cosine_similarity(self.real[i], self.real[swap.other])
            for i, swap in enumerate(self.run.style_swaps) if swap is not None
        ]
        return {
            "frs": finite_mean([face["frs"] for face in per_face]),
            "frs_unrelated": finite_mean(unrelated),
            "identity_match": finite_mean([face["identity_distance"] < IDENTITY_SAME_PERSON for face in per_face]),
        }


@register("style_swaps")
class StyleSwaps(Metric):
    """Leakage and transfer of one random part's style taken from a random other face."""

    keys = ("style_leakage", "style_transfer")
    needs = frozenset({"style"})

    def update(self, batch: Batch) -> None:
        run, start = self.run, batch.rows[0]
        for k, i in enumerate(batch.style_rows):
            swap = run.style_swaps[i]
            region = run.masks[i] == swap.part
            swapped = run.per_face[i]["style_swap"]
            swapped["leakage"] = style_leakage(batch.recon[i - start], batch.styled[k], region, run.dilation)
            swapped["transfer"] = style_transfer(batch.recon[i - start], batch.styled[k], region,
                                                 run.images[swap.other], run.masks[swap.other] == swap.part)

    def result(self) -> dict:
        swaps = [face["style_swap"] for face in self.run.per_face if "leakage" in face.get("style_swap", {})]
        return {
            "style_leakage": finite_mean([swap["leakage"] for swap in swaps]),
            "style_transfer": finite_mean([swap["transfer"] for swap in swaps]),
        }


@register("random_part")
class RandomPart(Metric):
    """Leakage of the style swaps' parts given a random style from M_s (the studio's "Random")."""

    keys = ("random_part_leakage",)
    needs = frozenset({"style"})

    def update(self, batch: Batch) -> None:
        run, start = self.run, batch.rows[0]
        engine, rows = run.engine, batch.style_rows
        if not engine.has_mapping or not rows:
            return
        random_codes = [Engine.interpolate_parts(run.codes[i], {run.style_swaps[i].part: (
            engine.random_codes(run.seed * 100_003 + i), 1.0)}) for i in rows]
        randomised = run.resize(engine.generate(
            np.stack([run.latents[i] for i in rows]), np.stack(random_codes), [run.masks[i] for i in rows])[0])
        for k, i in enumerate(rows):
            part = run.style_swaps[i].part
            run.per_face[i]["random_part"] = {
                "part": CLASS_NAMES[part],
                "leakage": style_leakage(batch.recon[i - start], randomised[k], run.masks[i] == part, run.dilation),
            }

    def result(self) -> dict:
        leakages = [face["random_part"]["leakage"] for face in self.run.per_face if "random_part" in face]
        return {"random_part_leakage": finite_mean(leakages)}


@register("part_swaps")
class PartSwaps(Metric):
    """The per-part study (``part_swaps.py``): its own generator calls, after the batches."""

    keys = ("per_part",)

    def result(self) -> dict:
        run = self.run
        return {"per_part": measure_part_swaps(run.engine, run.codes, run.latents, run.images, run.masks,
                                               run.dilation, run.resize, run.batch_size, run.bar)}


@register("speed")
class Speed(Metric):
    """Median wall time of one full reconstruction (E_s + E_m + G, caches cleared), batch 1."""

    keys = ("ms_per_image",)

    def result(self) -> dict:
        timings = time_reconstructions(self.run.engine, self.run.model_images, self.run.model_masks,
                                       self.run.timing_faces, self.run.bar)
        self.counts = {"timing_faces": len(timings)}
        return {"ms_per_image": float(np.median(timings)) if timings else None}


def time_reconstructions(engine: Engine, images: np.ndarray, masks: np.ndarray, faces: int, bar: dict) -> list[float]:
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


def metric_names(text: str) -> list[str]:
    """"psnr,ssim" → ["psnr", "ssim"], checked against the registry (ValueError names the known ones)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in METRIC_REGISTRY]
    if unknown or not names:
        raise ValueError(f"unknown metric {', '.join(unknown) or '(none given)'}: choose from "
                         f"{', '.join(METRIC_REGISTRY)}")
    return list(dict.fromkeys(names))
