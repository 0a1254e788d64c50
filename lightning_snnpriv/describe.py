"""``describe``: build the model from a config exactly as ``fit`` does and print its layers.

``python -m lightning_snnpriv describe --config configs/breast_cancer_snn.yaml [overrides]``
parses the config with the same LightningCLI (links from the data included), instantiates the
model, and prints per layer the quantizer and bit width in effect, the neuron settings and the
surrogate. Nothing is trained or written.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch

from lightning_snnpriv.errors import UsageError
from lightning_snnpriv.models.summary import describe_network, format_layers


def describe(args: Sequence[str]) -> str:
    """The description of the model that ``fit`` with the same arguments would train."""
    from lightning_snnpriv.cli import build_cli

    args = list(args)
    if not any(a in ("-c", "--config") or a.startswith("--config=") for a in args):
        raise UsageError(
            "describe needs a config: python -m lightning_snnpriv describe --config "
            "configs/<x>.yaml [--model.init_args.<key>=<value> ...]"
        )
    with warnings.catch_warnings():
        # ``args`` are given while sys.argv holds ``describe ...``: meant, not a mistake.
        warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
        module = build_cli(args, run=False).model
    members = list(module.ensemble.members)
    example = torch.zeros(1, *module.input_shape)
    layers = [describe_network(member, example) for member in members]
    same = all(layer == layers[0] for layer in layers)
    settings = module.settings()
    head = [
        f"model: {settings['model']} ({settings['kind']}), {len(members)} copies "
        f"(target + {len(members) - 1} shadow{'s' if len(members) != 2 else ''}), "
        + ("all with these layers:" if same else "copy 0 (the target):"),
    ]
    if "surrogate" in settings:
        params = ", ".join(f"{k}={v:g}" for k, v in settings["surrogate_params"].items())
        head.append(f"surrogate: {settings['surrogate']}({params})")
    bits = ", ".join(
        f"{key}={'null' if settings.get(key) is None else settings[key]}"
        for key in ("weight_bits", "act_bits", "input_bits", "per_channel_scaling")
        if key in settings
    )
    head.append(f"config: {bits}")
    return "\n".join([*head, format_layers(layers[0])])


def main(args: Sequence[str]) -> None:
    """Print :func:`describe` of the arguments (the ``describe`` subcommand)."""
    print(describe(args))
