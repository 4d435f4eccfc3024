"""Screenshot of the studio editing a face inside its photo, in the before | after view.

    python scripts/screenshot_photo_view.py PHOTO --out docs/studio-photo.png [--hair-from face-05]
    python scripts/screenshot_photo_view.py PHOTO --out shot.png --part skin --style-from face-03

Opens PHOTO as a user would (found, aligned, parsed), gives a part (the hair by default) the
style of a demo face, shows the photo split before | after, and saves the window. Under Xvfb it is a real
window (xvfb-run -s "-screen 0 1600x1000x24" python scripts/...); with
QT_QPA_PLATFORM=offscreen it needs no display at all.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from ca2sis.app.qt.window import StudioWindow
from ca2sis.app.state.gallery import gallery_entries
from ca2sis.model.inference.engine import Engine
from ca2sis.model.io.weights import default_weights
from ca2sis.model.labels import CLASS_NAMES


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--hair-from", "--style-from", dest="style_from", default="face-05",
                        help="the demo face whose style the part takes")
    parser.add_argument("--part", default="hair", choices=CLASS_NAMES[1:], help="the part restyled")
    parser.add_argument("--view", default="compare", choices=("compare", "photo", "face"))
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    engine = Engine.from_pretrained(default_weights(), device="cpu")
    entries = gallery_entries()
    window = StudioWindow(engine, entries[0].load(), entries)
    window.resize(1600, 960)
    window.show()
    # A jpg with a mask of the same name beside it (as the demo faces have) opens as a gallery
    # face, without its photo; a copy alone in a folder is found and parsed like a user's photo.
    folder = Path(tempfile.mkdtemp(prefix="ca2sis-shot-"))
    photo = folder / args.photo.name
    shutil.copyfile(args.photo, photo)
    window.projects.open_photo(photo)
    steps = {"edited": False}

    def settled() -> bool:
        return window.is_current() and not window.tasks.running

    def step() -> None:
        if window.last_error:
            print(window.last_error, file=sys.stderr)
            app.exit(1)
            return
        if not settled():
            QTimer.singleShot(200, step)
            return
        if window.studio.document.photo_face is None:
            print(f"{args.photo}: opened as a face without its photo (no face reader?)", file=sys.stderr)
            app.exit(1)
            return
        if not steps["edited"]:
            steps["edited"] = True
            window.studio.set_part_style(CLASS_NAMES.index(args.part), window.gallery[args.style_from].load())
            window.result_view.set_view(args.view)
            QTimer.singleShot(200, step)
            return
        window.grab().save(str(args.out))
        print(f"wrote {args.out}")
        window.studio.history.set_clean()
        window.close()
        app.exit(0)

    QTimer.singleShot(500, step)
    try:
        return app.exec()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
