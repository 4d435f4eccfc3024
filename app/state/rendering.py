"""The render job, built from the studio's state alone (no Qt).

``render_request(studio)`` reads everything a render depends on from the studio: the
document's ``Edit`` (with the *Global edit* option), and for a face from a photo where it
goes back (with the *paste back only the edited parts* option). Both options are fields of
the document (``RenderOptions``), so a project reopened renders as it was saved.
``render(pipeline, request)`` runs on the render thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ca2sis.model.inference.edits import Edit
from ca2sis.model.photo.paste import PhotoTarget
from ca2sis.model.photo.pipeline import PhotoPipeline, Rendered

from .document import Studio
from .photo_edit import paste_plan


@dataclass
class RenderRequest:
    """What the render worker makes: the face of ``edit``, put back into ``photo`` (if any)."""

    edit: Edit
    photo: PhotoTarget | None = None
    preview: bool = False  # drawn while dragging, with the engine's cheaper G (``state.preview``)


@dataclass
class RenderedView:
    """What the result view shows for one request: the ``result`` (the face through the photo
    pipeline), with the photo preview it was put into (``composite``) and that preview as it
    was (``original``)."""

    result: Rendered
    composite: np.ndarray | None = None
    original: np.ndarray | None = None
    preview: bool = False


def photo_target(studio: Studio) -> PhotoTarget | None:
    """Where the document's face goes back into its photo, as its options say (None: no photo)."""
    document = studio.document
    return paste_plan(document, document.render_options.paste_region)


def render_request(studio: Studio, preview: bool = False) -> RenderRequest:
    """The render of the studio's document now, with its render options."""
    return RenderRequest(studio.edit(), photo_target(studio), preview)


def render(pipeline: PhotoPipeline, request: RenderRequest) -> RenderedView:
    """Runs on the render thread: the face, and for a photo the photo's preview with it put back."""
    rendered = pipeline.render(request.edit, request.photo, preview=request.preview)
    if request.photo is None:
        return RenderedView(rendered, preview=request.preview)
    return RenderedView(rendered, rendered.photo, np.asarray(request.photo.photo.preview.pixels), request.preview)


__all__ = ["RenderRequest", "RenderedView", "photo_target", "render", "render_request"]
