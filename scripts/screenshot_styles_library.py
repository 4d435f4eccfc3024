"""Screenshot of the studio's Styles library: saved part styles, one of them used on the hair.

    QT_QPA_PLATFORM=offscreen python scripts/screenshot_styles_library.py --out docs/studio-styles.png

Saves a few part styles of the demo faces (hair, eyes, lips) into a fresh library folder, as
*Save style as…* on a part row does, opens the studio on the first demo face with that
library, gives the hair the first saved hair style (as a drop of it on the hair row does) and
saves the window.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QScrollArea

from ca2sis.app.qt.window import StudioWindow
from ca2sis.app.state.gallery import gallery_entries
from ca2sis.app.state.styles import use_saved_style
from ca2sis.model.inference.engine import Engine
from ca2sis.model.io.styles import read_style, save_style
from ca2sis.model.io.weights import default_weights
from ca2sis.model.labels import CLASS_NAMES
from ca2sis.model.photo.styles import part_style

# (demo face, part) of each saved style: what a user might keep.
STYLES = (("face-05", "hair"), ("face-03", "hair"), ("face-02", "eyes"), ("face-04", "lips"), ("face-06", "hair"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    engine = Engine.from_pretrained(default_weights(), device="cpu")
    entries = gallery_entries()
    faces = {entry.name: entry for entry in entries}
    folder = Path(tempfile.mkdtemp(prefix="ca2sis-styles-"))
    os.environ["CA2SIS_STYLES"] = str(folder)
    for name, part in STYLES:
        if name in faces:
            face = faces[name].load()
            save_style(part_style(engine, face.reference(), part, source=name), folder / f"{name}-{part}.ca2style")
    settings = QSettings(str(folder / "studio.ini"), QSettings.Format.IniFormat)
    window = StudioWindow(engine, entries[0].load(), entries, settings=settings)
    window.resize(1600, 960)
    window.show()
    hair = CLASS_NAMES.index("hair")
    first = sorted(folder.glob("*-hair.ca2style"))[0]
    use_saved_style(window.studio, engine, hair, read_style(first))
    # The hair row in view, as after dropping the style on it.
    window.style_panel.findChild(QScrollArea).ensureWidgetVisible(window.style_panel.rows[hair])

    def step() -> None:
        if not (window.is_current() and not window.tasks.running):
            QTimer.singleShot(200, step)
            return
        window.grab().save(str(args.out))
        print(f"wrote {args.out}")
        window.studio.history.set_clean()
        window.close()
        app.exit(0)

    QTimer.singleShot(500, step)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
