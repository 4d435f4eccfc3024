"""FLOPs of one face through each network of a config (and the face parser), forward pass.

    python benchmarks/count_flops.py [CONFIG]        (default lite-128)

Counted by torch.utils.flop_counter (matmuls and convolutions; 2 FLOPs per multiply-add).
"""

from __future__ import annotations

import sys

import torch
from torch.utils.flop_counter import FlopCounterMode

from ca2sis.model.config import get_config
from ca2sis.model.faces.parser import FaceParserModel
from ca2sis.model.faces.reader import default_parser_weights
from ca2sis.model.networks.composite import CA2SIS
from ca2sis.model.networks.discriminator import MultiScaleDiscriminator


def gflop(run) -> float:
    with FlopCounterMode(display=False) as counter:
        run()
    return counter.get_total_flops() / 1e9


def main() -> None:
    config = get_config(sys.argv[1] if len(sys.argv) > 1 else "lite-128")
    model = CA2SIS(config).eval()
    disc = MultiScaleDiscriminator(config.num_classes, config.disc_channels, config.disc_layers, config.disc_scales)
    size = config.image_size
    image = torch.randn(1, 3, size, size)
    mask = torch.zeros(1, config.num_classes, size, size)
    mask[:, 1] = 1
    with torch.no_grad():
        latents, codes = model.embed_mask(mask), model.encode_styles(image, mask)
        parser = FaceParserModel.from_pretrained(default_parser_weights())
        rows = {
            "E_s": gflop(lambda: model.encode_styles(image, mask)),
            "E_m": gflop(lambda: model.embed_mask(mask)),
            "G": gflop(lambda: model.generate(latents, codes, mask)),
            "D (all scales)": gflop(lambda: disc(mask, image)),
            f"face parser at {size} px": gflop(lambda: parser.network(image)),
            f"face parser at {parser.config.input_size} px": gflop(
                lambda: parser.network(torch.randn(1, 3, parser.config.input_size, parser.config.input_size))),
        }
    print(f"config {config.name}, one face, forward pass")
    for name, value in rows.items():
        print(f"  {name:<26} {value:7.2f} GFLOP")


if __name__ == "__main__":
    main()
