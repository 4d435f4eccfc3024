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
from ..inference.bench import (
    VARIANTS,
    count_gflop,
    default_variants,
    format_table,
    machine_description,
    prepare_weights,
    random_weights_config,
    run_benchmark,
    usable_cpus,
)
from ..io.atomic import write_text_atomic
from ..io.weights import ensure_weights
from .common import EXIT_CHECK_FAILED, EXIT_OK, ArgumentParser, check_outputs, run_cli


def _threads(text: str) -> int:
    """--threads: a whole number from 1 to the CPUs this process may use."""
    bounds = f"between 1 and {usable_cpus()} (the CPUs this process may use)"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number {bounds}") from None
    if not 1 <= value <= usable_cpus():
        raise argparse.ArgumentTypeError(f"must be {bounds}, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(
        prog="ca2sis-bench", description="Measure CA2-SIS generation latency per backend and device."
    )
    parser.add_argument("--weights", type=Path, help="weights folder (default: random weights of --config)")
    parser.add_argument("--config", default="lite", help="config of the random weights (default: lite)")
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), help="default: every one this machine has")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per measurement (default: 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first (default: 3)")
    parser.add_argument("--threads", type=_threads,
                        help=f"CPU threads, 1 to {usable_cpus()} here (default: the backends' own choice)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be at least 1 and --warmup at least 0")
    return run_cli(lambda: _bench(args))


def _bench(args: argparse.Namespace) -> int:
    variants = args.variants or default_variants()
    if args.weights is not None:
        ensure_weights(args.weights)
    else:
        random_weights_config(args.config)  # a config that does not read is refused before the run
    # Checked before the (long) run: --json may not be the weights' or the config's file.
    check_outputs([("--json", args.json)], [args.weights, args.config if Path(args.config).is_file() else None])
    with tempfile.TemporaryDirectory(prefix="ca2sis-bench-") as scratch:
        need_onnx = any(VARIANTS[name].backend == "onnx" for name in variants)
        weights = prepare_weights(args.weights, args.config, need_onnx, Path(scratch))
        config = get_config(weights)
        gflop = count_gflop(weights)
        results = run_benchmark(weights, variants, args.runs, args.warmup, args.threads)
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
        write_text_atomic(args.json, json.dumps(report, indent=2) + "\n")
    return EXIT_OK if all("error" not in row for row in results) else EXIT_CHECK_FAILED


if __name__ == "__main__":
    sys.exit(main())
