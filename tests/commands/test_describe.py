"""``describe``: the model a fit config builds, layer by layer, parsed by the fit parser."""

from __future__ import annotations

import pytest
from cli_runs import CONFIGS

from lightning_snnpriv.commands import main

SNN = str(CONFIGS / "breast_cancer_snn.yaml")
ANN = str(CONFIGS / "breast_cancer_ann.yaml")
TINY_SNN = ["--model.init_args.hidden_sizes=[16]", "--model.init_args.num_steps=3"]


def test_describe_prints_quantizers_bits_and_surrogate(capsys):
    main(
        [
            "describe", "--config", SNN, *TINY_SNN, "--model.init_args.weight_bits=4",
            "--model.init_args.act_bits=3", "--model.init_args.input_bits=8",
            "--model.init_args.surrogate=triangular", "--model.init_args.per_channel_scaling=true",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("model: SNNClassifier (snn), 2 copies (target + 1 shadow)")
    assert "surrogate: triangular(threshold=1)" in out
    rows = {line.split()[0]: line for line in lines if line.startswith(("input", "fcs", "lifs"))}
    assert list(rows) == ["input_quant", "fcs.0", "lifs.0", "fcs.1", "lifs.1"]  # forward order
    assert "activations int8" in rows["input_quant"]
    assert "weights int4, scale per output channel" in rows["fcs.0"]
    assert "30 -> 16" in rows["fcs.0"]
    assert "16 -> 2" in rows["fcs.1"]
    assert "membrane 3 bits, 8 levels in [-1, 1.2]" in rows["lifs.0"]
    assert "Surrogate(triangular, threshold=1)" in rows["lifs.1"]
    assert "Leaky(beta=0.95, threshold=1, reset=subtract)" in rows["lifs.1"]


def test_describe_ann_full_precision_and_quantized(capsys):
    main(["describe", "--config", ANN, "--model.init_args.hidden_sizes=[8]"])
    plain = capsys.readouterr().out
    assert "Quant" not in plain
    assert plain.count("full precision") == 4  # input, linear, relu, linear
    main(["describe", "--config", ANN, "--model.init_args.act_bits=2"])
    assert "QuantReLU  activations uint2, learned scale" in capsys.readouterr().out


def test_describe_needs_a_config_and_documents_its_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["describe"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "required: data, model" in err
    assert "describe --config CONFIG" in err
    with pytest.raises(SystemExit) as exit_info:
        main(["describe", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m lightning_snnpriv describe")
    assert "--model.help" in out
    assert "--mia.attacks" in out
