"""One parser: the top-level help lists every command, and each command documents its options."""

from __future__ import annotations

import pytest

from lightning_snnpriv.commands import main
from lightning_snnpriv.commands.registry import COMMANDS, Command


def _help(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_top_level_help_lists_every_command_with_a_description(capsys):
    out = _help(capsys)
    assert out.startswith("usage: python -m lightning_snnpriv")
    listed = out[out.index("Available subcommands") :]
    for name in ("fit", "validate", "test", "predict", *COMMANDS):
        line = next(line for line in listed.splitlines() if line.split()[:1] == [name])
        assert len(line.split()) > 2, line  # the name and a description
    assert Command("attack").description.startswith("Re-run membership-inference attacks")


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("attack", ["--run", "--attacks", "--targets", "--mia.bootstrap", "--mia.fpr_targets"]),
        ("sweep", ["--config", "--jobs", "--dry-run", "--print-commands", "--only", "--no-report"]),
        ("report", ["--sweep"]),
        ("describe", ["--config", "--model.help", "--data.help", "--mia.attacks"]),
        ("fit", ["--config", "--ckpt_path", "--mia.attacks", "--checkpoint.every_n_epochs"]),
    ],
)
def test_each_command_documents_its_options(capsys, command, options):
    out = _help(capsys, command)
    first = out.splitlines()[0]
    assert first.startswith("usage: python -m lightning_snnpriv ")
    assert f" {command} " in first
    for option in options:
        assert option in out, option


def test_an_unknown_command_exits_2_listing_the_commands(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["atack", "--run", "x"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "attack" in err
    assert "Traceback" not in err
