"""`ca2sis-export`: write E_s, E_m, G (and M_s) as separate ONNX graphs beside the weights.

Separate graphs let the engine reuse cached parts (a reference's style codes, unchanged
mask latents) exactly as the PyTorch backend does. The graphs are fp32 with a dynamic batch
(and a dynamic number of mask planes for E_m); each records the SHA-256 of the safetensors
file it came from, so an export older than its weights is refused instead of silently used.

    ca2sis-export weights/lite [--check]
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..errors import CA2SISError
from ..io.atomic import atomic_write, remove_stale_temporaries
from ..io.weights import WEIGHT_FILES
from ..networks.composite import CA2SIS
from .backends import ONNX_FILES, WEIGHTS_DIGEST_KEY, OnnxBackend, TorchBackend, build_graphs, weights_digest

ONNX_OPSET = 20


def example_inputs(model: CA2SIS, batch: int = 2) -> dict[str, tuple[torch.Tensor, ...]]:
    """Inputs of the right shapes for tracing each graph (values do not matter)."""
    config = model.config
    size, classes = config.image_size, config.num_classes
    generator = torch.Generator().manual_seed(0)
    mask = torch.randint(0, classes, (batch, size, size), generator=generator)
    generator_inputs: tuple[torch.Tensor, ...] = (
        torch.randn(batch, classes, config.mask_latent_dim, generator=generator),
        torch.randn(batch, classes, config.code_dim, generator=generator),
    )
    if config.attention_mask_bias > 0:
        generator_inputs += (torch.rand(batch, classes, size, size, generator=generator),)
    return {
        "style_encoder": (torch.rand(batch, 3, size, size, generator=generator) * 2 - 1, mask),
        "mask_embedder": (torch.rand(batch, 3, size, size, generator=generator),),
        "generator": generator_inputs,
        "mapping_network": (torch.randn(batch, config.mapping_z_dim, generator=generator),),
    }


INPUT_NAMES = {
    "style_encoder": ["image", "mask"],
    "mask_embedder": ["planes"],
    "generator": ["latents", "codes", "layout"],  # layout only with a mask bias
    "mapping_network": ["z"],
}
OUTPUT_NAMES = {
    "style_encoder": ["codes"],
    "mask_embedder": ["latents"],
    "generator": ["image", "attention"],
    "mapping_network": ["codes"],
}


def _dynamic_shapes(name: str, count: int) -> tuple[dict[int, torch.export.Dim], ...]:
    batch = torch.export.Dim("batch", min=1, max=1024)
    if name == "mask_embedder":
        return ({0: batch, 1: torch.export.Dim("planes", min=1, max=1024)},)
    return tuple({0: batch} for _ in range(count))


def export_onnx(
    folder: str | Path, names: list[str] | None = None, on_written: Callable[[Path], None] | None = None
) -> list[Path]:
    """Export the networks of the weights folder ``folder`` to ``folder/<network>.onnx``.

    ``names`` limits the export to some networks; ``on_written`` is told of each file.
    """
    try:
        import onnxscript  # noqa: F401  (torch's ONNX exporter needs it)
    except ImportError as exc:
        raise CA2SISError("exporting ONNX needs the onnx and onnxscript packages") from exc
    # The exporter logs a warning per torchvision operator it cannot find; we use none.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    folder = Path(folder)
    remove_stale_temporaries(folder)  # left by an export killed mid-write
    # Each graph is stamped with the digest of the weights as they were *before* loading: weights
    # replaced meanwhile (the studio exports in the background) leave the graph marked stale.
    digests = {name: weights_digest(folder, name) for name in WEIGHT_FILES if (folder / WEIGHT_FILES[name]).exists()}
    model = CA2SIS.from_pretrained(folder).float()
    graphs = build_graphs(model)
    inputs = example_inputs(model)
    written = []
    for name, graph in graphs.items():
        if names is not None and name not in names:
            continue
        path = folder / ONNX_FILES[name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's deprecation chatter is not for users
            program = torch.onnx.export(
                graph, inputs[name], None, input_names=INPUT_NAMES[name][: len(inputs[name])],
                output_names=OUTPUT_NAMES[name], dynamo=True, dynamic_shapes=_dynamic_shapes(name, len(inputs[name])),
                opset_version=ONNX_OPSET, verbose=False,
            )
        program.model.metadata_props[WEIGHTS_DIGEST_KEY] = digests[name]
        program.model.metadata_props["ca2sis_config"] = model.config.name
        with atomic_write(path) as temporary:
            program.save(str(temporary))
            if weights_digest(folder, name) != digests[name]:
                raise CA2SISError(f"{folder / WEIGHT_FILES[name]} changed during the export; export again")
        written.append(path)
        if on_written is not None:
            on_written(path)
    return written


def check_parity(folder: str | Path, batch: int = 2, seed: int = 0) -> dict[str, float]:
    """Max absolute difference between the ONNX and PyTorch fp32 backends on random inputs."""
    folder = Path(folder)
    model = CA2SIS.from_pretrained(folder)
    reference = TorchBackend(model, device="cpu")
    onnx = OnnxBackend(folder, model.config, device="cpu")
    config = model.config
    rng = np.random.default_rng(seed)
    size, classes = config.image_size, config.num_classes
    image = rng.uniform(-1, 1, (batch, 3, size, size)).astype(np.float32)
    mask = rng.integers(0, classes, (batch, size, size))
    planes = (mask[:, None] == np.arange(classes)[None, :, None, None]).astype(np.float32)
    latents = reference.embed_mask(planes)
    codes = reference.encode_styles(image, mask)
    differences = {
        "style_encoder": float(np.abs(onnx.encode_styles(image, mask) - codes).max()),
        "mask_embedder": float(np.abs(onnx.embed_mask(planes) - latents).max()),
    }
    torch_image, torch_attention = reference.generate(latents, codes, planes)
    onnx_image, onnx_attention = onnx.generate(latents, codes, planes)
    differences["generator image"] = float(np.abs(onnx_image - torch_image).max())
    differences["generator attention"] = float(np.abs(onnx_attention - torch_attention).max())
    if reference.has_mapping:
        z = rng.standard_normal((batch, config.mapping_z_dim)).astype(np.float32)
        differences["mapping_network"] = float(np.abs(onnx.random_codes(z) - reference.random_codes(z)).max())
    return differences
