"""Where a training step's CPU time goes: torch.profiler over a few steps of the trainer.

    python scripts/profile_train_step.py DATA [--config lite-128] [--batch-size 8] [--steps 3]
        [-- TrainConfig fields as --name value pairs, e.g. --augment off --lambda-parser 0]

Prints the operators by self CPU time and the share of the step each network's forward
takes (record_function scopes around E_s, E_m, G, D and the face parser).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections import defaultdict

import torch
from torch.profiler import ProfilerActivity, profile, record_function

from ca2sis.model.config import get_config
from ca2sis.model.training.train import TrainConfig, Trainer


def scoped(module: torch.nn.Module, name: str) -> None:
    """Wrap a module's forward in a profiler scope named ``name``."""
    forward = module.forward

    def wrapped(*args, **kwargs):
        with record_function(name):
            return forward(*args, **kwargs)

    module.forward = wrapped


def main() -> None:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--config", default="lite-128")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3, help="profiled steps (after 2 warm-up steps)")
    parser.add_argument("--shapes", action="store_true", help="also list the operators by input shape")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as out:
        options = dict(data=args.data, batch_size=args.batch_size, steps=args.steps + 2)
        for flag, value in zip(extra[::2], extra[1::2]):  # --name value pairs of TrainConfig fields
            name = flag.lstrip("-").replace("-", "_")
            options[name] = type(getattr(TrainConfig, name))(value)
        trainer = Trainer(get_config(args.config), TrainConfig(**options), out)
        for name, module in trainer.trained.items():
            scoped(module, name)
        scoped(trainer.disc, "discriminator")
        batches = (batch for _, batch in trainer.data.batches_from(0))
        for _ in range(2):
            trainer.train_step(next(batches))
        with profile(activities=[ProfilerActivity.CPU], record_shapes=args.shapes) as prof:
            for _ in range(args.steps):
                with record_function("step"):
                    trainer.train_step(next(batches))
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    per_step = total / 1e6 / args.steps
    print(f"{args.config}, batch {args.batch_size}, {args.steps} steps: {per_step:.2f} s per step "
          f"(self times of all ops summed), {torch.get_num_threads()} threads")
    print("\nforward scopes (inclusive, share of step):")
    scopes = defaultdict(float)
    for e in events:
        if e.key in ("style_encoder", "mask_embedder", "generator", "discriminator", "step"):
            scopes[e.key] += e.cpu_time_total
    step_time = scopes.pop("step", 0.0) or 1.0
    for key, value in sorted(scopes.items(), key=lambda kv: -kv[1]):
        print(f"  {key:<16} {100 * value / step_time:5.1f} %")
    print("\noperators by self CPU time:")
    print(events.table(sort_by="self_cpu_time_total", row_limit=30, max_name_column_width=48))
    if args.shapes:
        print("\noperators by input shape:")
        print(prof.key_averages(group_by_input_shape=True).table(
            sort_by="self_cpu_time_total", row_limit=40, max_name_column_width=32, max_shapes_column_width=90))
    with contextlib.suppress(Exception):
        prof.export_chrome_trace(f"{tempfile.gettempdir()}/ca2sis-train-step.trace.json")


if __name__ == "__main__":
    main()
