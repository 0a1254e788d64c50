"""The source study's own job through our CLI: MNIST-shaped data, 4,000 train / 1,000 test,
target + 1 shadow (``paper`` scheme), 20 epochs, batch 128, ANN and SNN, wall time per run
with imports. (The source code itself is timed side by side by ``benchmarks.source_job``.)

The network is an MLP (784-1000-10; SNN: T=25 direct input, ``Leaky`` beta 0.95, fast sigmoid,
last-membrane readout) built from our own classes: the paper's MNIST ConvNet and
``configs/paper/`` are not in this branch. The data are synthetic files' equivalent: random
pixels in memory (``benchmarks.synthetic.SyntheticImages``), the same amount of work.

    python -m benchmarks.study
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import parse, parser, report, run_cli

CONFIG = """\
seed_everything: 0
trainer:
  max_epochs: {epochs}
  accelerator: cpu
  devices: 1
  enable_progress_bar: false
  logger:
    class_path: pytorch_lightning.loggers.TensorBoardLogger
    init_args: {{save_dir: logs, name: mnist_{kind}, default_hp_metric: false}}
data:
  class_path: benchmarks.synthetic.SyntheticImages
  init_args: {{num_train: 4000, num_test: 1000, scheme: paper, num_shadows: 1, batch_size: 128}}
model:
  class_path: lightning_snnpriv.models.{cls}
  init_args:
    hidden_sizes: [1000]
    ensemble: {ensemble}
{extra}    optimizer:
      class_path: torch.optim.Adam
      init_args: {{lr: 0.001, fused: true}}
mia:
  attacks:
    - class_path: lightning_snnpriv.attacks.LossAttack
    - class_path: lightning_snnpriv.attacks.ShokriAttack
      init_args: {{classifier: svm, per_class: true}}
"""

SNN_EXTRA = """\
    num_steps: 25
    beta: 0.95
    surrogate: fast_sigmoid
    readout: membrane_last
"""


def run(kind: str, ensemble: str, epochs: int, threads: int) -> dict[str, Any]:
    cls = "SNNClassifier" if kind == "snn" else "ANNClassifier"
    extra = SNN_EXTRA if kind == "snn" else ""
    with tempfile.TemporaryDirectory(prefix=f"bench-study-{kind}-") as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(CONFIG.format(kind=kind, cls=cls, ensemble=ensemble, extra=extra,
                                        epochs=epochs))  # fmt: skip
        result = run_cli(["fit", "--config", str(config)], Path(tmp), threads)
    job = f"MNIST-shaped {kind.upper()} MLP, target+1 shadow, {epochs} epochs"
    return result_row(job, kind, result, ensemble=ensemble)


def result_row(job: str, kind: str, result: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A result row of ``run_cli`` (times measured here; no time quoted from elsewhere)."""
    return {
        "job": job,
        **extra,
        "ours_wall_s": result["wall_s"],
        "ours_cpu_s": result["cpu_s"],
        "peak_rss_mib": result["peak_rss_mib"],
    }


def main(argv: list[str] | None = None) -> None:
    p = parser("study", __doc__.splitlines()[0], repeats=1)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--runs", nargs="+", default=["ann:auto", "snn:auto", "snn:loop"],
                   help="kind:ensemble pairs")  # fmt: skip
    args = parse(p, argv)
    rows = [run(*r.split(":"), args.epochs, args.threads) for r in args.runs for _ in
            range(args.repeats)]  # fmt: skip
    report("study", args.out, rows, list(rows[0]), note="one run per row, imports included")


if __name__ == "__main__":
    main()
