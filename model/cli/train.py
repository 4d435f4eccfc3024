"""``ca2sis-train``: train CA2-SIS, export inference weights, show network sizes.

    ca2sis-train --data DIR --config lite --out runs/NAME        train (E_s, E_m, G vs D)
    ca2sis-train --data DIR --out runs/NAME --resume              continue exactly
    ca2sis-train --data DIR --out runs/NAME --stage mapping       then train M_s
    torchrun --nproc_per_node 4 -m ca2sis.model.cli.train ...     several GPUs (DDP)
    ca2sis-train export runs/NAME --out weights/lite              fp16 safetensors + config
    ca2sis-train fit-mapping weights/lite --data DIR --out DIR2   M_s fitted to E_s's codes
    ca2sis-train info --config paper lite                         parameters and sizes
    ca2sis-train report runs/NAME --weights weights/lite ...      loss curves, validation grid

Ctrl-C or SIGTERM (kill, timeout, a job scheduler) finishes the step, saves a checkpoint and
exits with 130; a second one aborts at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from contextlib import nullcontext
from pathlib import Path

import torch

from ..config import FEATURE_NORMS, PRESETS, CA2SISConfig, get_config
from ..errors import CA2SISError, WeightsError
from ..io.checkpoint import (
    CHECKPOINT_FILES,
    checkpoint_config,
    checkpoint_path,
    read_checkpoint_meta,
    remove_temporaries_of,
)
from ..io.lock import folder_lock
from ..io.weights import WEIGHT_FILES
from ..networks.composite import CA2SIS, count_parameters
from ..networks.discriminator import MultiScaleDiscriminator
from ..training.data_check import write_run_summary
from ..training.export import export_weights
from ..training.mapping_fit import MappingFit, code_spread, encode_dataset, fit_mapping
from ..training.run_config import LOSS_WEIGHT_PREFIX, STAGES, SettingsError, TrainConfig
from ..training.train import Trainer, run_files
from .common import EXIT_INTERRUPTED, EXIT_OK, ArgumentParser, check_outputs, run_cli, whole_number

# Every TrainConfig field with help and every loss weight is a flag (help, choices and default
# from the field), for the options a user may set (and override on resume).
_TRAIN_FLAGS = TrainConfig.flags()


def add_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup, fields: dict[str, dataclasses.Field],
              defaults: bool = False) -> None:
    """``--name-with-dashes`` for each dataclass field, its help, choices, type and default from
    the field. ``defaults``: the flag's default is the field's (else None: "not given")."""
    for name, field in fields.items():
        shown = f" (default: {field.default})" if field.default not in (None, "") else ""
        kind = str if field.default is None else type(field.default)  # the str | None fields default to None
        parser.add_argument("--" + name.replace("_", "-"), type=kind, default=field.default if defaults else None,
                            choices=field.metadata.get("choices"), help=field.metadata["help"] + shown)


def _train_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="ca2sis-train",
        description="Train CA2-SIS on CelebAMask-HQ-style data. Subcommands: "
        "'ca2sis-train export RUN --out DIR', 'ca2sis-train fit-mapping', 'ca2sis-train report RUN', "
        "'ca2sis-train info' (each with --help).",
    )
    parser.add_argument("--config", help="preset (paper, lite, tiny) or config JSON; default lite")
    parser.add_argument("--out", required=True, help="run folder: checkpoints, samples, logs")
    parser.add_argument("--resume", action="store_true", help="continue from --out's checkpoint")
    parser.add_argument("--stage", choices=STAGES, default=STAGES[0], help="what to train (default: %(default)s)")
    add_flags(parser, {k: f for k, f in _TRAIN_FLAGS.items() if not k.startswith(LOSS_WEIGHT_PREFIX)})
    add_flags(parser.add_argument_group("loss weights (λ of each term; 0 turns a term off)"),
              {k: f for k, f in _TRAIN_FLAGS.items() if k.startswith(LOSS_WEIGHT_PREFIX)})
    parser.add_argument("--no-flip", action="store_true", help="no mirrored copies of the faces")
    parser.add_argument("--skip-bad", action="store_true",
                        help="train on the usable faces when some files are bad (default: list them and stop)")
    parser.add_argument("--generator-norm", choices=FEATURE_NORMS,
                        help="G's feature norm: group (GroupNorm) or pixel (per-pixel channel norm, which "
                        "takes no statistics over space and so gives no droplet blobs); default: the config's")
    ablation = parser.add_argument_group("ablations (paper Table 3)")
    ablation.add_argument("--no-grouped-conv", action="store_true", help="'w/o GC': ordinary convolutions in E_s")
    ablation.add_argument("--no-mask-embedder", action="store_true", help="'w/o E_m': raw resized mask as G input")
    ablation.add_argument(
        "--spade", action="store_true", help="'w/o CA': SEAN-style normalisation instead of cross-attention"
    )
    return parser


def _config_with_ablations(config: CA2SISConfig, args: argparse.Namespace) -> CA2SISConfig:
    ablations = [
        (args.no_grouped_conv, "woGC", {"grouped_style_encoder": False}),
        (args.no_mask_embedder, "woEm", {"use_mask_embedder": False}),
        (args.spade, "woCA", {"generator_conditioning": "spade"}),
    ]
    if args.generator_norm and args.generator_norm != config.generator_norm:
        tag = "pn" if args.generator_norm == "pixel" else "gn"
        ablations.append((True, tag, {"generator_norm": args.generator_norm}))
    changes: dict = {}
    tags = []
    for chosen, tag, change in ablations:
        if chosen:
            changes.update(change)
            tags.append(tag)
    if not changes:
        return config
    return config.replace(name="-".join([config.name, *tags]), **changes)


def train_command(argv: list[str]) -> int:
    args = _train_parser().parse_args(argv)
    out = Path(args.out)
    given = {name: getattr(args, name) for name in _TRAIN_FLAGS if getattr(args, name) is not None}
    if args.no_flip:
        given["flip"] = False
    if args.skip_bad:
        given["skip_bad"] = True
    given["stage"] = args.stage

    if out.exists() and not out.is_dir():
        raise CA2SISError(f"--out {out}: is a file; give a run folder (it holds checkpoints, samples and logs)")
    _refuse_weights_folder(out)
    ckpt = checkpoint_path(out, args.stage)
    if args.resume:
        if not ckpt.exists():
            raise CA2SISError(f"--resume: {ckpt} does not exist")
        meta = read_checkpoint_meta(ckpt)
        config = checkpoint_config(ckpt, meta)
        if args.config and _preset_or_file(args.config).to_dict() != config.to_dict():
            raise CA2SISError(f"{ckpt} was trained with config '{config.name}'; drop --config to resume it")
        try:
            TrainConfig.from_dict(meta["train"]).validate()
        except SettingsError as exc:
            raise WeightsError(f"{ckpt} is a damaged ca2sis checkpoint: {exc}") from exc
        train = TrainConfig.from_dict({**meta["train"], **given})
    else:
        if ckpt.exists():
            raise CA2SISError(f"{ckpt} exists: add --resume to continue it, or choose another --out")
        if args.stage == "mapping":
            source = Path(args.init) if args.init else out
            config = _preset_or_file(args.config or source)
        else:
            config = _preset_or_file(args.config or "lite")
        config = _config_with_ablations(config, args)
        train = TrainConfig.from_dict(given)
    if not train.data:
        raise CA2SISError("--data is required (a dataset folder)")
    # One training per run folder: a second would interleave the logs and replace the
    # checkpoints. Only the first process of a torchrun job takes the lock.
    main_process = os.environ.get("RANK", "0") == "0"
    lock = folder_lock(out, "training") if main_process else nullcontext()
    with lock:
        if main_process:  # under the lock no other training writes here: any temporary is a killed one's
            remove_temporaries_of(out, run_files())
        return _train(config, train, out, args)


def _preset_or_file(name: str | Path) -> CA2SISConfig:
    """``--config``: a preset's name or a config JSON file; an unknown one is bad input (exit 2)."""
    try:
        return get_config(name)
    except ValueError as exc:
        raise CA2SISError(str(exc)) from exc


def _refuse_weights_folder(out: Path) -> None:
    """A weights folder is not a run folder: training would replace its config.json."""
    if (out / "config.json").is_file() and any((out / name).exists() for name in WEIGHT_FILES.values()) \
            and not any((out / name).exists() for name in CHECKPOINT_FILES.values()):
        raise CA2SISError(f"--out {out}: is a weights folder (config.json and *.safetensors, no checkpoint); "
                          "give a run folder of its own, e.g. runs/NAME, and export to weights folders")


def _train(config: CA2SISConfig, train: TrainConfig, out: Path, args: argparse.Namespace) -> int:
    trainer = Trainer(config, train, out, resume=args.resume)
    if args.resume and trainer.step >= train.steps:
        print(f"ca2sis-train: {out} is already at step {trainer.step} of {train.steps}: nothing to do "
              "(raise --steps to train further)")
        return EXIT_OK
    if trainer.dist.main:
        print(f"ca2sis-train: stage {train.stage}, config '{config.name}', {len(trainer.dataset)} faces "
              f"(with flips), device {trainer.device}, {'bf16' if trainer.bf16 else 'fp32'}, "
              f"{trainer.dist.world} process(es), from step {trainer.step}")
    start_step = trainer.step
    summary = trainer.run()
    if trainer.dist.main:
        speed = summary["images_per_second"]
        speed_text = f"{speed:.2f} images/s" if speed is not None else "no step timed"
        print(f"ca2sis-train: step {summary['step']} ({summary['kimg']:.1f} kimg), {speed_text}, "
              f"checkpoint {summary['checkpoint']}")
        if summary["stopped_early"]:
            print(f"  stopped early; continue with: ca2sis-train --data {train.data} --out {out} --resume")
        else:
            print(f"  export inference weights: ca2sis-train export {out} --out weights/{config.name}")
        if summary["step"] > start_step:  # a resume with nothing left to do keeps the run's summary
            write_run_summary(out / f"summary-{train.stage}.json", summary)
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return EXIT_INTERRUPTED if summary["stopped_early"] else EXIT_OK


def export_command(argv: list[str]) -> int:
    parser = ArgumentParser(prog="ca2sis-train export",
                                     description="Write inference weights (safetensors + config.json) of a run.")
    parser.add_argument("run", help="run folder (or its checkpoint.safetensors)")
    parser.add_argument("--out", required=True, help="weights folder to write")
    parser.add_argument("--fp32", action="store_true", help="keep float32 (default: float16)")
    parser.add_argument("--mapping-from", metavar="WEIGHTS",
                        help="weights folder whose M_s (random part styles) a synthesis-only run ships with, "
                        "e.g. the folder it was warm-started from")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CA2SISError(f"--out {args.out}: is a file; give a weights folder to write")
    if any((out / name).exists() for name in CHECKPOINT_FILES.values()):
        raise CA2SISError(f"--out {args.out}: is a run folder (it holds a checkpoint); give a weights folder")
    paths = export_weights(args.run, args.out, torch.float32 if args.fp32 else torch.float16,
                           mapping_from=args.mapping_from)
    total = sum(p.stat().st_size for p in paths)
    for path in paths:
        print(f"{path}  {path.stat().st_size / 1e6:.2f} MB")
    print(f"total {total / 1e6:.2f} MB")
    return EXIT_OK


def fit_mapping_command(argv: list[str]) -> int:
    parser = ArgumentParser(
        prog="ca2sis-train fit-mapping",
        description="Fit M_s (random part styles) to the codes E_s gives the training faces, class by class "
        "(model/training/mapping_fit.py): minutes on a CPU, G is not run. Writes a new weights folder with "
        "the same E_s, E_m and G and the fitted M_s.")
    parser.add_argument("weights", help="weights folder whose E_s defines the codes (and whose M_s is the start)")
    parser.add_argument("--data", required=True, help="training faces: images/ + masks/, or the official layout")
    parser.add_argument("--holdout", metavar="IDS.txt", help="face ids to leave out, e.g. the validation list")
    parser.add_argument("--out", required=True, help="new weights folder to write")
    add_flags(parser, {f.name: f for f in dataclasses.fields(MappingFit) if "help" in f.metadata}, defaults=True)
    parser.add_argument("--fresh", action="store_true", help="start M_s from random weights, not the folder's")
    args = parser.parse_args(argv)
    from tqdm import tqdm

    from ..training.data import open_dataset, read_id_list

    source, out = Path(args.weights), Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CA2SISError(f"--out {args.out}: exists; give a new weights folder (nothing is overwritten)")
    if args.steps < 1 or args.batch_size < 2:
        raise CA2SISError("--steps must be at least 1 and --batch-size at least 2")
    model = CA2SIS.from_pretrained(source)
    if model.mapping_network is None or args.fresh:
        torch.manual_seed(args.seed)
        model = CA2SIS(model.config, with_mapping=True).eval()
        model.load_state_dict(CA2SIS.from_pretrained(source).state_dict(), strict=False)
    dataset = open_dataset(args.data, model.config.image_size,
                           exclude=read_id_list(args.holdout) if args.holdout else None)
    with tqdm(total=len(dataset), desc="E_s codes", unit="face") as bar:
        codes, present = encode_dataset(model, dataset, on_batch=bar.update)
    with tqdm(total=args.steps, desc="fitting M_s", unit="step") as bar:
        def on_step(step: int, loss: float) -> None:
            bar.update()
            if step % 50 == 0:
                bar.set_postfix(swd=f"{loss:.4f}")

        settings = MappingFit(**{f.name: getattr(args, f.name) for f in dataclasses.fields(MappingFit)
                                 if "help" in f.metadata})
        result = fit_mapping(model.mapping_network, codes, present, settings, on_step=on_step)
    with torch.no_grad():
        drawn = model.random_codes(torch.randn(256, model.config.mapping_z_dim,
                                               generator=torch.Generator().manual_seed(args.seed)))
    model.save_pretrained(out)
    real_spread = torch.stack([code_spread(codes[present[:, c], c][:, None])[0] if present[:, c].sum() >= 2
                               else torch.tensor(0.0) for c in range(codes.shape[1])])
    print(f"{out}: M_s fitted on {len(dataset)} faces, {int(result['classes_fitted'])} classes, "
          f"last SWD {result['loss']:.4f}; code spread (drawn / real, mean over classes): "
          f"{float(code_spread(drawn).mean()):.2f} / {float(real_spread.mean()):.2f}")
    return EXIT_OK


def network_sizes(config: CA2SISConfig) -> dict[str, int]:
    """Parameter count of every network of ``config`` (M_s and D included)."""
    model = CA2SIS(config, with_mapping=True)
    sizes = {name: count_parameters(module) for name, module in model.networks().items()}
    disc = MultiScaleDiscriminator(config.num_classes, config.disc_channels, config.disc_layers, config.disc_scales)
    sizes["discriminator"] = count_parameters(disc)
    return sizes


def info_command(argv: list[str]) -> int:
    parser = ArgumentParser(prog="ca2sis-train info", description="Parameter counts and fp16 sizes.")
    parser.add_argument("--config", nargs="+", default=list(PRESETS), help="presets or config files")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    report = {}
    for name in args.config:
        config = _preset_or_file(name)
        sizes = network_sizes(config)
        inference = sum(v for k, v in sizes.items() if k != "discriminator")
        report[config.name] = {**sizes, "inference_total": inference, "inference_fp16_mb": inference * 2 / 2**20,
                               "config": dataclasses.asdict(config)}
    if args.json:
        print(json.dumps(report, indent=2))
        return EXIT_OK
    columns = ["style_encoder", "mask_embedder", "generator", "mapping_network", "discriminator"]
    print(f"{'config':<8}" + "".join(f"{c:>17}" for c in columns) + f"{'inference':>12}{'fp16 MiB':>10}")
    for name, row in report.items():
        print(f"{name:<8}" + "".join(f"{row[c]:>17,}" for c in columns)
              + f"{row['inference_total']:>12,}{row['inference_fp16_mb']:>10.1f}")
    print("inference = E_s + E_m + G + M_s (what a weights folder holds); D is used in training only")
    return EXIT_OK


def report_command(argv: list[str]) -> int:
    parser = ArgumentParser(
        prog="ca2sis-train report",
        description="Figures of a run (model/evaluation/training_report.py): its loss curves and a grid of "
        "validation faces through its exported weights (mask | real | reconstruction | style swap | a part's "
        "shape moved towards the next face's). Needs matplotlib: pip install -e .[scripts]")
    parser.add_argument("run", type=Path, help="run folder with log-<stage>.jsonl")
    parser.add_argument("--weights", type=Path, required=True, help="its exported weights (ca2sis-train export)")
    parser.add_argument("--data", type=Path, required=True, help="dataset folder (images/ + masks/ or official)")
    parser.add_argument("--list", type=Path, required=True, help="validation id list, one id per line")
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNGs")
    parser.add_argument("--faces", type=whole_number(1, 64), default=6, help="validation faces (default: %(default)s)")
    parser.add_argument("--seed", type=int, help="draw the faces at random with this seed (default: the list's first)")
    parser.add_argument("--cell", type=whole_number(16, 1024),
                        help="grid cell in px (default: the image size, within 128..256)")
    parser.add_argument("--part", default="hair", help="part whose shape is interpolated (default: %(default)s)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--width", type=whole_number(400, 8000), default=1200,
                        help="width of the loss figures in px (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        from ..evaluation.training_report import ReportSettings, make_report
    except ImportError as exc:
        raise CA2SISError(f"the report needs matplotlib ({exc}): pip install -e .[scripts]") from exc
    names = [f"loss-{stage}.png" for stage in STAGES] + ["validation-grid.png"]
    check_outputs([("--out", args.out / name) for name in names], [args.run, args.weights, args.data, args.list])
    settings = ReportSettings(run=args.run, weights=args.weights, data=args.data, id_list=args.list, out=args.out,
                              faces=args.faces, seed=args.seed, cell=args.cell, part=args.part, device=args.device,
                              width=args.width)
    for path in make_report(settings):
        print(path)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    commands = {"export": export_command, "info": info_command, "fit-mapping": fit_mapping_command,
                "report": report_command}
    if argv and argv[0] in commands:
        return run_cli(lambda: commands[argv[0]](argv[1:]))
    return run_cli(lambda: train_command(argv))


if __name__ == "__main__":
    sys.exit(main())
