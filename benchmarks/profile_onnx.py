"""Where the time of G goes in ONNX Runtime: a per-operator profile of the exported generator.

Usage: python benchmarks/profile_onnx.py [CONFIG] [RUNS] [--threads N]   (default: lite-pn 20)

``lite-pn`` is ``lite`` with the per-pixel norm (the campaign's 256 px generator); any preset
name or config JSON works. Random weights stand in for trained ones (the cost does not depend
on the values). The generator is exported once into a temporary folder, run ``RUNS`` times
with ORT's profiler on (after two untimed runs) and the kernel times are summed per operator
type and per node, as shares of the total. The session is the engine's own (``OnnxBackend``),
so the profile shows what the studio pays.
"""

from __future__ import annotations

import argparse
import collections
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from ca2sis.model.config import get_config
from ca2sis.model.devices import cpu_flags
from ca2sis.model.inference.backends import OnnxBackend, onnx_session_options
from ca2sis.model.inference.onnx_export import export_onnx
from ca2sis.model.networks.composite import CA2SIS


def config_named(name: str):
    if name == "lite-pn":
        return get_config("lite").replace(name="lite-pn", generator_norm="pixel")
    return get_config(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default="lite-pn")
    parser.add_argument("runs", nargs="?", type=int, default=20)
    parser.add_argument("--threads", type=int, help="intra-op threads (default: the engine's choice)")
    parser.add_argument("--top", type=int, default=15, help="nodes listed (default: 15)")
    parser.add_argument("--weights", type=Path, help="an exported weights folder to profile instead (config ignored)")
    args = parser.parse_args()
    config = get_config(args.weights) if args.weights else config_named(args.config)
    with tempfile.TemporaryDirectory(prefix="ca2sis-profile-") as scratch:
        folder = args.weights or Path(scratch)
        if args.weights is None:
            torch.manual_seed(0)
            CA2SIS(config, with_mapping=False).save_pretrained(folder)
            export_onnx(folder)
        options = onnx_session_options(args.threads)
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(scratch) / "profile")
        backend = OnnxBackend(folder, config, device="cpu", options=options)
        rng = np.random.default_rng(0)
        latents = rng.standard_normal((1, config.num_classes, config.mask_latent_dim)).astype(np.float32)
        codes = rng.standard_normal((1, config.num_classes, config.code_dim)).astype(np.float32)
        for _ in range(2):
            backend.generate(latents, codes)
        session = backend.sessions["generator"]
        for _ in range(args.runs):
            backend.generate(latents, codes)
        events = json.loads(Path(session.end_profiling()).read_text())
    runs = args.runs + 2
    by_type: collections.Counter[str] = collections.Counter()
    by_node: collections.Counter[tuple[str, str]] = collections.Counter()
    for event in events:
        if event.get("cat") != "Node" or not event["name"].endswith("_kernel_time"):
            continue
        op = event["args"]["op_name"]
        by_type[op] += event["dur"]
        by_node[(event["name"].removesuffix("_kernel_time"), op)] += event["dur"]
    total = sum(by_type.values())
    print(f"{config.name} at {config.image_size} px, generator, {backend.description}, "
          f"threads {options.intra_op_num_threads or 'default'}; "
          f"vnni={'avx512_vnni' in cpu_flags()} avx512f={'avx512f' in cpu_flags()}")
    print(f"kernel time per run: {total / runs / 1000:.1f} ms (mean over {runs} runs, warm-up included)\n")
    print("| operator | ms per run | share |\n|---|---|---|")
    for op, microseconds in by_type.most_common():
        print(f"| {op} | {microseconds / runs / 1000:.2f} | {100 * microseconds / total:.1f} % |")
    print(f"\n| node (top {args.top}) | operator | ms per run | share |\n|---|---|---|---|")
    for (node, op), microseconds in by_node.most_common(args.top):
        print(f"| {node} | {op} | {microseconds / runs / 1000:.2f} | {100 * microseconds / total:.1f} % |")


if __name__ == "__main__":
    main()
