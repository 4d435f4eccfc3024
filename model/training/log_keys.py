"""What a training run logs each ``log_every`` steps (``log-<stage>.jsonl``), in one place: the
loss terms' keys come from ``LossWeights`` (each term names what it logs), the rest are the
adversarial pair and the loop's own scalars. ``ca2sis-train report`` titles its panels from
here; tests/test_training_report.py checks that every key the training code logs is listed."""

from __future__ import annotations

import dataclasses

from .objectives import LossWeights

# key → what it is; in the order the report draws them.
LOGGED_SCALARS: dict[str, str] = {
    "adv": "adversarial (G hinge)",
    **{key: text for f in dataclasses.fields(LossWeights) for key, text in f.metadata["logs"].items()},
    "d": "discriminator hinge",
    "aug_p": "ADA augmentation probability",
    "lr_factor": "learning-rate factor",
}

# The few the progress bar shows beside the speed.
PROGRESS_BAR_KEYS = ("adv", "l1", "att", "semantic", "d", "aug_p")

# Where the run stands rather than how it learns: not drawn as curves.
PROGRESS_KEYS = ("step", "epoch", "kimg", "img_per_s")

# Keys of runs logged before the loss terms were named once: the report reads them as today's.
RENAMED_KEYS = {"fm": "feat", "sem": "semantic"}
