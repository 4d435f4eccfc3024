"""G in int8: static, per-channel QDQ quantisation of an exported ``generator.onnx``.

``ca2sis-export --int8`` writes ``generator.int8.onnx`` beside the fp32 graph:

- only the convolutions and matrix products (Conv, MatMul, Gemm) are quantised, weights per
  output channel (int8), activations per tensor (uint8: ONNX Runtime's fast u8 x s8 kernels);
  norms, softmax, GELU and the RGB output layer (the convolution that draws the image) stay fp32,
  and so do the few products with per-head (3-D) weights, which ORT's int8 MatMul cannot take
  per channel;
- the activation ranges are calibrated on real inputs: G's inputs for the reconstruction and a
  part edit of a few real faces (the bundled demo faces unless told otherwise);
- the graph is stamped with the digest of the weights, like every exported graph, and with the
  result of the quality check (``inference.quality``: within 0.5 dB PSNR of PyTorch fp32 and
  visually identical, on the check faces), which decides whether the engine may pick it.

The inputs and outputs are those of the fp32 G (the ``layout`` input of a mask bias included).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..devices import instruction_set
from ..errors import CA2SISError, WeightsError
from ..io.atomic import atomic_write
from ..io.bundled import bundled_gallery
from ..networks.composite import CA2SIS
from .backends import (
    INT8_CHECK_KEY,
    INT8_GENERATOR_FILE,
    ONNX_FILES,
    WEIGHTS_DIGEST_KEY,
    OnnxBackend,
    TorchBackend,
    weights_digest,
)
from .engine import Engine
from .quality import FaceArrays, compare_to_reference, face_files, generator_inputs

QUANTISED_OPERATORS = ("Conv", "MatMul", "Gemm")
CALIBRATION_FACES = 6  # G's inputs of 6 faces (12 with their part edits): ranges settle by then


def batched_weight_products(model) -> list[str]:
    """Names of the MatMuls with a constant operand of more than two dimensions (per-head weights,
    (heads, ·, ·)): ONNX Runtime's int8 MatMul takes per-channel weights only as a 2-D matrix."""
    ranks = {tensor.name: len(tensor.dims) for tensor in model.graph.initializer}
    return [
        node.name for node in model.graph.node
        if node.op_type == "MatMul" and any(ranks.get(name, 0) > 2 for name in node.input)
    ]


def output_layer(model) -> list[str]:
    """Names of the convolutions that draw the RGB image: found by walking back from the graph's
    ``image`` output through the element-wise ops after it (tanh, clamps)."""
    producers = {output: node for node in model.graph.node for output in node.output}
    found, frontier, seen = [], ["image"], set()
    while frontier:
        node = producers.get(frontier.pop())
        if node is None or node.name in seen:
            continue
        seen.add(node.name)
        if node.op_type == "Conv":
            found.append(node.name)
        else:
            frontier.extend(name for name in node.input if name in producers)
    if not found:
        raise CA2SISError("found no convolution drawing G's image output: is this a CA2-SIS generator graph?")
    return found


def generator_feeds(engine: Engine, faces: FaceArrays) -> list[dict[str, np.ndarray]]:
    """G's ONNX inputs, one batch of one per reconstruction and per part edit of ``faces``."""
    feeds = []
    for latents, codes, mask in generator_inputs(engine, faces):
        feed = {"latents": latents[None].astype(np.float32), "codes": codes[None].astype(np.float32)}
        if engine.config.attention_mask_bias > 0:
            feed["layout"] = engine.class_layout(mask)[None]
        feeds.append(feed)
    return feeds


def quantize_generator(folder: str | Path, calibration: Sequence[dict[str, np.ndarray]]) -> Path:
    """Write ``folder/generator.int8.onnx``: ``folder/generator.onnx`` quantised (see the module
    docstring), calibrated on ``calibration`` (G's input feeds), stamped with the weights' digest."""
    try:
        import onnx
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    except ImportError as exc:
        raise CA2SISError("int8 quantisation needs the onnx and onnxruntime packages") from exc
    folder = Path(folder)
    source = folder / ONNX_FILES["generator"]
    if not source.exists():
        raise WeightsError(f"{folder} has no fp32 G to quantise: run `ca2sis-export {folder}` first")
    model = onnx.load(str(source))
    digest = {entry.key: entry.value for entry in model.metadata_props}.get(WEIGHTS_DIGEST_KEY)
    if digest != weights_digest(folder, "generator"):
        raise WeightsError(f"{source} is older than the weights beside it: run `ca2sis-export {folder}` again")

    class Feeds(CalibrationDataReader):
        def __init__(self) -> None:
            self.remaining = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.remaining, None)

    path = folder / INT8_GENERATOR_FILE
    with atomic_write(path) as temporary, _quiet_root_logger():
        quantize_static(
            model, str(temporary), Feeds(), quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(QUANTISED_OPERATORS), per_channel=True,
            # 7-bit weights: u8 x s8 pair sums then fit the int16 of the kernels of CPUs without
            # VNNI, so every CPU computes the same integers and the check below holds on all of
            # them (8-bit weights saturated here: 21 dB from fp32 instead of 42).
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, reduce_range=True,
            nodes_to_exclude=output_layer(model) + batched_weight_products(model),
        )
        quantised = onnx.load(str(temporary))
        _stamp(quantised, {entry.key: entry.value for entry in model.metadata_props})
        onnx.save(quantised, str(temporary))
    return path


@contextmanager
def _quiet_root_logger():
    # The quantiser gives advice meant for other graphs (run its pre-processing ...) on the root logger.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _stamp(model, stamps: dict[str, str]) -> None:
    """Set ``model``'s metadata to ``stamps`` (one entry per key)."""
    del model.metadata_props[:]
    for key, value in stamps.items():
        model.metadata_props.add(key=key, value=value)


def record_check(path: Path, check: dict) -> None:
    """Stamp the quality check's result into the int8 graph (``backends.int8_check`` reads it)."""
    import onnx

    model = onnx.load(str(path))
    _stamp(model, {**{entry.key: entry.value for entry in model.metadata_props}, INT8_CHECK_KEY: json.dumps(check)})
    with atomic_write(path) as temporary:
        onnx.save(model, str(temporary))


def export_int8(
    folder: str | Path, check_faces: str | Path | None = None, check_ids: Sequence[str] | None = None,
    check_limit: int | None = 8, calibration_faces: str | Path | None = None,
) -> dict:
    """Quantise the exported G of ``folder``, check it against PyTorch fp32 on ``check_faces``
    (default: the bundled demo faces) and record the outcome in the graph; returns the check
    (``quality.compare_to_reference``'s row, with ``passes``)."""
    folder = Path(folder)
    reference = Engine(backend=TorchBackend(CA2SIS.from_pretrained(folder), device="cpu"))  # fp32 on a CPU
    calibration_files = face_files(calibration_faces or bundled_gallery(), limit=CALIBRATION_FACES)
    calibration = generator_feeds(reference, FaceArrays.load(reference, calibration_files))
    path = quantize_generator(folder, calibration)
    candidate = Engine(backend=OnnxBackend(folder, reference.config, device="cpu", precision="int8"))
    faces = FaceArrays.load(reference, face_files(check_faces or bundled_gallery(), check_ids, check_limit))
    check = compare_to_reference(reference, {"int8": candidate}, faces)["int8"]
    check["checked_on"] = instruction_set()
    record_check(path, check)
    return check
