"""Where each of G's losses pulls the generated face: the mean gradient magnitude of every
loss term at G's output image, per mask class, for a weights folder and its D.

A diagnosis for artefacts that sit in one part of every face (e.g. the noise in one eye when
G was grown to 256 px, docs/training.md): the term whose gradient stands out in that part is
the one to look at. The loss weights are the trainer's defaults.

Usage:
    python scripts/loss_gradients.py --weights DIR [--faces face-01 face-02 ...]

DIR needs training/discriminator.safetensors beside the weights (what `ca2sis-train export`
writes). The faces are demo faces of assets/faces (image + mask). Prints one markdown table:
class | pixels | one column per loss term (mean |∂loss/∂pixel| x 1e6 over the faces).
Exit status 0; 2 on unusable inputs (one "error:" line).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from ca2sis.model.errors import CA2SISError
from ca2sis.model.faces.parser import FaceParserModel
from ca2sis.model.faces.reader import default_parser_weights
from ca2sis.model.labels import CLASS_NAMES, NUM_CLASSES
from ca2sis.model.networks.composite import CA2SIS
from ca2sis.model.networks.discriminator import MultiScaleDiscriminator
from ca2sis.model.training.data import load_image, load_mask, one_hot
from ca2sis.model.training.losses import ParserLoss, feature_matching_loss, hinge_generator_loss
from ca2sis.model.training.run_config import TrainConfig
from ca2sis.model.training.train import DISC_EXPORT

DEMO_FACES = Path(__file__).resolve().parents[1] / "assets" / "faces"


def _loss_terms(
    disc: MultiScaleDiscriminator, parser: ParserLoss, real: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor
) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """G's loss terms on one face as functions of the generated image, each times its λ."""
    w = TrainConfig().loss_weights()
    with torch.no_grad():
        pred_real = disc(mask, real)
    return {
        "l1": lambda x: w.l1 * F.l1_loss(x, real),
        "parser": lambda x: w.parser * parser(x, real, labels)[0],
        "semantic": lambda x: w.semantic * parser(x, real, labels)[1],
        "adversarial": lambda x: hinge_generator_loss(disc(mask, x)),
        "feature matching": lambda x: w.feat * feature_matching_loss(disc(mask, x), pred_real),
    }


def class_gradients(weights: Path, faces: list[str]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Per loss term, the summed |gradient| per class over ``faces``; and the pixels per class."""
    model = CA2SIS.from_pretrained(weights).eval()
    config = model.config
    disc_file = weights / DISC_EXPORT
    if not disc_file.is_file():
        raise CA2SISError(f"{disc_file} not found: export the run with `ca2sis-train export` to get D")
    disc = MultiScaleDiscriminator(config.num_classes, config.disc_channels, config.disc_layers, config.disc_scales)
    disc.load_state_dict({key: value.float() for key, value in load_file(str(disc_file)).items()})
    disc.eval()
    parser_model = FaceParserModel.from_pretrained(default_parser_weights())
    parser = ParserLoss(parser_model.network, parser_model.config.input_size)
    size = config.image_size
    totals: dict[str, torch.Tensor] = {}
    pixels = torch.zeros(NUM_CLASSES)
    for name in faces:
        image_file, mask_file = DEMO_FACES / f"{name}.jpg", DEMO_FACES / f"{name}.png"
        if not image_file.is_file() or not mask_file.is_file():
            raise CA2SISError(f"no demo face {name!r} in {DEMO_FACES}")
        real = torch.from_numpy(load_image(image_file, size)).permute(2, 0, 1)[None].float() / 127.5 - 1
        labels = torch.from_numpy(load_mask(mask_file, size)).long()[None]
        mask = one_hot(labels).float()
        with torch.no_grad():
            fake = model(real, mask)[0]
        for term, loss in _loss_terms(disc, parser, real, labels, mask).items():
            x = fake.clone().requires_grad_(True)
            (grad,) = torch.autograd.grad(loss(x), x)
            magnitude = grad[0].norm(dim=0).flatten()
            per_class = torch.zeros(NUM_CLASSES).index_add_(0, labels.flatten(), magnitude)
            totals[term] = totals.get(term, torch.zeros(NUM_CLASSES)) + per_class
        pixels += torch.bincount(labels.flatten(), minlength=NUM_CLASSES).float()
    return totals, pixels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Mean gradient magnitude of each G loss per mask class.")
    parser.add_argument("--weights", type=Path, required=True, help="weights folder with training/ D")
    parser.add_argument("--faces", nargs="+", default=["face-01", "face-02", "face-03", "face-04"],
                        help="demo faces of assets/faces (default: face-01 ... face-04)")
    args = parser.parse_args(argv)
    try:
        totals, pixels = class_gradients(args.weights, args.faces)
    except (CA2SISError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    terms = list(totals)
    print(f"mean |dloss/dpixel| x 1e6 at G's output, {args.weights}, faces {' '.join(args.faces)}\n")
    print("| class | pixels | " + " | ".join(terms) + " |")
    print("|---|---|" + "---|" * len(terms))
    for index, name in enumerate(CLASS_NAMES):
        if pixels[index] > 0:
            means = [f"{float(totals[t][index] / pixels[index]) * 1e6:.1f}" for t in terms]
            print(f"| {name} | {int(pixels[index])} | " + " | ".join(means) + " |")
    return 0


if __name__ == "__main__":
    torch.set_num_threads(1)  # a diagnosis beside a training run: one core
    sys.exit(main())
