"""Will Qt's platform plugin load? Checked before a QApplication exists.

A QApplication whose platform plugin cannot load does not raise: Qt prints a line and
aborts the process (a core dump). On a fresh Linux machine that is what happens when the
xcb plugin's system libraries are missing (libxcb-cursor0 and friends are not installed
with Python). So the studio first loads the plugin's shared library itself: the loader's
error names the missing library, and we can say which Debian/Ubuntu package has it, or
that there is no display and ``QT_QPA_PLATFORM=offscreen`` runs without one.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import sys
from pathlib import Path

# The shared libraries Qt 6's xcb plugin needs beyond Python's wheels, and their Debian packages.
XCB_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
}
# What scripts/setup.sh installs (the rest of XCB_PACKAGES come with these or with any desktop).
APT_PACKAGES = ("libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxcb-image0", "libxcb-render-util0",
                "libxcb-shape0", "libxcb-randr0", "libxcb-xkb1", "libxkbcommon-x11-0", "libegl1")
APT_LINE = "sudo apt-get install " + " ".join(APT_PACKAGES)
HEADLESS = "QT_QPA_PLATFORM=offscreen"


def platform_name() -> str:
    """The platform plugin Qt will use: $QT_QPA_PLATFORM, else xcb on Linux (wayland when
    the session is Wayland)."""
    chosen = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0].split(";")[0].strip()
    if chosen:
        return chosen
    if sys.platform.startswith("linux"):
        return "wayland" if os.environ.get("XDG_SESSION_TYPE") == "wayland" and os.environ.get(
            "WAYLAND_DISPLAY") else "xcb"
    return "native"


def plugin_path(name: str) -> Path | None:
    """The shared library of PySide6's platform plugin ``name`` (None when not found)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "Qt" / "plugins" / "platforms"
    path = folder / f"libq{name}.so"
    return path if path.is_file() else None


def missing_library_message(loader_error: str) -> str:
    """What to tell a person when loading the xcb plugin failed with ``loader_error``."""
    match = re.search(r"([\w.+-]+\.so(?:\.\d+)*)", loader_error)
    library = match.group(1) if match else None
    package = XCB_PACKAGES.get(library or "")
    if package:
        needs = f"Qt's window system plugin (xcb) needs {library}, from the Debian/Ubuntu package {package}."
    else:
        needs = f"Qt's window system plugin (xcb) cannot load: {loader_error.strip()}"
    return (f"{needs}\nInstall the libraries Qt needs for a window:\n    {APT_LINE}\n"
            f"or run without a window (tests, --screenshot): {HEADLESS} ca2sis …")


def platform_problem() -> str | None:
    """Why a QApplication would abort here (a message for a person), or None when it should start."""
    name = platform_name()
    if name != "xcb":
        return None
    if not os.environ.get("DISPLAY"):
        return (f"no display found (DISPLAY is not set), so the studio has nowhere to open its window.\n"
                f"Run it in a desktop session, or without a window (tests, --screenshot): {HEADLESS} ca2sis …")
    path = plugin_path(name)
    if path is None:
        return None  # not PySide6's own layout: let Qt try (and say what it finds)
    try:
        ctypes.CDLL(str(path), mode=os.RTLD_LAZY if hasattr(os, "RTLD_LAZY") else 0)
    except OSError as error:
        return missing_library_message(str(error))
    return None


if __name__ == "__main__":  # scripts/setup.sh asks for the package list (before any venv exists)
    print(" ".join(APT_PACKAGES))
