"""GUI-thread cost of one brush move in the studio, in milliseconds.

    QT_QPA_PLATFORM=offscreen python benchmarks/measure_stroke_cost.py [--weights weights/lite] [--moves 50]

Paints ``--moves`` short brush segments on the first demo face and times each
``Studio.continue_stroke`` call, which runs every listener on the calling (GUI) thread:
first with only the style panel listening, then in the whole window (canvas, panels,
render request; the render itself runs on the worker thread and is not counted).
Prints the mean ms per move for both.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication  # noqa: E402

from ca2sis.app.qt.panels import StylePanel  # noqa: E402
from ca2sis.app.qt.window import StudioWindow  # noqa: E402
from ca2sis.app.state.document import Studio  # noqa: E402
from ca2sis.app.state.gallery import gallery_entries  # noqa: E402
from ca2sis.model.inference.engine import Engine  # noqa: E402
from ca2sis.model.io.weights import default_weights  # noqa: E402


def time_moves(studio: Studio, moves: int, app: QApplication) -> float:
    """Mean ms of one brush move (plus the Qt events it posts)."""
    studio.begin_stroke((100.0, 100.0))
    started = time.perf_counter()
    for step in range(moves):
        studio.continue_stroke((100.0 + step, 100.0), (101.0 + step, 100.0))
        app.processEvents()
    elapsed = (time.perf_counter() - started) / moves * 1000
    studio.end_stroke()
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default=None, help="weights folder (default: the bundled ones)")
    parser.add_argument("--moves", type=int, default=50, help="brush moves to time (default 50)")
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication([])
    entries = gallery_entries()
    if not entries:
        print("no demo faces found", file=sys.stderr)
        return 2

    studio = Studio(entries[0].load())
    StylePanel(studio, lambda _mime, _then: False, has_mapping=True, ask_reference=lambda _then: None)
    print(f"style panel listening: {time_moves(studio, args.moves, app):.2f} ms per move")

    engine = Engine.from_pretrained(args.weights or default_weights(), device="cpu", backend="torch")
    window = StudioWindow(engine, entries[0].load(), entries)
    window.show()
    while not window.is_current():  # let the first face render, so it does not compete
        app.processEvents()
        time.sleep(0.01)
    print(f"whole window:          {time_moves(window.studio, args.moves, app):.2f} ms per move "
          "(the renders run on the worker thread meanwhile)")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
