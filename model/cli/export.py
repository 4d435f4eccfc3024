"""`ca2sis-export`: write E_s, E_m, G (and M_s) as ONNX graphs beside a weights folder.

    ca2sis-export weights/lite [--check]

The export itself is ``inference.onnx_export``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..inference.onnx_export import check_parity, export_onnx
from .common import EXIT_CHECK_FAILED, EXIT_OK, run_cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ca2sis-export",
        description="Export a ca2sis weights folder to ONNX graphs (one per network) beside its weights.",
        epilog="Exit codes: 0 written, 1 --check found a disagreement, 2 bad input, 3 weights missing or unusable "
        "(all in README.md).",
    )
    parser.add_argument("weights", type=Path, help="weights folder (config.json + *.safetensors)")
    parser.add_argument(
        "--check", action="store_true",
        help="after exporting, compare ONNX Runtime with PyTorch on random inputs (fails above 1e-3)",
    )
    args = parser.parse_args(argv)
    return run_cli(lambda: _export(args))


def _export(args: argparse.Namespace) -> int:
    export_onnx(args.weights, on_written=lambda path: print(
        f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)", flush=True))
    if args.check:
        differences = check_parity(args.weights)
        for name, difference in differences.items():
            print(f"max |onnx - torch| {name}: {difference:.2e}")
        if max(differences.values()) >= 1e-3:
            print("error: ONNX and PyTorch disagree by 1e-3 or more", file=sys.stderr)
            return EXIT_CHECK_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
