"""Every backend variant the engine can pick for a weights folder, against PyTorch fp32: quality and speed.

Usage: python benchmarks/validate_backends.py WEIGHTS [--data DIR] [--list FILE] [--limit 8] [--runs 10]
                                           [--out validate-backends]

For WEIGHTS (with its ``ca2sis-export``, and ``--int8`` for the int8 G) the variants are PyTorch
fp32 (the reference), ONNX Runtime with the fp32 G and, when exported, with the int8 G. On the
validation faces each variant reconstructs every face and part-edits it (its hair in the next
face's style); the scores (``inference.quality``) are the reconstruction PSNR against the real
faces, its drop from PyTorch fp32's (at most 0.5 dB to pass) and the PSNR of the images against
PyTorch fp32's (a mean of 40 dB or more: visually identical). The timings are ``ca2sis-bench``'s
two operations (full generation, part edit), every variant timed side by side (interleaved).
Writes OUT.json and OUT.md; the README's and docs/speed.md's figures come from here.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from ca2sis.model.config import CA2SISConfig
from ca2sis.model.devices import instruction_set, physical_cores
from ca2sis.model.inference.backends import INT8_GENERATOR_FILE, OnnxBackend, TorchBackend
from ca2sis.model.inference.bench import OPERATIONS, machine_description, measure_interleaved
from ca2sis.model.inference.engine import Engine
from ca2sis.model.inference.quality import (
    MAX_PSNR_DROP_DB,
    MIN_AGREEMENT_DB,
    FaceArrays,
    compare_to_reference,
    face_files,
)
from ca2sis.model.networks.composite import CA2SIS
from ca2sis.model.training.data import read_id_list

REPO = Path(__file__).resolve().parents[1]


def variants(folder: Path, config: CA2SISConfig, threads: int) -> dict[str, Engine]:
    """The ONNX variants of ``folder`` that load (fp32 G; int8 G when exported), by name."""
    precisions = ["fp32", "int8"] if (folder / INT8_GENERATOR_FILE).exists() else ["fp32"]
    return {
        f"onnx {precision}": Engine(backend=OnnxBackend(folder, config, "cpu", threads, precision=precision))
        for precision in precisions
    }


def markdown(report: dict) -> str:
    quality, timing = report["quality"], report["timing"]
    lines = [
        f"{report['weights']} ({report['config']}, {report['image_size']} px) on {quality['reference']['faces']} "
        f"validation faces; CPU {report['machine']['instruction_set']}, {report['machine']['physical_cores']} "
        f"physical cores; engine default here: **{report['engine_default']}**",
        "",
        f"| variant | recon. PSNR vs real | drop vs torch fp32 (≤ {MAX_PSNR_DROP_DB}) | "
        f"vs torch fp32: recon. mean / min | part edit mean / min (≥ {MIN_AGREEMENT_DB:.0f} mean) | passes | "
        f"full generation ms (median / min) | part edit ms (median / min) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in quality.items():
        times = timing.get(name, {})
        cells = [f"{times[op]['median_ms']:.1f} / {times[op]['min_ms']:.1f}" if op in times else ""
                 for op in OPERATIONS]
        if name == "reference":
            lines.append(f"| torch fp32 (reference) | {row['reconstruction_psnr_db']:.2f} dB | | | | | "
                         f"{cells[0]} | {cells[1]} |")
            continue
        lines.append(
            f"| {name} | {row['reconstruction_psnr_db']:.2f} dB | {row['psnr_drop_db']:.3f} dB | "
            f"{row['reconstruction_vs_reference_mean_db']:.1f} / {row['reconstruction_vs_reference_min_db']:.1f} dB | "
            f"{row['part_edit_vs_reference_mean_db']:.1f} / {row['part_edit_vs_reference_min_db']:.1f} dB | "
            f"{'yes' if row['passes'] else 'no'} | {cells[0]} | {cells[1]} |"
        )
    lines += ["", f"{report['runs']} interleaved runs after {report['warmup']} warm-up runs each, "
              f"{report['threads']} threads per variant. PSNR against PyTorch fp32: inf where the images are equal."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", type=Path)
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/celebamask-mini"),
                        help="faces: images/ + masks/ (default: celebamask-mini)")
    parser.add_argument("--list", type=Path, default=REPO / "assets" / "splits" / "celebamask-mini-val.txt",
                        help="face ids to use (default: the celebamask-mini validation list); 'all' for every face")
    parser.add_argument("--limit", type=int, default=8, help="at most this many faces (default: 8)")
    parser.add_argument("--runs", type=int, default=10, help="timed runs per variant (default: 10; 0: no timing)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, help="CPU threads of every variant (default: the physical cores)")
    parser.add_argument("--out", type=Path, default=Path("validate-backends"), help="writes OUT.json and OUT.md")
    args = parser.parse_args()
    ids = None if str(args.list) == "all" else read_id_list(args.list)
    # The same threads for every variant (PyTorch would otherwise follow OMP_NUM_THREADS, ORT not).
    threads = args.threads or physical_cores()
    reference = Engine(backend=TorchBackend(CA2SIS.from_pretrained(args.weights), device="cpu", threads=threads))
    engines = variants(args.weights, reference.config, threads)
    faces = FaceArrays.load(reference, face_files(args.data, ids, args.limit))
    quality = compare_to_reference(reference, engines, faces)
    quality["reference"]["faces"] = len(faces.names)
    timing: dict[str, dict] = {}
    if args.runs > 0:
        names = ["reference", *engines]
        all_times = measure_interleaved([reference, *engines.values()], args.runs, args.warmup)
        for name, times in zip(names, all_times):
            timing[name] = {op: {"median_ms": round(statistics.median(t), 2), "min_ms": round(min(t), 2)}
                            for op, t in times.items()}
    default = Engine.from_pretrained(args.weights, device="cpu", threads=threads)
    report = {
        "weights": str(args.weights),
        "config": reference.config.name,
        "image_size": reference.image_size,
        "faces": faces.names,
        "engine_default": default.description,
        "threads": threads,
        "runs": args.runs,
        "warmup": args.warmup,
        "machine": {**machine_description(), "instruction_set": instruction_set(), "physical_cores": physical_cores()},
        "quality": quality,
        "timing": timing,
    }
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    args.out.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
