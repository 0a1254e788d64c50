"""Framework overhead: our fit path (Lightning + PrivacyModule + PrivacyDataModule) against a
plain PyTorch loop over the same network, data and batch size, one model, ANN and SNN MLP.

Both train in this process, interleaved over repeats. Each repeat is a fresh fit of
``--epochs`` epochs; the steady state is the median epoch time after the first epoch of each
fit (setup excluded); the whole fit (Trainer start included) is reported too. Ours runs with
``ensemble: loop`` (the same network code as the plain loop: the framework alone) and, for the
SNN, also with the default ``ensemble: auto`` (the one-model vectorized SNN). The plain loop
runs twice: over the textbook per-sample ``DataLoader`` (``ratio_*``: what our fit costs
against it) and over our loader (``ratio_lightning_only``: Lightning's share alone). Both use
the module's own optimizer (``module.optimizer``).

    python -m benchmarks.overhead
"""

from __future__ import annotations

import tempfile
import time
from statistics import median
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Subset

from benchmarks.common import interleaved, parse, parser, report
from benchmarks.reference import plain_fit
from benchmarks.synthetic import SyntheticImages
from lightning_snnpriv.models import ANNClassifier, SNNClassifier

HIDDEN = [512, 256]


class EpochTimer(pl.Callback):
    """Wall time of every training epoch."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.times.append(time.perf_counter() - self._start)


def case(kind: str, num_train: int, epochs: int, num_steps: int, repeats: int, warmup: int):
    data = SyntheticImages(num_train=num_train, num_test=256, scheme="paper", num_shadows=0)
    data.setup("fit")
    extra: dict[str, Any] = {"num_steps": num_steps} if kind == "snn" else {}
    cls = SNNClassifier if kind == "snn" else ANNClassifier

    def model(ensemble: str = "loop") -> torch.nn.Module:
        return cls(hidden_sizes=HIDDEN, num_models=1, num_classes=10, input_shape=(1, 28, 28),
                   ensemble=ensemble, **extra)  # fmt: skip

    def ours(ensemble: str):
        def fit() -> None:
            timer = EpochTimer()
            trainer = pl.Trainer(
                max_epochs=epochs, logger=False, enable_checkpointing=False,
                enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                num_sanity_val_steps=0, callbacks=[timer], accelerator="cpu", devices=1,
                default_root_dir=tempfile.mkdtemp(prefix="bench-overhead-"),
            )  # fmt: skip
            trainer.fit(model(ensemble), datamodule=data)
            fits[f"ours_{ensemble}"].append(timer.times)

        return fit

    members = data.plan.members(0).tolist()

    def plain(loader_kind: str):
        def fit() -> None:
            module = model()  # the very same network class, initialization and optimizer
            subset = Subset(data.pool.dataset, members)
            loader = (DataLoader(subset, batch_size=128, shuffle=True) if loader_kind == "textbook"
                      else data._loader(subset, shuffle=True))  # fmt: skip
            times = plain_fit(module.ensemble.members[0], loader, epochs, module.optimizer)
            fits[f"plain_{loader_kind}"].append(times)

        return fit

    # "loop": the network the plain loop runs, so the difference is the framework alone;
    # "auto": what a user gets by default (for an SNN, the one-model vectorized path).
    # plain_textbook: a per-sample DataLoader; plain_ours: the same loop over our loader
    # (whole batches from in-memory tensors), so ours/plain_ours is Lightning's share alone.
    paths = {"ours_loop": ours("loop"), "plain_textbook": plain("textbook"),
             "plain_ours": plain("ours")}  # fmt: skip
    if kind == "snn":
        paths["ours_auto"] = ours("auto")
    fits: dict[str, list[list[float]]] = {name: [] for name in paths}
    timed = interleaved(paths, repeats, warmup)
    n = len(members)
    # steady state: epochs after the first of each timed (not warm-up) fit
    steady = {k: median([t for fit in v[warmup:] for t in fit[1:]]) for k, v in fits.items()}
    plain_s = steady["plain_textbook"]
    row = {
        "network": f"{kind.upper()} 784-{'-'.join(map(str, HIDDEN))}-10"
        + (f" T={num_steps}" if kind == "snn" else ""),
        "samples": n,
        "plain_samples_per_s": n / plain_s,
        "ours_loop_samples_per_s": n / steady["ours_loop"],
        "ratio_loop": plain_s / steady["ours_loop"],
        "ratio_loop_whole_fit": timed["plain_textbook"]["median_s"]
        / timed["ours_loop"]["median_s"],
        "ratio_lightning_only": steady["plain_ours"] / steady["ours_loop"],
    }
    if "ours_auto" in steady:
        row["ours_auto_samples_per_s"] = n / steady["ours_auto"]
        row["ratio_auto"] = plain_s / steady["ours_auto"]
    return row


def main(argv: list[str] | None = None) -> None:
    p = parser("overhead", __doc__.splitlines()[0], repeats=3)
    p.add_argument("--ann-samples", type=int, default=4096)
    p.add_argument("--snn-samples", type=int, default=1024)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--num-steps", type=int, default=25)
    args = parse(p, argv)
    torch.manual_seed(0)
    rows = [
        case("ann", args.ann_samples, args.epochs, args.num_steps, args.repeats, args.warmup),
        case("snn", args.snn_samples, args.epochs, args.num_steps, args.repeats, args.warmup),
    ]
    columns = [
        "network",
        "samples",
        "plain_samples_per_s",
        "ours_loop_samples_per_s",
        "ratio_loop",
        "ratio_loop_whole_fit",
        "ratio_lightning_only",
        "ours_auto_samples_per_s",
        "ratio_auto",
    ]
    report("overhead", args.out, rows, columns, batch_size=128, epochs_per_fit=args.epochs)


if __name__ == "__main__":
    main()
