"""How fast this CPU can run G's arithmetic at best, against what the live-editing targets need.

    python benchmarks/measure_cpu_ceiling.py [--gflop 12.93] [--runs 20] [--json OUT.json]

Times, with the engine's own ONNX Runtime settings (``onnx_session_options``: threads = the
physical cores, no spinning), single operators at the shapes of G's 256 px block, each alone
in its graph (so nothing but the operator runs: an upper bound on what the whole G can reach):

- ``Conv 3x3``: 32 -> 32 channels on a 256 x 256 map (the residual block's convolutions);
- ``Gemm``: 65,536 tokens x 32 -> 256 (GEGLU's input product at that block);
- ``MatMul 2048``: a square fp32 product, the CPU's best case for arithmetic.

and PyTorch's square fp32 matmul (oneDNN / MKL) as a second opinion. For each it gives GFLOP/s
(2 FLOPs per multiply-add, as ``benchmarks/count_flops.py`` and ``ca2sis-bench`` count) and how
long G's ``--gflop`` (default: the generator at 256 px, ``lite-pn``, from ``ca2sis-bench``)
would take at that rate, beside the issue-25 targets (part edit 100 ms, full generation 120 ms).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np
import torch
from onnx import TensorProto, helper, numpy_helper

from ca2sis.model.devices import instruction_set, physical_cores
from ca2sis.model.inference.backends import onnx_session_options

TARGETS_MS = {"part edit": 100.0, "full generation": 120.0}


def single_op_graph(op: str, x_shape: list[int], weight: np.ndarray, **attributes) -> bytes:
    """An ONNX model with one operator: y = op(x, weight)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    node = helper.make_node(op, ["x", "w"], ["y"], **attributes)
    graph = helper.make_graph([node], op, [x], [y], [numpy_helper.from_array(weight, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], ir_version=10)
    return model.SerializeToString()


def time_ms(run, runs: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gflop", type=float, default=12.93, help="G's GFLOP per call (ca2sis-bench's 'generator')")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", help="write the report here")
    args = parser.parse_args()
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    cases = {
        "Conv 3x3, 32->32, 256x256": (
            single_op_graph("Conv", [1, 32, 256, 256], rng.standard_normal((32, 32, 3, 3), np.float32),
                            pads=[1, 1, 1, 1]),
            rng.standard_normal((1, 32, 256, 256), np.float32), 2 * 32 * 32 * 9 * 256 * 256),
        "Gemm, 65536x32 @ 32x256": (
            single_op_graph("Gemm", [65536, 32], rng.standard_normal((32, 256), np.float32)),
            rng.standard_normal((65536, 32), np.float32), 2 * 65536 * 32 * 256),
        "MatMul 2048^3": (
            single_op_graph("MatMul", [2048, 2048], rng.standard_normal((2048, 2048), np.float32)),
            rng.standard_normal((2048, 2048), np.float32), 2 * 2048 ** 3),
    }
    threads = physical_cores()
    rows = []
    for name, (graph, x, flop) in cases.items():
        session = ort.InferenceSession(graph, onnx_session_options(), providers=["CPUExecutionProvider"])
        times = time_ms(lambda session=session, x=x: session.run(None, {"x": x}), args.runs)
        rows.append({"operator": f"onnx {name}", "flop": flop, "best_ms": min(times),
                     "median_ms": statistics.median(times)})
    torch.set_num_threads(threads)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    times = time_ms(lambda: torch.mm(a, b), args.runs)
    rows.append({"operator": "torch mm 2048^3", "flop": 2 * 2048 ** 3, "best_ms": min(times),
                 "median_ms": statistics.median(times)})

    for row in rows:
        row["gflop_per_s"] = round(row["flop"] / row["best_ms"] / 1e6, 1)
        row["g_at_this_rate_ms"] = round(args.gflop * 1e3 / row["gflop_per_s"], 1)
        row["best_ms"], row["median_ms"] = round(row["best_ms"], 2), round(row["median_ms"], 2)
    report = {
        "machine": {"instruction_set": instruction_set(), "physical_cores": threads, "onnxruntime": ort.__version__,
                    "torch": torch.__version__},
        "generator_gflop": args.gflop,
        "targets_ms": TARGETS_MS,
        "needed_gflop_per_s": {k: round(args.gflop * 1e3 / v, 1) for k, v in TARGETS_MS.items()},
        "operators": rows,
    }
    print(f"{report['machine']['instruction_set']}, {threads} threads; G: {args.gflop} GFLOP; needed for the "
          f"part edit target: {report['needed_gflop_per_s']['part edit']} GFLOP/s", file=sys.stderr)
    for row in rows:
        print(f"  {row['operator']:<38} {row['gflop_per_s']:>7.1f} GFLOP/s (best of {args.runs}) -> "
              f"G alone at this rate: {row['g_at_this_rate_ms']:.0f} ms", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as out:
            out.write(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
