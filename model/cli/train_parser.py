"""`ca2sis-train-parser`: train the face parser on a labelled face folder.

    ca2sis-train-parser --data ../shared/data/celebamask-mini \\
        --val-list assets/splits/celebamask-mini-val.txt --out runs/parser --epochs 50

The training itself is ``training.train_parser``.
"""

from __future__ import annotations

import argparse
import sys

from ..faces.parser import FaceParserConfig
from ..training.train_parser import ParserTrainConfig, train
from .common import EXIT_OK, ArgumentParser, finite_number, run_cli, whole_number

MIN_CROP, MAX_SIDE = 16, 4096  # the U-Net halves a crop four times; 4096: ca2sis-parse's largest side
# The defaults are the settings dataclasses' own: each is written once, there.
_DEFAULTS, _PARSER_DEFAULTS = ParserTrainConfig(data="", out=""), FaceParserConfig()


def _widths(text: str) -> tuple[int, ...]:
    """"16,32,64": the U-Net's channels per level, each a whole number of at least 1."""
    try:
        widths = tuple(int(width) for width in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give whole numbers separated by commas, e.g. 16,32,64") from None
    if len(widths) < 2 or min(widths) < 1 or max(widths) > 4096:
        raise argparse.ArgumentTypeError(f"{text!r}: give two or more widths between 1 and 4096")
    return widths


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="ca2sis-train-parser", description="Train the ca2sis face parser.")
    parser.add_argument("--data", required=True, help="labelled faces: images/ + masks/ or the official layout")
    parser.add_argument("--out", required=True, help="folder for the weights, scores and log")
    parser.add_argument("--val-list", help="face ids to hold out and score on (one per line)")
    parser.add_argument("--epochs", type=whole_number(1), default=_DEFAULTS.epochs,
                        help="passes over the training faces (default: %(default)s)")
    parser.add_argument("--batch-size", type=whole_number(1), default=_DEFAULTS.batch_size,
                        help="faces per step (default: %(default)s)")
    parser.add_argument("--crop", type=whole_number(MIN_CROP, MAX_SIDE), default=_DEFAULTS.crop,
                        help="training crop side (default: %(default)s)")
    parser.add_argument("--lr", type=finite_number(0, strictly_above=True), default=_DEFAULTS.lr,
                        help="peak learning rate (default: %(default)s)")
    parser.add_argument("--eval-every", type=whole_number(1), default=_DEFAULTS.eval_every,
                        help="epochs between validations (default: %(default)s)")
    parser.add_argument("--input-size", type=whole_number(MIN_CROP, MAX_SIDE), default=_PARSER_DEFAULTS.input_size,
                        help="side faces are parsed at (default: %(default)s)")
    parser.add_argument("--widths", type=_widths, default=",".join(map(str, _PARSER_DEFAULTS.widths)),
                        help="U-Net widths per level (default: %(default)s)")
    parser.add_argument("--global-context", action="store_true",
                        help="add the face's pooled features at the deepest level (see FaceParser)")
    parser.add_argument("--rare-weight", type=finite_number(0, strictly_above=True), default=_DEFAULTS.rare_weight,
                        help="draw faces with eyeglasses, hat, earring or necklace this many times as often")
    parser.add_argument("--init", help="start from the parser weights in this folder (fine-tuning)")
    parser.add_argument("--seed", type=int, default=_DEFAULTS.seed, help="default: %(default)s")
    parser.add_argument("--threads", type=whole_number(1), help="CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)
    levels = 2 ** (len(args.widths) - 1)  # the U-Net halves the side at each level after the first
    if args.crop % levels or args.input_size % levels:
        parser.error(f"--crop and --input-size must be multiples of {levels} (the U-Net has {len(args.widths)} levels)")
    config = ParserTrainConfig(
        data=args.data, out=args.out, val_list=args.val_list, epochs=args.epochs, batch_size=args.batch_size,
        crop=args.crop, lr=args.lr, eval_every=args.eval_every, rare_weight=args.rare_weight, init=args.init,
        seed=args.seed, threads=args.threads,
    )
    parser_config = FaceParserConfig(input_size=args.input_size, widths=args.widths,
                                     global_context=args.global_context)
    return run_cli(lambda: _train(config, parser_config))


def _train(config: ParserTrainConfig, parser_config: FaceParserConfig) -> int:
    best = train(config, parser_config)
    if "epoch" in best:
        print(f"best mean F1 {best['mean_f1']:.4f}, mIoU {best['miou']:.4f} at epoch {best['epoch']}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
