"""`ca2sis-bench`: how fast the engine generates, per backend and device.

    ca2sis-bench --config lite --runs 20 --json bench.json

What is measured, and how, is ``inference.bench``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from ..config import get_config
from ..errors import CA2SISError
from ..inference.bench import (
    VARIANTS,
    count_gflop,
    default_variants,
    format_table,
    machine_description,
    prepare_weights,
    run_benchmark,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ca2sis-bench", description="Measure CA2-SIS generation latency per backend and device."
    )
    parser.add_argument("--weights", type=Path, help="weights folder (default: random weights of --config)")
    parser.add_argument("--config", default="lite", help="config of the random weights (default: lite)")
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), help="default: every one this machine has")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per measurement (default: 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first (default: 3)")
    parser.add_argument("--threads", type=int, help="CPU threads (default: the backends' own choice)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be at least 1 and --warmup at least 0")
    variants = args.variants or default_variants()
    try:
        with tempfile.TemporaryDirectory(prefix="ca2sis-bench-") as scratch:
            need_onnx = any(VARIANTS[name].backend == "onnx" for name in variants)
            weights = prepare_weights(args.weights, args.config, need_onnx, Path(scratch))
            config = get_config(weights)
            gflop = count_gflop(weights)
            results = run_benchmark(weights, variants, args.runs, args.warmup, args.threads)
    except (CA2SISError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_table(results, config.name, config.image_size, gflop))
    if args.json:
        report = {
            "config": config.name,
            "image_size": config.image_size,
            "weights": str(args.weights) if args.weights else f"random {config.name} weights",
            "runs": args.runs,
            "warmup": args.warmup,
            "machine": machine_description(),
            "gflop": {name: round(value, 4) for name, value in gflop.items()},
            "results": results,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all("error" not in row for row in results) else 1


if __name__ == "__main__":
    sys.exit(main())
