"""Describe the model a fit config builds: per layer the quantizer, bits, neuron and surrogate.

``python -m lightning_snnpriv describe --config configs/breast_cancer_snn.yaml [overrides]``
parses the config with the ``fit`` parser itself (links from the data included), instantiates
the model, and prints per layer in forward order the quantizer and bit width in effect, the
neuron settings and the surrogate. Nothing is trained or written.
"""

from __future__ import annotations

from typing import Any

import torch
from jsonargparse import ArgumentParser

from lightning_snnpriv.models.summary import describe_network, format_layers

#: The parser is the ``fit`` parser: the same config, links and validation.
FIT_CONFIG = True
USAGE = "--config CONFIG [--SECTION.KEY=VALUE ...]"


def add_arguments(parser: ArgumentParser) -> None:
    """No options besides the ``fit`` config's."""
    del parser


def describe(module: Any) -> str:
    """The description of an instantiated ``PrivacyModule``: its settings and its layers."""
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


def run(cli: Any) -> None:
    """Print :func:`describe` of the model the parsed ``fit`` config built."""
    print(describe(cli.model))
