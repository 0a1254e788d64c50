"""configs/paper/: the source study's recipe table, checked on the objects the CLI builds."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from cli_runs import CONFIGS

from lightning_snnpriv.attacks import ShokriAttack
from lightning_snnpriv.commands.fit import PrivacyCLI, build_cli

PAPER = CONFIGS / "paper"


def conv(c_in: int, c_out: int) -> int:
    """Parameters of a 3x3 convolution with bias."""
    return c_in * c_out * 9 + c_out


def fc(n_in: int, n_out: int) -> int:
    """Parameters of a fully connected layer with bias."""
    return n_in * n_out + n_out


#: The issue's table, layer by layer (ANN and SNN have the same weights).
TABLE = {
    "mnist": conv(1, 32) + conv(32, 64) + fc(3136, 1000) + fc(1000, 10),
    "fmnist": conv(1, 32) + conv(32, 64) + fc(3136, 1000) + fc(1000, 10),
    "cifar10": conv(3, 32) + conv(32, 64) + fc(4096, 1000) + fc(1000, 10),
    "iris": fc(4, 1000) + fc(1000, 3),
    "breast_cancer": fc(30, 1000) + fc(1000, 2),
    "digits": fc(64, 1000) + fc(1000, 10),  # not in the source study: the studies' third dataset
}


def build(config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PrivacyCLI:
    """The CLI's objects for ``config``, without running anything."""
    monkeypatch.chdir(tmp_path)
    return build_cli(["--config", str(config)], run=False)


def test_every_dataset_and_kind_has_a_paper_config() -> None:
    names = {p.stem for p in PAPER.glob("*.yaml")}
    assert names == {f"{d}_{k}" for d in TABLE for k in ("ann", "snn")}


@pytest.mark.parametrize("config", sorted(PAPER.glob("*.yaml")), ids=lambda p: p.stem)
def test_paper_config_follows_the_recipe(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset, kind = config.stem.rsplit("_", 1)
    cli = build(config, tmp_path, monkeypatch)
    model, data = cli.model, cli.datamodule
    # shapes: parameter count of each copy from the table; target + 1 shadow
    assert model.num_models == 2
    for net in model.ensemble.members:
        assert sum(p.numel() for p in net.parameters()) == TABLE[dataset]
    # data: the source study's membership protocol and batch size
    hp = data.hparams
    assert hp.scheme == "paper"
    assert hp.num_shadows == 1
    assert hp.batch_size == 128
    assert (hp.shadow_train_fraction, hp.shadow_nonmember_fraction) == (0.8, 0.2)
    # optimizer: Adam, lr 1e-4 (ANN) / 1e-3 (SNN), with the fused kernel (same update rule)
    optimizer = model.configure_optimizers()
    assert isinstance(optimizer, torch.optim.Adam)
    assert optimizer.defaults["lr"] == {"ann": 1e-4, "snn": 1e-3}[kind]
    assert optimizer.defaults["fused"]
    if kind == "snn":
        hp = model.hparams
        assert hp.num_steps == 10
        assert (hp.beta, hp.threshold, hp.reset_mechanism) == (0.95, 1.0, "subtract")
        assert (hp.encoding, hp.readout, hp.spiking_conv) == (
            "direct", "membrane_last", False,
        )  # fmt: skip
    # attack: one RBF SVM per class on the raw output vector, no cap on its training set
    (attack,) = _mia(cli).audit.attacks
    assert isinstance(attack, ShokriAttack)
    settings = attack.settings()
    assert settings["classifier"] == "svm"
    assert settings["per_class"] is True
    assert settings["features"] == "raw"
    assert settings["max_train_samples"] is None


def _mia(cli: PrivacyCLI):
    from lightning_snnpriv.callbacks import MembershipInferenceCallback

    (callback,) = [c for c in cli.trainer.callbacks if isinstance(c, MembershipInferenceCallback)]
    return callback
