"""CA2-SIS (Fontanini et al., IEEE Access 2024): the networks, their training, inference,
face parsing and evaluation.

The public API, importable from here::

    from ca2sis.model import CA2SIS, CA2SISConfig, Edit, Engine, Reference

- ``CA2SISConfig``, ``get_config``: the networks' sizes and the presets (``config``).
- ``CA2SIS``: E_s, E_m, G (and M_s) composed, with ``from_pretrained``/``save_pretrained``.
- ``Engine``, ``Edit``, ``Reference``, ``Result``: inference and editing (the network's output).
- ``PhotoPipeline``, ``PhotoTarget``, ``read_photo``, ``save_image``: an edit made into a
  photograph, and put back into the photo it came from (``photo``).
- ``SavedStyle``, ``read_style``: a part's style kept as a file (``io.styles``).
- ``read_weights_folder``, ``save_weights_folder``: weights folders (``io.weights``).
- ``CA2SISError``, ``DataError``, ``WeightsError``: what goes wrong, for a user to act on.

Everything but the config and the errors is imported on first use: ``import ca2sis.model``
stays cheap (no torch) for tools that only need a config or a label name.

Subpackages: ``networks`` (one module per box of Fig. 1), ``io`` (faces, masks, pixels,
files, weights, checkpoints), ``training``, ``inference``, ``faces`` (alignment and the
face parser), ``photo`` (the photo pipeline), ``evaluation`` (the paper's metrics) and ``cli``
(the console scripts).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .config import CA2SISConfig, get_config
from .errors import CA2SISError, DataError, WeightsError

if TYPE_CHECKING:
    from .inference.edits import Edit, Reference, Result
    from .inference.engine import Engine
    from .io.styles import SavedStyle, read_style
    from .io.weights import read_weights_folder, save_weights_folder
    from .networks.composite import CA2SIS
    from .photo.paste import PhotoTarget
    from .photo.pipeline import PhotoPipeline
    from .photo.source import read_photo, save_image

_LAZY = {
    "CA2SIS": ".networks.composite",
    "Edit": ".inference.edits",
    "Engine": ".inference.engine",
    "Reference": ".inference.edits",
    "Result": ".inference.edits",
    "read_weights_folder": ".io.weights",
    "save_weights_folder": ".io.weights",
    "PhotoPipeline": ".photo.pipeline",
    "PhotoTarget": ".photo.paste",
    "read_photo": ".photo.source",
    "save_image": ".photo.source",
    "SavedStyle": ".io.styles",
    "read_style": ".io.styles",
}

__all__ = [
    "CA2SIS", "CA2SISConfig", "CA2SISError", "DataError", "Edit", "Engine", "PhotoPipeline", "PhotoTarget",
    "Reference", "Result", "SavedStyle", "WeightsError", "get_config", "read_photo", "read_style",
    "read_weights_folder", "save_image", "save_weights_folder",
]


def __getattr__(name: str) -> Any:
    # PEP 562: the torch-backed names load when first asked for, not with the package.
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value
