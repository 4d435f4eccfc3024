"""``ca2sis``: start the face-editing studio.

    ca2sis                         the bundled weights and the first demo face
    ca2sis photo.jpg               start from a photo (aligned and parsed)
    ca2sis portrait.ca2sis.json    reopen a project
    ca2sis --weights runs/w --device cpu --backend torch

``--screenshot FILE`` renders the window once the first face is generated, saves it and
quits (used for the docs, and handy to check a setup without a display).
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path

from ca2sis.model.cli.common import EXIT_INPUT, EXIT_NO_DISPLAY, EXIT_OK, EXIT_WEIGHTS, ArgumentParser, check_outputs
from ca2sis.model.errors import CA2SISError, DataError
from ca2sis.model.inference.cached_networks import BACKENDS
from ca2sis.model.inference.engine import Engine
from ca2sis.model.io.atomic import atomic_write_all
from ca2sis.model.io.weights import default_weights, ensure_weights

from ..state.gallery import default_gallery, gallery_entries


def _parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="ca2sis", description="ca2sis studio: paint a face mask, style its parts "
                                     "from reference faces, and watch CA2-SIS generate the face live.")
    parser.add_argument("file", nargs="?", help="a photo to start from, or a project (*.ca2sis.json) to reopen")
    parser.add_argument("--weights", help=f"CA2-SIS weights folder (default: {default_weights()})")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    parser.add_argument("--backend", default="auto", choices=BACKENDS, help="inference backend (default auto)")
    parser.add_argument("--gallery", help=f"folder of demo faces with masks (default: {default_gallery()})")
    parser.add_argument("--screenshot", metavar="PNG", help="save a screenshot once the first face shows, then quit")
    return parser


def check_screenshot_path(path: str, opened: str | None) -> None:
    """Refuse, before the studio starts, a screenshot Qt cannot write or that is the file opened."""
    from PySide6.QtGui import QImageWriter

    formats = {bytes(name).decode().lower() for name in QImageWriter.supportedImageFormats()}
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in formats:
        raise DataError(f"--screenshot {path}: give a file name ending in .png (or {', '.join(sorted(formats))})")
    check_outputs([("--screenshot", path)], [opened])


def save_screenshot(picture, path: str) -> bool:
    """Write a QPixmap with the one atomic writer: a link at ``path`` is replaced, never written through."""
    try:
        with atomic_write_all([path]) as (temporary,):
            if not picture.save(str(temporary), Path(path).suffix.lstrip(".").upper()):
                raise OSError(errno.EIO, "Qt could not write the image", path)
    except OSError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.screenshot is not None:
        try:
            check_screenshot_path(args.screenshot, args.file)
        except CA2SISError as error:
            print(f"ca2sis: {error}", file=sys.stderr)
            return EXIT_INPUT
    # Qt loads after the arguments are parsed: `ca2sis --help` and bad options answer at once.
    from PySide6.QtWidgets import QApplication, QMessageBox

    from .platform import platform_problem

    problem = None if QApplication.instance() else platform_problem()
    if problem is not None:  # Qt would abort with a core dump: say what is missing instead
        print(f"ca2sis: {problem}", file=sys.stderr)
        return EXIT_NO_DISPLAY

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("ca2sis")
    try:
        folder = ensure_weights(args.weights or default_weights())
        print(f"ca2sis: loading weights from {folder}…", file=sys.stderr)
        engine = Engine.from_pretrained(folder, device=args.device, backend=args.backend)
    except CA2SISError as error:
        message = (f"{error}\n\nThe studio needs CA2-SIS weights. The repository bundles them in weights/lite; "
                   "to train your own see docs/training.md, then start with `ca2sis --weights FOLDER`.")
        print(f"ca2sis: {message}", file=sys.stderr)
        if args.screenshot is None and os.environ.get("QT_QPA_PLATFORM") != "offscreen":
            QMessageBox.critical(None, "ca2sis: no weights", message)
        return EXIT_WEIGHTS

    entries = gallery_entries(args.gallery)
    if not entries:
        print(f"ca2sis: no demo faces found in {args.gallery or default_gallery()}: the studio needs at least one "
              "face with its mask to start from (NAME.jpg + NAME.png)", file=sys.stderr)
        return EXIT_INPUT
    from .window import StudioWindow

    try:
        # A screenshot run quits after one face: a first-start ONNX export would outlive it.
        export_onnx = args.backend == "auto" and args.screenshot is None
        window = StudioWindow(engine, entries[0].load(), entries, export_onnx=export_onnx)
    except CA2SISError as error:
        print(f"ca2sis: {error}", file=sys.stderr)
        return EXIT_INPUT
    if args.file:
        path = Path(args.file)
        if path.name.endswith(".json"):
            window.projects.open_project(path)
        else:
            window.projects.open_photo(path)
    window.show()
    outcome = {"exit": EXIT_OK}  # what the screenshot run ends with; closing the window ends the loop
    if args.screenshot:
        from PySide6.QtCore import QTimer

        def shoot() -> None:
            settled = window.worker.idle() and not window.tasks.running
            if not settled or not (window.is_current() or window.last_error is not None):
                QTimer.singleShot(100, shoot)
                return
            if not save_screenshot(window.grab(), args.screenshot):
                print(f"ca2sis: could not write the screenshot {args.screenshot}", file=sys.stderr)
                outcome["exit"] = EXIT_INPUT
            else:
                shown = f" (it shows an error: {window.last_error})" if window.last_error else ""
                print(f"ca2sis: screenshot written to {args.screenshot}{shown}", file=sys.stderr)
                # A file that failed to open (or any error shown) is a failed run for a script.
                outcome["exit"] = EXIT_INPUT if window.last_error else EXIT_OK
            window.close()

        QTimer.singleShot(300, shoot)
    return app.exec() or outcome["exit"]


if __name__ == "__main__":
    sys.exit(main())
