"""The face parser: an aligned face → a 19-class CelebAMask-HQ mask.

A compact U-Net (a few MB of fp16 weights) trained by the project on celebamask-mini
(`ca2sis-train-parser`). The engine uses it when a reference face comes without a mask,
and evaluation uses it to measure mask fidelity of generated faces (the paper's mIoU).

Prediction averages the logits of the face and of its mirror image (with the left/right
classes swapped back), which costs one more pass and removes left/right confusions.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import WeightsError
from ..io.pixels import to_network_tensor
from ..io.weights import atomic_save_file, load_module_tensors, read_tensors
from ..labels import FLIP_PERMUTATION, NUM_CLASSES

PARSER_WEIGHTS = "face_parser.safetensors"
PARSER_CONFIG = "face_parser.json"
PARSER_FORMAT = "ca2sis-face-parser"


@dataclass(frozen=True)
class FaceParserConfig:
    input_size: int = 256  # faces are parsed at this side; masks come back at the face's size
    widths: tuple[int, ...] = (16, 32, 64, 128, 192)  # one U-Net level each, halving the side
    num_classes: int = NUM_CLASSES
    global_context: bool = False  # add the whole face's pooled features at the deepest level

    def to_dict(self) -> dict:
        return {"format": PARSER_FORMAT, **asdict(self), "widths": list(self.widths)}

    @classmethod
    def from_dict(cls, data: dict) -> FaceParserConfig:
        data = dict(data)
        if data.pop("format", None) != PARSER_FORMAT:
            raise WeightsError("not a ca2sis face-parser config")
        try:
            return cls(input_size=int(data["input_size"]), widths=tuple(int(w) for w in data["widths"]),
                       num_classes=int(data["num_classes"]),
                       global_context=bool(data.get("global_context", False)))  # absent in older configs
        except (KeyError, TypeError, ValueError) as exc:
            raise WeightsError(f"face-parser config is incomplete or malformed: {exc}") from exc


class _DoubleConv(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class FaceParser(nn.Module):
    """U-Net: RGB in [-1, 1] (B, 3, S, S) → class logits (B, C, S, S).

    Args:
        widths: channels of each level; level i works at S / 2**i.
        num_classes: C.
        global_context: add a 1x1 projection of the deepest level's average over the whole
            face to every position there (BiSeNet's global context), so that a pixel at the
            image border can tell cloth under long hair from the hair itself.
    """

    def __init__(
        self,
        widths: tuple[int, ...] = (16, 32, 64, 128, 192),
        num_classes: int = NUM_CLASSES,
        global_context: bool = False,
    ):
        super().__init__()
        self.down = nn.ModuleList()
        previous = 3
        for width in widths:
            self.down.append(_DoubleConv(previous, width))
            previous = width
        self.up = nn.ModuleList(
            _DoubleConv(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(len(widths) - 1))
        )
        self.head = nn.Conv2d(widths[0], num_classes, 1)
        self.context = (
            nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(widths[-1], widths[-1], 1), nn.ReLU(inplace=True))
            if global_context
            else None
        )

    @classmethod
    def from_config(cls, config: FaceParserConfig) -> FaceParser:
        """An untrained network of the shape ``config`` describes."""
        return cls(config.widths, config.num_classes, config.global_context)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.features(image)[1]

    def features(self, image: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The encoder's feature map at every level (finest first) and the class logits.

        The features are what the training's parser perceptual loss compares.
        """
        skips = []
        x = image
        for index, block in enumerate(self.down):
            if index:
                x = F.max_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        if self.context is not None:
            x = x + self.context(x)
        for block, skip in zip(self.up, reversed(skips[:-1])):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return skips, self.head(x)


def flip_logits(logits: torch.Tensor) -> torch.Tensor:
    """Mirror logits (B, C, H, W) and swap the l/r class channels, as for a mirrored face."""
    return logits.flip(-1)[:, list(FLIP_PERMUTATION)]


class FaceParserModel:
    """A trained parser with its config: ``parse`` an aligned face into a mask."""

    def __init__(self, network: FaceParser, config: FaceParserConfig, device: str = "cpu"):
        self.config = config
        self.device = device
        self.network = network.to(device).eval()

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str = "cpu") -> FaceParserModel:
        folder = Path(folder)
        config_path = folder / PARSER_CONFIG
        if not config_path.is_file():
            raise WeightsError(f"no face parser in {folder} ({PARSER_CONFIG} missing)")
        try:
            config = FaceParserConfig.from_dict(json.loads(config_path.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise WeightsError(f"cannot read {config_path}: {exc}") from exc
        network = FaceParser.from_config(config)
        load_module_tensors(network, read_tensors(folder / PARSER_WEIGHTS), str(folder / PARSER_WEIGHTS))
        return cls(network, config, device)

    def save_pretrained(self, folder: str | Path, dtype: torch.dtype = torch.float16) -> list[Path]:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in self.network.state_dict().items()}
        atomic_save_file(tensors, folder / PARSER_WEIGHTS, metadata={"network": "face_parser"})
        (folder / PARSER_CONFIG).write_text(json.dumps(self.config.to_dict(), indent=2) + "\n")
        return [folder / PARSER_WEIGHTS, folder / PARSER_CONFIG]

    @torch.inference_mode()
    def logits(self, images: np.ndarray, mirror: bool = True) -> torch.Tensor:
        """uint8 faces (B, H, W, 3) → logits (B, C, H, W) at the faces' size."""
        height, width = images.shape[1:3]
        batch = to_network_tensor(torch.from_numpy(np.ascontiguousarray(images)).to(self.device).permute(0, 3, 1, 2))
        size = self.config.input_size
        if (height, width) != (size, size):
            batch = F.interpolate(batch, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        logits = self.network(batch)
        if mirror:
            logits = (logits + flip_logits(self.network(batch.flip(-1)))) / 2
        if (height, width) != (size, size):
            logits = F.interpolate(logits, size=(height, width), mode="bilinear", align_corners=False)
        return logits

    def parse(self, image: np.ndarray, mirror: bool = True) -> np.ndarray:
        """An aligned face, uint8 (H, W, 3) → uint8 class indices (H, W)."""
        return self.logits(image[None], mirror)[0].argmax(0).to(torch.uint8).cpu().numpy()
