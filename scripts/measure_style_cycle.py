"""The per-part style cycle of a weights folder on validation faces (a network figure).

    python scripts/measure_style_cycle.py WEIGHTS [--data DIR] [--list FILE] [--limit 20]

For each face, E_s reads the generated reconstruction and the face with one part's code
taken from the next face (hair, skin, lips and nose in turn, as in
``ca2sis-eval``'s per-part study) back under the face's mask;
``style_cycle_loss`` compares each part's code with the one G was given (0: every code came
back; 1: nothing of it). Reported: the reconstructions' cycle, and per swapped part the
cycle of that part's code alone (does the swapped style reach its part?). Raw networks,
PyTorch fp32, at the weights' own size.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from ca2sis.model.io.pixels import one_hot
from ca2sis.model.labels import CLASS_NAMES
from ca2sis.model.networks.composite import CA2SIS
from ca2sis.model.training.data import open_dataset, read_id_list
from ca2sis.model.training.losses import style_cycle_loss

REPO = Path(__file__).resolve().parents[1]
PARTS = {"hair": ("hair",), "skin": ("skin",), "lips": ("u_lip", "l_lip"), "nose": ("nose",)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", type=Path)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "celebamask-mini")
    parser.add_argument("--list", type=Path, default=REPO / "assets" / "splits" / "celebamask-mini-val.txt")
    parser.add_argument("--limit", type=int, default=20)
    args = parser.parse_args()
    model = CA2SIS.from_pretrained(args.weights).float().eval()
    ids = read_id_list(args.list)[: args.limit]
    dataset = open_dataset(args.data, model.config.image_size, include=ids)
    items = [dataset[i] for i in range(len(dataset))]
    image = torch.stack([item["image"] for item in items])
    mask = one_hot(torch.stack([item["mask"] for item in items]), model.config.num_classes)
    report: dict[str, float] = {}
    with torch.no_grad():
        codes = model.encode_styles(image, mask)
        latents = model.embed_mask(mask)
        fake, _ = model.generate(latents, codes, mask)
        report["reconstruction"] = float(style_cycle_loss(model.encode_styles(fake, mask), codes, mask))
        for name, classes in PARTS.items():
            part = [CLASS_NAMES.index(c) for c in classes]
            swapped = codes.clone()
            swapped[:, part] = codes.roll(-1, dims=0)[:, part]
            face, _ = model.generate(latents, swapped, mask)
            back = model.encode_styles(face, mask)
            only = torch.zeros_like(mask)
            only[:, part] = mask[:, part]
            report[f"swap {name}"] = float(style_cycle_loss(back, swapped, only))
    rounded = {key: round(value, 4) for key, value in report.items()}
    print(json.dumps({"weights": str(args.weights), "faces": len(items), **rounded}))


if __name__ == "__main__":
    main()
