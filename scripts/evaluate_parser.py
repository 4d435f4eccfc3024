"""Validation table of the face parser: per-class F1 and IoU, means, and CPU time per photo.

Usage: python scripts/evaluate_parser.py DATA VAL_LIST [WEIGHTS] [--json OUT.json] [--limit N]
Each held-out face is parsed as a user's aligned face would be (512 x 512 in, parsed at the
parser's input size, logits upsampled back, mirror average) and scored against its own
512 x 512 mask, counts summed over all faces (the JSON keeps the confusion matrix).
Time: median milliseconds per photo for parsing alone and for alignment + parsing (dlib
detection and landmarks included).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ca2sis.model.faces.reader import FaceReader, default_parser_weights
from ca2sis.model.faces.segmentation import confusion_matrix, scores
from ca2sis.model.labels import CLASS_NAMES, NUM_CLASSES
from ca2sis.model.training.data import load_mask, read_id_list


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", type=Path)
    parser.add_argument("val_list", type=Path)
    parser.add_argument("weights", type=Path, nargs="?", default=default_parser_weights())
    parser.add_argument("--json", type=Path)
    parser.add_argument("--limit", type=int, help="score only the list's first N faces (the tests take 5)")
    args = parser.parse_args()
    reader = FaceReader(args.weights, size=512)
    ids = read_id_list(args.val_list)[: args.limit]
    confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    parse_ms, full_ms = [], []
    for face_id in tqdm(ids, unit="face"):
        image_path = args.data / "images" / f"{face_id}.jpg"
        start = time.perf_counter()
        parsed = reader.read(image_path, align=False)
        parse_ms.append((time.perf_counter() - start) * 1000)
        confusion += confusion_matrix(parsed.mask, load_mask(args.data / "masks" / f"{face_id}.png"))
        start = time.perf_counter()
        reader.read(image_path, align=True)
        full_ms.append((time.perf_counter() - start) * 1000)
    result = scores(confusion)
    result["parse_ms_median"] = statistics.median(parse_ms[1:])
    result["align_and_parse_ms_median"] = statistics.median(full_ms[1:])
    result["faces"] = len(ids)
    result["confusion"] = {  # where each class's pixels went: what the table's errors are made of
        "rows": "true class", "columns": "predicted class", "classes": list(CLASS_NAMES), "counts": confusion.tolist()}
    result["parameters"] = sum(p.numel() for p in reader.parser.network.parameters())
    result["weights_bytes"] = sum(f.stat().st_size for f in args.weights.iterdir() if f.suffix == ".safetensors")
    print("| class | F1 | IoU |\n|---|---|---|")
    for name in CLASS_NAMES:
        print(f"| {name} | {result['f1'][name]:.3f} | {result['iou'][name]:.3f} |")
    print(f"| **mean over 19 classes** | **{result['mean_f1']:.3f}** | **{result['miou']:.3f}** |")
    print(f"\npixel accuracy {result['pixel_accuracy']:.4f}; {len(ids)} faces; CPU ms per photo (median): "
          f"parse {result['parse_ms_median']:.0f}, align + parse {result['align_and_parse_ms_median']:.0f}; "
          f"{result['parameters']:,} parameters, {result['weights_bytes'] / 1e6:.1f} MB of weights")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
