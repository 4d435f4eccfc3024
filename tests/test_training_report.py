"""ca2sis-train report: its loss panels follow what the trainer logs, its grid shows the weights."""

from __future__ import annotations

import json
import re

import pytest
from PIL import Image

from ca2sis.model.cli.train import main as train_main
from ca2sis.model.evaluation.training_report import ReportError, loss_figure, read_loss_log, save_figure
from ca2sis.model.training.log_keys import LOGGED_SCALARS, PROGRESS_KEYS

from conftest import REPO


def test_every_scalar_the_trainer_logs_has_a_name_and_every_name_is_logged():
    sources = "\n".join(path.read_text() for path in sorted((REPO / "model" / "training").glob("*.py"))
                        if path.name != "log_keys.py")
    logged = set(re.findall(r'logs\["(\w+)"\]', sources))
    assert {"adv", "d", "parser", "semantic", "lecam", "code", "aug_p"} <= logged  # the pattern still finds them
    assert logged - set(LOGGED_SCALARS) == set(), "logged by the trainer but unnamed in log_keys.py"
    stale = [key for key in [*LOGGED_SCALARS, *PROGRESS_KEYS] if f'"{key}"' not in sources]
    assert stale == [], "named in log_keys.py but logged nowhere"


def _write_log(path, keys: dict[str, float]) -> None:
    lines = [json.dumps({"step": step, "epoch": 0, "kimg": step / 100, "img_per_s": 3.5, "adv": 1.0 / step,
                         **keys, "lecam": 0.01 * step, "aug_p": 0.0, "lr_factor": 1.0, "new_loss": 2.0})
             for step in range(10, 310, 10)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + '\n{"step": 31')  # a half-written last line


def test_the_loss_figure_draws_one_named_panel_per_logged_loss(tmp_path):
    _write_log(tmp_path / "log-synthesis.jsonl", {"semantic": 0.5})
    log = read_loss_log(tmp_path / "log-synthesis.jsonl")
    assert log.skipped == 1 and len(log.steps) == 30
    # Known keys in log_keys' order, unknown ones after them; progress keys are no curves.
    assert list(log.series) == ["adv", "semantic", "lecam", "aug_p", "lr_factor", "new_loss"]
    figure = loss_figure(log, "synthesis", "run", width=1200)
    titles = [axes.get_title(loc="left") for axes in figure.axes if axes.get_visible()]
    assert titles[:3] == [f"{key} · {LOGGED_SCALARS[key]}" for key in ("adv", "semantic", "lecam")]
    assert titles[-1] == "new_loss"
    path = tmp_path / "out" / "loss-synthesis.png"
    save_figure(figure, path)
    assert Image.open(path).width == 1200


def test_a_log_of_a_run_from_before_the_renaming_is_read_with_todays_keys(tmp_path):
    _write_log(tmp_path / "log-synthesis.jsonl", {"fm": 3.0, "sem": 0.5})
    series = read_loss_log(tmp_path / "log-synthesis.jsonl").series
    assert "feat" in series and "semantic" in series and not {"fm", "sem"} & set(series)


def test_a_log_without_step_lines_is_a_one_line_error(tmp_path):
    (tmp_path / "log-synthesis.jsonl").write_text('{"adv": 1.0}\n')
    with pytest.raises(ReportError, match="no log lines with a step"):
        read_loss_log(tmp_path / "log-synthesis.jsonl")


@pytest.mark.slow  # loads the engine and draws with matplotlib: about 9 s here
def test_the_report_command_writes_the_loss_curves_and_the_validation_grid(tiny_weights, face_data, tmp_path,
                                                                           capsys):
    run, out = tmp_path / "run", tmp_path / "report"
    _write_log(run / "log-synthesis.jsonl", {"feat": 3.0})
    ids = sorted(path.stem for path in (face_data / "images").iterdir())[:2]
    (tmp_path / "val.txt").write_text("\n".join(ids) + "\n")
    common = [str(run), "--weights", str(tiny_weights), "--data", str(face_data), "--list", str(tmp_path / "val.txt")]
    assert train_main(["report", *common, "--out", str(out), "--faces", "2", "--device", "cpu"]) == 0
    assert capsys.readouterr().out.split() == [str(out / "loss-synthesis.png"), str(out / "validation-grid.png")]
    assert Image.open(out / "validation-grid.png").height > 2 * 64
    # Bad input is one line and exit 2: a folder without logs, an unknown part.
    assert train_main(["report", str(tmp_path), *common[1:], "--out", str(out)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {tmp_path}: no training logs")
    assert train_main(["report", *common, "--out", str(out), "--part", "tail"]) == 2
    assert capsys.readouterr().err.startswith("error:")
