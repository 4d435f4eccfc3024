"""The faces a run trains on and their order: opened and checked once, decoded into memory
when they fit, and dealt out per epoch in a seeded order, each process its own share."""

from __future__ import annotations

import os
from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Sampler

from ..errors import CA2SISError
from .data import FaceMaskDataset, FacesInMemory, open_dataset, read_id_list
from .data_check import check_training_files
from .distributed import Dist
from .run_config import TrainConfig, derive_seed


class EpochSampler(Sampler[int]):
    """A seeded permutation per epoch, sharded over ranks, that can start mid-epoch."""

    def __init__(self, size: int, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        self.size, self.batch_size, self.seed, self.rank, self.world = size, batch_size, seed, rank, world
        self.steps_per_epoch = (size // world) // batch_size
        if self.steps_per_epoch == 0:
            raise CA2SISError(
                f"the dataset has {size} items, fewer than one batch of {batch_size} per process "
                f"x {world} processes; lower --batch-size"
            )
        self.epoch = 0
        self.start_step = 0

    def set_position(self, epoch: int, start_step: int) -> None:
        self.epoch, self.start_step = epoch, start_step

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(derive_seed(self.seed, self.epoch))
        order = torch.randperm(self.size, generator=generator)[self.rank::self.world]
        order = order[: self.steps_per_epoch * self.batch_size]
        return iter(order[self.start_step * self.batch_size:].tolist())

    def __len__(self) -> int:
        return (self.steps_per_epoch - self.start_step) * self.batch_size


class RunData:
    """The dataset of a run (bad files reported before the first step), the faces in memory
    when they fit, and this process's batches from any step on."""

    def __init__(self, train: TrainConfig, image_size: int, num_classes: int, dist: Dist, device: torch.device):
        self.batch_size = train.batch_size
        exclude = read_id_list(train.holdout) if train.holdout else None
        self.dataset: FaceMaskDataset = open_dataset(train.data, image_size, flip=train.flip, exclude=exclude)
        # Every file is checked once before the first step (headers, reduced JPEG decodes): all bad
        # files are reported together, not one at a time hours into training.
        usable = check_training_files(self.dataset, skip_bad=train.skip_bad, num_classes=num_classes)
        if len(usable) < len(self.dataset.ids):
            self.dataset = open_dataset(train.data, image_size, flip=train.flip, exclude=exclude, include=usable)
        self.faces: FacesInMemory | None = None
        if _fits_in_memory(train.data_loading, len(self.dataset.ids) * image_size**2 * 4):  # RGB + mask, uint8
            self.faces = FacesInMemory(self.dataset, skip_bad=train.skip_bad, progress=dist.main)
            size = len(self.faces)
        else:
            size = len(self.dataset)
        self.sampler = EpochSampler(size, train.batch_size, train.seed, dist.rank, dist.world)
        self.loader = None if self.faces is not None else DataLoader(
            self.dataset, batch_size=train.batch_size, sampler=self.sampler, num_workers=train.workers,
            pin_memory=device.type == "cuda", drop_last=True,
        )

    def batches_from(self, step: int) -> Iterator[tuple[int, dict[str, torch.Tensor]]]:
        """(epoch, batch) of the rest of the epoch that ``step`` falls in."""
        epoch, offset = divmod(step, self.sampler.steps_per_epoch)
        self.sampler.set_position(epoch, offset)
        if self.loader is not None:
            for batch in self.loader:
                yield epoch, batch
            return
        order = list(self.sampler)
        for start in range(0, len(order) - self.batch_size + 1, self.batch_size):
            yield epoch, self.faces.batch(order[start:start + self.batch_size])

    def first_faces(self, count: int) -> dict[str, torch.Tensor]:
        """The first ``count`` faces, unflipped: the rows of the sample grids."""
        if self.faces is not None:
            return self.faces.batch(list(range(count)))
        items = [self.dataset[i] for i in range(count)]
        return {"image": torch.stack([it["image"] for it in items]), "mask": torch.stack([it["mask"] for it in items])}


def _fits_in_memory(data_loading: str, needed_bytes: int) -> bool:
    if data_loading != "auto":
        return data_loading == "memory"
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not Linux: assume 8 GB
        total = 8 * 2**30
    return needed_bytes < total // 4
