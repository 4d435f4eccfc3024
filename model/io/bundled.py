"""Where the bundled weights, face parser and demo faces are.

They are package data of ``ca2sis.weights`` and ``ca2sis.assets`` (see pyproject.toml), found
through importlib.resources: the same code finds them in a checkout, an editable install and
a plain ``pip install .``. An installed copy may be read-only; nothing here writes.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def _package_folder(package: str, *parts: str) -> Path:
    # Both packages are regular folders on disk (never zipped), so the resource is a real path.
    return Path(str(files(package).joinpath(*parts)))


def bundled_weights() -> Path:
    """The bundled ``lite`` CA2-SIS weights folder."""
    return _package_folder("ca2sis.weights", "lite")


def bundled_parser_weights() -> Path:
    """The bundled face-parser weights folder."""
    return _package_folder("ca2sis.weights", "parser")


def bundled_gallery() -> Path:
    """The bundled demo faces (``NAME.jpg`` + ``NAME.png`` mask)."""
    return _package_folder("ca2sis.assets", "faces")
