"""Typed, per-field change events for the studio's state, without Qt (after napari's evented models).

Each field of the document and of the view settings has its own ``EventEmitter``; a panel
connects to the fields it shows and redraws only when one of them changed, so a brush
stroke (the ``mask``) never makes the style panel rebuild its thumbnails and a slider
drag (``part_styles``) never recolours the canvas. Callbacks receive a ``FieldChanged``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DOCUMENT_FIELDS = ("mask", "base", "ghost", "part_styles", "random_parts", "shape_source", "shape_alphas",
                   "photo_face")
SETTING_FIELDS = ("tool", "brush_class", "brush_size", "show_ghost", "attention_part")


@dataclass(frozen=True)
class FieldChanged:
    """``field`` now holds ``value``; ``live`` marks a change made while a stroke is under way
    (the mask changes with every mouse move and becomes one undo step at the end)."""

    field: str
    value: Any
    live: bool = False


class EventEmitter:
    """Callbacks of one field, called in the order they connected."""

    def __init__(self, field: str):
        self.field = field
        self._callbacks: list[Callable[[FieldChanged], None]] = []

    def connect(self, callback: Callable[[FieldChanged], None]) -> Callable[[FieldChanged], None]:
        self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[[FieldChanged], None]) -> None:
        self._callbacks.remove(callback)

    def emit(self, value: Any, live: bool = False) -> None:
        event = FieldChanged(self.field, value, live)
        for callback in list(self._callbacks):
            callback(event)


class StudioEvents:
    """One emitter per field: ``events.mask``, ``events.part_styles``, ``events.tool``, ..."""

    def __init__(self) -> None:
        self.emitters = {name: EventEmitter(name) for name in DOCUMENT_FIELDS + SETTING_FIELDS}

    def __getattr__(self, name: str) -> EventEmitter:
        try:
            return self.__dict__["emitters"][name]
        except KeyError:
            raise AttributeError(f"no such studio field: {name}") from None

    def connect(self, fields: tuple[str, ...] | list[str], callback: Callable[[FieldChanged], None]) -> None:
        """Connect one callback to several fields."""
        for name in fields:
            self.emitters[name].connect(callback)
