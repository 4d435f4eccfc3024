"""Segmentation scores: per-class F1 and IoU from a confusion matrix, pixel accuracy.

Counts are summed over all pixels of all faces before dividing (the usual face-parsing
protocol), so a class that appears in few faces is judged on all of its pixels.
"""

from __future__ import annotations

import numpy as np

from ..labels import CLASS_NAMES, NUM_CLASSES


def confusion_matrix(predicted: np.ndarray, target: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """(num_classes, num_classes) int64 counts; rows are the true class, columns the predicted."""
    index = target.astype(np.int64).ravel() * num_classes + predicted.astype(np.int64).ravel()
    return np.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def scores(confusion: np.ndarray) -> dict[str, object]:
    """Per-class F1 and IoU, their means over the classes, and pixel accuracy.

    A class absent from both prediction and truth has no score (NaN) and is left out of
    the means, which are then over the classes that occur.
    """
    true_positive = np.diag(confusion).astype(np.float64)
    predicted = confusion.sum(axis=0)
    actual = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = 2 * true_positive / (predicted + actual)
        iou = true_positive / (predicted + actual - true_positive)
    names = CLASS_NAMES if len(confusion) == len(CLASS_NAMES) else tuple(str(i) for i in range(len(confusion)))
    return {
        "f1": {name: float(value) for name, value in zip(names, f1)},
        "iou": {name: float(value) for name, value in zip(names, iou)},
        "mean_f1": float(np.nanmean(f1)),
        "miou": float(np.nanmean(iou)),
        "pixel_accuracy": float(true_positive.sum() / max(confusion.sum(), 1)),
    }
