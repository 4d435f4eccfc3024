"""ca2sis-train-parser: its arguments are checked before any face is loaded."""

from __future__ import annotations

import pytest

from ca2sis.model.cli import train_parser as cli_train_parser


@pytest.mark.parametrize("argument", [["--epochs", "0"], ["--batch-size", "0"], ["--crop", "0"], ["--widths", "abc"],
                                      ["--rare-weight", "-1"]])
def test_bad_parser_training_arguments_are_usage_errors(tmp_path, capsys, argument):
    with pytest.raises(SystemExit) as exit_:
        cli_train_parser.main(["--data", str(tmp_path), "--out", str(tmp_path / "run"), *argument])
    assert exit_.value.code == 2 and argument[0] in capsys.readouterr().err


def test_the_help_gives_the_defaults_of_the_settings_themselves(capsys, monkeypatch):
    from ca2sis.model.faces.parser import FaceParserConfig
    from ca2sis.model.training.train_parser import ParserTrainConfig

    monkeypatch.setenv("COLUMNS", "10000")
    with pytest.raises(SystemExit):
        cli_train_parser.main(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    settings, network = ParserTrainConfig(data="", out=""), FaceParserConfig()
    for flag, value in [("--epochs", settings.epochs), ("--batch-size", settings.batch_size), ("--crop", settings.crop),
                        ("--lr", settings.lr), ("--eval-every", settings.eval_every),
                        ("--input-size", network.input_size), ("--widths", ",".join(map(str, network.widths)))]:
        assert f"{flag} {flag[2:].upper().replace('-', '_')} " in help_text and f"(default: {value})" in help_text
