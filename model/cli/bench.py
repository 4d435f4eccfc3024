"""`ca2sis-bench`: how fast the engine generates, per backend and device; how close the faster
backends draw; how long a photo edit takes.

    ca2sis-bench --config lite --runs 20 --json bench.json
    ca2sis-bench quality WEIGHTS --data DIR [--list IDS.txt] [--limit 8] [--runs 10] [--json OUT.json]
    ca2sis-bench photo [--runs 3] [--command-runs 3] [--weights DIR] [--json OUT.json]

What is measured, and how: ``inference.bench`` (latency, and ``validate_variants`` for
``quality``) and ``evaluation.photo_timing`` (``photo``).
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
from ..io.weights import default_weights, ensure_weights
from ..training.data import read_id_list
from .common import EXIT_CHECK_FAILED, EXIT_OK, ArgumentParser, check_outputs, run_cli, whole_number

_positive, _count = whole_number(1), whole_number(0)


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


def quality_command(argv: list[str]) -> int:
    """``ca2sis-bench quality``: each ONNX variant of a weights folder against PyTorch fp32."""
    parser = ArgumentParser(
        prog="ca2sis-bench quality",
        description="Every backend variant the engine can pick for a weights folder (ONNX fp32; the int8 G when "
        "exported) against PyTorch fp32 on real faces: reconstruction PSNR, its drop (at most 0.5 dB to pass), the "
        "PSNR of the images against PyTorch fp32's (a mean of 40 dB or more) and both operations' times side by "
        "side. Exit 1 when a variant fails the check.")
    parser.add_argument("weights", type=Path, help="weights folder with its ca2sis-export (--int8 for the int8 G)")
    parser.add_argument("--data", type=Path, required=True, help="faces: images/ + masks/, or NAME.jpg + NAME.png")
    parser.add_argument("--list", type=Path, metavar="IDS.txt", help="only these face ids, e.g. a validation split")
    parser.add_argument("--limit", type=_positive, default=8, help="at most this many faces (default: 8)")
    parser.add_argument("--runs", type=_count, default=10, help="timed runs per variant (default: 10; 0: no timing)")
    parser.add_argument("--warmup", type=_count, default=2, help="untimed runs first (default: 2)")
    parser.add_argument("--threads", type=_threads, help="CPU threads of every variant (default: the physical cores)")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="write the report as JSON")
    parser.add_argument("--markdown", type=Path, metavar="OUT.md", help="write the table")
    args = parser.parse_args(argv)

    def check() -> int:
        from ..inference.bench import quality_table, validate_variants
        from ..inference.quality import face_files

        weights = ensure_weights(args.weights)
        check_outputs([("--json", args.json), ("--markdown", args.markdown)], [weights, args.list, args.data])
        faces = face_files(args.data, read_id_list(args.list) if args.list else None, args.limit)
        report = validate_variants(weights, faces, args.runs, args.warmup, args.threads)
        table = quality_table(report)
        if args.json is not None:
            write_text_atomic(args.json, json.dumps(report, indent=2) + "\n")
        if args.markdown is not None:
            write_text_atomic(args.markdown, table)
        print(table, end="")
        passed = all(row.get("passes", True) for row in report["quality"].values())
        return EXIT_OK if passed else EXIT_CHECK_FAILED

    return run_cli(check)


def photo_command(argv: list[str]) -> int:
    """``ca2sis-bench photo``: the studio's steps on a 12 MP photo and ``ca2sis-edit --paste-back``'s wait."""
    parser = ArgumentParser(
        prog="ca2sis-bench photo",
        description="Time a hair swap in a photo: opening a 12-megapixel photo, the first render (classes and "
        "matte found), a render with them kept, pasting back and saving as JPEG and PNG; then ca2sis-edit "
        "--paste-back of a 512 px photo as a fresh process, split into its steps. Seconds, median and minimum.")
    parser.add_argument("--weights", type=Path, help="weights folder (default: the bundled lite weights)")
    parser.add_argument("--runs", type=_count, default=3, help="runs of each step after a warm-up (default: 3)")
    parser.add_argument("--command-runs", type=_count, default=3,
                        help="ca2sis-edit processes timed after a first one (default: 3; 0 skips them)")
    parser.add_argument("--backend", choices=("auto", "torch", "onnx"), default="auto",
                        help="ca2sis-edit's backend (default: auto)")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if not args.runs and not args.command_runs:
        parser.error("--runs 0 and --command-runs 0 leave nothing to time")

    def time_it() -> int:
        from ..evaluation.photo_timing import time_edit_command, time_photo_steps

        weights = ensure_weights(args.weights or default_weights())
        check_outputs([("--json", args.json)], [weights])
        report: dict = {"machine": machine_description()}
        if args.runs:
            report["12 MP photo in the studio"] = time_photo_steps(args.runs, weights)
        if args.command_runs:
            report["ca2sis-edit --paste-back"] = time_edit_command(args.command_runs, args.weights, args.backend)
        if args.json is not None:
            write_text_atomic(args.json, json.dumps(report, indent=2) + "\n")
        for section, steps in report.items():
            if section != "machine":
                print(f"{section} ({steps['photo']}): seconds, median (min)")
                print("\n".join(f"  {step:<34} {value}" if step == "load_average" else
                                f"  {step:<34} {value['median_s']:7.3f} ({value['min_s']:.3f})"
                                for step, value in steps.items() if step != "photo"))
        return EXIT_OK

    return run_cli(time_it)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "quality":
        return quality_command(argv[1:])
    if argv and argv[0] == "photo":
        return photo_command(argv[1:])
    parser = ArgumentParser(
        prog="ca2sis-bench", description="Measure CA2-SIS generation latency per backend and device "
        "('ca2sis-bench quality --help': the faster backends against PyTorch fp32; 'ca2sis-bench photo --help': "
        "a photo edit's times)."
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
