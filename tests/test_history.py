"""The studio's one undo model (``app/state/history.py``), without Qt: what Edit > Undo and
Redo do and show, slider drags as one step each, and the clean point (nothing unsaved)."""

from __future__ import annotations

import pytest

from ca2sis.app.state.document import Studio
from ca2sis.app.state.events import ChangeKind
from ca2sis.app.state.gallery import gallery_entries
from ca2sis.app.state.history import Command, History
from ca2sis.model.labels import CLASS_NAMES

HAIR, NOSE = (CLASS_NAMES.index(name) for name in ("hair", "nose"))


@pytest.fixture(scope="module")
def faces():
    return [entry.load() for entry in gallery_entries()[:3]]


class Add(Command):
    """Adds ``amount`` to a counter; merges with the next Add of the same key."""

    def __init__(self, amount: int, merge_key: str | None = None):
        self.amount, self.merge_key, self.text = amount, merge_key, f"add {amount}"

    def apply(self, document: dict) -> None:
        document["value"] += self.amount

    def revert(self, document: dict) -> None:
        document["value"] -= self.amount

    def merged(self, later: Command) -> Command:
        return Add(self.amount + later.amount, self.merge_key)


def test_undo_redo_and_what_the_menu_shows():
    document = {"value": 0}
    told: list[Command | None] = []
    history = History(document, told.append)
    assert not history.can_undo and not history.can_redo and history.undo_text == ""
    history.push(Add(2))
    history.push(Add(3))
    assert document["value"] == 5 and len(history) == 2 and history.undo_text == "add 3"
    assert history.undo() and document["value"] == 2
    assert history.can_redo and history.redo_text == "add 3"
    assert history.redo() and document["value"] == 5
    history.undo()
    history.push(Add(10))  # a new step drops what was undone
    assert not history.can_redo and document["value"] == 12
    assert [command.amount for command in told] == [2, 3, 3, 3, 3, 10]


def test_a_drag_is_one_step_and_the_next_drag_another():
    document = {"value": 0}
    history = History(document)
    for _ in range(5):  # one drag: five moves of one slider
        history.push(Add(1, "strength:13"))
    assert len(history) == 1 and document["value"] == 5
    history.end_merge()  # let go
    history.push(Add(1, "strength:13"))
    history.push(Add(1, "strength:13"))
    assert len(history) == 2
    history.undo()
    assert document["value"] == 5  # back to the end of the first drag, not to before both
    history.push(Add(1, "strength:13"))  # after an undo, a move starts a step of its own
    assert len(history) == 2 and history.undo() and document["value"] == 5


def test_the_clean_point_follows_saves_undo_and_merges():
    document = {"value": 0}
    history = History(document)
    assert history.is_clean()
    history.push(Add(1))
    assert not history.is_clean()
    history.set_clean()  # saved
    history.push(Add(1, "shape:2"))
    assert not history.is_clean()
    history.undo()
    assert history.is_clean()  # back to what was saved
    history.redo()
    history.set_clean()
    history.push(Add(1, "shape:2"))  # a move after the save is its own step: undo reaches the saved state
    assert len(history) == 3 and not history.is_clean()
    history.undo()
    assert history.is_clean()
    history.undo()
    history.push(Add(5))  # the saved state was among the undone, now dropped: it never comes back
    assert not history.is_clean()
    history.undo()
    assert not history.is_clean()


def test_the_studio_pushes_every_change_on_its_history_and_says_so(faces):
    studio = Studio(faces[0])
    heard: list[str] = []
    studio.subscribe(lambda change: heard.append(change.kind), "history")
    studio.begin_stroke((100.5, 100.5))
    studio.continue_stroke((100.5, 100.5), (150.5, 100.5))
    studio.end_stroke()
    studio.set_part_style(HAIR, faces[1])
    for strength in (0.9, 0.7, 0.5):  # a slider drag
        studio.set_strength(HAIR, strength)
    studio.history.end_merge()
    studio.set_strength(HAIR, 0.2)  # a second drag
    assert [command.text for command in studio.history.done] == [
        "Paint Skin", "Hair style from face-02", "Hair strength", "Hair strength"]
    assert heard == [ChangeKind.HISTORY] * 6  # the menu hears every push, merged ones too
    studio.history.undo()
    assert studio.strength(HAIR) == 0.5
    studio.history.undo()
    assert studio.strength(HAIR) == 1.0
    studio.history.set_clean()
    assert studio.history.is_clean() and len(heard) == 9
