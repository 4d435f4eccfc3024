"""Two diagnostics of G on real faces: droplet spikes before its norms, and how much of each
pixel's cross-attention lands on its own class.

    python scripts/measure_norm_spikes.py WEIGHTS DATA [--faces 4] [--face 0]

- For face ``--face``: at the input of every norm layer of G, the largest per-pixel
  magnitude (max over channels) against its median over the map, and where it peaks. A
  GroupNorm generator under GAN training plants a few such spikes (StyleGAN2's "droplet"
  artifact); the output shows a dark blob at the peak.
- Over ``--faces`` faces: the mean share of each pixel's cross-attention (all heads) on its
  own class, block by block, and how much a one-part style swap (skin, hair from the next
  face) changes the image inside the part and outside it.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from ca2sis.model.networks.composite import CA2SIS
from ca2sis.model.networks.layers import PixelNorm
from ca2sis.model.training.data import one_hot, open_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights")
    parser.add_argument("data")
    parser.add_argument("--faces", type=int, default=4)
    parser.add_argument("--face", type=int, default=0)
    args = parser.parse_args()
    model = CA2SIS.from_pretrained(args.weights).eval()
    size = model.config.image_size
    dataset = open_dataset(args.data, size, flip=False)
    items = [dataset[i] for i in range(args.faces)]
    images = torch.stack([item["image"] for item in items])
    masks = one_hot(torch.stack([item["mask"] for item in items]), model.config.num_classes)

    spikes: list[tuple[str, tuple[int, ...], float, float, tuple[int, int]]] = []

    def record(name: str):
        def hook(module, inputs, output):  # noqa: ARG001
            magnitude = inputs[0][args.face].abs().amax(0)  # (H, W): max over channels
            peak = int(magnitude.argmax())
            spikes.append((name, tuple(magnitude.shape), float(magnitude.max()), float(magnitude.median()),
                           divmod(peak, magnitude.shape[1])))
        return hook

    handles = [module.register_forward_hook(record(name)) for name, module in model.generator.named_modules()
               if isinstance(module, (torch.nn.GroupNorm, PixelNorm))]
    with torch.no_grad():
        model(images[args.face:args.face + 1], masks[args.face:args.face + 1])
    for handle in handles:
        handle.remove()
    print(f"{args.weights} (config {model.config.name}, G norm '{model.config.generator_norm}'), face {args.face}:")
    print("  input of each norm of G: peak / median of the per-pixel magnitude, and where it peaks (row, col)")
    for name, shape, peak, median, where in spikes:
        print(f"    {name:<26} {shape[0]:>3} px  {peak / median:5.1f}x  at {where}")

    with torch.no_grad():
        codes = model.encode_styles(images, masks)
        latents = model.embed_mask(masks)
        reference, maps = model.generate(latents, codes, masks)
        print(f"  cross-attention on each pixel's own class ({args.faces} faces), block by block:")
        for index, attention in enumerate(maps):  # (B, heads, C, H, W)
            mask = F.interpolate(masks, size=attention.shape[-2:], mode="nearest")
            own = (attention.mean(1) * mask).sum(1).mean()
            print(f"    block {index} ({attention.shape[-1]} px): {float(own):.2f}")
        print("  one-part style swap from the next face: mean |change| inside the part / outside")
        for part, name in ((1, "skin"), (13, "hair")):
            swapped = codes.clone()
            swapped[:, part] = codes.roll(1, 0)[:, part]
            image, _ = model.generate(latents, swapped, masks)
            change = (image - reference).abs().mean(1)
            inside = masks[:, part] > 0
            inside_change, outside_change = float(change[inside].mean()), float(change[~inside].mean())
            print(f"    {name:<5} inside {inside_change:.3f}  outside {outside_change:.3f}")


if __name__ == "__main__":
    main()
