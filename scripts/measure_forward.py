"""Time one full generation (E_s + E_m + G) of an untrained config on this machine's CPU.

Usage: python scripts/measure_forward.py [CONFIG] [RUNS]   (default: lite 5)
Prints the median and minimum milliseconds after one warm-up run. Weights do not change
the cost, so random ones stand in for trained ones.
"""

from __future__ import annotations

import statistics
import sys
import time

import torch

from ca2sis.model.config import get_config
from ca2sis.model.networks.composite import CA2SIS


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "lite"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    config = get_config(name)
    model = CA2SIS(config).eval()
    size = config.image_size
    image = torch.rand(1, 3, size, size) * 2 - 1
    mask = torch.zeros(1, config.num_classes, size, size)
    mask[:, 1] = 1
    times = []
    with torch.inference_mode():
        model(image, mask)  # warm-up
        for _ in range(runs):
            start = time.perf_counter()
            model(image, mask)
            times.append((time.perf_counter() - start) * 1000)
    print(f"{config.name}: {size}x{size}, {torch.get_num_threads()} threads, "
          f"median {statistics.median(times):.0f} ms, min {min(times):.0f} ms over {runs} runs")


if __name__ == "__main__":
    main()
