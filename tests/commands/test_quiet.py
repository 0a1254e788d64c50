"""Quiet by default: no third-party tips or known warnings, each of our warnings once, no bars
when stdout is not a terminal (`| cat`, a log file)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings

import torch
import yaml
from cli_runs import DEFAULT_CONFIG, REPO, run_cli

from lightning_snnpriv.attacks.metrics import evaluate
from lightning_snnpriv.commands.quiet import IGNORED_LOG_LINES, quiet_output, repeat_key

#: The default job, shrunk, printing what it prints by default (model summary, table).
SMALL_DEFAULT = ["--model.init_args.hidden_sizes=[16]", "--model.init_args.num_steps=3",
                 "--trainer.max_epochs=2"]  # fmt: skip
NOISE = ("GPU available", "TPU available", "Tip:", "litlogger", "srun", "LeafSpec", "deprecated")


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_fit_prints_no_tip_nor_known_warning_and_ours_once(tmp_path, capsys):
    lightning = logging.getLogger("pytorch_lightning")
    collect = _Collect()
    lightning.addHandler(collect)
    filters_before = list(warnings.filters)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            code = run_cli(["fit", "--config", str(DEFAULT_CONFIG), *SMALL_DEFAULT,
                            f"--trainer.logger.init_args.save_dir={tmp_path}"])  # fmt: skip
    finally:
        lightning.removeHandler(collect)
    assert code == 0
    out, err = capsys.readouterr()
    assert any("Trainer.fit` stopped" in line for line in collect.lines)  # the capture works
    for noise in NOISE:
        assert not any(noise in line for line in collect.lines), noise
        assert noise not in out + err, noise
        assert not any(noise in str(w.message) for w in caught), noise
    shown = [(w.category, repeat_key(str(w.message))) for w in caught]
    assert len(shown) == len(set(shown)), shown  # each warning once
    # the default job's 1e-3 and 1e-4 budgets are below 1/142 non-members: said once
    assert [key for _, key in shown if key.startswith("FPR target")] == [
        "FPR target # is below #/# non-members and cannot be measured; the TPR reported is the "
        "TPR at # FPR"
    ]
    assert "TPR@1e-4" in out
    assert "TPR@0 " in out or out.rstrip().split("\n")[1].endswith("TPR@0")  # header cell
    # stdout is not a terminal here: Lightning's progress bar is off by default
    (run,) = tmp_path.glob("*/version_*")
    assert (
        yaml.safe_load((run / "config.yaml").read_text())["trainer"]["enable_progress_bar"] is False
    )
    # nothing stays installed after the command
    assert warnings.filters == filters_before
    for name in IGNORED_LOG_LINES:
        assert logging.getLogger(name).filters == []


def test_a_warning_repeated_for_other_numbers_is_shown_once():
    scores, member = torch.arange(8.0), torch.tensor([True, False] * 4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with quiet_output():
            evaluate(scores, member, fpr_targets=(1e-3,))
            evaluate(scores[:6], member[:6], fpr_targets=(1e-4,))
        evaluate(scores, member, fpr_targets=(1e-3,))  # outside: Python's rules again
    assert [str(w.message)[:29] for w in caught] == ["FPR target 0.001 is below 1/4"] * 2


def test_piped_fit_prints_under_30_lines(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "lightning_snnpriv", "fit", "--config", str(DEFAULT_CONFIG),
               *SMALL_DEFAULT, f"--trainer.logger.init_args.save_dir={tmp_path}"]  # fmt: skip
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=env, cwd=tmp_path, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    lines = done.stdout.splitlines()
    assert len(lines) < 30, done.stdout
    assert "membership inference" in done.stdout
    for noise in (*NOISE, "it/s", "Epoch 0"):
        assert noise not in done.stdout, noise
