"""Growing G to a larger output: 128 px weights → a 256 px generator, as pix2pixHD grows its
generator, so the larger model is fine-tuned from the smaller one instead of trained from zero.

A config *grows* another when it appends generator blocks (each doubling the side) and keeps
every other tensor: E_s, E_m, D and M_s do not depend on the image size, and G's output
layers (``norm_out``, ``conv_out``) keep their width when the new block does (``lite-128`` →
``lite``: 32 → 32 channels). The new blocks start as nearly the identity: their spatial
transformer's ``proj_out`` is zero at initialisation already, and zeroing the residual
block's last convolution leaves only its skip, the nearest-neighbour up-sampling, so the grown
G first draws the smaller G's face up-sampled and fine-tuning adds the detail.
"""

from __future__ import annotations

import torch
from torch import nn

from ..config import CA2SISConfig
from ..errors import WeightsError
from ..io.weights import load_module_tensors
from ..networks.generator import Generator

# The fields that say how many generator blocks there are; everything else must match to grow.
_PER_BLOCK = ("generator_channels", "attention_heads", "attention_head_dim")


def appended_blocks(source: CA2SISConfig, target: CA2SISConfig) -> int:
    """How many generator blocks ``target`` appends to ``source`` (0: it does not grow it).

    Growing means: the same tensors everywhere else, ``source``'s blocks as the first blocks
    of ``target``, and the image side doubled once per appended block."""
    theirs, ours = source.tensor_layout(), target.tensor_layout()
    added = len(ours["generator_channels"]) - len(theirs["generator_channels"])
    if added <= 0:
        return 0
    kept = len(theirs["generator_channels"])
    if any(list(ours[key][:kept]) != list(theirs[key]) for key in _PER_BLOCK):
        return 0
    if ours["image_size"] != theirs["image_size"] * 2**added:
        return 0
    rest = ("image_size", *_PER_BLOCK)
    if {k: v for k, v in theirs.items() if k not in rest} != {k: v for k, v in ours.items() if k not in rest}:
        return 0
    return added


def grow_generator(generator: Generator, tensors: dict[str, torch.Tensor], kept_blocks: int, source: str) -> None:
    """Load a smaller G's ``tensors`` into the first ``kept_blocks`` blocks (and the input and
    output layers) of ``generator``; the blocks after them start as up-sampling identities."""
    fresh = generator.state_dict()
    new_keys = {key for key in fresh if _block_index(key) is not None and _block_index(key) >= kept_blocks}
    merged = {key: value for key, value in fresh.items() if key in new_keys}
    merged.update(tensors)
    overlap = sorted(new_keys & set(tensors))
    if overlap:
        raise WeightsError(f"{source} already has generator block {_block_index(overlap[0])}: it is not a smaller G")
    load_module_tensors(generator, merged, source)
    for block in list(generator.res_blocks)[kept_blocks:]:
        _zero(block.conv2)
    for block in list(generator.style_blocks)[kept_blocks:]:
        if hasattr(block, "proj_out"):
            _zero(block.proj_out)


def _block_index(key: str) -> int | None:
    """The block a generator tensor belongs to (``res_blocks.4.conv1.weight`` → 4), or None."""
    parts = key.split(".")
    if len(parts) > 1 and parts[0] in ("res_blocks", "style_blocks") and parts[1].isdigit():
        return int(parts[1])
    return None


def _zero(layer: nn.Module) -> None:
    with torch.no_grad():
        for parameter in layer.parameters():
            parameter.zero_()
