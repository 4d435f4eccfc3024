"""Does torch.compile pay on this CPU? G's forward and backward, eager against compiled.

    python scripts/measure_compile_generator.py [eager|compile] [CONFIG] [BATCH]

Prints the first call (compiling, for "compile") and three timed calls of G forward +
backward on random latents and codes (batch 10 = the trainer's 8 faces + 2 swaps).
"""

from __future__ import annotations

import sys
import time

import torch

from ca2sis.model.config import get_config
from ca2sis.model.networks.composite import CA2SIS


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "eager"
    config = get_config(sys.argv[2] if len(sys.argv) > 2 else "lite-128")
    batch = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    torch.manual_seed(0)
    generator = CA2SIS(config).generator
    latents = torch.randn(batch, config.num_classes, config.latent_side, config.latent_side)
    codes = torch.randn(batch, config.num_classes, config.code_dim)

    def step() -> None:
        image, maps = generator(latents, codes)
        (image.square().mean() + sum(m.mean() for m in maps)).backward()

    if mode == "compile":
        generator.compile()
    start = time.perf_counter()
    step()
    print(f"{mode}: first call {time.perf_counter() - start:.1f} s")
    for _ in range(3):
        start = time.perf_counter()
        step()
        print(f"{mode}: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
