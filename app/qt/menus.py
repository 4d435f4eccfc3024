"""The studio window's menus, tool bar and keyboard shortcuts, and the Help's list of them.

``StudioMenus`` builds them on a ``StudioWindow`` (its controllers do the work: projects,
exports, photos) and keeps the actions whose state follows the studio: Undo and Redo named
after the history's steps, the tool and brush size chosen, the ghost shown. The window keeps
the layout, the rendering and the dialogs.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QShortcut
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QMessageBox, QSlider, QTextBrowser, QVBoxLayout

from ca2sis.model.labels import DISPLAY_NAMES

from ..state.display import elided
from ..state.folders import result_file
from ..state.project import PROJECT_SUFFIX
from ..state.tools import MAX_BRUSH_SIZE
from .panels import CLASS_SHORTCUTS

if TYPE_CHECKING:
    from .window import StudioWindow

# What the canvas does with the mouse and keys that are not menu actions.
CANVAS_SHORTCUTS = (
    ("Left drag", "paint with the brush or eraser"),
    ("Shift + left drag", "a straight line from where the drag began"),
    ("Right click", "pick the class under the pointer"),
    ("Polygon: clicks, then double-click or Enter", "fill the polygon (Escape drops it)"),
    ("Wheel", "zoom around the pointer"),
    ("Middle drag, or Space + drag", "pan"),
    ("[ and ]", "brush smaller / larger"),
    ("0 – 9, Alt+0 – Alt+8", "choose a class (see the palette)"),
)


class StudioMenus:
    """File, Edit, View and Help menus, the Tools bar and the canvas keys of one studio window."""

    def __init__(self, window: StudioWindow):
        self.window = window
        self.studio = window.studio
        self.shortcuts_dialog: QDialog | None = None
        self._build_file_menu()
        self._build_edit_menu()
        self._build_view_menu()
        self._build_tool_bar()
        self._build_help_menu()
        self.studio.subscribe(lambda _change: self.refresh())
        self.refresh()

    def _action(self, text: str, slot: Callable, shortcut: str | QKeySequence | None = None,
                tip: str = "") -> QAction:
        action = QAction(text, self.window)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip or text.replace("&", "").rstrip("…"))
        action.triggered.connect(lambda _checked=False: slot())
        self.window.addAction(action)
        return action

    def _build_file_menu(self) -> None:
        window, projects, exports = self.window, self.window.projects, self.window.exports
        files = window.menuBar().addMenu("&File")
        files.addAction(self._action("&New face…", projects.ask_new_face, QKeySequence.StandardKey.New,
                                     "Start a face that never existed from a template mask, in a chosen style"))
        files.addAction(self._action("&Open photo…",
                                     lambda: window.ask_file("Open a photo", "photo", projects.open_photo),
                                     QKeySequence.StandardKey.Open,
                                     "Open any portrait: it is aligned and parsed into mask, ghost and styles"))
        files.addAction(self._action("Open &mask…",
                                     lambda: window.ask_file("Open a mask", "mask", projects.open_mask), "Ctrl+M"))
        files.addAction(self._action("Open pro&ject…",
                                     lambda: window.ask_file("Open a project", "project", projects.open_project),
                                     "Ctrl+Shift+O"))
        files.addSeparator()
        files.addAction(self._action("&Save project…", lambda: window.ask_file(
            "Save the project", "project", projects.save_project, "portrait" + PROJECT_SUFFIX),
            QKeySequence.StandardKey.Save))
        files.addAction(self._action("Save &result…", lambda: window.ask_file(
            "Save the result", "result", exports.save_result, str(result_file(self.studio.document, window.recent))),
            "Ctrl+E",
            "Save the photo with the edited face pasted back (or the generated face when it has no photo)"))
        files.addAction(self._action("Save generated &face PNG…", lambda: window.ask_file(
            "Save the generated face", "png", exports.save_face, "face.png"), "Ctrl+Shift+E"))
        files.addAction(self._action("Save mas&k PNG…", lambda: window.ask_file(
            "Save the mask", "png", exports.save_mask, "mask.png"), "Ctrl+Shift+S"))
        files.addSeparator()
        files.addAction(self._action("&Quit", window.close, QKeySequence.StandardKey.Quit))

    def _build_edit_menu(self) -> None:
        edit = self.window.menuBar().addMenu("&Edit")
        history = self.studio.history
        self.undo_action = self._action("&Undo", history.undo, QKeySequence.StandardKey.Undo)
        self.redo_action = self._action("&Redo", history.redo, QKeySequence.StandardKey.Redo)
        self.redo_action.setShortcuts([QKeySequence.StandardKey.Redo, QKeySequence("Ctrl+Y")])
        edit.addAction(self.undo_action)
        edit.addAction(self.redo_action)
        self.studio.subscribe(lambda _change: self._show_history(), "history")
        self._show_history()

    def _show_history(self) -> None:
        """Undo and Redo as the studio's history has them: enabled when there is a step, named after it."""
        history = self.studio.history
        for action, verb, possible, text in ((self.undo_action, "Undo", history.can_undo, history.undo_text),
                                             (self.redo_action, "Redo", history.can_redo, history.redo_text)):
            action.setEnabled(possible)
            action.setText(f"&{verb} {elided(text)}" if possible else f"&{verb}")
            action.setIconText(verb)  # the tool bar's button keeps its width: the step is in its tip and the menu
            action.setToolTip(f"{verb} {text}" if possible else verb)
            action.setStatusTip(f"{verb} {text}" if possible else f"Nothing to {verb.lower()}")

    def _build_view_menu(self) -> None:
        window = self.window
        view = window.menuBar().addMenu("&View")
        self.ghost_action = QAction("Show &ghost of the face", window, checkable=True, checked=True)
        self.ghost_action.setShortcut(QKeySequence("G"))
        self.ghost_action.toggled.connect(self.studio.set_show_ghost)
        view.addAction(self.ghost_action)
        view.addAction(self._action("&Fit mask in view", window.canvas.fit, "Ctrl+0"))
        view.addAction(self._action("Zoom &in", lambda: window.canvas.zoom(1.25), QKeySequence.StandardKey.ZoomIn))
        view.addAction(self._action("Zoom &out", lambda: window.canvas.zoom(0.8), QKeySequence.StandardKey.ZoomOut))
        view.addSeparator()
        view.addAction(self._action("&Before | after in the photo", window.toggle_compare, "Ctrl+B",
                                    "Compare the photo as it was with the edited one (a face opened from a photo)"))
        view.addAction(window.photos.paste_edited_action)
        view.addAction(window.photos.global_edit_action)

    def _build_tool_bar(self) -> None:
        window, studio = self.window, self.studio
        tools = window.addToolBar("Tools")
        tools.setObjectName("tools")
        group = QActionGroup(window)
        self.tool_actions: dict[str, QAction] = {}
        for tool, text, key, tip in (
            ("brush", "Brush", "B", "Paint the current class"),
            ("eraser", "Eraser", "E", "Paint background"),
            ("fill", "Fill", "F", "Fill a connected region with the current class"),
            ("picker", "Picker", "I", "Take the class under the pointer, then back to the brush (right click too)"),
            ("polygon", "Polygon", "P", "Click corners, then double-click (or Enter) to fill the polygon"),
        ):
            action = QAction(f"{text} ({key})", window, checkable=True)
            action.setShortcut(QKeySequence(key))
            action.setStatusTip(tip)
            action.triggered.connect(lambda _checked=False, tool=tool: studio.set_tool(tool))
            group.addAction(action)
            tools.addAction(action)
            self.tool_actions[tool] = action
        self.tool_actions["brush"].setChecked(True)
        tools.addSeparator()
        tools.addWidget(QLabel(" Brush size "))
        self.size_slider = QSlider(Qt.Orientation.Horizontal)
        self.size_slider.setRange(1, MAX_BRUSH_SIZE)
        self.size_slider.setFixedWidth(140)
        self.size_slider.setValue(studio.brush_size)
        self.size_slider.setToolTip("Brush radius in mask pixels ([ and ] change it)")
        self.size_slider.valueChanged.connect(studio.set_brush_size)
        tools.addWidget(self.size_slider)
        self.size_label = QLabel()
        tools.addWidget(self.size_label)
        tools.addSeparator()
        tools.addAction(self.undo_action)
        tools.addAction(self.redo_action)
        tools.addAction(self.ghost_action)
        QShortcut(QKeySequence("["), window, lambda: studio.set_brush_size(studio.brush_size - 2))
        QShortcut(QKeySequence("]"), window, lambda: studio.set_brush_size(studio.brush_size + 2))
        for part, key in enumerate(CLASS_SHORTCUTS):
            QShortcut(QKeySequence(key), window, lambda part=part: studio.set_brush_class(part))

    def _build_help_menu(self) -> None:
        help_menu = self.window.menuBar().addMenu("&Help")
        help_menu.addAction(self._action("&Keyboard and mouse shortcuts", self.show_shortcuts,
                                         QKeySequence.StandardKey.HelpContents))
        help_menu.addAction(self._action("&About ca2sis", self._about))

    def refresh(self) -> None:
        """The tool, brush size and class, and the ghost's action as the studio has them."""
        studio = self.studio
        self.tool_actions[studio.tool].setChecked(True)
        if self.size_slider.value() != studio.brush_size:
            self.size_slider.blockSignals(True)
            self.size_slider.setValue(studio.brush_size)
            self.size_slider.blockSignals(False)
        self.size_label.setText(f" {studio.brush_size} px  ·  {DISPLAY_NAMES[studio.brush_class]} ")
        self.ghost_action.setEnabled(studio.document.ghost is not None)

    # ---- help --------------------------------------------------------------------------
    def shortcuts(self) -> list[tuple[str, str]]:
        """(keys, what they do) for every menu and tool action with a shortcut, then the canvas's."""
        rows = []
        for action in self.window.findChildren(QAction):
            keys = action.shortcuts()
            named = action.iconText() if action in (self.undo_action, self.redo_action) else action.text()
            text = named.replace("&", "").rstrip("…")  # Undo, not "Undo Paint Hair": the key, not the step
            if keys and text:
                shown = ", ".join(key.toString(QKeySequence.SequenceFormat.NativeText) for key in keys)
                rows.append((shown, text))
        return sorted(set(rows), key=lambda row: row[1].lower()) + list(CANVAS_SHORTCUTS)

    def show_shortcuts(self) -> None:
        dialog = QDialog(self.window)
        dialog.setWindowTitle("Keyboard and mouse shortcuts")
        layout = QVBoxLayout(dialog)
        view = QTextBrowser()
        rows = "".join(f"<tr><td><b>{html.escape(keys)}</b></td><td>{html.escape(what)}</td></tr>"
                       for keys, what in self.shortcuts())
        view.setHtml(f"<table cellspacing=4>{rows}</table>")
        layout.addWidget(view)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout.addWidget(buttons)
        dialog.resize(520, 560)
        dialog.open()
        self.shortcuts_dialog = dialog

    def _about(self) -> None:
        engine = self.window.engine
        QMessageBox.about(
            self.window, "About ca2sis",
            "<b>ca2sis</b>: semantic face editing with CA2-SIS (Fontanini et al., IEEE Access 2024).<br><br>"
            f"Networks: {engine.config.name}, {engine.image_size}x{engine.image_size}, "
            f"on {engine.description}.<br><br>The bundled weights and demo faces come from CelebAMask-HQ: "
            "non-commercial research and education only.",
        )
