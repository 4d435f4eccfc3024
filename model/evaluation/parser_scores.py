"""The face parser's validation scores (``ca2sis-eval parser``): per-class F1 and IoU, their
means, pixel accuracy and the CPU time per photo.

Each face is parsed as a user's aligned face is (the face at ``size`` px, parsed at the
parser's input size, the logits brought back to ``size``, the mirror average) and scored
against its own mask; counts are summed over all faces, so the report keeps the confusion
matrix (where each class's pixels went). Time: the median milliseconds per photo of parsing
alone and, with ``timing``, of alignment + parsing (dlib's detection and landmarks included);
the first face is left out of both (it pays for the warm-up).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..faces.reader import FaceReader
from ..faces.segmentation import confusion_matrix, scores
from ..labels import CLASS_NAMES, NUM_CLASSES
from ..training.data import open_dataset


def score_parser(reader: FaceReader, data: str | Path, ids: list[str] | None = None, limit: int | None = None,
                 timing: bool = True, progress: bool = True) -> dict:
    """Scores of ``reader``'s parser on the faces ``ids`` (all when None) of the folder ``data``."""
    dataset = open_dataset(data, reader.size, include=ids)
    chosen = dataset.ids[:limit]
    confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    parse_ms, full_ms = [], []
    for face_id in tqdm(chosen, unit="face", disable=not progress):
        image, mask = dataset.load_pair(face_id)
        start = time.perf_counter()
        parsed = reader.read(image, align=False)
        parse_ms.append((time.perf_counter() - start) * 1000)
        confusion += confusion_matrix(parsed.mask, mask)
        if timing:
            start = time.perf_counter()
            reader.read(image, align=True)
            full_ms.append((time.perf_counter() - start) * 1000)
    result = scores(confusion)

    def median(times: list[float]) -> float | None:
        return statistics.median(times[1:] or times) if times else None

    result.update(faces=len(chosen), parse_ms_median=median(parse_ms), align_and_parse_ms_median=median(full_ms))
    result["confusion"] = {"rows": "true class", "columns": "predicted class", "classes": list(CLASS_NAMES),
                           "counts": confusion.tolist()}
    result["parameters"] = sum(p.numel() for p in reader.parser.network.parameters())
    result["weights_bytes"] = sum(f.stat().st_size for f in reader.weights.iterdir() if f.suffix == ".safetensors")
    return result


def parser_table(result: dict) -> str:
    """The markdown table of ``score_parser``'s result and a line of facts under it."""
    lines = ["| class | F1 | IoU |", "|---|---|---|"]
    lines += [f"| {name} | {result['f1'][name]:.3f} | {result['iou'][name]:.3f} |" for name in CLASS_NAMES]
    lines.append(f"| **mean over {len(CLASS_NAMES)} classes** | **{result['mean_f1']:.3f}** | "
                 f"**{result['miou']:.3f}** |")
    timing = f"parse {result['parse_ms_median']:.0f}"
    if result["align_and_parse_ms_median"] is not None:
        timing += f", align + parse {result['align_and_parse_ms_median']:.0f}"
    lines.append(f"\npixel accuracy {result['pixel_accuracy']:.4f}; {result['faces']} faces; CPU ms per photo "
                 f"(median): {timing}; {result['parameters']:,} parameters, "
                 f"{result['weights_bytes'] / 1e6:.1f} MB of weights")
    return "\n".join(lines) + "\n"
