"""The source study's MNIST job as its textbook loop, against our ``fit`` of the paper configs,
side by side in one invocation (interleaved: source ANN, ours ANN, source SNN, ours SNN, ...).

The source procedure, re-implemented as the plain PyTorch/snntorch code it is: torchvision's
``MNIST`` with ``ToTensor`` through a per-sample ``DataLoader`` (batch 128, shuffled), the
paper ConvNet (conv 32 - pool - conv 64 - pool - FC 1000 - FC 10; the SNN: the same non-spiking
conv front end and LIF FC layers, ``Leaky`` beta 0.95, atan surrogate, T = 10, the whole
network recomputed at every step as in snntorch's tutorials, last-membrane readout), Adam (lr
1e-4 ANN, 1e-3 SNN), a plain training loop per model (target on the train split, one shadow on
80% of it), then the per-class SVM attack (sklearn ``SVC`` on the raw outputs, trained on the
shadow's members and its 20% of the test split, applied to the target's train and test
outputs). Ours: ``python -m lightning_snnpriv fit --config configs/paper/mnist_{ann,snn}.yaml``.
Both run as fresh processes (imports included) on the same MNIST-format files.

The files: real MNIST cannot be downloaded here, so 4,000 train / 1,000 test MNIST-shaped
digits are made from scikit-learn's 8x8 ``digits`` (upsampled to 28x28, each sample shifted
and noised so no two are equal) and written in MNIST's idx format by the tests' writer.

    python -m benchmarks.source_job [--epochs 20] [--repeats 1]
    python -m benchmarks.source_job --epochs 1 5 --snn-epochs 1 2 --bf16 ann

Several epoch counts give each side's fixed cost (imports, set-up, audit) and per-epoch cost
as a least-squares line, and the ratio at ``--derive`` epochs (20, the paper recipe) from them:
written to ``source_job_derived.json``, labelled derived (not a measurement at 20 epochs).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import REPO, parse, parser, report, run_cli


def write_digits(root: Path, n_train: int, n_test: int, seed: int = 0) -> None:
    """MNIST-format files of upsampled scikit-learn digits (real-looking, not MNIST)."""
    import torch
    from sklearn.datasets import load_digits

    spec = importlib.util.spec_from_file_location("fake_datasets", REPO / "tests/fake_datasets.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    digits = load_digits()
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(digits.target), n_train + n_test)
    small = torch.tensor(digits.images[pick] / 16.0, dtype=torch.float32).unsqueeze(1)
    big = torch.nn.functional.interpolate(small, size=(20, 20), mode="bilinear")
    images = np.zeros((len(pick), 28, 28), dtype=np.float32)
    shifts = rng.integers(0, 9, (len(pick), 2))
    for i, (dy, dx) in enumerate(shifts):
        images[i, dy : dy + 20, dx : dx + 20] = big[i, 0].numpy()
    images = np.clip(images + rng.normal(0, 0.05, images.shape), 0, 1)
    pixels = (255 * images).astype(np.uint8)
    labels = digits.target[pick].astype(np.uint8)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, part in (("train", slice(0, n_train)), ("t10k", slice(n_train, None))):
        module.write_idx(raw / f"{prefix}-images-idx3-ubyte", pixels[part])
        module.write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels[part])


def source_job(kind: str, data: Path, epochs: int) -> dict[str, float]:
    """The textbook job (runs in its own process): training, then the per-class SVM attack."""
    import snntorch as snn
    import torch
    from sklearn.metrics import roc_auc_score
    from sklearn.svm import SVC
    from snntorch import surrogate
    from torch import nn
    from torch.nn import functional as F
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    torch.manual_seed(0)
    train = datasets.MNIST(str(data), train=True, download=False, transform=transforms.ToTensor())
    test = datasets.MNIST(str(data), train=False, download=False, transform=transforms.ToTensor())
    rng = np.random.default_rng(0)
    shadow_in = rng.permutation(len(train))[: int(0.8 * len(train))]
    shadow_out = rng.permutation(len(test))[: int(0.2 * len(test))]

    class ConvANN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(1, 32, 3, padding=1), nn.Conv2d(32, 64, 3, padding=1)
            self.fc1, self.fc2 = nn.Linear(3136, 1000), nn.Linear(1000, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            return self.fc2(F.relu(self.fc1(x.flatten(1))))

    class ConvSNN(ConvANN):
        def __init__(self) -> None:
            super().__init__()
            grad = surrogate.atan()
            self.lif1 = snn.Leaky(beta=0.95, spike_grad=grad)
            self.lif2 = snn.Leaky(beta=0.95, spike_grad=grad)

        def forward(self, x):
            mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
            for _ in range(10):
                cur = F.max_pool2d(F.relu(self.conv1(x)), 2)
                cur = F.max_pool2d(F.relu(self.conv2(cur)), 2)
                spk1, mem1 = self.lif1(self.fc1(cur.flatten(1)), mem1)
                _, mem2 = self.lif2(self.fc2(spk1), mem2)
            return mem2

    def fit(dataset) -> nn.Module:
        model = ConvANN() if kind == "ann" else ConvSNN()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4 if kind == "ann" else 1e-3)
        for _ in range(epochs):
            for x, y in DataLoader(dataset, batch_size=128, shuffle=True):
                optimizer.zero_grad()
                F.cross_entropy(model(x), y).backward()
                optimizer.step()
        return model

    @torch.no_grad()
    def outputs(model, dataset):
        model.eval()
        pairs = [(model(x), y) for x, y in DataLoader(dataset, batch_size=128)]
        return torch.cat([p[0] for p in pairs]).numpy(), torch.cat([p[1] for p in pairs]).numpy()

    start = time.perf_counter()
    target, shadow = fit(train), fit(Subset(train, shadow_in))
    train_s = time.perf_counter() - start
    s_in, y_in = outputs(shadow, Subset(train, shadow_in))
    s_out, y_out = outputs(shadow, Subset(test, shadow_out))
    t_in, ty_in = outputs(target, train)
    t_out, ty_out = outputs(target, test)
    scores, truth = [], []
    for c in range(10):
        feats = np.concatenate([s_in[y_in == c], s_out[y_out == c]])
        member = np.r_[np.ones((y_in == c).sum()), np.zeros((y_out == c).sum())]
        if len(np.unique(member)) < 2:  # a class without shadow members or non-members
            continue
        svm = SVC().fit(feats, member)
        for outs, ys, flag in ((t_in, ty_in, 1), (t_out, ty_out, 0)):
            scores.append(svm.decision_function(outs[ys == c]))
            truth.append(np.full((ys == c).sum(), flag))
    return {
        "train_s": train_s,
        "test_acc": float((t_out.argmax(1) == ty_out).mean()),
        "attack_auc": float(roc_auc_score(np.concatenate(truth), np.concatenate(scores))),
    }


def run_source(kind: str, data: Path, epochs: int, threads: int) -> dict[str, Any]:
    """:func:`source_job` in a fresh process: wall and CPU time, imports included."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": str(threads)}
    result = data.parent / f"source-{kind}.json"
    # the source code's process as it is: the same threads as ours, glibc's allocator untouched
    argv = [sys.executable, "-m", "benchmarks.source_job", "--run-source", kind,
            "--data", str(data), "--epochs", str(epochs), "--result", str(result),
            "--threads", str(threads), "--allocator", "default"]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"source {kind} failed:\n{proc.stderr.read().decode()[-3000:]}")
    proc.stderr.close()
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            **json.loads(result.read_text())}  # fmt: skip


def run_ours(kind: str, data: Path, epochs: int, threads: int, *args: str) -> dict[str, Any]:
    """Our ``fit`` of ``configs/paper/mnist_<kind>.yaml`` (fresh process) on the files ``data``.

    ``args`` are further command-line settings (``--seed_everything=1``,
    ``--trainer.precision=bf16-mixed``). Returns wall and CPU time, the target's test accuracy
    and the attack's AUC (from the run's ``mia_results.json``).
    """
    with tempfile.TemporaryDirectory(prefix=f"bench-ours-{kind}-") as tmp:
        argv = [
            "fit", "--config", str(REPO / f"configs/paper/mnist_{kind}.yaml"),
            f"--trainer.max_epochs={epochs}", "--trainer.enable_progress_bar=false",
            f"--data.init_args.data_dir={data}", "--data.init_args.verify_checksums=false", *args,
        ]  # fmt: skip
        result = run_cli(argv, Path(tmp), threads)
        return {**result, **audit_summary(Path(tmp))}


def audit_summary(cwd: Path) -> dict[str, float]:
    """Test accuracy and AUC of the first attack of the one run written under ``cwd``."""
    (path,) = cwd.glob("logs/*/version_*/mia_results.json")
    record = json.loads(path.read_text())["records"][0]
    return {"test_acc": record["target_test_acc"], "attack_auc": record["auc"]}


def line(epochs: list[int], walls: list[float]) -> tuple[float, float]:
    """Least-squares ``wall = fixed + per_epoch * epochs``: ``(fixed, per_epoch)`` seconds.

    Example:
        >>> [round(v, 6) for v in line([1, 5, 5], [12.0, 32.0, 32.0])]
        [7.0, 5.0]
    """
    slope, intercept = np.polyfit(np.asarray(epochs, float), np.asarray(walls, float), 1)
    return float(intercept), float(slope)


def derived(rows: list[dict[str, Any]], kind: str, arm: str, epochs: int) -> dict[str, Any]:
    """Each side's fixed cost and per-epoch slope, and the ratio they give at ``epochs``.

    Fitted to wall time and, as a check on a loaded machine, to CPU time (user + system of
    the single-threaded process: the work done, whatever share of a core it was given).
    """
    mine = [r for r in rows if r["kind"] == kind and f"{arm}_wall_s" in r]
    measured = [r["epochs"] for r in mine]
    row: dict[str, Any] = {
        "job": f"{kind}, {epochs} epochs, DERIVED from the line through "
               f"{', '.join(map(str, sorted(set(measured))))} epochs",
        "ours": "bf16-mixed" if arm == "ours_bf16" else "float32",
    }  # fmt: skip
    for clock in ("wall", "cpu"):
        src_fixed, src_slope = line(measured, [r[f"source_{clock}_s"] for r in mine])
        our_fixed, our_slope = line(measured, [r[f"{arm}_{clock}_s"] for r in mine])
        row |= {
            f"source_fixed_{clock}_s": src_fixed, f"source_per_epoch_{clock}_s": src_slope,
            f"ours_fixed_{clock}_s": our_fixed, f"ours_per_epoch_{clock}_s": our_slope,
            f"per_epoch_ratio_{clock}": src_slope / our_slope,
            f"derived_ratio_{clock}": (src_fixed + epochs * src_slope)
            / (our_fixed + epochs * our_slope),
        }  # fmt: skip
    row["target"] = 2.0 if kind == "ann" else 5.0
    row["met_wall"] = row["derived_ratio_wall"] >= row["target"]
    row["met_cpu"] = row["derived_ratio_cpu"] >= row["target"]
    return row


def main(argv: list[str] | None = None) -> None:
    p = parser("source_job", __doc__.splitlines()[0], repeats=1)
    p.add_argument("--epochs", type=int, nargs="+", default=[20],
                   help="epoch counts (several: a line is fitted, see --derive)")  # fmt: skip
    p.add_argument("--snn-epochs", type=int, nargs="+", help="the SNN's (default: --epochs)")
    p.add_argument("--derive", type=int, default=20,
                   help="the epochs at which the fitted lines' ratio is derived")  # fmt: skip
    p.add_argument("--bf16", nargs="*", default=[], choices=["ann", "snn"],
                   help="kinds whose fit also runs with trainer.precision=bf16-mixed")  # fmt: skip
    p.add_argument("--kinds", nargs="+", default=["ann", "snn"], choices=["ann", "snn"])
    p.add_argument("--train", type=int, default=4000)
    p.add_argument("--test", type=int, default=1000)
    p.add_argument("--run-source", choices=["ann", "snn"], help=argparse.SUPPRESS)
    p.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parse(p, argv)
    if args.run_source:  # the child process of run_source
        args.result.write_text(json.dumps(source_job(args.run_source, args.data, args.epochs[0])))
        return
    plan = {"ann": args.epochs, "snn": args.snn_epochs or args.epochs}
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-source-job-") as tmp:
        data = Path(tmp) / "data"
        write_digits(data, args.train, args.test)
        for repeat in range(args.repeats):
            for kind in args.kinds:
                for epochs in plan[kind]:
                    rows.append(measure(kind, data, epochs, args.threads, kind in args.bf16))
                    rows[-1]["repeat"] = repeat
                    print(json.dumps(rows[-1]), flush=True)
    note = ("load before the run: machine.load_average_1min; data: upsampled sklearn digits "
            "in MNIST format (real MNIST cannot be downloaded here); each row: the source "
            "procedure, then ours (then ours in bf16-mixed), a fresh process each")  # fmt: skip
    report("source_job", args.out, rows, list(rows[0]), note=note)
    if all(len(set(plan[k])) > 1 for k in args.kinds):  # a line needs two epoch counts
        lines = [derived(rows, kind, arm, args.derive) for kind in args.kinds
                 for arm in ("ours", "ours_bf16") if any(f"{arm}_wall_s" in r for r in rows
                                                           if r["kind"] == kind)]  # fmt: skip
        out = args.out.with_name(f"{args.out.stem}_derived{args.out.suffix}")
        note = (
            f"DERIVED, not measured at {args.derive} epochs: wall = fixed + per_epoch x "
            f"epochs fitted to the rows of {args.out.name} (same run), for each side"
        )
        report("source_job_derived", out, lines, list(lines[0]), note=note)


def measure(kind: str, data: Path, epochs: int, threads: int, bf16: bool) -> dict[str, Any]:
    """The source job, ours, and (``bf16``) ours under bf16-mixed, one after another."""
    source = run_source(kind, data, epochs, threads)
    ours = run_ours(kind, data, epochs, threads)
    row = {
        "job": f"MNIST-shaped digits, {kind}, {epochs} epochs", "kind": kind, "epochs": epochs,
        "source_wall_s": source["wall_s"], "ours_wall_s": ours["wall_s"],
        "source_vs_ours": source["wall_s"] / ours["wall_s"],
    }  # fmt: skip
    if bf16:
        fast = run_ours(kind, data, epochs, threads, "--trainer.precision=bf16-mixed")
        row |= {"ours_bf16_wall_s": fast["wall_s"],
                "source_vs_ours_bf16": source["wall_s"] / fast["wall_s"],
                "ours_bf16_cpu_s": fast["cpu_s"]}  # fmt: skip
    target = 2.0 if kind == "ann" else 5.0
    row |= {"target": target, "met": row["source_vs_ours"] >= target,
            "source_test_acc": source["test_acc"], "ours_test_acc": ours["test_acc"],
            "source_auc": source["attack_auc"], "ours_auc": ours["attack_auc"],
            "source_cpu_s": source["cpu_s"], "ours_cpu_s": ours["cpu_s"]}  # fmt: skip
    if bf16:
        row |= {"ours_bf16_test_acc": fast["test_acc"], "ours_bf16_auc": fast["attack_auc"]}
    return row


if __name__ == "__main__":
    main()
