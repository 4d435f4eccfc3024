"""What an edit is: the faces it reads (``Reference``), the face it asks for (``Edit``) and the
face the engine made (``Result``). The engine (``engine.py``) turns an ``Edit`` into a ``Result``."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..io.images import ImageInput, MaskInput
from ..io.styles import SavedStyle
from ..labels import Part
from .visualise import upsample_attention


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

