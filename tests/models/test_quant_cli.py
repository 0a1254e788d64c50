"""Quantization and surrogates through the real CLI: errors, results, checkpoints."""

from __future__ import annotations

import json

import pytest
import torch
from cli_runs import CONFIGS
from pytorch_lightning.core.saving import load_hparams_from_yaml

from lightning_snnpriv.commands import main

SNN = str(CONFIGS / "breast_cancer_snn.yaml")
ANN = str(CONFIGS / "breast_cancer_ann.yaml")
TINY_SNN = ["--model.init_args.hidden_sizes=[16]", "--model.init_args.num_steps=3"]


def _fails(capsys, tmp_path, *args: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main([*args, f"--trainer.logger.init_args.save_dir={tmp_path}"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(
    ("config", "override", "expected"),
    [
        (SNN, "--model.init_args.weight_bits=0", "`model.init_args.weight_bits` must be"),
        (SNN, "--model.init_args.weight_bits=33", "integer from 2 to 32, got 33"),
        (ANN, "--model.init_args.act_bits=0", "`model.init_args.act_bits` must be"),
        (ANN, "--model.init_args.input_bits=1", "`model.init_args.input_bits` must be"),
        (SNN, "--model.init_args.act_bits=17", "integer from 1 to 16, got 17"),
        (SNN, "--model.init_args.surrogate_params={alpha: 3}",
         "`model.init_args.surrogate_params`: alpha not a hyper-parameter of surrogate "
         "'fast_sigmoid' (it takes: slope)"),
        (SNN, "--model.init_args.state_quant_lower_limit=0.1",
         "`model.init_args.state_quant_lower_limit` set, but `model.init_args.act_bits` is null"),
    ],
)  # fmt: skip
def test_config_errors_name_the_field_and_exit_2(capsys, tmp_path, config, override, expected):
    err = _fails(capsys, tmp_path, "fit", "--config", config, override)
    assert err.startswith("error: ")
    assert expected in err


def test_unknown_surrogate_is_rejected_by_the_parser_readably(capsys, tmp_path):
    """jsonargparse validates the Literal: its message names the key, the value and the choices."""
    err = _fails(capsys, tmp_path, "fit", "--config", SNN, "--model.init_args.surrogate=sigmoid")
    assert "model.init_args.surrogate" in err
    assert "expected one of" in err
    assert "got value: sigmoid" in err
    for name in ("fast_sigmoid", "straight_through_estimator", "atan", "spike_rate_escape"):
        assert name in err


def test_surrogate_on_an_ann_is_rejected(capsys, tmp_path):
    err = _fails(capsys, tmp_path, "fit", "--config", ANN, "--model.init_args.surrogate=atan")
    assert "ANNClassifier" in err
    assert "unknown option 'surrogate'" in err


def test_quantized_snn_run_records_settings_and_checkpoint_round_trips(tmp_path):
    """A real fit: settings in mia_results.json and hparams.yaml; the Lightning checkpoint
    reloads into a model that reproduces the target's and shadow's saved outputs exactly."""
    from lightning_snnpriv.callbacks.gather import collect_outputs
    from lightning_snnpriv.commands.fit import build_cli
    from lightning_snnpriv.models import SNNClassifier

    args = [
        "--config", SNN, *TINY_SNN, "--trainer.max_epochs=1",
        "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
        f"--trainer.logger.init_args.save_dir={tmp_path}",
        "--model.init_args.weight_bits=4", "--model.init_args.act_bits=3",
        "--model.init_args.input_bits=8", "--model.init_args.surrogate=spike_rate_escape",
        "--model.init_args.surrogate_params={slope: 5}",
        "--model.init_args.state_quant_upper_limit=0.5",
    ]  # fmt: skip
    main(["fit", *args])
    (run_dir,) = tmp_path.glob("*/version_*")
    settings = json.loads((run_dir / "mia_results.json").read_text())["settings"]
    expected = {
        "kind": "snn", "weight_bits": 4, "act_bits": 3, "input_bits": 8,
        "per_channel_scaling": False, "surrogate": "spike_rate_escape",
        "surrogate_params": {"beta": 1.0, "slope": 5.0},
        "state_quant_lower_limit": 0.0, "state_quant_upper_limit": 0.5,
    }  # fmt: skip
    assert {k: settings[k] for k in expected} == expected
    hparams = load_hparams_from_yaml(run_dir / "hparams.yaml")
    assert (hparams["weight_bits"], hparams["act_bits"], hparams["surrogate"]) == (
        4, 3, "spike_rate_escape",
    )  # fmt: skip

    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    loaded = SNNClassifier.load_from_checkpoint(checkpoint)
    assert loaded.ensemble.members[0].fcs[0].weight_quant.bit_width() == 4
    datamodule = build_cli(args, run=False).datamodule  # the run's data, built as fit built it
    datamodule.setup("fit")
    outputs, _ = collect_outputs(loaded, datamodule.audit_dataloader())
    saved = torch.load(run_dir / "signals.pt")["outputs"]
    torch.testing.assert_close(outputs, saved, rtol=0, atol=0)
