"""One process of the 2-process DDP test (run by torchrun from test_training.py): trains a
tiny run, then writes what this rank ended with, for the test to compare across ranks."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from ca2sis.model.config import get_config
from ca2sis.model.training.run_config import TrainConfig
from ca2sis.model.training.train import Trainer


def main(data: str, out: str) -> None:
    train = TrainConfig.from_dict(dict(data=data, steps=2, batch_size=2, workers=0, device="cpu", log_every=1, seed=1,
                                       lambda_parser=0.0, lambda_semantic=0.0, sample_every=1000))
    trainer = Trainer(get_config("tiny"), train, out)
    shares = [list(trainer.data.sampler)]  # the faces of this rank's first epoch, in order
    trainer.run()
    weights = {f"{name}.{key}": value for name, module in trainer.networks().items()
               for key, value in module.state_dict().items()}
    torch.save({"rank": trainer.dist.rank, "world": trainer.dist.world, "step": trainer.step, "share": shares[0],
                "weights": weights}, Path(out) / f"rank{trainer.dist.rank}.pt")
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
