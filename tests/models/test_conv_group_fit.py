"""A tiny paper-ConvNet fit through the CLI: the grouped conv front ends, the loop's results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from cli_runs import CONFIGS
from fake_datasets import write_dataset

from lightning_snnpriv.commands import main
from lightning_snnpriv.models import conv_group, vectorized_base
from lightning_snnpriv.models.vectorized_conv import VectorizedConvANN

SMALL = [
    "--trainer.max_epochs=1",
    "--trainer.limit_train_batches=3",
    "--trainer.limit_val_batches=1",
    "--trainer.num_sanity_val_steps=0",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--data.init_args.batch_size=16",
    "--data.init_args.verify_checksums=false",
    "--model.init_args.hidden_sizes=[16]",
    "--model.init_args.conv_channels=[4,8]",
]


def fit(root: Path, config: Path, name: str, *extra: str) -> tuple[dict, dict]:
    """Fit ``config`` small into ``root/name``; its results and its checkpoint's state_dict."""
    args = ["fit", "--config", str(config), *SMALL,
            f"--trainer.logger.init_args.save_dir={root / name}"]  # fmt: skip
    if config.stem.endswith("snn"):
        args.append("--model.init_args.num_steps=3")
    main([*args, *extra])
    (run,) = (root / name).glob("*/version_0")
    ckpt = run / "checkpoints" / "last.ckpt"
    state = torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]
    return json.loads((run / "mia_results.json").read_text()), state


@pytest.mark.parametrize("kind", ["ann", "snn"])
def test_paper_convnet_fit_takes_the_grouped_path_with_the_loops_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    write_dataset(tmp_path / "data", "mnist")
    monkeypatch.chdir(tmp_path)
    config = CONFIGS / "paper" / f"mnist_{kind}.yaml"
    calls: list[int] = []
    grouped = conv_group.grouped_front

    def spy(stacks, x):
        calls.append(len(stacks))
        return grouped(stacks, x)

    monkeypatch.setattr(vectorized_base, "grouped_front", spy)
    loop_results, loop_state = fit(tmp_path, config, "loop", "--model.init_args.ensemble=loop")
    assert not calls
    # ``ensemble: auto`` as it is where the grouped path is measured faster than the loop
    monkeypatch.setattr(conv_group, "GROUPED_IS_FASTER", True)
    monkeypatch.setattr(VectorizedConvANN, "faster_than_loop", True)
    fast_results, fast_state = fit(tmp_path, config, "auto")
    assert 2 in calls  # target + shadow in one grouped call per training step
    assert list(fast_state) == list(loop_state)  # the loop's checkpoint layout
    for key, value in loop_state.items():
        torch.testing.assert_close(fast_state[key], value, rtol=1e-4, atol=1e-5, msg=key)
    for split in ("train", "test"):
        assert fast_results["accuracy"][split] == pytest.approx(loop_results["accuracy"][split])
    assert [r["auc"] for r in fast_results["records"]] == pytest.approx(
        [r["auc"] for r in loop_results["records"]], abs=1e-6
    )
