"""The inference engine: one object serves the studio, ``ca2sis-edit``, evaluation and scripts.

It wraps E_s, E_m, G (and M_s) on a backend (PyTorch or ONNX Runtime, CPU or CUDA) and adds
what an editor needs on top of the three boxes of Fig. 1:

- faces and masks given as files, PIL images or arrays, checked and converted;
- per-part style swaps with a strength α (codes interpolated per class), a base style for
  every other part, and random styles for chosen parts from M_s with a seed;
- per-part shape transfer and interpolation: every latent moves from the mask's towards
  those of a composite mask with the source's part pasted on (α = 0 keeps the current
  shape, α = 1 takes the source's; the paper's §IV-C moves only the part's own latent);
- the cross-attention map of a part, upsampled to the image, for display;
- caches: a reference's style codes are kept by content, and a mask's latents are
  re-embedded only for the class channels that changed, so a part edit costs one G pass.

Every operation works on one face; the ``encode_styles``/``embed_mask``/``generate``
primitives and ``reconstruct``/``transfer_styles`` also take batches (lists or stacked arrays).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import CA2SISConfig
from ..devices import resolve_device
from ..errors import CA2SISError, DataError, WeightsError, check_fraction
from ..io.cache import LRUCache, content_digest
from ..io.images import ImageInput, MaskInput, as_image, as_mask, describe
from ..io.pixels import to_network_images, to_uint8_images
from ..io.styles import SavedStyle, weights_folder_digest
from ..io.weights import default_weights, ensure_weights, read_weights_config  # noqa: F401  (re-exported)
from ..labels import CLASS_NAMES, Part, pair_partner, part_index
from ..networks.composite import CA2SIS
from .backends import Backend, OnnxBackend, TorchBackend, onnx_export_current
from .shapes import composite_mask
from .visualise import upsample_attention

BACKENDS = ("auto", "torch", "onnx")


@dataclass
class Reference:
    """A face to take styles from: its photo and its mask (None: parsed automatically)."""

    image: ImageInput
    mask: MaskInput | None = None


@dataclass
class Edit:
    """Everything that decides one generated face.

    mask: the semantic mask to generate (its shapes), any accepted mask input.
    style: the face every part takes its style from unless overridden.
    part_styles: part → (reference face, strength α in [0, 1]); α interpolates the part's
        code from the base style (0) to the reference's (1). A part style saved as a file
        (``SavedStyle``, ``model/io/styles.py``) serves wherever a reference face does.
    part_shapes: part → (source mask, α in [0, 1]); α interpolates the part's latent from
        ``mask``'s shape (0) to the source's (1).
    random_parts: part → (seed, strength α): a style from M_s, mixed in like a reference.
    confine, keep_detail, match_colour: the photo pipeline's finishing steps (``model/photo``):
        the edit changes only the edited parts (the style face's own pixels elsewhere),
        keeps the style face's fine detail where a part only changed its style, and gives a
        part restyled from a reference that reference's colour. All three off is the
        network's raw output (the paper's global consistency; ``ca2sis-edit --global``).
        They apply when the style face is the face the mask was painted from
        (``style_is_source``, and their masks agree on at least ``FINISH_MIN_AGREEMENT`` of
        the pixels); otherwise the raw output is used.
    style_is_source: the mask is the style face's own mask, edited (False: a new face, or
        the mask of another face, which must not show the style face's pixels).
    """

    mask: MaskInput
    style: Reference
    part_styles: dict[Part, tuple[Reference | SavedStyle, float]] = field(default_factory=dict)
    part_shapes: dict[Part, tuple[MaskInput, float]] = field(default_factory=dict)
    random_parts: dict[Part, tuple[int, float]] = field(default_factory=dict)
    confine: bool = True
    keep_detail: bool = True
    match_colour: bool = True
    style_is_source: bool = True

    @property
    def finishing(self) -> bool:
        """Whether any finishing step is on (off: the raw network output)."""
        return self.confine or self.keep_detail or self.match_colour


@dataclass
class Result:
    """A generated face and how it was made."""

    image: np.ndarray  # uint8 (H, W, 3): the network's own output
    codes: np.ndarray  # (C, code_dim) the style codes G read
    latents: np.ndarray  # (C, latent_dim) the part latents G read
    attention: np.ndarray  # (C, 64, 64) share of each pixel's style read from each class
    milliseconds: dict[str, float]  # time per stage and "total"
    drawn_by: str = ""  # the graph that drew it, e.g. "onnx CPU fp32" (a preview's may be cheaper)

    def attention_map(self, part: Part) -> np.ndarray:
        """Where ``part``'s style lands: float32 (H, W) in [0, 1], upsampled to the image."""
        return upsample_attention(self.attention, part, self.image.shape[0])


class Engine:
    """CA2-SIS inference on one backend, with caches for interactive editing.

    Build it with ``Engine.from_pretrained(folder)``; ``Engine(model)`` wraps networks
    already in memory (PyTorch backend), ``Engine(backend=...)`` any backend. Thread-safe: calls are serialised.
    """

    def __init__(self, model: CA2SIS | None = None, backend: Backend | None = None, device: str = "auto"):
        if backend is None:
            if model is None:
                raise TypeError("an Engine needs networks (a CA2SIS) or a backend that runs them")
            backend = TorchBackend(model, device)
        self.backend: Backend = backend
        self.config: CA2SISConfig = backend.config
        # Photo → (aligned face, mask) for references given without a mask (FaceReader).
        self.face_reader: Callable[[ImageInput], tuple[np.ndarray, np.ndarray]] | None = None
        self._lock = threading.RLock()
        self._codes_cache = LRUCache(64)
        self._plane_cache = LRUCache(8 * self.config.num_classes)
        self._random_cache = LRUCache(64)
        self._parsed_cache = LRUCache(16)  # photo path → aligned face and parsed mask
        self.stats = {"styles_encoded": 0, "planes_embedded": 0, "generations": 0}
        self.folder: Path | None = None  # the weights folder, when loaded from one
        self._weights_digest: str | None = None  # weights_digest, computed on first use

    # ---- construction ----------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls,
        folder: str | Path,
        device: str = "auto",
        backend: str = "auto",
        expected_config: str | CA2SISConfig | None = None,
        threads: int | None = None,
        compile: bool = False,
        tensorrt: bool = False,
    ) -> Engine:
        """Load a weights folder (fp16 or fp32 safetensors + config.json).

        device: "auto" (CUDA when present, else CPU), "cpu" or "cuda".
        backend: "torch", "onnx" (graphs written by ``ca2sis-export``), or "auto": ONNX
            Runtime on the CPU when an up-to-date export is present (it is the faster one
            there), PyTorch otherwise (fp16 on CUDA).
        compile: torch.compile the PyTorch graphs (with CUDA graphs on a GPU).
        tensorrt: with the onnx backend on CUDA, use ONNX Runtime's TensorRT provider.
        """
        if backend not in BACKENDS:
            raise DataError(f"backend must be one of {', '.join(BACKENDS)}, not '{backend}'")
        folder = Path(folder)
        # The config alone decides the ONNX backend: no torch network is built for it.
        config = read_weights_config(folder, expected_config)
        device = resolve_device(device)
        runner: Backend | None = None
        if backend == "onnx":
            runner = OnnxBackend(folder, config, device, threads, tensorrt=tensorrt)
        elif backend == "auto" and device == "cpu":
            try:  # the faster backend on a CPU, when the folder holds a current export
                runner = OnnxBackend(folder, config, device, threads)
            except CA2SISError:  # none, a stale one, or no onnxruntime: PyTorch does the job
                runner = None
        if runner is None:
            model = CA2SIS.from_pretrained(folder, expected_config)
            runner = TorchBackend(model, device, compile=compile, threads=threads)
        engine = cls(backend=runner)
        engine.face_reader = _bundled_face_reader()
        engine.folder = folder
        return engine

    def use_backend(self, backend: TorchBackend | OnnxBackend) -> None:
        """Run on ``backend`` from now on (e.g. ONNX Runtime once an export is ready).
        Cached codes and latents are dropped, so every result comes from one backend."""
        with self._lock:
            self.backend = backend
            self._codes_cache.clear()
            self._plane_cache.clear()
            self._random_cache.clear()

    @staticmethod
    def onnx_export_current(folder: str | Path) -> bool:
        """Whether ``folder`` holds an ONNX export of exactly its current weights."""
        return onnx_export_current(Path(folder))

    @property
    def description(self) -> str:
        """E.g. "onnx CPU fp32" or "torch cuda float16", for status bars and reports."""
        return self.backend.description

    @property
    def preview_description(self) -> str | None:
        """The cheaper G a preview runs (e.g. "onnx CPU int8"), or None when previews run the
        same G as full renders."""
        return getattr(self.backend, "preview_description", None)

    @property
    def has_mapping(self) -> bool:
        return self.backend.has_mapping

    @property
    def image_size(self) -> int:
        return self.config.image_size

    # ---- inputs ------------------------------------------------------------------------
    def load_image(self, image: ImageInput) -> np.ndarray:
        """Any accepted face input → uint8 RGB at the networks' size."""
        return as_image(image, self.image_size)

    def load_mask(self, mask: MaskInput) -> np.ndarray:
        """Any accepted mask input → uint8 class indices at the networks' size."""
        return as_mask(mask, self.image_size, self.config.num_classes)

    def load_reference(self, reference: Reference) -> tuple[np.ndarray, np.ndarray]:
        """A reference's face and mask; a photo without mask is aligned and parsed first."""
        if reference.mask is not None:
            return self.load_image(reference.image), self.load_mask(reference.mask)
        if self.face_reader is None:
            raise DataError(
                f"{describe(reference.image)}: no mask was given for this face and no face parser is "
                "available to make one; give the face's mask as well"
            )
        key = None
        if isinstance(reference.image, (str, Path)) and Path(reference.image).is_file():
            status = Path(reference.image).stat()  # a file saved again under the same name is new
            key = f"{Path(reference.image).resolve()}:{status.st_mtime_ns}:{status.st_size}"
        cached = self._parsed_cache.get(key) if key is not None else None
        if cached is None:
            image, mask = self.face_reader(reference.image)
            cached = (self.load_image(image), self.load_mask(mask))
            if key is not None:
                self._parsed_cache.put(key, cached)
        return cached

    def _batch(self, items: object, load: Callable) -> tuple[np.ndarray, bool]:
        """A single input, or a batch given as a list or tuple → stacked arrays."""
        if isinstance(items, (list, tuple)):
            return np.stack([load(item) for item in items]), True
        return load(items)[None], False

    # ---- saved part styles ------------------------------------------------------------
    @property
    def weights_digest(self) -> str:
        """What a saved style records of the weights that made it: a digest of the weights
        folder's files (``weights_folder_digest``), or of the networks' tensors when the engine
        was given networks in memory (another digest than their folder's)."""
        with self._lock:
            if self._weights_digest is None:
                if self.folder is not None:
                    self._weights_digest = weights_folder_digest(self.folder)
                else:
                    model = getattr(self.backend, "model", None)
                    if model is None:
                        raise WeightsError(f"the networks ({self.description}) have no weights folder to name a "
                                           "saved style's weights by: load them with Engine.from_pretrained")
                    tensors = [tensor.detach().cpu().float().numpy() for tensor in model.state_dict().values()]
                    self._weights_digest = "memory-" + content_digest(*tensors)[:9]
            return self._weights_digest

    @property
    def weights_name(self) -> str:
        """The weights' folder for messages (e.g. "weights/lite"), or how they were given."""
        return str(self.folder) if self.folder is not None else "networks in memory"

    def check_saved_style(self, style: SavedStyle) -> None:
        """Refuse a saved style whose codes other weights made (they would mean another style,
        or nothing, to these networks), naming both; also one whose codes do not fit this config."""
        if style.weights_digest != self.weights_digest:
            made_by = style.weights_name or "other weights"
            raise DataError(
                f"{style.describe()} was made with other weights ({made_by}, digest {style.weights_digest}) than "
                f"these ({self.weights_name}, digest {self.weights_digest}): load the weights it was made with, or "
                "save the style again from its face with these"
            )
        if style.codes.shape[1] != self.config.code_dim:
            raise DataError(f"{style.describe()} holds codes of {style.codes.shape[1]} numbers; config "
                            f"'{self.config.name}' uses {self.config.code_dim}")

    # ---- the three boxes, on single faces or batches ----------------------------------
    def encode_styles(
        self, images: ImageInput | Sequence[ImageInput], masks: MaskInput | Sequence[MaskInput]
    ) -> np.ndarray:
        """E_s: face(s) and mask(s) → style codes (C, code_dim), or (B, C, code_dim) for lists."""
        image_batch, batched = self._batch(images, self.load_image)
        mask_batch, _ = self._batch(masks, self.load_mask)
        if len(image_batch) != len(mask_batch):
            raise DataError(f"{len(image_batch)} faces but {len(mask_batch)} masks")
        keys = [content_digest(image, mask) for image, mask in zip(image_batch, mask_batch)]
        with self._lock:
            found = {key: self._codes_cache.get(key) for key in keys}
            missing = sorted({key: index for index, key in enumerate(keys) if found[key] is None}.values())
            if missing:  # one backend call for all faces not seen before
                fresh = self.backend.encode_styles(
                    to_network_images(image_batch[missing]), mask_batch[missing].astype(np.int64)
                )
                self.stats["styles_encoded"] += len(missing)
                for index, codes in zip(missing, fresh):
                    found[keys[index]] = codes
                    self._codes_cache.put(keys[index], codes)
        codes = np.stack([found[key] for key in keys])
        return codes if batched else codes[0]

    def embed_mask(self, masks: MaskInput | Sequence[MaskInput]) -> np.ndarray:
        """E_m: mask(s) → part latents (C, latent_dim), or (B, C, latent_dim) for lists."""
        mask_batch, batched = self._batch(masks, self.load_mask)
        latents = np.stack([self._latents(mask) for mask in mask_batch])
        return latents if batched else latents[0]

    def generate(
        self, latents: np.ndarray, codes: np.ndarray, layouts: object = None, preview: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """G: latents and codes, (C, ·) or (B, C, ·) → uint8 image(s) and attention map(s).

        ``preview``: draw with the backend's cheaper G where it has one (``preview_description``),
        for frames shown only while a stroke or slider moves.

        ``layouts``: what the cross-attention's mask bias reads, for weights that have one
        (``attention_mask_bias``; others ignore it): per face the mask the latents came from,
        or a soft (C, H, W) class layout, or None (no bias for that face); one for a single
        face, a list for a batch."""
        single = latents.ndim == 2
        latents_batch = latents[None] if single else latents
        codes_batch = codes[None] if codes.ndim == 2 else codes
        expected = (self.config.num_classes, self.config.mask_latent_dim, self.config.code_dim)
        if latents_batch.shape[1:] != expected[:2] or codes_batch.shape[1:] != (expected[0], expected[2]):
            raise DataError(
                f"latents {latents.shape} and codes {codes.shape} do not fit config '{self.config.name}' "
                f"(C={expected[0]}, latent {expected[1]}, code {expected[2]})"
            )
        layout_batch = None
        if self.config.attention_mask_bias > 0:
            if layouts is None or single:
                items = [layouts] * len(latents_batch)
            elif isinstance(layouts, (list, tuple)) or (isinstance(layouts, np.ndarray) and layouts.ndim in (3, 4)):
                items = list(layouts)  # a list, or stacked index masks (B, H, W) or layouts (B, C, H, W)
            else:
                raise DataError("layouts of a batch must be a list or a stacked array, one per face")
            if len(items) != len(latents_batch):
                raise DataError(f"{len(items)} layouts for {len(latents_batch)} faces")
            layout_batch = np.stack([self.class_layout(item) for item in items])
        with self._lock:
            # preview only when asked: a backend written before previews existed keeps working
            images, attention = self.backend.generate(
                latents_batch.astype(np.float32), codes_batch.astype(np.float32), layout_batch,
                **({"preview": True} if preview else {}),
            )
            self.stats["generations"] += len(images)
        if not np.isfinite(images).all():  # would otherwise come out as a black image
            raise WeightsError(
                f"the networks ({self.description}) produced NaN or infinite values: the weights are unusable"
            )
        images = to_uint8_images(images)
        return (images[0], attention[0]) if single else (images, attention)

    def class_layout(self, layout: object) -> np.ndarray:
        """A (C, H, W) float32 class layout at the networks' size for the mask bias: a mask input
        one-hot encoded, a soft layout checked, None uniform (every class everywhere: no bias)."""
        classes, size = self.config.num_classes, self.image_size
        if layout is None:
            return np.ones((classes, size, size), np.float32)
        if isinstance(layout, np.ndarray) and layout.ndim == 3 and layout.dtype.kind == "f":
            if layout.shape != (classes, size, size) or not np.isfinite(layout).all():
                raise DataError(f"a class layout must be finite, of shape {(classes, size, size)}, not {layout.shape}")
            return np.clip(layout, 0.0, 1.0).astype(np.float32)
        mask = self.load_mask(layout)
        return (mask[None] == np.arange(classes, dtype=np.uint8)[:, None, None]).astype(np.float32)

    def edit_layout(self, edit: Edit, targets: Mapping[int, np.ndarray] | None = None) -> np.ndarray:
        """The class layout of an ``Edit`` for the mask bias, moved by the shape sliders as its
        latents are (``edit_latents``): L = M + Σ_p α_p (M_p - M) on one-hot masks."""
        layout = self.class_layout(edit.mask)
        targets = self.shape_targets(edit) if targets is None else targets
        mixed = layout.copy()
        for part, (_, alpha) in edit.part_shapes.items():
            index = part_index(part, self.config.num_classes)
            if index in targets:
                mixed += alpha * (self.class_layout(targets[index]) - layout)
        return mixed

    # ---- cached building blocks ------------------------------------------------------
    def _style_codes(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Cached E_s of one loaded face and mask."""
        return self.encode_styles([image], [mask])[0]

    def _latents(self, mask: np.ndarray) -> np.ndarray:
        """E_m of every class plane of ``mask``, embedding only planes not seen before."""
        classes = np.arange(self.config.num_classes, dtype=np.uint8)
        planes = mask[None] == classes[:, None, None]  # (C, H, W) bool
        keys = [content_digest(np.packbits(plane)) for plane in planes]
        with self._lock:
            missing = [index for index, key in enumerate(keys) if key not in self._plane_cache]
            for index in missing:
                # One plane per call: a plane's latent then never depends on which other
                # planes were embedded with it (batched matmuls may round differently).
                latent = self.backend.embed_mask(planes[index][None, None].astype(np.float32))[0, 0]
                self._plane_cache.put(keys[index], latent)
                self.stats["planes_embedded"] += 1
            return np.stack([self._plane_cache.get(key) for key in keys])

    def random_codes(self, seed: int) -> np.ndarray:
        """M_s(z) with z ~ N(0, I) drawn from ``seed``: a full set of (C, code_dim) codes.

        Any whole number is a seed: numpy's generators take only non-negative ones, so a
        negative seed is mapped (deterministically) to ``seed % 2**63``."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise DataError(f"a seed must be a whole number, not {seed!r}")
        seed = int(seed) if seed >= 0 else int(seed) % 2**63
        key = str(seed)
        with self._lock:
            codes = self._random_cache.get(key)
            if codes is None:
                z = np.random.default_rng(seed).standard_normal((1, self.config.mapping_z_dim))
                codes = self.backend.random_codes(z.astype(np.float32))[0]
                self._random_cache.put(key, codes)
            return codes

    def clear_caches(self) -> None:
        with self._lock:
            self._codes_cache.clear()
            self._plane_cache.clear()
            self._random_cache.clear()
            self._parsed_cache.clear()

    # ---- editing operations ---------------------------------------------------------
    def reconstruct(
        self, images: ImageInput | Sequence[ImageInput], masks: MaskInput | Sequence[MaskInput]
    ) -> np.ndarray:
        """G(E_m(M), E_s(y, M)): the face(s) regenerated from their own mask and style."""
        return self.generate(self.embed_mask(masks), self.encode_styles(images, masks), masks)[0]

    def transfer_styles(
        self,
        masks: MaskInput | Sequence[MaskInput],
        references: ImageInput | Sequence[ImageInput],
        reference_masks: MaskInput | Sequence[MaskInput],
    ) -> np.ndarray:
        """The shapes of ``masks`` with every part styled like the reference face(s)."""
        return self.generate(self.embed_mask(masks), self.encode_styles(references, reference_masks), masks)[0]

    @staticmethod
    def interpolate_parts(values: np.ndarray, others: Mapping[int, tuple[np.ndarray, float]]) -> np.ndarray:
        """Per-part interpolation of (C, ·) codes or latents: row j ← (1 - α) row_j + α other_j
        for each given part j. On codes it mixes styles; on latents it is the paper's shape
        interpolation m_j = (1 - α) E_m(M_j) + α E_m(M_j^src) (§IV-C)."""
        mixed = values.copy()
        for part, (other, alpha) in others.items():
            mixed[part] = (1.0 - alpha) * values[part] + alpha * other[part]
        return mixed

    def edit_codes(self, edit: Edit) -> np.ndarray:
        """The style codes an ``Edit`` asks for: base style, part references, random parts."""
        base_codes = self._style_codes(*self.load_reference(edit.style))
        overrides: dict[int, tuple[np.ndarray, float]] = {}
        for part, (reference, alpha) in edit.part_styles.items():
            index = part_index(part, self.config.num_classes)
            if isinstance(reference, SavedStyle):  # the code E_s gave the part's face, kept in a file
                self.check_saved_style(reference)
                codes = base_codes.copy()
                codes[index] = reference.code(index)
                overrides[index] = (codes, check_fraction(alpha, f"{CLASS_NAMES[index]}: strength"))
                continue
            image, mask = self.load_reference(reference)
            strength = check_fraction(alpha, f"{CLASS_NAMES[index]}: strength")
            codes = self._style_codes(image, mask)
            if not (mask == index).any():
                # One member of a pair (a closed eye, a hidden ear) takes the other member's style.
                partner = pair_partner(index)
                if partner is None or not (mask == partner).any():
                    raise DataError(
                        f"{describe(reference.image)}: its mask has no {CLASS_NAMES[index]}, so there is no "
                        f"{CLASS_NAMES[index]} style to take from it"
                    )
                codes = codes.copy()
                codes[index] = codes[partner]
            overrides[index] = (codes, strength)
        codes = self.interpolate_parts(base_codes, overrides)
        randoms = {}
        for part, (seed, alpha) in edit.random_parts.items():
            index = part_index(part, self.config.num_classes)
            randoms[index] = (self.random_codes(seed), check_fraction(alpha, f"{CLASS_NAMES[index]}: strength"))
        return self.interpolate_parts(codes, randoms)

    def edit_latents(self, edit: Edit, targets: Mapping[int, np.ndarray] | None = None) -> np.ndarray:
        """The part latents an ``Edit`` asks for: its mask with part shapes interpolated.

        A part's shape slider α moves *all* latents from the mask's towards those of its
        composite mask (``shape_target``: the source's part pasted on the mask, the pixels it
        vacates filled from the neighbouring classes), m = E_m(M) + Σ_p α_p (E_m(M_p) - E_m(M)),
        so at α = 1 the part has the source's shape and the other classes make room for it.
        Moving only the part's own latent (paper §IV-C) leaves the others describing the old
        layout, which the generator fills with noise. ``targets``: ``shape_targets(edit)``
        when the caller has them already."""
        latents = self._latents(self.load_mask(edit.mask))
        mixed = latents.copy()
        targets = self.shape_targets(edit) if targets is None else targets
        for part, (_, alpha) in edit.part_shapes.items():
            index = part_index(part, self.config.num_classes)
            if index in targets:
                mixed += alpha * (self._latents(targets[index]) - latents)
        return mixed

    def shape_targets(self, edit: Edit) -> dict[int, np.ndarray]:
        """``shape_target`` of each part whose shape slider is above 0, by class index."""
        targets = {}
        for part, (_, alpha) in edit.part_shapes.items():
            index = part_index(part, self.config.num_classes)
            if check_fraction(alpha, f"{CLASS_NAMES[index]}: strength") > 0:
                targets[index] = self.shape_target(edit, part)
        return targets

    def shape_target(self, edit: Edit, part: Part) -> np.ndarray:
        """The composite mask a shape slider of ``part`` moves towards: ``edit.mask`` with the
        part in the source mask's shape (``composite_mask``), at the networks' size."""
        source, _ = edit.part_shapes[part]
        index = part_index(part, self.config.num_classes)
        return composite_mask(self.load_mask(edit.mask), self.load_mask(source), index)

    def render(self, edit: Edit, preview: bool = False) -> Result:
        """Generate the face an ``Edit`` describes, reusing every cached part: the network's own
        output (the photo pipeline, ``model/photo``, finishes it); ``preview``: with the cheaper
        G where the backend has one (``generate``)."""
        start = time.perf_counter()
        codes = self.edit_codes(edit)
        after_codes = time.perf_counter()
        targets = self.shape_targets(edit)  # composite masks, built once for latents and layout
        latents = self.edit_latents(edit, targets)
        after_latents = time.perf_counter()
        layout = self.edit_layout(edit, targets) if self.config.attention_mask_bias > 0 else None
        with self._lock:  # the graph named is the one that ran, even if use_backend swaps it meanwhile
            drawn_by = self.preview_description if preview and self.preview_description else self.description
            raw, attention = self.generate(latents, codes, layout, preview=preview)
        end = time.perf_counter()
        milliseconds = {
            "styles": (after_codes - start) * 1000,
            "shapes": (after_latents - after_codes) * 1000,
            "generator": (end - after_latents) * 1000,
            "total": (end - start) * 1000,
        }
        return Result(raw, codes, latents, attention, milliseconds, drawn_by)


def _bundled_face_reader() -> Callable[[ImageInput], tuple[np.ndarray, np.ndarray]] | None:
    """The bundled face parser (loaded on first use), or None when it is not installed."""
    # Imported here: the reader brings the aligner (dlib) and the parser, which an engine
    # given masks, or handed its own reader, never needs.
    from ..faces.reader import FaceReader, default_parser_weights

    try:
        return FaceReader(default_parser_weights())
    except WeightsError:
        return None

