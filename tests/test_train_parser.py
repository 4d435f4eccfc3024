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
