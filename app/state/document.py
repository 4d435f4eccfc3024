"""The studio's state, apart from Qt: the document being edited, its commands and history.

- ``Face``: an aligned face and its mask, where a style or a shape comes from.
- ``Document``: what a project saves: what decides the generated face (the mask being
  painted, the base style, per-part style references and strengths, random parts (M_s), the
  shape source and the per-part shape sliders α, the render options) and which view of the
  result is shown.
- ``Studio``: the operations a user performs, each turned into a command (``SetFields`` of
  ``history.py``, or a ``PaintCommand`` of its painting tools, ``tools.py``) and pushed on its
  ``History`` (the one undo model: the window's Undo and Redo only show it), plus view
  settings that are not part of the document (tool, brush, ghost, attention part).

``Studio.edit()`` turns the document into an engine ``Edit``; everything the window shows
follows from it, so all of this is tested without a screen. ``Studio.subscribe`` tells what
changed (``events.py``), so each panel redraws only what it shows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from ca2sis.model.errors import DataError, check_fraction
from ca2sis.model.inference.edits import Edit, Reference
from ca2sis.model.io.images import ImageInput, MaskInput, as_image, as_mask
from ca2sis.model.io.styles import SavedStyle
from ca2sis.model.labels import BACKGROUND, DISPLAY_NAMES, NUM_CLASSES, part_index
from ca2sis.model.photo.paste import PASTE_REGIONS, PhotoTarget
from ca2sis.model.photo.source import SourcePhoto

from .events import ChangeCallback, ChangeChannel, ChangeKind
from .history import Command, History, SetFields
from .tools import PaintingTools

# Masks are painted at CelebAMask-HQ's own resolution; the engine resizes them (nearest)
# to the networks' size, so one project works with weights of any resolution.
CANVAS_SIZE = 512
VIEW_SETTINGS = ("tool", "brush_class", "brush_size", "show_ghost", "attention_part")  # Studio attributes
# What the result view shows: the generated face, the photo with the edit in it, or the photo
# before | after the edit (the last two for a face from a photo).
RESULT_VIEWS = ("face", "photo", "compare")


@dataclass(frozen=True, eq=False)
class Face:
    """An aligned face (uint8 (S, S, 3)) and its mask (uint8 (S, S)), with a name to show.

    ``source`` is where it came from (a file path or "gallery:<id>"), for display only;
    ``photo`` the photo it was cut out of, with the alignment to paste an edit back.
    """

    name: str
    image: np.ndarray
    mask: np.ndarray
    source: str = ""
    photo: SourcePhoto | None = None

    def __post_init__(self) -> None:
        if self.image.shape[:2] != self.mask.shape:
            raise DataError(f"{self.name}: face {self.image.shape[:2]} and mask {self.mask.shape} differ in size")
        self.image.setflags(write=False)  # shared by commands and caches: never changed in place
        self.mask.setflags(write=False)

    @classmethod
    def load(cls, image: ImageInput, mask: MaskInput, name: str, source: str = "",
             photo: SourcePhoto | None = None) -> Face:
        """A face from any accepted image and mask input, at the canvas size."""
        return cls(name, as_image(image, CANVAS_SIZE), as_mask(mask, CANVAS_SIZE, NUM_CLASSES), source, photo)

    @cached_property  # the arrays are read-only, so the hash never goes stale
    def key(self) -> str:
        """A short content hash: equal faces share it (used by projects and thumbnails)."""
        digest = hashlib.sha1(self.image.tobytes())
        digest.update(self.mask.tobytes())
        return digest.hexdigest()[:16]

    def has_part(self, part: int) -> bool:
        return bool((self.mask == part).any())

    def reference(self) -> Reference:
        return Reference(self.image, self.mask)

    @classmethod
    def of_saved_style(cls, style: SavedStyle) -> Face:
        """What a part row shows of a style saved as a file: its thumbnail at the canvas size, named
        after the file (its mask, the style's first part, is for display only: never encoded)."""
        name = style.path.stem if style.path is not None else style.name
        mask = np.full(style.thumbnail.shape[:2], style.parts[0], np.uint8)
        return cls.load(style.thumbnail, mask, name, "" if style.path is None else str(style.path))


@dataclass(frozen=True)
class PartStyle:
    """A part's style taken from ``face`` with ``strength`` α: code = (1-α)·base + α·face.
    ``saved``: a style saved as a file (``.ca2style``), which the part takes instead of encoding
    ``face`` (then only its thumbnail, ``Face.of_saved_style``)."""

    face: Face
    strength: float = 1.0
    saved: SavedStyle | None = None


@dataclass(frozen=True)
class RandomStyle:
    """A part's style drawn from M_s with ``seed``, mixed in with ``strength``."""

    seed: int
    strength: float = 1.0


@dataclass(frozen=True)
class RenderOptions:
    """How the face is finished and put back (the View menu's options; saved in projects).

    global_edit: every pixel as the network generates it (the paper's global consistency),
    instead of the finishing steps (confined to the edited parts, the face's detail kept,
    the references' colours taken). paste_region: what goes back into a photo, "edited"
    (only the edited parts) or "face" (the whole face)."""

    global_edit: bool = False
    paste_region: str = PASTE_REGIONS[0]

    def __post_init__(self) -> None:
        if not isinstance(self.global_edit, bool):
            raise DataError(f"global_edit must be true or false, not {self.global_edit!r:.40}")
        PhotoTarget.check_region(self.paste_region)


@dataclass
class Document:
    """Everything a project saves. Commands are the only writers, but for ``result_view``:
    which view of the result is shown is kept with the work, yet switching views is not an
    undo step (``Studio.set_result_view``)."""

    mask: np.ndarray
    base: Face
    ghost: np.ndarray | None = None  # the photo shown faintly under the mask
    part_styles: dict[int, PartStyle] = field(default_factory=dict)
    random_parts: dict[int, RandomStyle] = field(default_factory=dict)
    shape_source: Face | None = None
    shape_alphas: dict[int, float] = field(default_factory=dict)
    photo_face: Face | None = None  # the face as cut out of a photo, when editing inside it
    render_options: RenderOptions = RenderOptions()
    result_view: str = RESULT_VIEWS[0]

    @classmethod
    def from_face(cls, face: Face) -> Document:
        """A new document: the face's mask to paint on, its photo as ghost and as style."""
        return cls(mask=np.array(face.mask, dtype=np.uint8), base=face, ghost=face.image,
                   photo_face=face if face.photo is not None else None, result_view=opening_view(face))

    def restyled_parts(self) -> set[int]:
        """The parts whose style is not the photo's own (every part when the base is another face)."""
        if self.photo_face is None or self.base.key != self.photo_face.key:
            return set(range(NUM_CLASSES)) - {BACKGROUND}  # the background is left to the photo
        return set(self.part_styles) | set(self.random_parts)


DOCUMENT_FIELDS = tuple(document_field.name for document_field in fields(Document))

# ---- commands (applied and undone by ``history.History``) ------------------------------
def part_name(part: int) -> str:
    return DISPLAY_NAMES[part]


def _check_part(part: int) -> int:
    return part_index(int(part))


def _check_strength(value: float) -> float:
    return check_fraction(value, "a strength or slider value")


class Studio(PaintingTools):
    """The studio's operations on a document, as undoable commands, plus view settings.

    Every command goes on ``history`` (undo, redo, merging, the clean point). Subscribers
    (``subscribe``) hear about every change they asked for: document fields (live stroke
    pixels included), view settings (``VIEW_SETTINGS``), the polygon and the history itself
    ("history": what Undo and Redo would do, the clean point).
    """

    def __init__(self, face: Face):
        self.document = Document.from_face(face)
        self.history = History(self.document, self._history_changed)
        self._changes = ChangeChannel({ChangeKind.DOCUMENT: DOCUMENT_FIELDS, ChangeKind.SETTING: VIEW_SETTINGS,
                                       ChangeKind.POLYGON: ("polygon",), ChangeKind.HISTORY: ("history",)})
        # View settings: not part of the document, not undone (the tools' own: ``PaintingTools``).
        self.show_ghost = True
        self.attention_part: int | None = None
        self.polygon: list[tuple[float, float]] = []  # vertices of the polygon being drawn

    # ---- observers -----------------------------------------------------------------------
    def subscribe(self, callback: ChangeCallback, *names: str) -> ChangeCallback:
        """Call ``callback(change)`` whenever one of ``names`` changes (document fields,
        ``VIEW_SETTINGS`` or "polygon"); without names, on every change."""
        return self._changes.subscribe(callback, *names)

    def unsubscribe(self, callback: ChangeCallback) -> None:
        self._changes.unsubscribe(callback)

    def _setting(self, name: str) -> None:
        self._changes.emit(ChangeKind.SETTING, (name,))

    def _history_changed(self, command: Command | None) -> None:
        if command is not None:
            self._changes.emit(ChangeKind.DOCUMENT, command.fields)
        self._changes.emit(ChangeKind.HISTORY, ("history",))

    # ---- view settings -------------------------------------------------------------------
    def set_show_ghost(self, show: bool) -> None:
        self.show_ghost = bool(show)
        self._setting("show_ghost")

    def set_attention_part(self, part: int | None) -> None:
        self.attention_part = None if part is None else _check_part(part)
        self._setting("attention_part")

    def set_mask(self, mask: MaskInput, text: str = "Open mask") -> Command:
        """Replace the whole mask (opening a mask file); the ghost is kept."""
        new = np.array(as_mask(mask, CANVAS_SIZE, NUM_CLASSES), dtype=np.uint8)
        return self._run(SetFields(self.document, text, mask=new))

    # ---- styles --------------------------------------------------------------------------
    def set_part_style(self, part: int, face: Face, strength: float = 1.0) -> Command:
        """A part takes its style from ``face`` (dropped on the part's row)."""
        part = _check_part(part)
        if not face.has_part(part):
            raise DataError(f"{face.name} has no {part_name(part).lower()}, so it has no such style to give")
        styles = {**self.document.part_styles, part: PartStyle(face, _check_strength(strength))}
        randoms = {k: v for k, v in self.document.random_parts.items() if k != part}
        return self._run(SetFields(self.document, f"{part_name(part)} style from {face.name}",
                                   part_styles=styles, random_parts=randoms))

    def set_saved_style(self, part: int, style: SavedStyle, strength: float = 1.0) -> Command:
        """A part takes a style saved as a file (dropped from the styles library on its row)."""
        part = _check_part(part)
        style.code(part)  # a style of another part is refused (a DataError that says which parts it holds)
        face = Face.of_saved_style(style)
        styles = {**self.document.part_styles, part: PartStyle(face, _check_strength(strength), style)}
        randoms = {k: v for k, v in self.document.random_parts.items() if k != part}
        return self._run(SetFields(self.document, f"{part_name(part)} style from {face.name}",
                                   part_styles=styles, random_parts=randoms))

    def set_all_styles(self, face: Face) -> Command:
        """Every part takes its style from ``face`` (dropped on the result)."""
        return self._run(SetFields(self.document, f"All styles from {face.name}", base=face,
                                   part_styles={}, random_parts={}))

    def reset_part_style(self, part: int) -> Command:
        """The part goes back to the base style."""
        part = _check_part(part)
        styles = {k: v for k, v in self.document.part_styles.items() if k != part}
        randoms = {k: v for k, v in self.document.random_parts.items() if k != part}
        return self._run(SetFields(self.document, f"{part_name(part)} style reset",
                                   part_styles=styles, random_parts=randoms))

    def set_random_style(self, part: int, seed: int, strength: float = 1.0) -> Command:
        """A part takes a style drawn from M_s with ``seed``."""
        part = _check_part(part)
        randoms = {**self.document.random_parts, part: RandomStyle(int(seed), _check_strength(strength))}
        styles = {k: v for k, v in self.document.part_styles.items() if k != part}
        return self._run(SetFields(self.document, f"Random {part_name(part).lower()} style (seed {seed})",
                                   part_styles=styles, random_parts=randoms))

    def set_random_styles(self, seeds: dict[int, int], text: str = "") -> Command:
        """Several parts take styles from M_s at once (a variation picked from a row)."""
        parts = {_check_part(part): int(seed) for part, seed in seeds.items()}
        randoms = {**self.document.random_parts, **{part: RandomStyle(seed) for part, seed in parts.items()}}
        styles = {k: v for k, v in self.document.part_styles.items() if k not in parts}
        names = ", ".join(part_name(part).lower() for part in sorted(parts))
        return self._run(SetFields(self.document, text or f"Variation of {names}", part_styles=styles,
                                   random_parts=randoms))

    def set_strength(self, part: int, strength: float) -> Command | None:
        """Move a part's strength slider (consecutive moves make one undo step)."""
        part, strength = _check_part(part), _check_strength(strength)
        if part in self.document.part_styles:
            current = self.document.part_styles[part]
            if current.strength == strength:
                return None
            changes = {"part_styles": {**self.document.part_styles, part: replace(current, strength=strength)}}
        elif part in self.document.random_parts:
            current_random = self.document.random_parts[part]
            if current_random.strength == strength:
                return None
            changes = {"random_parts": {**self.document.random_parts,
                                        part: replace(current_random, strength=strength)}}
        else:
            raise DataError(f"{part_name(part)} takes the base style: drop a face on it before setting a strength")
        return self._run(SetFields(self.document, f"{part_name(part)} strength", f"strength:{part}", **changes))

    def strength(self, part: int) -> float | None:
        """The part's strength, or None when it takes the base style."""
        if part in self.document.part_styles:
            return self.document.part_styles[part].strength
        if part in self.document.random_parts:
            return self.document.random_parts[part].strength
        return None

    def style_face(self, part: int) -> Face | None:
        """The face a part's style comes from (None for a random style)."""
        if part in self.document.random_parts:
            return None
        return self.document.part_styles.get(part, PartStyle(self.document.base)).face

    # ---- shapes --------------------------------------------------------------------------
    def set_shape_source(self, face: Face | None) -> Command:
        """Choose the face whose part shapes the sliders move towards (sliders keep their α)."""
        return self._run(SetFields(self.document, "Shape source" if face is None else f"Shape source {face.name}",
                                   shape_source=face))

    def set_shape_alpha(self, part: int, alpha: float) -> Command | None:
        """Move a part's shape slider: α=0 the painted shape, α=1 the source face's."""
        part, alpha = _check_part(part), _check_strength(alpha)
        if self.document.shape_alphas.get(part, 0.0) == alpha:
            return None
        alphas = {k: v for k, v in self.document.shape_alphas.items() if k != part}
        if alpha > 0.0:
            alphas[part] = alpha
        return self._run(SetFields(self.document, f"{part_name(part)} shape", f"shape:{part}", shape_alphas=alphas))

    # ---- whole documents -----------------------------------------------------------------
    def open_face(self, face: Face) -> Command:
        """Start over from a face: its mask, its ghost and every part's style (undoable)."""
        return self._run(SetFields(self.document, f"Open {face.name}", mask=np.array(face.mask, dtype=np.uint8),
                                   base=face, ghost=face.image, part_styles={}, random_parts={},
                                   shape_source=self.document.shape_source, shape_alphas={},
                                   photo_face=face if face.photo is not None else None,
                                   result_view=opening_view(face)))

    def new_document(self, mask: np.ndarray, base: Face, text: str = "New face") -> Command:
        """Start a face that never existed: ``mask`` to paint on (a template), every part
        in ``base``'s style, no ghost and no photo."""
        new = np.array(as_mask(mask, CANVAS_SIZE, NUM_CLASSES), dtype=np.uint8)
        return self._run(SetFields(self.document, text, mask=new, base=base, ghost=None, part_styles={},
                                   random_parts={}, shape_source=None, shape_alphas={}, photo_face=None,
                                   result_view="face"))

    def replace_document(self, document: Document, text: str) -> Command:
        """Take every field of ``document`` (opening a project), as one undo step."""
        changes = {name: getattr(document, name) for name in DOCUMENT_FIELDS}
        changes["mask"] = np.array(document.mask, dtype=np.uint8)
        return self._run(SetFields(self.document, text, **changes))

    def switch_document(self, document: Document, history: History | None = None) -> History:
        """Edit ``document`` (another face of a group photo) with its own undo ``history`` (a new
        one when None); the document left keeps its history, to come back to. Not an undo step."""
        self.document = document
        self.history = history if history is not None else History(document, self._history_changed)
        self._changes.emit(ChangeKind.DOCUMENT, DOCUMENT_FIELDS)
        self._changes.emit(ChangeKind.HISTORY, ("history",))
        return self.history

    def _run(self, command: Command) -> Command:
        self.history.push(command)
        return command

    # ---- render options and the result's view -------------------------------------------
    def set_global_edit(self, on: bool) -> Command | None:
        """*Global edit*: the network's raw output instead of the finishing steps (an undo step)."""
        return self._set_render_options(replace(self.document.render_options, global_edit=bool(on)),
                                        "Global edit" if on else "Finished edit")

    def set_paste_region(self, region: str) -> Command | None:
        """What goes back into the photo: "edited" (only the edited parts) or "face" (an undo step)."""
        return self._set_render_options(replace(self.document.render_options, paste_region=region),
                                        "Paste back only the edited parts" if region == "edited"
                                        else "Paste back the whole face")

    def _set_render_options(self, options: RenderOptions, text: str) -> Command | None:
        if options == self.document.render_options:
            return None
        return self._run(SetFields(self.document, text, render_options=options))

    def set_result_view(self, view: str) -> None:
        """Show ``view`` of the result (``RESULT_VIEWS``). Saved with the work but no undo step:
        Undo after switching views reverts the last edit, not the switch."""
        if view not in RESULT_VIEWS:
            raise ValueError(f"view must be one of {RESULT_VIEWS}")
        if view != self.document.result_view:
            self.document.result_view = view
            self._changes.emit(ChangeKind.DOCUMENT, ("result_view",))

    # ---- what the engine renders ---------------------------------------------------------
    def edit(self, document: Document | None = None) -> Edit:
        """The engine ``Edit`` for the current document, or ``document`` (another face of a group
        photo), as copies: safe to render on another thread.

        The finishing steps (confine the edit, keep the face's detail, take reference colours)
        are on unless the document's render options ask for a *Global edit* (the raw output)."""
        document = self.document if document is None else document
        finishing = not document.render_options.global_edit
        part_shapes = {}
        if document.shape_source is not None:
            part_shapes = {part: (document.shape_source.mask, alpha) for part, alpha in document.shape_alphas.items()}
        return Edit(
            mask=document.mask.copy(),
            style=document.base.reference(),
            part_styles={part: (style.face.reference() if style.saved is None else style.saved, style.strength)
                         for part, style in document.part_styles.items()},
            part_shapes=part_shapes,
            random_parts={part: (style.seed, style.strength) for part, style in document.random_parts.items()},
            confine=finishing, keep_detail=finishing, match_colour=finishing,
            # The canvas came from the base face (its ghost): only then may the result keep that
            # face's pixels. A new face, or another face's style over this mask, is generated whole.
            style_is_source=document.ghost is not None and np.array_equal(document.ghost, document.base.image),
        )


def opening_view(face: Face) -> str:
    """The view a face opens in: before | after for a face from a photo, else the face."""
    return "compare" if face.photo is not None else "face"


def face_name(path: str | Path) -> str:
    return Path(path).stem


def variation_edit(edit: Edit, parts: list[int], seed: int) -> Edit:
    """``edit`` with an M_s style drawn from ``seed`` on each of ``parts`` (one variation of a
    row; picking it is ``Studio.set_random_styles``)."""
    randoms = {**edit.random_parts, **{part: (seed, 1.0) for part in parts}}
    styles = {part: value for part, value in edit.part_styles.items() if part not in parts}
    return replace(edit, part_styles=styles, random_parts=randoms)


__all__ = [
    "CANVAS_SIZE", "DOCUMENT_FIELDS", "Document", "Face",
    "PartStyle", "RESULT_VIEWS", "RandomStyle", "RenderOptions", "Studio",
    "VIEW_SETTINGS", "face_name", "opening_view", "part_name", "variation_edit",
]
