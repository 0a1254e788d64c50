"""The source study's MNIST job through the shipped ``configs/paper/mnist_{ann,snn}.yaml``.

The same job as the source code's timing in issue #8: the paper ConvNet recipe (conv 32 -> pool
-> conv 64 -> pool -> FC 1000 -> 10; SNN: hybrid, T=10), target + 1 shadow (``paper`` scheme),
20 epochs, batch 128, on 4,000 train / 1,000 test images written in MNIST's own idx-ubyte format
(random pixels: the same amount of work as real digits). Wall time per run, imports included;
the source code itself is timed side by side by ``benchmarks.source_job``.

    python -m benchmarks.paper_job [--epochs 20] [--kinds ann snn]
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, parse, parser, report, run_cli
from benchmarks.study import result_row


def _write_mnist(root: Path, n_train: int, n_test: int) -> None:
    """MNIST's on-disk files, written by the tests' writer of that exact format."""
    spec = importlib.util.spec_from_file_location("fake_datasets", REPO / "tests/fake_datasets.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    module.write_mnist(root, "MNIST", n_train=n_train, n_test=n_test)


def run(kind: str, epochs: int, threads: int, n_train: int, n_test: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"bench-paper-{kind}-") as tmp:
        _write_mnist(Path(tmp) / "data", n_train, n_test)
        argv = [
            "fit", "--config", str(REPO / f"configs/paper/mnist_{kind}.yaml"),
            f"--trainer.max_epochs={epochs}", "--trainer.enable_progress_bar=false",
            "--data.init_args.data_dir=data", "--data.init_args.verify_checksums=false",
        ]  # fmt: skip
        result = run_cli(argv, Path(tmp), threads)
    job = f"configs/paper/mnist_{kind}.yaml, {n_train}+{n_test} images, {epochs} epochs"
    return result_row(job, kind, result)


def main(argv: list[str] | None = None) -> None:
    p = parser("paper_job", __doc__.splitlines()[0], repeats=1)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--kinds", nargs="+", default=["ann", "snn"], choices=["ann", "snn"])
    p.add_argument("--train", type=int, default=4000)
    p.add_argument("--test", type=int, default=1000)
    args = parse(p, argv)
    rows = [run(kind, args.epochs, args.threads, args.train, args.test) for kind in args.kinds]
    report("paper_job", args.out, rows, list(rows[0]), note="one run per row, imports "
           "included")  # fmt: skip


if __name__ == "__main__":
    main()
