"""`ca2sis-eval`: the paper's metrics for any weights on any labelled face folder, and the
face parser's own scores.

    ca2sis-eval --data DIR [--list IDS.txt] [--weights DIR] [--limit N] [--json OUT.json]
                [--markdown OUT.md] [--seed 0] [--device auto|cpu|cuda] [--backend auto|torch|onnx]
                [--compare-size PX] [--parser-weights DIR] [--no-identity] [--metrics psnr,ssim,...]
    ca2sis-eval parser --data DIR [--list IDS.txt] [--parser-weights DIR] [--json OUT.json]
    ca2sis-eval photo-edits --data DIR [--set benchmarks/framed-photos] [--parts hair skin lips eyes]
                [--keep-images DIR] [--out OUT.json] [--sheets DIR --sheet-label after] [--jobs 1]
    ca2sis-eval invented-pixels --data DIR --list IDS.txt [--count 8] [--json OUT.json] [--sheets DIR]

DIR holds images/ + masks/ (or the official CelebAMask-HQ layout). Prints a markdown table
(PSNR, SSIM, SWD, SWD-Sh, mIoU, pixel accuracy, FRS, style leakage, ms per image; see
``ca2sis.model.evaluation.pipeline``) and writes it, and the full report as JSON, where asked. A
progress bar runs on stderr. ``--metrics`` measures only the named metrics (default all:
psnr, ssim, swd, swd_sh, segmentation, identity, style_swaps, random_part, part_swaps, speed),
e.g. to skip the slow per-part study. Exit codes: 0 done; 2 bad arguments or data (no faces, an
unreadable file...); 3 weights missing or unusable (the model's, the parser's or dlib's);
1 anything unexpected. Errors are one line on stderr starting with "error:".
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from ..devices import resolve_device
from ..evaluation.framed_set import PARTS, SET_FOLDER
from ..evaluation.metrics import METRIC_REGISTRY, metric_names
from ..evaluation.pipeline import evaluate
from ..evaluation.report import markdown_table
from ..inference.engine import Engine
from ..io.atomic import write_text_atomic
from ..io.weights import default_weights, ensure_weights
from ..training.data import read_id_list
from .common import EXIT_CHECK_FAILED, EXIT_OK, ArgumentParser, check_outputs, run_cli, whole_number

MAX_COMPARE_SIZE = 4096  # a side beyond it needs gigabytes per face batch (as ca2sis-parse's --size)
_positive, _seed, _compare_size = whole_number(1), whole_number(0), whole_number(16, MAX_COMPARE_SIZE)


def _metric_list(text: str) -> list[str]:
    try:
        return metric_names(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="ca2sis-eval",
        description="Evaluate CA2-SIS weights on a labelled face folder: PSNR, SSIM, SWD, SWD-Sh, parser mIoU and "
        "accuracy, identity similarity (FRS), style leakage and speed. 'ca2sis-eval parser --help': the face "
        "parser's own scores; 'ca2sis-eval photo-edits --help': part swaps on framed photos a user would throw away.",
        epilog="Exit codes: 0 done, 2 bad arguments or data, 3 weights missing or unusable, 1 unexpected.",
    )
    parser.add_argument("--data", required=True, type=Path,
                        help="folder with images/ + masks/, or the official CelebAMask-HQ layout")
    parser.add_argument("--list", type=Path, metavar="IDS.txt",
                        help="evaluate only these face ids (one per line, # comments), e.g. a validation split")
    parser.add_argument("--weights", type=Path, default=None,
                        help="weights folder (default: the bundled lite weights, or $CA2SIS_WEIGHTS)")
    parser.add_argument("--limit", type=_positive, help="only the first N faces (after --list)")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="write the full report as JSON")
    parser.add_argument("--markdown", type=Path, metavar="OUT.md", help="write the markdown table")
    parser.add_argument("--seed", type=_seed, default=0, help="draws the swap pairs and SWD samples (default 0)")
    parser.add_argument("--batch-size", type=_positive, default=8, help="faces per generator call (default 8)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="default: CUDA when present")
    parser.add_argument("--backend", choices=("auto", "torch", "onnx"), default="auto",
                        help="auto: ONNX Runtime on the CPU when exported, else PyTorch (default)")
    parser.add_argument("--compare-size", type=_compare_size, metavar="PX",
                        help="measure at this size: the outputs are resized (bicubic) to it and compared with "
                        "the real faces loaded at it, e.g. 256 to compare a 128 px model with a 256 px one "
                        "(default: the model's size)")
    parser.add_argument("--parser-weights", type=Path, help="face parser folder (default: the bundled one)")
    parser.add_argument("--no-identity", action="store_true", help="skip FRS (dlib's face-recognition network)")
    parser.add_argument("--metrics", type=_metric_list, metavar="NAME,...",
                        help="measure only these, comma-separated (default: all): " + ", ".join(METRIC_REGISTRY))
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def run(args: argparse.Namespace) -> dict:
    ids = read_id_list(args.list) if args.list is not None else None
    resolve_device(args.device)
    weights = ensure_weights(args.weights or default_weights())
    # Checked before the (long) evaluation: no report may land on a weights file, the id list
    # or a file of the data (masks, faces).
    check_outputs([("--json", args.json), ("--markdown", args.markdown)],
                  [weights, args.list, args.parser_weights, args.data, args.data / "images", args.data / "masks"])
    engine = Engine.from_pretrained(weights, device=args.device, backend=args.backend)
    return evaluate(
        engine, args.data, ids=ids, limit=args.limit, seed=args.seed, identity=not args.no_identity,
        progress=not args.quiet, batch_size=args.batch_size, parser=args.parser_weights, weights=weights,
        compare_size=args.compare_size, metrics=args.metrics,
    )


def parser_command(argv: list[str]) -> int:
    """``ca2sis-eval parser``: the face parser's validation table (``evaluation/parser_scores.py``)."""
    parser = ArgumentParser(
        prog="ca2sis-eval parser",
        description="Score the face parser on a labelled face folder: per-class F1 and IoU, means, pixel accuracy, "
        "CPU time per photo. Each face is parsed as a user's aligned face is (mirror average included).")
    parser.add_argument("--data", required=True, type=Path,
                        help="folder with images/ + masks/ (or the official layout)")
    parser.add_argument("--list", type=Path, metavar="IDS.txt",
                        help="score only these face ids, e.g. the validation list")
    parser.add_argument("--parser-weights", type=Path, help="face parser folder (default: the bundled one)")
    parser.add_argument("--size", type=_compare_size, default=512, help="side faces are read at (default: %(default)s)")
    parser.add_argument("--limit", type=_positive, help="only the first N faces (after --list)")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="write the scores and confusion matrix as JSON")
    parser.add_argument("--no-timing", action="store_true", help="skip timing alignment + parsing (dlib)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    def score() -> int:
        from ..evaluation.parser_scores import parser_table, score_parser
        from ..faces.reader import FaceReader

        check_outputs([("--json", args.json)], [args.list, args.parser_weights, args.data, args.data / "images",
                                                args.data / "masks"])
        ids = read_id_list(args.list) if args.list is not None else None
        reader = FaceReader(args.parser_weights, size=args.size)
        result = score_parser(reader, args.data, ids, args.limit, timing=not args.no_timing, progress=not args.quiet)
        if args.json is not None:
            write_text_atomic(args.json, json.dumps(result, indent=2) + "\n")
        print(parser_table(result), end="")
        return EXIT_OK

    return run_cli(score)


def photo_edits_command(argv: list[str]) -> int:
    """``ca2sis-eval photo-edits``: part swaps on the framed photos a user would throw away
    (``evaluation/photo_edits.py``, which says what is measured and the limits)."""
    parser = ArgumentParser(
        prog="ca2sis-eval photo-edits",
        description="Run ca2sis-edit --paste-back on the framed test photos (part swaps of hair, skin, lips, eyes) "
        "and count the results a user would throw away: a halo or spill round the part, pixels left untouched, "
        "colour left short of the reference's under the photo's light, a grey skin, a refused edit.")
    parser.add_argument("--data", type=Path, required=True, help="celebamask-mini: images/*.jpg and masks/*.png")
    parser.add_argument("--set", type=Path, default=SET_FOLDER,
                        help="the framed photos and photos.json (default: %(default)s, from the repository root)")
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    parser.add_argument("--count", type=_positive, help="at most this many edits per part (default: all)")
    parser.add_argument("--out", type=Path, metavar="OUT.json", help="write the rows and the summary here")
    parser.add_argument("--keep-images", type=Path, metavar="DIR",
                        help="keep the edited photos and results.json here (for --measure-only and --sheets)")
    parser.add_argument("--edit-command", default="ca2sis-edit", help="how to run ca2sis-edit (split like a shell)")
    parser.add_argument("--jobs", type=_positive, default=1, help="edits run at once (default 1)")
    parser.add_argument("--code", default="", help="which code the edits ran (recorded in the JSON), e.g. a commit")
    parser.add_argument("--check-targets", action="store_true",
                        help="only check that each photo's own face, graded as recorded, gives the photo's colours")
    parser.add_argument("--measure-only", action="store_true",
                        help="measure again the results kept in --keep-images, without running ca2sis-edit")
    parser.add_argument("--sheets", type=Path, metavar="DIR", help="also write contact sheets of the swaps here")
    parser.add_argument("--sheet-label", default="after", help="the sheets' suffix: PART-LABEL.jpg (default after)")
    args = parser.parse_args(argv)
    if args.measure_only and not args.keep_images:
        parser.error("--measure-only needs --keep-images (the folder of an earlier run)")
    if args.sheets and not args.keep_images:
        parser.error("--sheets needs --keep-images (the edited photos the sheets show)")

    def measure() -> int:
        from ..evaluation.framed_set import Library
        from ..evaluation.photo_edit_sheets import write_sheets
        from ..evaluation.photo_edits import check_targets, run_photo_edits, table

        # No report lands on a photo or mask of the set or the data.
        check_outputs([("--out", args.out)], [args.data, args.data / "images", args.data / "masks", args.set])
        library = Library(args.data, args.set)
        if args.check_targets:
            return EXIT_OK if check_targets(library) == 0 else EXIT_CHECK_FAILED
        command_line = " ".join(["ca2sis-eval", "photo-edits", *map(shlex.quote, argv)])
        report = run_photo_edits(library, args.parts, args.count, args.keep_images, args.edit_command, args.jobs,
                                 args.code, args.measure_only, command_line)
        print(table(report["summary"]))
        if args.out is not None:
            write_text_atomic(args.out, json.dumps(report, indent=1) + "\n")
        if args.sheets is not None:
            for path in write_sheets(library, report["edits"], args.keep_images, args.sheets, args.sheet_label):
                print(f"{path}: written")
        return EXIT_OK

    return run_cli(measure)


def invented_pixels_command(argv: list[str]) -> int:
    """``ca2sis-eval invented-pixels``: how well the pixels a photo edit invents belong in it
    (``evaluation/invented_pixels.py``: the figures, their targets and the edits made)."""
    from ..evaluation.invented_pixels import SECTIONS

    parser = ArgumentParser(
        prog="ca2sis-eval invented-pixels",
        description="Run ca2sis-edit --paste-back on held-out faces where the network must invent pixels (hair "
        "made fuller and shorter) and score the results: the asked shape (parsed IoU), the new hair's colour and "
        "fine detail against the photo's hair, the vacated background against the background next to it.")
    parser.add_argument("--data", required=True, type=Path, help="folder with images/ID.jpg + masks/ID.png")
    parser.add_argument("--list", required=True, type=Path, metavar="IDS.txt", help="the held-out face ids")
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=list(SECTIONS))
    parser.add_argument("--count", type=_positive, default=8, help="edits each way (default: %(default)s)")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="write the report here")
    parser.add_argument("--sheets", type=Path, metavar="DIR", help="write each section's contact sheet here")
    parser.add_argument("--code", default="", help="which code the edits ran (recorded in the JSON), e.g. a commit")
    args = parser.parse_args(argv)

    def measure() -> int:
        from ..evaluation.invented_pixels import invented_pixels

        check_outputs([("--json", args.json)], [args.list, args.data])
        command_line = " ".join(["ca2sis-eval", "invented-pixels", *map(shlex.quote, argv)])
        report = invented_pixels(args.data, read_id_list(args.list), args.sections, args.count, args.sheets,
                                 command=command_line, code=args.code)
        if args.json is not None:
            write_text_atomic(args.json, json.dumps(report, indent=1) + "\n")
        print(json.dumps({name: report[name]["medians"] for name in args.sections}, indent=1))
        return EXIT_OK

    return run_cli(measure)


def painted_faces_command(argv: list[str]) -> int:
    """``ca2sis-eval painted-faces``: faces painted from the New-face template in each gallery
    style (``evaluation/painted_faces.py``: the figures and their targets)."""
    parser = ArgumentParser(
        prog="ca2sis-eval painted-faces",
        description="Paint six faces from the studio's New-face template (one stroke each) in the gallery's styles "
        "and score them: output side, per-part colour distance and fine detail against the style face, and how well "
        "the parsed face follows the painted mask.")
    parser.add_argument("--gallery", type=Path, help="faces NAME.jpg + NAME.png (default: the bundled gallery)")
    parser.add_argument("--weights", type=Path, help="weights folder (default: the bundled lite weights)")
    parser.add_argument("--parser-weights", type=Path, help="face parser folder (default: the bundled one)")
    parser.add_argument("--global", dest="global_edit", action="store_true",
                        help="the network's raw output (what a painted face was before model/photo/painted.py)")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="write the report here")
    parser.add_argument("--sheet", type=Path, metavar="OUT.jpg", help="write the contact sheet here")
    args = parser.parse_args(argv)

    def measure() -> int:
        from ..evaluation.painted_faces import painted_faces

        weights = ensure_weights(args.weights or default_weights())
        check_outputs([("--json", args.json), ("--sheet", args.sheet)], [weights, args.gallery, args.parser_weights])
        command_line = " ".join(["ca2sis-eval", "painted-faces", *map(shlex.quote, argv)])
        report = painted_faces(weights, args.parser_weights, args.gallery, args.global_edit, args.sheet, command_line)
        if args.json is not None:
            write_text_atomic(args.json, json.dumps(report, indent=1) + "\n")
        print(json.dumps(report["summary"], indent=1))
        return EXIT_OK

    return run_cli(measure)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "invented-pixels":
        return invented_pixels_command(argv[1:])
    if argv and argv[0] == "parser":
        return parser_command(argv[1:])
    if argv and argv[0] == "painted-faces":
        return painted_faces_command(argv[1:])
    if argv and argv[0] == "photo-edits":
        return photo_edits_command(argv[1:])
    args = build_parser().parse_args(argv)
    return run_cli(lambda: _evaluate(args))


def _evaluate(args: argparse.Namespace) -> int:
    report = run(args)
    table = markdown_table(report)
    if args.json is not None:
        write_text_atomic(args.json, json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    if args.markdown is not None:
        write_text_atomic(args.markdown, table)
    print(table, end="")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
