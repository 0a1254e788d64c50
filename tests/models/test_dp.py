"""DP-SGD runs through the real CLI: the accountant's epsilon, the bound below it, bad settings."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from cli_runs import CONFIGS, load_results, run_cli
from opacus.accountants import RDPAccountant, create_accountant
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.data import DataLoader, TensorDataset

from lightning_snnpriv.errors import ConfigError
from lightning_snnpriv.models import SNNClassifier
from lightning_snnpriv.models.dp import DPTraining
from lightning_snnpriv.models.dp_settings import DPSettings
from lightning_snnpriv.models.networks import SNN
from lightning_snnpriv.runs import RunDir

CONFIG = CONFIGS / "breast_cancer_snn_dp.yaml"
SMALL = [
    "--model.init_args.hidden_sizes=[16]",
    "--model.init_args.num_steps=3",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--mia.print_table=false",
    "--mia.bootstrap=0",
]
BATCH = 32


def test_dp_run_spends_the_epsilon_of_opacus_accountant_and_the_bound_stays_below(tmp_path):
    save_dir = tmp_path / "logs"
    code = run_cli(["fit", "--config", str(CONFIG), *SMALL, "--trainer.max_epochs=2",
                    '--model.init_args.dp={"noise_multiplier": 0.8, "target_epsilon": null}',
                    f"--trainer.logger.init_args.save_dir={save_dir}"])  # fmt: skip
    assert code == 0
    (run,) = save_dir.glob("*/version_*")
    results = load_results(run)
    dp = results["settings"]["dp"]
    members = RunDir(run).load_plan().keep.sum(axis=1).tolist()
    assert dp["members"] == members
    batches = [math.ceil(n / BATCH) for n in members]
    assert dp["sample_rate"] == [1 / b for b in batches]
    assert dp["steps"] == [2 * b for b in batches]
    for eps, q, steps in zip(dp["epsilon"], dp["sample_rate"], dp["steps"], strict=True):
        direct = RDPAccountant()
        direct.history = [(0.8, q, steps)]
        assert eps == pytest.approx(direct.get_epsilon(delta=1e-5), rel=1e-12)
        assert 0 < eps < math.inf
    for record in results["records"]:
        target_eps = dp["epsilon"][record["target"]]
        assert record["epsilon"] == target_eps
        assert 0 <= record["epsilon_lower_bound"] <= target_eps
        assert record["epsilon_lower_bound_info"]["delta"] == 1e-5
    events = EventAccumulator(str(run))
    events.Reload()
    tags = events.Tags()["scalars"]
    assert events.Scalars("dp/epsilon")[-1].value == pytest.approx(dp["epsilon"][0], rel=1e-6)
    assert {"mia/epsilon", "mia/loss/epsilon_lower_bound"} <= set(tags)
    ckpt = torch.load(RunDir(run).last_checkpoint, weights_only=True)
    reloaded = SNNClassifier.load_from_checkpoint(RunDir(run).last_checkpoint)
    assert reloaded.dp_training.settings == DPSettings(noise_multiplier=0.8)
    assert [s["history"] for s in ckpt["dp_accountants"]] == [
        [(0.8, q, s)] for q, s in zip(dp["sample_rate"], dp["steps"], strict=True)
    ]


def test_target_epsilon_is_reached_within_opacus_tolerance():
    """The noise is Opacus' get_noise_multiplier for each model's sample rate and steps."""
    settings = DPSettings(target_epsilon=2.0, delta=1e-5)
    members = torch.nn.ModuleList(SNN((4,), 2, [8], num_steps=2) for _ in range(2))
    dp = DPTraining(settings, members)
    dp.configure_optimizers(lambda params: torch.optim.SGD(params, lr=0.1))
    data = [TensorDataset(torch.randn(n, 4), torch.randint(0, 2, (n,))) for n in (200, 150)]
    loaders = [DataLoader(d, batch_size=BATCH, shuffle=True) for d in data]
    trainer = SimpleNamespace(max_epochs=5, max_steps=-1)
    dp_loaders = dp.poisson_loaders(loaders, trainer)
    assert [dl.sample_rate for dl in dp_loaders] == [1 / 7, 1 / 5]
    for q, steps in zip(dp.sample_rates, dp.planned_steps, strict=True):
        acc = create_accountant("rdp")
        acc.history = [(dp.noise_multiplier, q, steps)]
        assert acc.get_epsilon(1e-5) <= 2.0
    eps = [0.0, 0.0]
    for i, (q, steps) in enumerate(zip(dp.sample_rates, dp.planned_steps, strict=True)):
        acc = create_accountant("rdp")
        acc.history = [(dp.noise_multiplier, q, steps)]
        eps[i] = acc.get_epsilon(1e-5)
    assert max(eps) == pytest.approx(2.0, abs=0.02)  # the model that needs the most noise
    with pytest.raises(ConfigError, match=r"dp\.target_epsilon"):
        DPTraining(DPSettings(target_epsilon=0.01), members).poisson_loaders(loaders, trainer)


BAD = {
    "negative noise": (['--model.init_args.dp={"noise_multiplier": -1, "target_epsilon": null}'],
                       "dp.noise_multiplier"),
    "both noise and target": (["--model.init_args.dp.noise_multiplier=1"],
                              "dp.noise_multiplier"),
    "delta >= 1/n": (["--model.init_args.dp.delta=0.01"], "dp.delta"),
    "unreachable target": (["--model.init_args.dp.target_epsilon=0.01"], "dp.target_epsilon"),
    "vectorized": (["--model.init_args.ensemble=vectorized"], "ensemble"),
    "quantized": (["--model.init_args.weight_bits=4"], "weight_bits"),
    "rate encoding": (["--model.init_args.encoding=rate"], "encoding"),
    "lightning clipping": (["--trainer.gradient_clip_val=1.0"], "gradient_clip_val"),
    "accumulation": (["--trainer.accumulate_grad_batches=2"], "accumulate_grad_batches"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD)
def test_bad_dp_settings_exit_2_naming_the_field_before_training(case, tmp_path, capsys):
    overrides, field = BAD[case]
    save_dir = tmp_path / "logs"
    code = run_cli(["fit", "--config", str(CONFIG), *SMALL, "--trainer.max_epochs=1",
                    f"--trainer.logger.init_args.save_dir={save_dir}", *overrides])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, err
    assert field in err
    assert "Traceback" not in err
    assert not list(save_dir.glob("*/*/checkpoints/*.ckpt"))
    assert not list(save_dir.glob("*/*/mia_results.json"))


@pytest.mark.slow
def test_known_leakage_case_under_dp_bound_stays_below_the_accountant(tmp_path):
    """Over-fitted digit MLPs (``lira`` scheme, every model a target) with DP-SGD at epsilon 1:
    no attack's empirical lower bound exceeds the accountant's epsilon of its targets."""
    save_dir = tmp_path / "logs"
    code = run_cli([
        "fit", "--config", str(CONFIGS / "breast_cancer_ann.yaml"),
        "--data.class_path=lightning_snnpriv.data.DigitsDataModule",
        "--data.init_args.scheme=lira", "--data.init_args.num_shadows=5",
        "--data.init_args.batch_size=64", "--model.init_args.hidden_sizes=[128]",
        '--model.init_args.dp={"target_epsilon": 1.0}', "--trainer.max_epochs=10",
        "--trainer.enable_progress_bar=false", "--mia.print_table=false", "--mia.bootstrap=0",
        "--mia.attacks=[lira_online,rmia_online,loss]", "--mia.targets=all",
        f"--trainer.logger.init_args.save_dir={save_dir}",
    ])  # fmt: skip
    assert code == 0
    (run,) = save_dir.glob("*/version_*")
    results = load_results(run)
    epsilons = results["settings"]["dp"]["epsilon"]
    assert max(epsilons) <= 1.0
    assert len(results["records"]) == 3 * 7  # 3 attacks x (6 targets + pooled)
    for record in results["records"]:
        assert record["epsilon_lower_bound"] <= record["epsilon"] <= 1.0


def test_ddp_is_refused_naming_the_setting():
    from pytorch_lightning import Trainer

    from lightning_snnpriv.models.dp import check_trainer

    trainer = Trainer(strategy="ddp", devices=2, accelerator="cpu", logger=False)
    with pytest.raises(ConfigError, match=r"trainer\.devices: 1"):
        check_trainer(trainer)
    check_trainer(Trainer(devices=1, accelerator="cpu", logger=False))
