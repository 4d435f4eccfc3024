"""Any portrait photo → an aligned face and its 19-class mask: alignment, then parsing.

This is what the engine calls when a face comes without a mask, and what `ca2sis-parse`
runs. Both parts load lazily (dlib and the parser weights cost a second), once.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import WeightsError
from ..io.bundled import bundled_parser_weights
from ..io.images import ImageInput, as_image
from .align import AlignedFace, FaceAligner
from .parser import PARSER_CONFIG, FaceParserModel


def default_parser_weights() -> Path:
    """The bundled parser (package data), unless CA2SIS_PARSER_WEIGHTS names a folder."""
    override = os.environ.get("CA2SIS_PARSER_WEIGHTS")
    return Path(override) if override else bundled_parser_weights()


@dataclass
class ParsedFace:
    """image: the aligned face, uint8 (S, S, 3); mask: its classes, uint8 (S, S);
    alignment: how it was cut out of the photo (None when the input was used as it is)."""

    image: np.ndarray
    mask: np.ndarray
    alignment: AlignedFace | None


class FaceReader:
    """Aligns the main face of a photo (or every face) and parses it, at ``size`` x ``size``."""

    def __init__(self, weights: str | Path | None = None, size: int = 512, device: str = "cpu"):
        self.weights = Path(weights) if weights is not None else default_parser_weights()
        if not (self.weights / PARSER_CONFIG).is_file():
            raise WeightsError(
                f"no face parser in {self.weights}: train one with `ca2sis-train-parser` or pass its folder"
            )
        self.size = size
        self.device = device
        self._parser: FaceParserModel | None = None
        self._aligner: FaceAligner | None = None
        self._lock = threading.Lock()

    @property
    def parser(self) -> FaceParserModel:
        with self._lock:
            if self._parser is None:
                self._parser = FaceParserModel.from_pretrained(self.weights, self.device)
            return self._parser

    @property
    def aligner(self) -> FaceAligner:
        with self._lock:
            if self._aligner is None:
                self._aligner = FaceAligner()
            return self._aligner

    def read(self, photo: ImageInput, align: bool = True) -> ParsedFace:
        """The main face of ``photo`` aligned (or, with ``align=False``, an already aligned
        square face taken as it is) and its mask."""
        if align:
            alignment = self.aligner.align(photo, self.size)
            image = alignment.image
        else:
            alignment, image = None, as_image(photo, self.size)
        return ParsedFace(image, self.parser.parse(image), alignment)

    def read_all(self, photo: ImageInput) -> list[ParsedFace]:
        """Every face of ``photo``, numbered left to right, each aligned (with its detector box)
        and parsed. Raises ``NoFaceFound`` when there is none."""
        return [self.parse_aligned(alignment) for alignment in self.aligner.align_all(photo, self.size)]

    def parse_aligned(self, alignment: AlignedFace) -> ParsedFace:
        """A face already aligned (one of ``aligner.align_all``'s) parsed."""
        return ParsedFace(alignment.image, self.parser.parse(alignment.image), alignment)

    def __call__(self, photo: ImageInput) -> tuple[np.ndarray, np.ndarray]:
        """The engine's hook: aligned face and mask of a photo."""
        parsed = self.read(photo)
        return parsed.image, parsed.mask
