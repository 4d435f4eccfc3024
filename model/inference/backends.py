"""Where the networks run: PyTorch (CPU or CUDA) or ONNX Runtime.

Both backends run the same four graphs with the same inputs and outputs, so the engine
does not care which one it holds and the ONNX files are exports of exactly these modules:

    style_encoder    image (B, 3, H, W) in [-1, 1], mask (B, H, W) int64 → codes (B, C, D)
    mask_embedder    planes (B, K, H, W) float, any K ≤ C       → latents (B, K, L)
    generator        latents (B, C, L), codes (B, C, D)        → image (B, 3, H, W) in [-1, 1],
                     [layout (B, C, H, W) float]                  attention (B, C, 64, 64)
    mapping_network  z (B, z_dim)                              → codes (B, C, D)

E_m takes any number of mask planes because it embeds each class channel on its own: the
engine re-embeds only the planes an edit changed. ``attention`` is the cross-attention map
M_A averaged over heads and blocks, at 64x64: at each pixel, the share of
its style read from each class (it sums to 1 over the classes). ``layout`` is an input only
of generators with a cross-attention mask bias (``attention_mask_bias`` > 0): the class
layout the bias comes from (the one-hot mask, or a soft blend under a shape slider).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import CA2SISConfig
from ..devices import cpu_flags, physical_cores, resolve_device
from ..errors import CA2SISError, WeightsError
from ..io.weights import WEIGHT_FILES
from ..networks.composite import CA2SIS

GRAPH_NAMES = ("style_encoder", "mask_embedder", "generator", "mapping_network")
ONNX_FILES = {name: f"{name}.onnx" for name in GRAPH_NAMES}
# Attention maps leave G at this side (enough to show, 1/16 of the bytes of 256x256); the
# engine upsamples the one part shown to the image.
ATTENTION_SIZE = 64
NO_MAPPING = "these weights have no mapping network M_s (train it with `ca2sis-train --stage mapping`)"
WEIGHTS_DIGEST_KEY = "ca2sis_weights_sha256"  # ONNX metadata: which safetensors it came from
# G quantised to int8 (``ca2sis-export --int8``, ``inference.quantize``): same inputs and outputs
# as generator.onnx; its metadata records the quality check it took at export (JSON).
INT8_GENERATOR_FILE = "generator.int8.onnx"
INT8_CHECK_KEY = "ca2sis_int8_check"
# Where int8 products are faster than fp32 ones: CPUs with VNNI (or AMX). Without them ORT's int8
# kernels are no faster than its fp32 ones (and the QDQ graph adds its own passes).
INT8_FAST_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})
PRECISIONS = ("auto", "fp32", "int8")


def summarize_attention(maps: list[torch.Tensor], size: int) -> torch.Tensor:
    """Per-block maps (B, heads, C, h, w) → (B, C, size, size): mean over heads, resized to
    ``size`` (bilinear up, area down), mean over blocks."""
    total = None
    for block_map in maps:
        block_map = block_map.mean(dim=1)
        if block_map.shape[-1] > size:
            block_map = F.adaptive_avg_pool2d(block_map, (size, size))
        elif block_map.shape[-1] < size:
            block_map = F.interpolate(block_map, size=(size, size), mode="bilinear", align_corners=False)
        total = block_map if total is None else total + block_map
    if total is None:
        raise CA2SISError("this generator has no cross-attention maps (the 'spade' ablation)")
    return total / len(maps)


class StyleEncoderGraph(nn.Module):
    """E_s with the one-hot encoding of the index mask inside the graph."""

    def __init__(self, model: CA2SIS):
        super().__init__()
        self.style_encoder = model.style_encoder
        self.num_classes = model.config.num_classes

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        one_hot = F.one_hot(mask.long(), self.num_classes).permute(0, 3, 1, 2).to(image.dtype)
        return self.style_encoder(image, one_hot)


class MaskEmbedderGraph(nn.Module):
    """E_m on any number of mask planes."""

    def __init__(self, model: CA2SIS):
        super().__init__()
        self.mask_embedder = model.mask_embedder

    def forward(self, planes: torch.Tensor) -> torch.Tensor:
        return self.mask_embedder(planes)


class GeneratorGraph(nn.Module):
    """G returning the image and its summarized cross-attention map."""

    def __init__(self, model: CA2SIS):
        super().__init__()
        self.mask_embedder = model.mask_embedder  # only its latent → grid reshape is used
        self.generator = model.generator
        self.attention_size = min(ATTENTION_SIZE, model.config.image_size)

    def forward(
        self, latents: torch.Tensor, codes: torch.Tensor, layout: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        image, maps = self.generator(self.mask_embedder.to_grid(latents), codes, layout)
        return image, summarize_attention(maps, self.attention_size)


class MappingGraph(nn.Module):
    """M_s."""

    def __init__(self, model: CA2SIS):
        super().__init__()
        self.mapping_network = model.mapping_network

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.mapping_network(z)


def build_graphs(model: CA2SIS) -> dict[str, nn.Module]:
    """The inference graphs of ``model`` (M_s only when it has one), in eval mode."""
    if model.config.generator_conditioning != "cross_attention":
        raise WeightsError("the inference engine needs the cross-attention generator, not the 'spade' ablation")
    graphs: dict[str, nn.Module] = {
        "style_encoder": StyleEncoderGraph(model),
        "mask_embedder": MaskEmbedderGraph(model),
        "generator": GeneratorGraph(model),
    }
    if model.mapping_network is not None:
        graphs["mapping_network"] = MappingGraph(model)
    return {name: graph.eval() for name, graph in graphs.items()}


def uniform_layout(latents: np.ndarray, config: CA2SISConfig) -> np.ndarray:
    """A layout with every class everywhere: the mask bias then adds a constant, i.e. nothing."""
    return np.ones((len(latents), config.num_classes, config.image_size, config.image_size), np.float32)


def weights_digest(folder: Path, name: str) -> str:
    """SHA-256 of a network's safetensors file: ties an ONNX export to its weights."""
    digest = hashlib.sha256()
    with open(folder / WEIGHT_FILES[name], "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Backend(Protocol):
    """What the engine needs of a backend: the four graphs on numpy arrays (shapes above)."""

    name: str
    config: CA2SISConfig
    device: str
    description: str
    preview_description: str | None  # the cheaper G of generate(..., preview=True); None: the same G
    has_mapping: bool

    def encode_styles(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray: ...

    def embed_mask(self, planes: np.ndarray) -> np.ndarray: ...

    def generate(
        self, latents: np.ndarray, codes: np.ndarray, layout: np.ndarray | None = None, preview: bool = False
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def random_codes(self, z: np.ndarray) -> np.ndarray: ...


def _onnxruntime():
    # Imported when an ONNX graph is opened: it takes a while, and the torch backend never needs it.
    try:
        import onnxruntime
    except ImportError as exc:
        raise CA2SISError("the onnx backend needs onnxruntime-gpu (or onnxruntime) installed") from exc
    return onnxruntime


def open_onnx_graph(
    folder: Path, name: str, options: object = None, providers: Sequence = ("CPUExecutionProvider",),
    filename: str | None = None,
):
    """An ONNX Runtime session of ``folder/<name>.onnx`` (or of ``filename``, another graph of
    that network); a WeightsError when the file is not a loadable graph or was exported from
    other weights than the safetensors file beside it."""
    ort = _onnxruntime()
    path = folder / (filename or ONNX_FILES[name])
    try:
        session = ort.InferenceSession(str(path), options, providers=list(providers))
    except Exception as exc:  # ORT raises its own exception types for bad files
        raise WeightsError(f"{path} is not a loadable ONNX graph: {exc}") from exc
    exported_from = session.get_modelmeta().custom_metadata_map.get(WEIGHTS_DIGEST_KEY)
    if exported_from != weights_digest(folder, name):
        raise WeightsError(
            f"{path} was exported from other weights than {WEIGHT_FILES[name]} beside it: "
            f"run `ca2sis-export {folder}` again"
        )
    return session


def stale_onnx_graphs(folder: Path) -> list[str]:
    """The networks of ``folder`` whose ONNX graph is missing, unloadable or exported from other weights."""
    stale = []
    for name, path in onnx_paths(folder).items():
        if not (folder / WEIGHT_FILES[name]).exists():
            continue
        try:
            if not path.exists() or not open_onnx_graph(folder, name):
                stale.append(name)
        except CA2SISError:  # no onnxruntime, a broken file or a stale export
            stale.append(name)
    return stale


def onnx_export_current(folder: Path) -> bool:
    """Whether ``folder`` holds an ONNX export of exactly its current weights."""
    return not stale_onnx_graphs(folder)


class TorchBackend:
    """The graphs in PyTorch: fp32 on the CPU, fp16 on CUDA; optionally torch.compile'd."""

    name = "torch"
    preview_description = None  # one G: previews are full renders

    def __init__(
        self, model: CA2SIS, device: str = "auto", compile: bool = False, threads: int | None = None,
        dtype: torch.dtype | None = None,
    ):
        self.device = resolve_device(device)
        self.dtype = dtype or (torch.float16 if self.device == "cuda" else torch.float32)
        if threads is not None and self.device == "cpu":
            torch.set_num_threads(threads)
        self.config = model.config
        model = model.to(self.device, self.dtype).eval()
        self.graphs = build_graphs(model)
        self.calls = dict(self.graphs)
        if compile:
            # CUDA graphs ("reduce-overhead") remove the launch cost that dominates on a GPU.
            mode = "reduce-overhead" if self.device == "cuda" else None
            self.calls = {name: torch.compile(graph, mode=mode, dynamic=False) for name, graph in self.graphs.items()}
        self.has_mapping = "mapping_network" in self.graphs
        self.description = f"torch {self.device} {str(self.dtype).removeprefix('torch.')}" + (
            " compiled" if compile else ""
        )

    def _tensor(self, array: np.ndarray, floating: bool = True) -> torch.Tensor:
        tensor = torch.from_numpy(np.ascontiguousarray(array)).to(self.device, non_blocking=True)
        return tensor.to(self.dtype) if floating else tensor

    @staticmethod
    def _numpy(tensor: torch.Tensor) -> np.ndarray:
        return tensor.float().cpu().numpy()

    @torch.inference_mode()
    def encode_styles(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self._numpy(self.calls["style_encoder"](self._tensor(image), self._tensor(mask.astype(np.int64), False)))

    @torch.inference_mode()
    def embed_mask(self, planes: np.ndarray) -> np.ndarray:
        return self._numpy(self.calls["mask_embedder"](self._tensor(planes)))

    @torch.inference_mode()
    def generate(
        self, latents: np.ndarray, codes: np.ndarray, layout: np.ndarray | None = None,
        preview: bool = False,  # noqa: ARG002  (one G: a preview is a full render)
    ) -> tuple[np.ndarray, np.ndarray]:
        inputs = [self._tensor(latents), self._tensor(codes)]
        if self.config.attention_mask_bias > 0:
            inputs.append(self._tensor(uniform_layout(latents, self.config) if layout is None else layout))
        image, attention = self.calls["generator"](*inputs)
        return self._numpy(image), self._numpy(attention)

    @torch.inference_mode()
    def random_codes(self, z: np.ndarray) -> np.ndarray:
        if not self.has_mapping:
            raise WeightsError(NO_MAPPING)
        return self._numpy(self.calls["mapping_network"](self._tensor(z)))


def onnx_paths(folder: Path) -> dict[str, Path]:
    return {name: folder / filename for name, filename in ONNX_FILES.items()}


def onnx_session_options(threads: int | None = None):
    """ONNX Runtime session settings for a CPU shared with other work (one rule for every session).

    - intra-op threads: ``threads``, else the physical cores we may run on (ORT's own default
      can pick one thread on a 2-vCPU machine, and hyper-threads only contend for one core's
      vector units);
    - no spinning: idle pool threads sleep instead of busy-waiting, so each graph's pool (and a
      training process on the same cores) gets the cores when it has work (seen while
      profiling: G much slower right after E_s when E_s's threads were left spinning);
    - every graph optimisation, done in memory at load time for the CPU it runs on: an
      optimised graph is never written out, since one saved on an AVX-512 machine would carry
      kernels chosen for it to a machine without.
    """
    ort = _onnxruntime()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # warnings about unused initializers etc. are noise to a user
    options.intra_op_num_threads = threads if threads is not None else physical_cores()
    options.inter_op_num_threads = 1  # graphs run sequentially: no second pool
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


def int8_runs_faster(flags: frozenset[str] | None = None) -> bool:
    """Whether this CPU (or one with ``flags``) has the int8 instructions that make G int8 pay."""
    return bool((cpu_flags() if flags is None else flags) & INT8_FAST_FLAGS)


def int8_check(session) -> dict | None:
    """The quality check an int8 graph passed or failed at export (``inference.quality``), or
    None when it records none."""
    recorded = session.get_modelmeta().custom_metadata_map.get(INT8_CHECK_KEY)
    try:
        check = json.loads(recorded) if recorded else None
    except json.JSONDecodeError:
        return None
    return check if isinstance(check, dict) else None


class OnnxBackend:
    """The graphs exported by ``ca2sis-export``, run by ONNX Runtime.

    Uses onnxruntime-gpu's CUDA provider (or TensorRT when asked) when the device is a GPU,
    the CPU provider otherwise. An export older than the weights beside it is refused.

    G is fp32, or int8 (``generator.int8.onnx``): ``precision`` "int8" asks for it, "auto" takes
    it only on a CPU where it is faster (``int8_runs_faster``; ``flags`` stands in for this CPU's)
    and when it passed the quality check at export (``inference.quality``: within 0.5 dB of
    PyTorch fp32, visually identical). Where the CPU is fast at int8 but the graph failed the
    check, it is still the cheaper preview (``generate(..., preview=True)``,
    ``preview_description``). ``description`` names the G it runs.
    """

    name = "onnx"

    def __init__(
        self, folder: str | Path, config: CA2SISConfig, device: str = "auto", threads: int | None = None,
        tensorrt: bool = False, options: object = None, precision: str = "auto",
        flags: frozenset[str] | None = None,
    ):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not '{precision}'")
        folder = Path(folder)
        self.config = config
        self.device = resolve_device(device)
        paths = {name: path for name, path in onnx_paths(folder).items() if (folder / WEIGHT_FILES[name]).exists()}
        missing = [str(path) for path in paths.values() if not path.exists()]
        if missing:
            raise WeightsError(
                f"{folder} has no ONNX export ({', '.join(Path(m).name for m in missing)} missing): run "
                f"`ca2sis-export {folder}` first, or use --backend torch"
            )
        options = options if options is not None else onnx_session_options(threads)
        providers: list = ["CPUExecutionProvider"]
        if self.device == "cuda":
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
            if tensorrt:
                providers.insert(0, ("TensorrtExecutionProvider", {"trt_fp16_enable": True}))
        self.sessions = {}
        for name in paths:
            self.sessions[name] = open_onnx_graph(folder, name, options, providers)
        self.has_mapping = "mapping_network" in self.sessions
        used = self.sessions["generator"].get_providers()[0].removesuffix("ExecutionProvider")
        if self.device == "cuda" and used == "CPU":
            self.device = "cpu"  # CUDA provider failed to load (no CUDA/cuDNN libraries): say so honestly
        self.precision = "fp32"
        self.int8_check: dict | None = None
        int8 = self._int8_generator(folder, options, precision, flags)
        self.preview_generator = int8  # the cheaper G while a stroke or slider moves; None: G itself
        if int8 is not None and (precision == "int8" or (self.int8_check or {}).get("passes")):
            self.sessions["generator"], self.precision, self.preview_generator = int8, "int8", None
        self.description = f"onnx {used} {self.precision}"
        self.preview_description = f"onnx {used} int8" if self.preview_generator is not None else None

    def _int8_generator(self, folder: Path, options: object, precision: str, flags: frozenset[str] | None):
        """The int8 G's session when it is asked for, or when "auto" may use it here; else None."""
        path = folder / INT8_GENERATOR_FILE
        if precision == "int8" and self.device != "cpu":
            raise CA2SISError("the int8 G runs on the CPU only (use --device cpu)")
        if precision == "fp32" or self.device != "cpu":
            return None
        if precision == "int8" and not path.exists():
            raise WeightsError(f"{folder} has no int8 G ({INT8_GENERATOR_FILE}): run `ca2sis-export --int8 {folder}`")
        if precision == "auto" and (not path.exists() or not int8_runs_faster(flags)):
            return None
        try:
            session = open_onnx_graph(folder, "generator", options, filename=INT8_GENERATOR_FILE)
        except WeightsError:
            if precision == "int8":
                raise
            return None  # a stale or broken int8 graph: fp32 does the job
        self.int8_check = int8_check(session)
        return session

    def _run(self, name: str, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self.sessions[name].run(None, feeds)

    def encode_styles(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feeds = {"image": np.ascontiguousarray(image, np.float32), "mask": np.ascontiguousarray(mask, np.int64)}
        return self._run("style_encoder", feeds)[0]

    def embed_mask(self, planes: np.ndarray) -> np.ndarray:
        return self._run("mask_embedder", {"planes": np.ascontiguousarray(planes, np.float32)})[0]

    def generate(
        self, latents: np.ndarray, codes: np.ndarray, layout: np.ndarray | None = None, preview: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        feeds = {"latents": np.ascontiguousarray(latents, np.float32), "codes": np.ascontiguousarray(codes, np.float32)}
        if self.config.attention_mask_bias > 0:
            layout = uniform_layout(latents, self.config) if layout is None else layout
            feeds["layout"] = np.ascontiguousarray(layout, np.float32)
        session = self.preview_generator if preview and self.preview_generator is not None else None
        image, attention = session.run(None, feeds) if session is not None else self._run("generator", feeds)
        return image, attention

    def random_codes(self, z: np.ndarray) -> np.ndarray:
        if not self.has_mapping:
            raise WeightsError(NO_MAPPING)
        return self._run("mapping_network", {"z": np.ascontiguousarray(z, np.float32)})[0]

