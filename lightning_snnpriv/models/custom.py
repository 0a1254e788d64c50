"""NetworkClassifier: your own network (any ``nn.Module``, plain or snntorch) as target and shadows.

The network is given by ``class_path`` in a config (``model.init_args.network``), or as a
class or function from Python; every copy (the target and each shadow) is a fresh call, so each
is initialized independently, as the built-in networks are. Everything around it (the plan,
the training of each copy on its own members, the audit, the reports) is the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

import torch
from torch import nn

from lightning_snnpriv.errors import ConfigError
from lightning_snnpriv.models.module import FIELD, PrivacyModule

#: Whether the network is spiking: recorded as ``kind`` in the results and the reports.
Kind = Literal["ann", "snn"]


def network_name(network: Any) -> Any:
    """A network setting as plain values: a config entry as it is, a class or function by name.

    Example:
        >>> network_name(nn.Linear), network_name({"class_path": "m.Net"})
        ('torch.nn.modules.linear.Linear', {'class_path': 'm.Net'})
    """
    if isinstance(network, Mapping):
        return dict(network)
    target = getattr(network, "func", network)  # functools.partial (jsonargparse's callables)
    name = f"{getattr(target, '__module__', '')}.{getattr(target, '__qualname__', '')}"
    return name.strip(".") or repr(network)


class NetworkClassifier(PrivacyModule):
    """Target and shadows are copies of your own network.

    The network maps a batch of inputs ``[batch, *input_shape]`` to outputs ``[batch,
    num_classes]``: logits for an ANN, the readout (e.g. the last membrane potential or the
    spike counts) for an SNN. Losses and attack signals are computed from these outputs as
    from the built-in networks'. An SNN keeps its state inside one forward call (initialize the
    membranes in ``forward``, e.g. ``mem = lif.init_leaky()``, not ``init_hidden=True``).

    Args:
        network: Builds one freshly initialized network: in a config a ``class_path`` (your
            ``nn.Module`` subclass) with its ``init_args``; from Python a class or a function
            of no arguments. It is called once per model. Its output size must equal the
            data's number of classes (checked before training).
        kind: ``ann`` or ``snn``: how the run is labelled in the results (``kind``) and the
            sweep tables and figures.
        **kwargs: The arguments of :class:`PrivacyModule` (``num_models``, ``num_classes`` and
            ``input_shape``, linked from the data; ``optimizer``, ``ensemble``).

    Example:
        >>> model = NetworkClassifier(lambda: nn.Linear(4, 3), num_models=2, num_classes=3,
        ...                           input_shape=(4,))
        >>> model(torch.zeros(5, 4)).shape, model.settings()["kind"]
        (torch.Size([2, 5, 3]), 'ann')
    """

    def __init__(self, network: Callable[[], nn.Module], kind: Kind = "ann", **kwargs: Any) -> None:
        if kind not in ("ann", "snn"):
            raise ConfigError(f"`{FIELD}kind` must be ann or snn, got {kind!r}.")
        self._build = network
        super().__init__(**kwargs)
        self._check_outputs()

    def configure_network(self) -> nn.Module:
        """One fresh copy of the network."""
        network = self._build()
        if not isinstance(network, nn.Module):
            raise ConfigError(
                f"`{FIELD}network` must build a torch.nn.Module, got {type(network).__name__}."
            )
        return network

    @property
    def kind(self) -> str:
        """``ann`` or ``snn``, as configured."""
        return self.hparams.kind

    def settings(self) -> dict[str, Any]:
        """The model's settings, with the network as plain values (its config or its name)."""
        return {**super().settings(), "network": network_name(self.hparams.network)}

    def _check_outputs(self) -> None:
        """Refuse, before training, a network whose outputs do not match the data."""
        member = self.ensemble.members[0]
        was_training = member.training
        member.eval()
        try:
            with torch.no_grad():
                out = member(torch.zeros(2, *self.input_shape))
        except Exception as err:
            raise ConfigError(
                f"`{FIELD}network` ({network_name(self.hparams.network)}) fails on a batch of "
                f"inputs of shape {self.input_shape} (the data's): {type(err).__name__}: {err}. "
                "Make its first layer take inputs of that shape."
            ) from err
        finally:
            member.train(was_training)
        expected = (2, self.num_classes)
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        if shape != expected:
            raise ConfigError(
                f"`{FIELD}network` ({network_name(self.hparams.network)}) returns outputs of "
                f"shape {shape} for 2 inputs, expected a tensor of shape {expected} "
                f"({self.num_classes} classes, from the data). Make its last layer output "
                "num_classes values per sample."
            )
