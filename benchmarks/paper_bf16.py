"""bf16 mixed precision on the paper jobs: float32 against ``trainer.precision=bf16-mixed``,
paired by seed, with wall-time ratios and the accuracy and AUC differences' 95% t-intervals.

For every seed each job runs twice, a fresh ``python -m lightning_snnpriv fit`` process each
(imports included): float32 and bf16-mixed, which of them first alternating with the seed so a
change of load hits both alike. The seed (``seed_everything``) fixes the data split, the
membership plan and the initialization, so the two runs of a seed differ only in precision.
Per job: the mean over seeds of the ratio float32 / bf16 (above 1: bf16 faster) of wall time
and of CPU time (user + system of the single-threaded process: on a loaded machine the wall
time also measures the share of a core each process got, the CPU time only its work), the
target's test accuracy and the first attack's AUC (Shokri, per-class SVM) of each precision,
and the paired difference bf16 - float32 with its 95% t-interval and paired t-test p-value
(:func:`lightning_snnpriv.sweeps.statistics.paired_comparison`). ``agree`` says whether both
intervals contain 0: no difference detected at this number of seeds, which is not a proof of
equality (compare the interval's width with the seed-to-seed spread ``*_sd`` beside it).

Jobs: ``mnist_ann``/``mnist_snn`` are ``configs/paper/mnist_*.yaml`` on MNIST-format files of
upsampled scikit-learn digits (:func:`benchmarks.source_job.write_digits`; ``--mnist-epochs``,
fewer than the recipe's 20 where time is short); ``digits_ann``/``digits_snn`` are
``configs/paper/digits_*.yaml`` as shipped (20 epochs, the bundled 8x8 digits).

    python -m benchmarks.paper_bf16 [--jobs mnist_ann mnist_snn] [--seeds 0 1 2] [--mnist-epochs 5]
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, parse, parser, report, run_cli
from benchmarks.source_job import audit_summary, write_digits
from lightning_snnpriv.sweeps.statistics import mean_interval, paired_comparison

JOBS = ("mnist_ann", "mnist_snn", "digits_ann", "digits_snn")
PRECISIONS = {"fp32": "32-true", "bf16": "bf16-mixed"}


def fit(job: str, seed: int, precision: str, epochs: int, data: Path, threads: int) -> dict:
    """One fit of ``configs/paper/<job>.yaml``: wall and CPU time, test accuracy, attack AUC."""
    argv = ["fit", "--config", str(REPO / f"configs/paper/{job}.yaml"),
            f"--seed_everything={seed}", f"--trainer.precision={PRECISIONS[precision]}",
            "--trainer.enable_progress_bar=false"]  # fmt: skip
    if job.startswith("mnist"):
        argv += [f"--trainer.max_epochs={epochs}", f"--data.init_args.data_dir={data}",
                 "--data.init_args.verify_checksums=false"]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix=f"bench-bf16-{job}-") as tmp:
        result = run_cli(argv, Path(tmp), threads)
        return {**result, **audit_summary(Path(tmp))}


def summary(job: str, epochs: int, runs: dict[str, dict[int, dict]]) -> dict[str, Any]:
    """One row: the wall-time ratio and each metric's paired difference over the seeds."""
    seeds = sorted(runs["fp32"])
    row: dict[str, Any] = {"job": job, "epochs": epochs, "seeds": len(seeds)}
    for clock, name in (("wall_s", "wall"), ("cpu_s", "cpu")):
        ratio = mean_interval([runs["fp32"][s][clock] / runs["bf16"][s][clock] for s in seeds])
        row |= {f"fp32_vs_bf16_{name}": ratio.mean, f"{name}_ratio_low": ratio.low,
                f"{name}_ratio_high": ratio.high}  # fmt: skip
    agree = True
    for metric, short in (("test_acc", "acc"), ("attack_auc", "auc")):
        values = {p: {s: runs[p][s][metric] for s in seeds} for p in PRECISIONS}
        diff = paired_comparison(values["fp32"], values["bf16"], metric=metric).difference
        row |= {f"fp32_{short}": mean_interval(list(values["fp32"].values())).mean,
                f"bf16_{short}": mean_interval(list(values["bf16"].values())).mean,
                f"{short}_diff": diff.mean, f"{short}_diff_low": diff.low,
                f"{short}_diff_high": diff.high,
                f"{short}_sd": mean_interval(list(values["fp32"].values())).sd}  # fmt: skip
        agree = agree and diff.low <= 0 <= diff.high
    row["agree"] = agree
    for p in PRECISIONS:  # the raw values (lists: kept in the JSON, not shown as table cells)
        for key in ("wall_s", "cpu_s", "test_acc", "attack_auc"):
            row[f"{p}_{key}"] = [runs[p][s][key] for s in seeds]
    return row


def main(argv: list[str] | None = None) -> None:
    p = parser("paper_bf16", __doc__.splitlines()[0], repeats=1)
    p.add_argument("--jobs", nargs="+", default=list(JOBS), choices=JOBS)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--mnist-epochs", type=int, default=20, help="epochs of the mnist_* jobs")
    p.add_argument("--train", type=int, default=4000, help="MNIST-shaped training images")
    p.add_argument("--test", type=int, default=1000, help="MNIST-shaped test images")
    args = parse(p, argv)
    if len(args.seeds) < 2:
        p.error("--seeds: give at least 2 seeds (the intervals are over seeds)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-paper-bf16-") as tmp:
        data = Path(tmp) / "data"
        if any(job.startswith("mnist") for job in args.jobs):
            write_digits(data, args.train, args.test)
        for job in args.jobs:
            epochs = args.mnist_epochs if job.startswith("mnist") else 20
            runs: dict[str, dict[int, dict]] = {precision: {} for precision in PRECISIONS}
            for i, seed in enumerate(args.seeds):
                order = list(PRECISIONS) if i % 2 == 0 else list(PRECISIONS)[::-1]
                for precision in order:
                    runs[precision][seed] = fit(job, seed, precision, epochs, data, args.threads)
                    print(job, seed, precision, runs[precision][seed], flush=True)
            rows.append(summary(job, epochs, runs))
    note = ("a shared, loaded machine (load_average_1min); per job: fp32 and bf16-mixed fits "
            "of each seed, interleaved; fp32_vs_bf16_wall/cpu: mean over seeds of the wall / "
            "CPU time ratio, with its 95% t-interval; *_diff = bf16 - fp32 (mean over seeds) "
            "with its 95% t-interval *_low/*_high; *_sd = fp32's seed-to-seed SD; agree: both "
            "intervals contain 0; mnist_*: upsampled sklearn digits in MNIST format")  # fmt: skip
    report("paper_bf16", args.out, rows, [c for c in rows[0] if not isinstance(rows[0][c], list)],
           note=note)  # fmt: skip


if __name__ == "__main__":
    main()
