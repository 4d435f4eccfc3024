"""The studio's one undo model: commands, and the history that applies, merges and undoes them.

Everything that changes a document is a ``Command`` (most are ``SetFields``: some of the
document's fields replaced); ``History.push`` applies it and keeps it for *Undo*.
Consecutive commands with the same ``merge_key`` (the moves of one slider drag) become one
step, until ``end_merge`` (the slider is let go), an undo or a redo. The history also knows
its clean point (the state last saved in a project). It has no Qt: the window's
*Undo* and *Redo* actions only show it (enabled, labelled with ``undo_text``/``redo_text``)
and are told of every change, as napari's views are of its models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any


class Command:
    """One undoable change of a document. ``merge_key``: consecutive commands with the same
    key (not None) merge into one undo step, as a slider drag should."""

    text: str = ""
    merge_key: str | None = None
    fields: tuple[str, ...] = ()  # the document fields it changes (the names its change carries)

    def apply(self, document: Any) -> None:
        raise NotImplementedError

    def revert(self, document: Any) -> None:
        raise NotImplementedError

    def merged(self, later: Command) -> Command:
        """One command doing this and then ``later`` (same merge key)."""
        raise NotImplementedError


class SetFields(Command):
    """Replace some fields of a dataclass document (dicts and arrays are replaced whole, never
    mutated, so keeping the old values is enough to undo)."""

    def __init__(self, document: Any, text: str, merge_key: str | None = None, **after: Any):
        unknown = set(after) - {field.name for field in fields(document)}
        if unknown:
            raise TypeError(f"not document fields: {sorted(unknown)}")
        self.before = {name: getattr(document, name) for name in after}
        self.after = after
        self.text = text
        self.merge_key = merge_key
        self.fields = tuple(after)

    def apply(self, document: Any) -> None:
        for name, value in self.after.items():
            setattr(document, name, value)

    def revert(self, document: Any) -> None:
        for name, value in self.before.items():
            setattr(document, name, value)

    def merged(self, later: Command) -> Command:
        assert isinstance(later, SetFields) and later.merge_key == self.merge_key
        combined = SetFields.__new__(SetFields)
        combined.before = {**later.before, **self.before}
        combined.after = {**self.after, **later.after}
        combined.text, combined.merge_key = later.text, self.merge_key
        combined.fields = tuple(combined.after)
        return combined


HistoryCallback = Callable[[Command | None], None]


class History:
    """Undo/redo of the commands applied to one document.

    ``on_change(command)`` runs after a command was applied, undone or redone (the document
    changed as ``command.fields`` say), ``on_change(None)`` when only the history itself
    changed (its clean point).
    """

    def __init__(self, document: Any, on_change: HistoryCallback | None = None):
        self.document = document
        self.on_change = on_change
        self.done: list[Command] = []
        self.undone: list[Command] = []
        self._clean: int | None = 0  # len(done) at the clean point; None: it cannot come back
        self._mergeable = False  # whether the next command may merge into the last one

    # ---- changing the document -----------------------------------------------------------
    def push(self, command: Command) -> None:
        """Apply ``command`` and keep it as the newest step (merged into the last one when
        both have its merge key and nothing ended the merge). Anything undone is dropped."""
        command.apply(self.document)
        top = self.done[-1] if self.done else None
        if (self._mergeable and top is not None and command.merge_key is not None
                and top.merge_key == command.merge_key):
            if self._clean == len(self.done):  # the saved state was the step now changed
                self._clean = None
            self.done[-1] = top.merged(command)
        else:
            if self._clean is not None and self._clean > len(self.done):  # it was among the undone
                self._clean = None
            self.done.append(command)
        self.undone.clear()
        self._mergeable = True
        self._changed(command)

    def undo(self) -> bool:
        """Revert the newest step; False when there is none."""
        if not self.done:
            return False
        command = self.done.pop()
        command.revert(self.document)
        self.undone.append(command)
        self._mergeable = False
        self._changed(command)
        return True

    def redo(self) -> bool:
        """Apply the last step undone again; False when there is none."""
        if not self.undone:
            return False
        command = self.undone.pop()
        command.apply(self.document)
        self.done.append(command)
        self._mergeable = False
        self._changed(command)
        return True

    def end_merge(self) -> None:
        """The next command starts a step of its own (a slider drag ended)."""
        self._mergeable = False

    # ---- what the Edit menu shows --------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return bool(self.done)

    @property
    def can_redo(self) -> bool:
        return bool(self.undone)

    @property
    def undo_text(self) -> str:
        """What *Undo* would revert ("" when nothing)."""
        return self.done[-1].text if self.done else ""

    @property
    def redo_text(self) -> str:
        return self.undone[-1].text if self.undone else ""

    def __len__(self) -> int:
        """The number of steps that can be undone."""
        return len(self.done)

    # ---- the clean point (the state last saved) ------------------------------------------
    def is_clean(self) -> bool:
        """Whether the document is as it was at the last ``set_clean`` (nothing unsaved)."""
        return self._clean == len(self.done)

    def set_clean(self) -> None:
        """The document as it is now is saved (or was just opened)."""
        self._clean = len(self.done)
        self._mergeable = False  # a slider moved after a save is a new step, so undo reaches the saved state
        self._changed(None)

    def _changed(self, command: Command | None) -> None:
        if self.on_change is not None:
            self.on_change(command)


__all__ = ["Command", "History", "HistoryCallback", "SetFields"]
