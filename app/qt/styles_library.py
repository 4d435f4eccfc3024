"""Part styles as files in the studio: *Save style as…* on a part row, the styles library (a
dock listing the saved styles of a folder with their thumbnails) and drops of a saved style on
a part row, as a face is dropped.

A style travels by drag and drop as ``STYLE_MIME`` (its file's path) with the file's URL, so a
``.ca2style`` file dragged from the desktop works too. What a style holds and how it is made
and checked: ``app/state/styles.py`` and ``model/io/styles.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QMimeData, QSettings, QSize, Qt, QUrl
from PySide6.QtGui import QDrag, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QStatusBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ca2sis.model.errors import CA2SISError
from ca2sis.model.inference.engine import Engine
from ca2sis.model.io.styles import STYLE_SUFFIX, SavedStyle, is_style_path, read_style
from ca2sis.model.photo.styles import part_style

from ..state.display import elided
from ..state.document import Studio, part_name
from ..state.styles import (
    LibraryEntry,
    StyleLibrary,
    default_library_folder,
    style_source,
    suggested_name,
    use_saved_style,
)
from .images import to_pixmap
from .worker import BackgroundTask

STYLE_MIME = "application/x-ca2sis-style"
ICON = 72
STYLE_FILTER = f"ca2sis part styles (*{STYLE_SUFFIX})"


def mime_style_path(mime: QMimeData) -> str | None:
    """The saved style a drag carries (the library's own type, or a .ca2style file), else None."""
    if mime.hasFormat(STYLE_MIME):
        return bytes(mime.data(STYLE_MIME)).decode()
    paths = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
    return paths[0] if paths and is_style_path(paths[0]) else None


def style_mime(path: str) -> QMimeData:
    """What dragging a saved style carries: its path as ``STYLE_MIME`` and the file's URL."""
    mime = QMimeData()
    mime.setData(STYLE_MIME, path.encode())
    mime.setUrls([QUrl.fromLocalFile(path)])
    return mime


def describe_entry(entry: LibraryEntry, problem: str = "") -> str:
    """A library tile's tooltip: what the style is and where it is from, or why it cannot be used."""
    if entry.style is None or problem:
        return f"{entry.path.name}: {problem or entry.problem}"
    style = entry.style
    source = f" of {style.source}" if style.source else ""
    return (f"{entry.name}: the {style.name} style{source} (weights {style.weights_name or '?'}, "
            f"{style.weights_digest}). Drag it onto a part's row.")


class StyleLibraryList(QListWidget):
    """The saved styles as draggable thumbnails; a style other weights made, or a damaged file,
    is shown greyed with the reason and cannot be dragged."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setIconSize(QSize(ICON, ICON))
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.setMovement(QListWidget.Movement.Static)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setMinimumHeight(ICON + 40)

    def show_entries(self, entries: list[LibraryEntry], problem: Callable[[SavedStyle], str]) -> None:
        self.clear()
        for entry in entries:
            why = problem(entry.style) if entry.style is not None else entry.problem
            if entry.style is not None:
                picture = to_pixmap(entry.style.thumbnail, ICON)
            else:
                picture = QPixmap(ICON, ICON)
                picture.fill(Qt.GlobalColor.lightGray)
            item = QListWidgetItem(QIcon(picture), elided(entry.name, 16))
            item.setData(Qt.ItemDataRole.UserRole, str(entry.path))
            item.setToolTip(describe_entry(entry, why))
            if why:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsDragEnabled & ~Qt.ItemFlag.ItemIsEnabled)
            self.addItem(item)

    def startDrag(self, _actions) -> None:  # noqa: N802
        item = self.currentItem()
        if item is None or not item.flags() & Qt.ItemFlag.ItemIsDragEnabled:
            return
        drag = QDrag(self)
        drag.setMimeData(style_mime(item.data(Qt.ItemDataRole.UserRole)))
        drag.setPixmap(item.icon().pixmap(56, 56))
        drag.exec(Qt.DropAction.CopyAction)


class StyleLibraryPanel(QWidget):
    """The styles library's dock: its folder, the list, *Refresh* and *Folder…*."""

    def __init__(self, files: StyleFiles, parent: QWidget | None = None):
        super().__init__(parent)
        self.files = files
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.list = StyleLibraryList()
        buttons = QHBoxLayout()
        self.refresh_button = QToolButton()
        self.refresh_button.setText("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.folder_button = QToolButton()
        self.folder_button.setText("Folder…")
        self.folder_button.setToolTip("Show the saved styles of another folder")
        self.folder_button.clicked.connect(files.choose_folder)
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.folder_button)
        buttons.addStretch(1)
        layout.addWidget(self.caption)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        # A style saved into the folder by another window, or copied there, shows up by itself.
        self.watcher = QFileSystemWatcher(self)
        self.watcher.directoryChanged.connect(lambda _folder: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        library = self.files.library
        entries = library.entries()
        self.list.show_entries(entries, self.files.problem)
        count = f"{len(entries)} saved style{'s' * (len(entries) != 1)}"
        self.caption.setText(f"{count} in {elided(str(library.folder), 48)}. Right-click a part's row: "
                             "<i>Save style as…</i>; drag a style onto a row.")
        self.caption.setToolTip(str(library.folder))
        watched = self.watcher.directories()
        if watched != [str(library.folder)]:
            if watched:
                self.watcher.removePaths(watched)
            if library.folder.is_dir():
                self.watcher.addPath(str(library.folder))


class StyleFiles:
    """*Save style as…* (the style made off the GUI thread, written atomically), drops of saved
    styles on part rows, and the library they go to (its folder kept in ``settings``)."""

    def __init__(self, studio: Studio, engine: Engine, tasks: BackgroundTask, parent: QWidget,
                 status_bar: QStatusBar, show_error: Callable[..., None], settings: QSettings):
        self.studio, self.engine, self.tasks, self.parent = studio, engine, tasks, parent
        self.status_bar, self.show_error, self.settings = status_bar, show_error, settings
        folder = settings.value("styles/folder")
        self.library = StyleLibrary(folder if folder else default_library_folder())
        self.panel = StyleLibraryPanel(self)

    def problem(self, style: SavedStyle) -> str:
        """Why these networks cannot use ``style`` ("" when they can)."""
        try:
            self.engine.check_saved_style(style)
        except CA2SISError as error:
            return str(error)
        return ""

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.parent, "Folder of saved styles", str(self.library.folder))
        if folder:
            self.library = StyleLibrary(folder)
            self.settings.setValue("styles/folder", folder)
            self.panel.refresh()

    def ask_save(self, part: int) -> None:
        """*Save style as…* on ``part``'s row: ask where, then save it."""
        try:
            style_source(self.studio, part)  # a part with no face style says so before asking for a file
        except CA2SISError as error:
            self.show_error(f"Cannot save the {part_name(part).lower()} style", str(error))
            return
        try:
            self.library.folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass  # the dialog starts elsewhere; saving says what is wrong with a path chosen there
        path, _ = QFileDialog.getSaveFileName(self.parent, f"Save the {part_name(part).lower()} style as",
                                              str(self.library.folder / suggested_name(self.studio, part)),
                                              STYLE_FILTER)
        if path:
            self.save(part, path)

    def save(self, part: int, path: str | Path) -> None:
        """Make ``part``'s style as the studio shows it now and write it to ``path`` in the background."""
        try:
            source = style_source(self.studio, part)
        except CA2SISError as error:
            self.show_error(f"Cannot save the {part_name(part).lower()} style", str(error))
            return
        face = self.studio.style_face(part)
        name = face.name if face is not None else ""
        engine, library = self.engine, self.library

        def work() -> Path:
            style = source if isinstance(source, SavedStyle) else part_style(engine, source, part, source=name)
            return library.save(style, path)

        self.status_bar.showMessage(f"Saving the {part_name(part).lower()} style…")
        self.tasks.start(work, self._saved, lambda message: self.show_error("Cannot save the style", message),
                         writes=str(path))

    def _saved(self, path: Path) -> None:
        self.status_bar.showMessage(f"Saved {path}", 6000)
        self.panel.refresh()

    def drop(self, mime: QMimeData, part: int) -> bool:
        """A saved style dropped on ``part``'s row: the part takes it (False: the drag holds none)."""
        path = mime_style_path(mime)
        if path is None:
            return False
        try:
            use_saved_style(self.studio, self.engine, part, read_style(path))
        except (CA2SISError, OSError) as error:
            self.show_error(f"Cannot use {elided(Path(path).name)}", str(error))
            return True
        self.status_bar.showMessage(f"{part_name(part)} style from {Path(path).name}", 4000)
        return True


__all__ = ["STYLE_MIME", "StyleFiles", "StyleLibraryList", "StyleLibraryPanel", "mime_style_path", "style_mime"]
