"""scripts/training_report.py: its loss panels follow what the trainer logs."""

from __future__ import annotations

import importlib.util
import json
import re
import sys

import pytest
from PIL import Image

from ca2sis.model.training.log_keys import LOGGED_SCALARS, PROGRESS_KEYS

from conftest import REPO


def _report_module():
    spec = importlib.util.spec_from_file_location("training_report", REPO / "scripts" / "training_report.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_every_scalar_the_trainer_logs_has_a_name_and_every_name_is_logged():
    sources = "\n".join(path.read_text() for path in sorted((REPO / "model" / "training").glob("*.py"))
                        if path.name != "log_keys.py")
    logged = set(re.findall(r'logs\["(\w+)"\]', sources))
    assert {"adv", "d", "parser", "sem", "lecam", "code", "aug_p"} <= logged  # the pattern still finds them
    assert logged - set(LOGGED_SCALARS) == set(), "logged by the trainer but unnamed in log_keys.py"
    stale = [key for key in [*LOGGED_SCALARS, *PROGRESS_KEYS] if f'"{key}"' not in sources]
    assert stale == [], "named in log_keys.py but logged nowhere"


def test_the_loss_figure_draws_one_named_panel_per_logged_loss(tmp_path):
    report = _report_module()
    lines = [json.dumps({"step": step, "epoch": 0, "kimg": step / 100, "img_per_s": 3.5, "adv": 1.0 / step,
                         "sem": 0.5, "lecam": 0.01 * step, "aug_p": 0.0, "lr_factor": 1.0, "new_loss": 2.0})
             for step in range(10, 310, 10)]
    log_path = tmp_path / "log-synthesis.jsonl"
    log_path.write_text("\n".join(lines) + '\n{"step": 31')  # a half-written last line
    log = report.read_loss_log(log_path)
    assert log.skipped == 1 and len(log.steps) == 30
    # Known keys in log_keys' order, unknown ones after them; progress keys are no curves.
    assert list(log.series) == ["adv", "sem", "lecam", "aug_p", "lr_factor", "new_loss"]
    figure = report.loss_figure(log, "synthesis", "run", width=1200)
    titles = [axes.get_title(loc="left") for axes in figure.axes if axes.get_visible()]
    assert titles[:3] == [f"{key} · {LOGGED_SCALARS[key]}" for key in ("adv", "sem", "lecam")]
    assert titles[-1] == "new_loss"
    path = tmp_path / "out" / "loss-synthesis.png"
    report.save_figure(figure, path)
    assert Image.open(path).width == 1200


def test_a_log_without_step_lines_is_a_one_line_error(tmp_path):
    report = _report_module()
    (tmp_path / "log-synthesis.jsonl").write_text('{"adv": 1.0}\n')
    with pytest.raises(report.ReportError, match="no log lines with a step"):
        report.read_loss_log(tmp_path / "log-synthesis.jsonl")
