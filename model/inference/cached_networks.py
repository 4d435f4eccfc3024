"""E_s, E_m, G and M_s on a backend, behind content caches: the half of the engine that loads.

``CachedNetworks`` builds the backend from a weights folder (PyTorch or ONNX Runtime, CPU or
CUDA), checks and converts faces and masks given as files, PIL images or arrays, and runs the
three boxes of Fig. 1 on single faces or batches. Its caches make interactive editing cheap:
a reference's style codes are kept by content, a mask's latents are re-embedded only for the
class channels that changed, a photo given without a mask is parsed once, and the last few
faces G drew are kept by their inputs (the studio's full render at a stroke's release asks for
the face its last preview drew with the same G: it is not drawn again). The editing
operations on top of it are ``engine.Engine``'s.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

from ..config import CA2SISConfig
from ..devices import resolve_device
from ..errors import CA2SISError, DataError, WeightsError
from ..io.cache import LRUCache, content_digest
from ..io.images import ImageInput, MaskInput, as_image, as_mask, describe
from ..io.pixels import to_network_images, to_uint8_images
from ..io.styles import SavedStyle, weights_folder_digest
from ..io.weights import read_weights_config
from ..networks.composite import CA2SIS
from .backends import Backend, OnnxBackend, TorchBackend, onnx_export_current
from .edits import Reference

# Single faces G drew, kept by their inputs: a stroke's release asks again for the face its
# last preview drew (the same G on a CPU without a cheaper preview G).
GENERATED_FACES_KEPT = 4

BACKENDS = ("auto", "torch", "onnx")

_Networks = TypeVar("_Networks", bound="CachedNetworks")


class CachedNetworks:
    """The networks on one backend, with caches. Thread-safe: calls are serialised.

    Build it (or an ``Engine``) with ``from_pretrained(folder)``; ``cls(model)`` wraps networks
    already in memory (PyTorch backend), ``cls(backend=...)`` any backend.
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
        self._generated_cache = LRUCache(GENERATED_FACES_KEPT)  # G's inputs and graph → face, attention
        self.stats = {"styles_encoded": 0, "planes_embedded": 0, "generations": 0}
        self.folder: Path | None = None  # the weights folder, when loaded from one
        self._weights_digest: str | None = None  # weights_digest, computed on first use

    # ---- construction ----------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls: type[_Networks],
        folder: str | Path,
        device: str = "auto",
        backend: str = "auto",
        expected_config: str | CA2SISConfig | None = None,
        threads: int | None = None,
        compile: bool = False,
        tensorrt: bool = False,
    ) -> _Networks:
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
            self._generated_cache.clear()

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

    def load_reference(self, reference: Reference, size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """A reference's face and mask at ``size`` (default: the networks'); a photo without
        mask is aligned and parsed first (once: its parse is kept at the reader's size, from
        which the photo pipeline reads colours finer than the networks see them)."""
        size = size or self.image_size
        if reference.mask is not None:
            return as_image(reference.image, size), as_mask(reference.mask, size, self.config.num_classes)
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
            cached = self.face_reader(reference.image)
            if key is not None:
                self._parsed_cache.put(key, cached)
        image, mask = cached
        return as_image(image, size), as_mask(mask, size, self.config.num_classes)

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
        key = None
        if single:
            graph = self.preview_description if preview and self.preview_description else self.description
            key = content_digest(latents_batch, codes_batch, "none" if layout_batch is None else layout_batch, graph)
            kept = self._generated_cache.get(key)
            if kept is not None:
                return kept[0].copy(), kept[1].copy()
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
        if key is not None:
            self._generated_cache.put(key, (images[0].copy(), np.array(attention[0], copy=True)))
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

    def forget_generated_faces(self) -> None:
        """Draw every face again (timings of G: a repeated render would otherwise be a cache hit)."""
        self._generated_cache.clear()

    def clear_caches(self) -> None:
        with self._lock:
            self._codes_cache.clear()
            self._plane_cache.clear()
            self._random_cache.clear()
            self._generated_cache.clear()
            self._parsed_cache.clear()



def _bundled_face_reader() -> Callable[[ImageInput], tuple[np.ndarray, np.ndarray]] | None:
    """The bundled face parser (loaded on first use), or None when it is not installed."""
    # Imported here: the reader brings the aligner (dlib) and the parser, which an engine
    # given masks, or handed its own reader, never needs.
    from ..faces.reader import FaceReader, default_parser_weights

    try:
        return FaceReader(default_parser_weights())
    except WeightsError:
        return None

