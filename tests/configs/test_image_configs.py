"""Every image config (and every paper config) through the real CLI on tiny fake files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_runs import CONFIGS
from fake_datasets import write_dataset

from lightning_snnpriv.commands import main

IMAGE_DATASETS = ("mnist", "fmnist", "cifar10")
IMAGE_CONFIGS = [CONFIGS / f"{d}_{k}.yaml" for d in IMAGE_DATASETS for k in ("ann", "snn")]
PAPER_CONFIGS = sorted((CONFIGS / "paper").glob("*.yaml"))

#: Small sizes so that each fit takes seconds: the configs' own settings otherwise.
SMALL = [
    "--trainer.max_epochs=1",
    "--trainer.limit_train_batches=2",
    "--trainer.limit_val_batches=1",
    "--trainer.num_sanity_val_steps=0",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--data.init_args.batch_size=16",
    "--model.init_args.hidden_sizes=[16]",
]
SMALL_IMAGES = ["--data.init_args.verify_checksums=false", "--model.init_args.conv_channels=[4,8]"]


def _dataset(config: Path) -> str | None:
    name = config.stem.rsplit("_", 1)[0]
    return name if name in IMAGE_DATASETS else None


def fit(config: Path, root: Path, *extra: str) -> dict:
    """Fit ``config`` in ``root`` (which holds ``data/``) with small sizes; the results."""
    args = ["fit", "--config", str(config), *SMALL]
    if _dataset(config):
        args += SMALL_IMAGES
    if config.stem.endswith("snn"):
        args.append("--model.init_args.num_steps=3")
    main([*args, f"--trainer.logger.init_args.save_dir={root / 'logs'}", *extra])
    (results,) = (root / "logs").glob("*/version_0/mia_results.json")
    return json.loads(results.read_text())


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with tiny fake files of all three image datasets in ``data/``."""
    for dataset in IMAGE_DATASETS:
        write_dataset(tmp_path / "data", dataset)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    "config", IMAGE_CONFIGS + PAPER_CONFIGS, ids=lambda p: f"{p.parent.name}/{p.stem}"
)
def test_config_fits_and_writes_results(workdir: Path, config: Path) -> None:
    results = fit(config, workdir)
    settings = results["settings"]
    kind = config.stem.rsplit("_", 1)[1]
    assert settings["model"] == f"{kind.upper()}Classifier"
    assert len(results["accuracy"]["train"]) == 2  # target + 1 shadow
    assert {r["attack"] for r in results["records"]} >= {"shokri"}
    assert all(0 <= r["auc"] <= 1 for r in results["records"])
    if _dataset(config):
        assert settings["data.data_dir"] == "data"
        assert settings["conv_channels"] == [4, 8]
        n = 80  # 60 train + 20 test fake samples
        assert results["records"][0]["n_members"] + results["records"][0]["n_nonmembers"] <= n


def test_spiking_conv_with_rate_coding_fits(workdir: Path) -> None:
    results = fit(
        CONFIGS / "cifar10_snn.yaml",
        workdir,
        "--model.init_args.spiking_conv=true",
        "--model.init_args.encoding=rate",
        "--data.init_args.normalization=none",
    )
    assert results["settings"]["spiking_conv"] is True
    assert results["settings"]["encoding"] == "rate"


def test_rate_coding_of_standardized_pixels_is_refused(
    workdir: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        fit(CONFIGS / "mnist_snn.yaml", workdir, "--model.init_args.encoding=rate")
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "error: `model.init_args.encoding: rate` needs inputs in [0, 1]" in err
    assert "data.init_args.normalization: none" in err


@pytest.mark.parametrize(
    ("dataset", "files"),
    [
        ("mnist", ["MNIST/raw/train-images-idx3-ubyte", "MNIST/raw/t10k-labels-idx1-ubyte"]),
        ("fmnist", ["FashionMNIST/raw/train-labels-idx1-ubyte"]),
        ("cifar10", ["cifar-10-batches-py/data_batch_5", "cifar-10-batches-py/batches.meta"]),
    ],
)
def test_missing_files_exit_2_with_the_directory_files_and_fixes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
    dataset: str, files: list[str],
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    empty = tmp_path / "nothing_here"
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", str(CONFIGS / f"{dataset}_ann.yaml"), *SMALL,
              f"--data.init_args.data_dir={empty}",
              "--trainer.logger.init_args.save_dir=logs"])  # fmt: skip
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "Traceback" not in err
    assert str(empty) in err
    for name in files:
        assert name in err
    assert "data.init_args.download: true" in err
    assert "put the files there" in err


def test_conv_channels_on_tabular_data_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", str(CONFIGS / "iris_ann.yaml"), *SMALL,
              "--model.init_args.conv_channels=[8]",
              "--trainer.logger.init_args.save_dir=logs"])  # fmt: skip
    assert exit_info.value.code == 2
    assert "model.init_args.conv_channels" in capsys.readouterr().err
