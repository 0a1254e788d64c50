"""Seconds per training epoch of each image config, on synthetic files of the real image size.

Writes random images in the datasets' exact on-disk formats (tests/fake_datasets.py), builds
each config's objects with the real CLI (full-size networks: conv 32, 64, FC 1000, T = 10),
removes the attack callback and validation, fits one epoch plus ``--epochs`` timed ones, and
prints the wall time of each timed epoch (all models together; they train in lockstep) and per
model, with the number of samples each model trained on. Machine load is printed too.

    python benchmarks/image_epoch_time.py --train 1500 --test 500 --epochs 1
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
from pytorch_lightning import Callback

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fake_datasets import write_cifar10, write_mnist  # noqa: E402

from lightning_snnpriv.callbacks import MembershipInferenceCallback  # noqa: E402
from lightning_snnpriv.commands.fit import PrivacyCLI  # noqa: E402
from lightning_snnpriv.data import PrivacyDataModule  # noqa: E402
from lightning_snnpriv.models import PrivacyModule  # noqa: E402

CONFIGS = [f"{d}_{k}" for d in ("mnist", "fmnist", "cifar10") for k in ("ann", "snn")]


class EpochTimer(Callback):
    """Wall time of each training epoch."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.times.append(time.perf_counter() - self._start)


def measure(config: str, epochs: int) -> tuple[list[float], int, list[int], int]:
    """Timed epochs (s), models, members per model, parameters per model."""
    cli = PrivacyCLI(
        PrivacyModule,
        PrivacyDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        seed_everything_default=0,
        args=[
            "--config", str(ROOT / "configs" / f"{config}.yaml"),
            "--data.init_args.verify_checksums=false",
            f"--trainer.max_epochs={1 + epochs}",
            "--trainer.limit_val_batches=0",
            "--trainer.enable_progress_bar=false",
            "--trainer.enable_checkpointing=false",
            "--trainer.logger=false",
            f"--trainer.default_root_dir={config}",  # the run's membership plan goes there
        ],
        run=False,
        auto_configure_optimizers=False,
    )  # fmt: skip
    timer = EpochTimer()
    callbacks = cli.trainer.callbacks
    callbacks[:] = [c for c in callbacks if not isinstance(c, MembershipInferenceCallback)]
    callbacks.append(timer)
    cli.trainer.fit(cli.model, cli.datamodule)
    plan = cli.datamodule.plan
    members = [int(plan.keep[m].sum()) for m in range(plan.num_models)]
    params = sum(p.numel() for p in cli.model.ensemble.members[0].parameters())
    return timer.times[1:], plan.num_models, members, params


def main() -> None:
    """Write the synthetic files, measure every image config, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=1500, help="train-split images")
    parser.add_argument("--test", type=int, default=500, help="test-split images")
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs (after 1 warm-up)")
    parser.add_argument("--configs", nargs="*", default=CONFIGS)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="image_epoch_time_"))
    write_mnist(work / "data", "MNIST", n_train=args.train, n_test=args.test)
    write_mnist(work / "data", "FashionMNIST", n_train=args.train, n_test=args.test)
    write_cifar10(work / "data", n_per_batch=args.train // 5, n_test=args.test)
    os.chdir(work)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()}")  # fmt: skip
    print(f"pool: {args.train} train + {args.test} test synthetic images")
    rows = []
    for config in args.configs:
        times, models, members, params = measure(config, args.epochs)
        epoch = sum(times) / len(times)
        rows.append(
            f"{config:<14}{params:>11,}{models:>7}{members!s:>14}{epoch:>10.1f}"
            f"{epoch / models:>12.1f}{epoch / sum(members) * 1000:>14.2f}"
        )
    print(f"{'config':<14}{'params':>11}{'models':>7}{'members':>14}{'s/epoch':>10}"
          f"{'s/ep/model':>12}{'s/1k samples':>14}")  # fmt: skip
    print("\n".join(rows))
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
