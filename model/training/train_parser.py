"""`ca2sis-train-parser`: train the face parser on a labelled face folder.

    ca2sis-train-parser --data ../shared/data/celebamask-mini \\
        --val-list assets/splits/celebamask-mini-val.txt --out runs/parser --epochs 50

All faces are loaded once at the parser's input size. Each step takes random crops of
randomly scaled, rotated, shifted, colour-jittered and (half the time) mirrored faces, the
mirror swapping the l_/r_ classes. The loss is cross-entropy plus a soft Dice term, which
keeps small parts (eyes, earrings) from being drowned by skin and background. Every
``--eval-every`` epochs the validation faces are parsed whole (with the mirror average)
and the best weights by mean F1 are written as fp16 safetensors + JSON, with the
validation scores beside them. ``--init`` continues from earlier weights, e.g. for a
second stage with ``--rare-weight`` drawing faces with rare classes more often.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..errors import CA2SISError
from ..faces.parser import FaceParser, FaceParserConfig, FaceParserModel, flip_logits
from ..faces.segmentation import confusion_matrix, scores
from ..io.pixels import one_hot, to_network_tensor
from ..labels import CLASS_NAMES, FLIP_PERMUTATION, NUM_CLASSES
from .data import open_dataset, read_id_list


@dataclass
class ParserTrainConfig:
    data: str
    out: str
    val_list: str | None = None
    epochs: int = 60
    batch_size: int = 8
    crop: int = 192
    lr: float = 2e-3
    weight_decay: float = 1e-4
    dice_weight: float = 1.0
    eval_every: int = 5
    rare_weight: float = 1.0  # faces with a rare class are drawn this many times as often
    init: str | None = None  # start from these parser weights (a second, fine-tuning stage)
    seed: int = 0
    threads: int | None = None


# Classes in at most a quarter of the faces (eyeglasses, hat, earring, necklace): with
# uniform sampling most batches have none, and the parser learns to never predict them.
RARE_CLASSES = tuple(CLASS_NAMES.index(name) for name in ("eye_g", "hat", "ear_r", "neck_l"))


def load_faces(data: str, size: int, ids: list[str] | None, exclude: list[str] | None) -> tuple[torch.Tensor, ...]:
    """Every face of a dataset at ``size``: uint8 images (N, 3, S, S) and masks (N, S, S)."""
    dataset = open_dataset(data, size, flip=False, include=ids, exclude=exclude)
    images = torch.empty(len(dataset), 3, size, size, dtype=torch.uint8)
    masks = torch.empty(len(dataset), size, size, dtype=torch.uint8)
    for index in tqdm(range(len(dataset)), desc="loading faces", unit="face", file=sys.stderr, leave=False):
        image, mask = dataset.load_pair(dataset.ids[index])
        images[index] = torch.from_numpy(image).permute(2, 0, 1)
        masks[index] = torch.from_numpy(mask)
    return images, masks


def augment(
    images: torch.Tensor, masks: torch.Tensor, crop: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random mirror (l/r classes swapped), scale, rotation, shift, crop and colour jitter.

    images uint8 (B, 3, S, S), masks uint8 (B, S, S) → float images in [-1, 1] (B, 3, crop,
    crop) and int64 masks (B, crop, crop).
    """
    batch, _, size, _ = images.shape
    x = to_network_tensor(images)
    labels = masks.long()
    mirror = torch.rand(batch, generator=generator) < 0.5
    if mirror.any():
        permutation = torch.tensor(FLIP_PERMUTATION)
        x[mirror] = x[mirror].flip(-1)
        labels[mirror] = permutation[labels[mirror].flip(-1)]

    # One affine map per face, from output-crop coordinates to input coordinates in [-1, 1].
    scale = torch.empty(batch).uniform_(0.8, 1.2, generator=generator)
    angle = torch.empty(batch).uniform_(-math.pi / 15, math.pi / 15, generator=generator)  # ±12°
    extent = crop / size  # the crop covers this fraction of the (scaled) face
    shift = (torch.rand(batch, 2, generator=generator) * 2 - 1) * (1 - extent / 1.2) + (
        torch.randn(batch, 2, generator=generator) * 0.03
    )
    cos, sin = torch.cos(angle) * extent / scale, torch.sin(angle) * extent / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, (batch, 3, crop, crop), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    labels = F.grid_sample(labels[:, None].float(), grid, mode="nearest", padding_mode="reflection",
                           align_corners=False)[:, 0].long()

    brightness = torch.empty(batch, 1, 1, 1).uniform_(-0.2, 0.2, generator=generator)
    contrast = torch.empty(batch, 1, 1, 1).uniform_(0.75, 1.25, generator=generator)
    saturation = torch.empty(batch, 1, 1, 1).uniform_(0.6, 1.4, generator=generator)
    grey = x.mean(dim=1, keepdim=True)
    x = grey + (x - grey) * saturation
    x = (x - x.mean(dim=(1, 2, 3), keepdim=True)) * contrast + x.mean(dim=(1, 2, 3), keepdim=True) + brightness
    return x.clamp(-1, 1), labels


def dice_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """1 - soft Dice, averaged over the classes present in the batch's truth or prediction."""
    probabilities = logits.softmax(dim=1)
    truth = one_hot(labels, logits.shape[1])
    intersection = (probabilities * truth).sum(dim=(0, 2, 3))
    total = probabilities.sum(dim=(0, 2, 3)) + truth.sum(dim=(0, 2, 3))
    present = truth.sum(dim=(0, 2, 3)) > 0
    dice = (2 * intersection + 1.0) / (total + 1.0)
    return 1 - dice[present].mean()


@torch.inference_mode()
def evaluate(network: FaceParser, images: torch.Tensor, masks: torch.Tensor, batch_size: int = 16) -> dict:
    """Scores of the parser on whole faces, with the mirror average used in production."""
    network.eval()
    confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    for start in range(0, len(images), batch_size):
        x = to_network_tensor(images[start : start + batch_size])
        logits = network(x) + flip_logits(network(x.flip(-1)))
        predicted = logits.argmax(dim=1).numpy()
        confusion += confusion_matrix(predicted, masks[start : start + batch_size].numpy())
    network.train()
    return scores(confusion)


def train(config: ParserTrainConfig, parser_config: FaceParserConfig) -> dict:
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    val_ids = read_id_list(config.val_list) if config.val_list else None
    size = parser_config.input_size
    train_images, train_masks = load_faces(config.data, size, None, val_ids)
    val_images, val_masks = load_faces(config.data, size, val_ids, None) if val_ids else (None, None)
    if config.init:
        initial = FaceParserModel.from_pretrained(config.init)
        if initial.config != parser_config:
            raise CA2SISError(f"--init {config.init} holds a parser of another config: {initial.config}")
        network = initial.network.train()
    else:
        network = FaceParser.from_config(parser_config)
    has_rare = torch.isin(train_masks.flatten(1), torch.tensor(RARE_CLASSES, dtype=torch.uint8)).any(dim=1)
    draw_weights = 1.0 + (config.rare_weight - 1.0) * has_rare.float()
    optimizer = torch.optim.AdamW(network.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(len(train_images) / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=total_steps, pct_start=0.05)
    log_path = out / "log-parser.jsonl"
    log_path.write_text("")
    best: dict = {"mean_f1": -1.0}
    started = time.time()
    progress = tqdm(total=total_steps, desc="parser", unit="step", file=sys.stderr)
    for epoch in range(1, config.epochs + 1):
        if config.rare_weight == 1.0:
            order = torch.randperm(len(train_images), generator=generator)
        else:
            order = torch.multinomial(draw_weights, len(train_images), replacement=True, generator=generator)
        losses = []
        for start in range(0, len(order), config.batch_size):
            chosen = order[start : start + config.batch_size]
            x, labels = augment(train_images[chosen], train_masks[chosen], config.crop, generator)
            logits = network(x)
            loss = F.cross_entropy(logits, labels) + config.dice_weight * dice_loss(logits, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            progress.update()
            progress.set_postfix(epoch=epoch, loss=f"{loss.item():.3f}", best_f1=f"{best['mean_f1']:.3f}")
        record: dict = {"epoch": epoch, "loss": float(np.mean(losses)), "minutes": (time.time() - started) / 60}
        if val_images is not None and (epoch % config.eval_every == 0 or epoch == config.epochs):
            result = evaluate(network, val_images, val_masks)
            record.update(mean_f1=result["mean_f1"], miou=result["miou"], pixel_accuracy=result["pixel_accuracy"])
            if result["mean_f1"] > best["mean_f1"]:
                best = {**result, "epoch": epoch}
                FaceParserModel(network, parser_config).save_pretrained(out)
                (out / "face_parser_validation.json").write_text(json.dumps(best, indent=2) + "\n")
        with log_path.open("a") as log:
            log.write(json.dumps(record) + "\n")
    progress.close()
    if val_images is None:
        FaceParserModel(network, parser_config).save_pretrained(out)
    (out / "train_parser_config.json").write_text(json.dumps(asdict(config), indent=2) + "\n")
    return best
