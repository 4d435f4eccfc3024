"""`ca2sis-bench`: how fast the engine generates, per backend and device.

Two latencies, each the median and minimum over N runs after warm-up, every variant timed
side by side (run i of each before run i + 1 of any), so their ratios hold on a loaded machine:

- full generation: nothing cached: E_s of the style face, E_m of every mask plane, G;
- part edit: what the studio pays per brush stroke or part drop: a stroke paints hair at a
  new place (two mask planes re-embedded), one part takes a cached reference's style, G.

Without ``--weights`` random weights of ``--config`` stand in (speed does not depend on the
values) and are exported to ONNX in a temporary folder. On a GPU the variants also cover
fp16, torch.compile with CUDA graphs and the ONNX Runtime CUDA / TensorRT providers.

    ca2sis-bench --config lite --runs 20 --json bench.json
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode
from tqdm import tqdm

from ..config import CA2SISConfig, get_config
from ..devices import instruction_set, physical_cores, resolve_device
from ..errors import CA2SISError, DataError, WeightsError
from ..labels import CLASS_NAMES, part_index
from ..networks.composite import CA2SIS
from .backends import INT8_GENERATOR_FILE, OnnxBackend, TorchBackend, build_graphs
from .edits import Edit, Reference
from .engine import Engine
from .onnx_export import export_onnx
from .quality import MAX_PSNR_DROP_DB, MIN_AGREEMENT_DB, FaceArrays, FaceFiles, compare_to_reference

HAIR = part_index("hair")
OPERATIONS = ("full generation", "part edit")


@dataclass(frozen=True)
class Variant:
    label: str
    backend: str
    device: str
    compile: bool = False
    tensorrt: bool = False


VARIANTS = {
    "torch-cpu": Variant("torch-cpu", "torch", "cpu"),
    "onnx-cpu": Variant("onnx-cpu", "onnx", "cpu"),
    "torch-cuda": Variant("torch-cuda", "torch", "cuda"),
    "torch-cuda-compiled": Variant("torch-cuda-compiled", "torch", "cuda", compile=True),
    "onnx-cuda": Variant("onnx-cuda", "onnx", "cuda"),
    "onnx-tensorrt": Variant("onnx-tensorrt", "onnx", "cuda", tensorrt=True),
}


def default_variants() -> list[str]:
    names = ["torch-cpu", "onnx-cpu"]
    if resolve_device("auto") == "cuda":
        names += ["torch-cuda", "torch-cuda-compiled", "onnx-cuda", "onnx-tensorrt"]
    return names


def synthetic_face_mask(size: int) -> np.ndarray:
    """A plausible frontal-face layout drawn from ellipses, so every part has its usual size."""
    rows, cols = np.mgrid[0:size, 0:size] / size
    mask = np.zeros((size, size), np.uint8)

    def ellipse(cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
        return ((rows - cy) / ry) ** 2 + ((cols - cx) / rx) ** 2 <= 1.0

    def paint(name: str, region: np.ndarray) -> None:
        mask[region] = part_index(name)

    paint("cloth", rows > 0.85)
    paint("neck", ellipse(0.85, 0.5, 0.2, 0.14))
    paint("hair", ellipse(0.42, 0.5, 0.4, 0.33))
    paint("l_ear", ellipse(0.5, 0.22, 0.07, 0.04))
    paint("r_ear", ellipse(0.5, 0.78, 0.07, 0.04))
    paint("skin", ellipse(0.52, 0.5, 0.3, 0.24))
    paint("l_brow", ellipse(0.4, 0.4, 0.015, 0.06))
    paint("r_brow", ellipse(0.4, 0.6, 0.015, 0.06))
    paint("l_eye", ellipse(0.46, 0.4, 0.02, 0.045))
    paint("r_eye", ellipse(0.46, 0.6, 0.02, 0.045))
    paint("nose", ellipse(0.56, 0.5, 0.07, 0.035))
    paint("u_lip", ellipse(0.67, 0.5, 0.015, 0.07))
    paint("l_lip", ellipse(0.695, 0.5, 0.02, 0.065))
    return mask


def synthetic_face(mask: np.ndarray, seed: int = 0) -> np.ndarray:
    """A face-coloured image for a mask: one random colour per class plus noise."""
    rng = np.random.default_rng(seed)
    colours = rng.integers(40, 220, (len(CLASS_NAMES), 3))
    noise = rng.normal(0, 12, (*mask.shape, 3))
    return np.clip(colours[mask] + noise, 0, 255).astype(np.uint8)


def _milliseconds(function: Callable[[], object], cuda: bool) -> float:
    if cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    function()
    if cuda:
        torch.cuda.synchronize()
    return (time.perf_counter() - start) * 1000


def workload(engine: Engine) -> dict[str, Callable[[], None]]:
    """The two measured operations on ``engine``: a full generation and a part edit."""
    size = engine.image_size
    mask = synthetic_face_mask(size)
    face = synthetic_face(mask, seed=0)
    reference = synthetic_face(mask, seed=1)

    def full() -> None:
        engine.clear_caches()
        engine.render(Edit(mask, Reference(face, mask)))

    stroke = {"count": 0}
    brush = max(2, size // 32)

    def part_edit() -> None:
        # A new stroke every time (never a cached mask): a square of hair on the cloth, one
        # pixel further each run, row after row (thousands of distinct places).
        stroke["count"] += 1
        edited = mask.copy()
        x = stroke["count"] % (size - brush)
        y = size - brush - stroke["count"] // (size - brush) % (size // 8)
        edited[y : y + brush, x : x + brush] = HAIR
        engine.render(Edit(edited, Reference(face, mask), part_styles={HAIR: (Reference(reference, mask), 1.0)}))

    return {"full generation": full, "part edit": part_edit}


def measure_interleaved(engines: list[Engine], runs: int, warmup: int) -> list[dict[str, list[float]]]:
    """Milliseconds of each full generation and part edit of every engine, taken in turn: run i
    of every engine before run i + 1 of any, so a load that comes and goes on a shared machine
    weighs on every variant alike and their ratios hold."""
    workloads = [workload(engine) for engine in engines]
    times: list[dict[str, list[float]]] = [{operation: [] for operation in OPERATIONS} for _ in engines]
    for operation in OPERATIONS:
        for step in range(warmup + runs):
            for engine, operations, timings in zip(engines, workloads, times):
                elapsed = _milliseconds(operations[operation], engine.backend.device == "cuda")
                if step >= warmup:
                    timings[operation].append(elapsed)
    return times


def measure(engine: Engine, runs: int, warmup: int) -> dict[str, list[float]]:
    """Milliseconds of each full generation and each part edit of one engine."""
    return measure_interleaved([engine], runs, warmup)[0]


def count_gflop(weights: Path) -> dict[str, float]:
    """Floating-point operations (2 per multiply-add) of one full generation and one part
    edit, counted by PyTorch on the graphs the backends run."""
    model = CA2SIS.from_pretrained(weights)
    graphs = build_graphs(model)
    config = model.config
    size, classes = config.image_size, config.num_classes
    mask = torch.from_numpy(synthetic_face_mask(size)).long()[None]
    counts = {}
    with torch.inference_mode():
        for name, inputs in (
            ("style_encoder", (torch.zeros(1, 3, size, size), mask)),
            ("mask_embedder", (torch.zeros(1, 1, size, size),)),  # one plane, as the engine embeds them
            ("generator", (torch.zeros(1, classes, config.mask_latent_dim), torch.zeros(1, classes, config.code_dim))),
        ):
            with FlopCounterMode(display=False) as counter:
                graphs[name](*inputs)
            counts[name] = counter.get_total_flops() / 1e9
    return {
        "full generation": counts["style_encoder"] + classes * counts["mask_embedder"] + counts["generator"],
        "part edit": 2 * counts["mask_embedder"] + counts["generator"],
        **{f"{name} (one call)": value for name, value in counts.items()},
    }


def machine_description() -> dict[str, object]:
    info: dict[str, object] = {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "physical_cores": physical_cores(),
        "instruction_set": instruction_set(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def usable_cpus() -> int:
    """How many CPUs this process may run on (its affinity: a container's or taskset's share)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def check_threads(threads: int | None) -> None:
    """Refuse a thread count outside 1..the usable CPUs: 0 or less fails in every backend, and
    tens of thousands crash PyTorch or make ONNX Runtime spawn threads until memory runs out."""
    cpus = usable_cpus()
    if threads is not None and not 1 <= threads <= cpus:
        raise DataError(f"--threads {threads}: choose between 1 and {cpus} (the CPUs this process may use)")


def random_weights_config(config_name: str) -> CA2SISConfig:
    """The config of the random weights to time: a preset's name or a config JSON file; one
    that does not exist or does not read is bad input (DataError)."""
    try:
        return get_config(config_name)
    except DataError as error:  # config.py's refusal of a name or a file's content, said with the option
        raise DataError(f"--config {config_name}: {error}") from None


def prepare_weights(weights: Path | None, config_name: str, need_onnx: bool, scratch: Path) -> Path:
    """The folder to benchmark: ``weights`` (exported to ONNX when needed and missing)."""
    if weights is None:
        torch.manual_seed(0)
        # A fixed name in the scratch folder: config_name may be a path to a config JSON, and
        # joining an absolute one would point at the user's file.
        weights = scratch / "random-weights"
        CA2SIS(random_weights_config(config_name), with_mapping=True).save_pretrained(weights)
    if need_onnx and not Engine.onnx_export_current(weights):
        if not os.access(weights, os.W_OK):
            raise CA2SISError(f"{weights} has no current ONNX export and is read-only: run ca2sis-export on a copy")
        print(f"exporting {weights} to ONNX ...", file=sys.stderr)
        export_onnx(weights)
    return weights


def run_benchmark(
    weights: Path, variants: list[str], runs: int, warmup: int, threads: int | None = None
) -> list[dict[str, object]]:
    """One row per variant; the variants that load are timed side by side (``measure_interleaved``)."""
    check_threads(threads)
    rows: list[dict[str, object]] = []
    loaded: list[tuple[dict[str, object], Engine]] = []
    for name in tqdm(variants, desc="loading variants", unit="variant", file=sys.stderr):
        variant = VARIANTS[name]
        row: dict[str, object] = {"variant": name}
        try:
            engine = Engine.from_pretrained(
                weights, device=variant.device, backend=variant.backend, threads=threads, compile=variant.compile,
                tensorrt=variant.tensorrt,
            )
            row["engine"] = engine.description
            measure(engine, runs=0, warmup=1)  # a variant that loads but cannot run fails here, alone
            loaded.append((row, engine))
        except Exception as exc:  # one variant failing (no TensorRT, say) must not hide the others
            row["error"] = f"{type(exc).__name__}: {exc}"
        rows.append(row)
    if loaded:
        print(f"timing {len(loaded)} variants side by side ...", file=sys.stderr)
        all_times = measure_interleaved([engine for _, engine in loaded], runs, warmup)
        for (row, _), times in zip(loaded, all_times):
            for operation, timings in times.items():
                row[operation] = {
                    "median_ms": round(statistics.median(timings), 2),
                    "min_ms": round(min(timings), 2),
                    "runs": len(timings),
                }
    return rows


def format_table(results: list[dict[str, object]], config: str, size: int, gflop: dict[str, float]) -> str:
    lines = [
        f"CA2-SIS {config} at {size}x{size}, milliseconds (median / min); "
        f"{gflop['full generation']:.2f} GFLOP per full generation, {gflop['part edit']:.2f} per part edit; "
        f"CPU {instruction_set()}, {physical_cores()} physical cores",
        "",
        "| variant | engine | full generation | part edit |",
        "|---|---|---|---|",
    ]
    for row in results:
        if "error" in row:
            lines.append(f"| {row['variant']} | failed: {row['error']} | | |")
            continue
        cells = []
        for op in ("full generation", "part edit"):
            median, fastest = row[op]["median_ms"], row[op]["min_ms"]
            cells.append(f"{median:.1f} / {fastest:.1f} ({gflop[op] * 1000 / median:.0f} GFLOP/s)")
        lines.append(f"| {row['variant']} | {row['engine']} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def quality_variants(folder: Path, config: CA2SISConfig, threads: int) -> dict[str, Engine]:
    """The ONNX variants of ``folder`` that load (fp32 G; int8 G when exported), by name."""
    precisions = ["fp32", "int8"] if (folder / INT8_GENERATOR_FILE).exists() else ["fp32"]
    return {f"onnx {precision}": Engine(backend=OnnxBackend(folder, config, "cpu", threads, precision=precision))
            for precision in precisions}


def validate_variants(weights: Path, faces: list[FaceFiles], runs: int, warmup: int,
                      threads: int | None = None) -> dict:
    """``ca2sis-bench quality``: every ONNX variant of ``weights`` against PyTorch fp32 on
    ``faces`` (``quality.compare_to_reference``: the rule the int8 G is checked by at export)
    and, ``runs`` > 0, the two operations of every variant timed side by side."""
    check_threads(threads)
    if not Engine.onnx_export_current(weights):
        raise WeightsError(f"{weights} has no current ONNX export to check: run `ca2sis-export {weights}` first "
                           "(with --int8 for the int8 G)")
    threads = threads or physical_cores()  # the same for all (PyTorch would follow OMP_NUM_THREADS, ORT not)
    reference = Engine(backend=TorchBackend(CA2SIS.from_pretrained(weights), device="cpu", threads=threads))
    engines = quality_variants(weights, reference.config, threads)
    arrays = FaceArrays.load(reference, faces)
    quality = compare_to_reference(reference, engines, arrays)
    quality["reference"]["faces"] = len(arrays.names)
    timing: dict[str, dict] = {}
    if runs > 0:
        all_times = measure_interleaved([reference, *engines.values()], runs, warmup)
        for name, times in zip(["reference", *engines], all_times):
            timing[name] = {operation: {"median_ms": round(statistics.median(values), 2),
                                        "min_ms": round(min(values), 2)} for operation, values in times.items()}
    return {
        "weights": str(weights), "config": reference.config.name, "image_size": reference.image_size,
        "faces": arrays.names, "threads": threads, "runs": runs, "warmup": warmup,
        "engine_default": Engine.from_pretrained(weights, device="cpu", threads=threads).description,
        "machine": machine_description(), "quality": quality, "timing": timing,
    }


def quality_table(report: dict) -> str:
    """``validate_variants``'s report as a markdown table, one row per variant."""
    quality, timing = report["quality"], report["timing"]
    lines = [
        f"{report['weights']} ({report['config']}, {report['image_size']} px) on {quality['reference']['faces']} "
        f"faces; CPU {report['machine']['instruction_set']}, {report['machine']['physical_cores']} physical cores; "
        f"engine default here: **{report['engine_default']}**",
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
