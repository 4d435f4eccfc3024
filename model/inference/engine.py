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
- caches (``cached_networks.py``, which also loads the weights and the inputs): a reference's
  style codes are kept by content, and a mask's latents are re-embedded only for the class
  channels that changed, so a part edit costs one G pass.

The edit and its result are described in ``edits.py`` (``Reference``, ``Edit``, ``Result``).

Every operation works on one face; the ``encode_styles``/``embed_mask``/``generate``
primitives and ``reconstruct``/``transfer_styles`` also take batches (lists or stacked arrays).
"""


from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import DataError, check_fraction
from ..io.images import ImageInput, MaskInput, describe
from ..io.styles import SavedStyle
from ..labels import CLASS_NAMES, Part, pair_partner, part_index
from .cached_networks import CachedNetworks
from .edits import Edit, Result
from .shapes import composite_mask


class Engine(CachedNetworks):
    """CA2-SIS inference on one backend, with caches for interactive editing: the editing
    operations, over the cached networks (``CachedNetworks``: loading, caches, the three boxes).

    Build it with ``Engine.from_pretrained(folder)``; ``Engine(model)`` wraps networks
    already in memory (PyTorch backend), ``Engine(backend=...)`` any backend. Thread-safe: calls are serialised.
    """

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
