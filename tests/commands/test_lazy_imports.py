"""``--help`` and ``sweep --dry-run`` import none of the heavy libraries they do not use.

A new interpreter (this test process has imported torch already) runs both commands in-process
and reports which of the libraries a fit needs it imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from cli_runs import CONFIGS, REPO

from lightning_snnpriv.sweeps.spec import load_spec

HEAVY = ("torch", "pytorch_lightning", "lightning_fabric", "snntorch", "brevitas", "sklearn",
         "matplotlib", "tensorboard", "torchvision")  # fmt: skip

SCRIPT = """
import contextlib, io, json, sys
from lightning_snnpriv.commands import main
out = {}
for argv in (["--help"], ["sweep", "--config", sys.argv[1], "--dry-run"]):
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        try:
            main(argv)
            code = 0
        except SystemExit as exit_:
            code = exit_.code
    out[" ".join(argv[:1] + argv[-1:])] = {"code": code, "out": text.getvalue()}
out["heavy"] = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[2:]))
print(json.dumps(out))
"""


def test_help_and_sweep_dry_run_import_no_heavy_library(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    demo = CONFIGS / "sweeps" / "demo.yaml"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(demo), *HEAVY],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out["--help --help"]["code"] == 0
    listed = out["--help --help"]["out"]
    assert listed.startswith("usage: python -m lightning_snnpriv")
    for command in ("fit", "attack", "sweep", "report", "describe"):
        assert f"\n    {command} " in listed, command
    dry_run = out["sweep --dry-run"]
    assert dry_run["code"] == 0
    assert f"sweep demo: {len(load_spec(demo).expand())} points" in dry_run["out"]
    assert out["heavy"] == []


def test_a_fit_without_dp_does_not_import_opacus(tmp_path):
    """Opacus is loaded where DP-SGD is set up (``models/dp.py``), not by every fit's imports."""
    script = (
        "import sys; import lightning_snnpriv.commands.fit, lightning_snnpriv.models, "
        "lightning_snnpriv.data, lightning_snnpriv.attacks; from lightning_snnpriv.models import "
        "ANNClassifier; ANNClassifier(hidden_sizes=[4]); print('opacus' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, cwd=tmp_path, check=False, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split()[-1] == "False"
