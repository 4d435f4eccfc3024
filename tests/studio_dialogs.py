"""Answering the studio's modal questions from a test (they block the test's thread)."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox


def answer_next_question(button: QMessageBox.StandardButton, asked: list[str]) -> None:
    """Click ``button`` in the next message box that opens (a modal question blocks the test's thread)."""

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, click)
            return
        asked.append(box.text())
        box.button(button).click()

    QTimer.singleShot(20, click)
