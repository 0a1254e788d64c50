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
    argv = [sys.executable, "-m", "benchmarks.source_job", "--run-source", kind,
            "--data", str(data), "--epochs", str(epochs), "--result", str(result)]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"source {kind} failed:\n{proc.stderr.read().decode()[-3000:]}")
    proc.stderr.close()
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            **json.loads(result.read_text())}  # fmt: skip


def run_ours(kind: str, data: Path, epochs: int, threads: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"bench-ours-{kind}-") as tmp:
        argv = [
            "fit", "--config", str(REPO / f"configs/paper/mnist_{kind}.yaml"),
            f"--trainer.max_epochs={epochs}", "--trainer.enable_progress_bar=false",
            f"--data.init_args.data_dir={data}", "--data.init_args.verify_checksums=false",
        ]  # fmt: skip
        return run_cli(argv, Path(tmp), threads)


def main(argv: list[str] | None = None) -> None:
    p = parser("source_job", __doc__.splitlines()[0], repeats=1)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--kinds", nargs="+", default=["ann", "snn"], choices=["ann", "snn"])
    p.add_argument("--train", type=int, default=4000)
    p.add_argument("--test", type=int, default=1000)
    p.add_argument("--run-source", choices=["ann", "snn"], help=argparse.SUPPRESS)
    p.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parse(p, argv)
    if args.run_source:  # the child process of run_source
        args.result.write_text(json.dumps(source_job(args.run_source, args.data, args.epochs)))
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-source-job-") as tmp:
        data = Path(tmp) / "data"
        write_digits(data, args.train, args.test)
        for repeat in range(args.repeats):
            for kind in args.kinds:
                source = run_source(kind, data, args.epochs, args.threads)
                ours = run_ours(kind, data, args.epochs, args.threads)
                rows.append({
                    "job": f"MNIST-shaped digits {args.train}+{args.test}, {kind}, "
                           f"{args.epochs} epochs", "repeat": repeat,
                    "source_wall_s": source["wall_s"], "ours_wall_s": ours["wall_s"],
                    "source_vs_ours": source["wall_s"] / ours["wall_s"],
                    "target": 2.0 if kind == "ann" else 5.0,
                    "source_test_acc": source["test_acc"], "source_auc": source["attack_auc"],
                    "source_cpu_s": source["cpu_s"], "ours_cpu_s": ours["cpu_s"],
                })  # fmt: skip
    for row in rows:
        row["met"] = row["source_vs_ours"] >= row["target"]
    note = ("a shared, loaded machine (load_average_1min); data: upsampled sklearn digits in "
            "MNIST format (real MNIST cannot be downloaded here)")  # fmt: skip
    report("source_job", args.out, rows, list(rows[0]), note=note)


if __name__ == "__main__":
    main()
