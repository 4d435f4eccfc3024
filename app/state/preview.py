"""The preview policy: while a stroke or a slider moves, the cheapest render that still looks
right; the full render when the pointer stops; and, for the status bar, which one is shown.

A frame asked for while dragging is a preview: drawn by the engine's preview G where it has one
(``Engine.preview_description``: the int8 G on a CPU with VNNI whose int8 G did not pass the
quality check for full renders), else by its full G, and never given the finishing that takes
long (a painted face's texture at 512 px: half a second to a second on 2 cores). The full render follows
at release.
"""

from __future__ import annotations

from typing import Protocol


class RendersPreviews(Protocol):
    """What the policy reads of the engine (``ca2sis.model.Engine``)."""

    description: str
    preview_description: str | None
    image_size: int


class MovesStrokes(Protocol):
    """What the policy reads of the studio (``state.document.Studio``)."""

    stroke_active: bool


class PreviewPolicy:
    """Whether the next render is a preview, whether a full one must follow a release, and the
    status bar's words for what is shown.

    A stroke is dragging while the studio's stroke is active; sliders say so with ``hold`` and
    ``let_go`` (any key naming what is held).
    """

    def __init__(self, engine: RendersPreviews, studio: MovesStrokes):
        self.engine, self.studio = engine, studio
        self._held: set[str] = set()
        self._newest_is_preview = False

    @property
    def dragging(self) -> bool:
        return self.studio.stroke_active or bool(self._held)

    def hold(self, what: str) -> None:
        """A slider (or any control named ``what``) is pressed: renders are previews until it is let go."""
        self._held.add(what)

    def let_go(self, what: str) -> bool:
        """``what`` is released; True when a full render must follow (the newest frame asked for
        was a preview drawn by the cheaper G, and nothing else is still held)."""
        self._held.discard(what)
        return not self.dragging and self._newest_is_preview

    def next_render_is_preview(self) -> bool:
        """Whether the render about to be asked for is a preview (remembered for ``let_go``)."""
        self._newest_is_preview = self.dragging
        return self._newest_is_preview

    def replace_preview(self, shown_preview: bool, newest: bool) -> bool:
        """Whether a full render must replace the frame just shown: a preview that arrived after
        the pointer stopped, with no newer request under way (a stroke that changed no pixel
        leaves no command to render, so nothing else would replace it)."""
        return shown_preview and newest and not self.dragging

    def label(self, drawn_by: str, preview: bool) -> str:
        """The status bar's words for a frame drawn by ``drawn_by`` (``Result.drawn_by``)."""
        size = f"{self.engine.image_size} px"
        if preview and self.engine.preview_description is None:  # drawn by the full render's own G
            return f"preview: {drawn_by} {size} (the full G: no cheaper one here)"
        return f"{'preview' if preview else 'full'}: {drawn_by} {size}"
