"""What a training run logs each ``log_every`` steps (``log-<stage>.jsonl``), in one place:
the loss keys of ``objectives.py`` and the loop's own scalars, with what each one is.
``scripts/training_report.py`` titles its panels from here; tests/test_training_report.py
checks that every key the training code logs is listed."""

from __future__ import annotations

# key → what it is; in the order the report draws them.
LOGGED_SCALARS: dict[str, str] = {
    # synthesis stage, generator side
    "adv": "adversarial (G hinge)",
    "fm": "feature matching",
    "l1": "L1 reconstruction",
    "att": "attention L_att",
    "vgg": "perceptual (VGG19)",
    "parser": "perceptual (face parser)",
    "sem": "semantic (parser vs mask)",
    "swap_out": "swap: change outside the part",
    "swap_tr": "swap: transfer to the part",
    "swap_colour": "swap: part colour vs reference",
    "colour": "part colour vs real",
    "cycle": "style cycle: E_s(G) vs the codes given",
    # mapping stage
    "dv": "diversity L_dv",
    "code": "code statistics L_code",
    # discriminator, both stages
    "d": "discriminator hinge",
    "lecam": "LeCam regulariser R_LC",
    # the loop
    "aug_p": "ADA augmentation probability",
    "lr_factor": "learning-rate factor",
}

# Where the run stands rather than how it learns: not drawn as curves.
PROGRESS_KEYS = ("step", "epoch", "kimg", "img_per_s")
