"""`ca2sis-export`: write E_s, E_m, G (and M_s) as ONNX graphs beside a weights folder.

    ca2sis-export weights/lite [--check] [--int8 [--int8-faces DIR --int8-list FILE --int8-limit N]]

The export itself is ``inference.onnx_export``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..inference.onnx_export import check_parity, export_onnx
from ..inference.quality import MAX_PSNR_DROP_DB, MIN_AGREEMENT_DB
from ..inference.quantize import export_int8
from ..training.data import read_id_list
from .common import EXIT_CHECK_FAILED, EXIT_OK, ArgumentParser, run_cli


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(
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
    parser.add_argument(
        "--int8", action="store_true",
        help="also write generator.int8.onnx (G quantised to int8, for CPUs with VNNI) and check it against PyTorch "
        f"fp32: the engine picks it only where it passed (within {MAX_PSNR_DROP_DB} dB PSNR, visually identical)",
    )
    parser.add_argument("--int8-faces", type=Path,
                        help="faces to check int8 on: images/ + masks/, or NAME.jpg + NAME.png (default: demo faces)")
    parser.add_argument("--int8-list", type=Path, help="only these face ids of --int8-faces (one a line)")
    parser.add_argument("--int8-limit", type=int, default=8, help="at most this many check faces (default: 8)")
    args = parser.parse_args(argv)
    if args.int8_limit < 1:
        parser.error("--int8-limit must be at least 1")
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
    if args.int8:
        ids = read_id_list(args.int8_list) if args.int8_list else None
        check = export_int8(args.weights, args.int8_faces, ids, args.int8_limit)
        verdict = "passed: the engine uses it on CPUs with VNNI" if check["passes"] else "failed: the engine keeps fp32"
        print(
            f"int8 G on {check['faces']} faces: reconstruction PSNR {check['psnr_drop_db']:.2f} dB below "
            f"PyTorch fp32's (at most {MAX_PSNR_DROP_DB}), images {check['reconstruction_vs_reference_mean_db']:.1f} / "
            f"{check['part_edit_vs_reference_mean_db']:.1f} dB from fp32's (reconstruction / part edit, mean; at "
            f"least {MIN_AGREEMENT_DB:.0f}): {verdict}"
        )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
