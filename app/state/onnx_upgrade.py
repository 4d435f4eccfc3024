"""First start on a CPU without an ONNX export: export it in the background, then switch.

The studio starts at once on PyTorch; meanwhile ``export_and_load`` writes the ONNX graphs
beside the weights (``ca2sis-export``'s work, about 20 s for ``lite``) and opens them in ONNX
Runtime, the faster CPU backend; it writes only the graphs that are missing or stale, so the
graphs an export cut short by quitting had finished are kept. The window hands the new backend
to ``Engine.use_backend`` and says so in the status bar. A later start finds the export and uses
it directly.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ca2sis.model.errors import CA2SISError, describe_error
from ca2sis.model.inference.backends import OnnxBackend, stale_onnx_graphs
from ca2sis.model.inference.engine import Engine


def needs_export(engine: Engine) -> bool:
    """Whether the engine runs PyTorch on the CPU from a weights folder without a current export."""
    backend = engine.backend
    return (engine.folder is not None and getattr(backend, "name", "") == "torch"
            and getattr(backend, "device", "") == "cpu" and os.access(engine.folder, os.W_OK)
            and not Engine.onnx_export_current(engine.folder))


def export_and_load(engine: Engine, on_written: Callable[[Path], None] | None = None) -> OnnxBackend:
    """Export the graphs of the engine's weights folder that are missing or stale to ONNX and open
    them all (slow: run it on a thread)."""
    from ca2sis.model.inference.onnx_export import export_onnx

    if engine.folder is None:
        raise CA2SISError("these networks were not loaded from a weights folder, so there is nothing to export")
    try:
        export_onnx(engine.folder, names=stale_onnx_graphs(engine.folder), on_written=on_written)
    except OSError as error:  # a read-only folder or file system, a full disk
        raise CA2SISError(f"cannot write the ONNX export beside the weights ({describe_error(error)}); "
                          "staying on PyTorch") from None
    return OnnxBackend(engine.folder, engine.config, device="cpu")
