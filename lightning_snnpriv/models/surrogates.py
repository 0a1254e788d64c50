"""Surrogate gradients chosen by name: picklable wrappers around snntorch's autograd Functions.

snntorch's ``surrogate.fast_sigmoid()`` and friends return closures, which cannot be pickled
or sent to DDP workers. :class:`Surrogate` keeps the name and hyper-parameters and calls the
same snntorch ``torch.autograd.Function`` in ``__call__``, so the forward pass (a Heaviside
step at zero, the neuron passes ``mem - threshold``) and the gradient are exactly snntorch's.

Gradients dS/dU computed by snntorch 1.0.0 (U is ``mem - threshold``):

===========================  =======================================  ==================
name                         dS/dU                                    hyper-parameters
===========================  =======================================  ==================
fast_sigmoid                 1 / (1 + slope * |U|)^2                  slope = 25
straight_through_estimator   1                                        (none)
atan                         (alpha / 2) / (1 + (pi/2 * alpha * U)^2) alpha = 2.0
spike_rate_escape            slope * exp(-beta * |U - 1|)             beta = 1, slope = 25
triangular                   threshold if U < 0 else -threshold       threshold = 1
===========================  =======================================  ==================

Quirks of snntorch 1.0.0 kept as they are (the results depend on this version):
``spike_rate_escape`` peaks one unit *above* the firing threshold (at U = 1), not at it;
``triangular`` is not a triangle but a constant whose sign flips at the threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, get_args

import torch
from snntorch import surrogate as _sn

from lightning_snnpriv.errors import ConfigError

SurrogateName = Literal[
    "fast_sigmoid", "straight_through_estimator", "atan", "spike_rate_escape", "triangular"
]

#: For each surrogate: snntorch's autograd Function and its hyper-parameters with defaults,
#: in the order the Function's ``apply`` takes them.
SURROGATES: dict[str, tuple[type[torch.autograd.Function], dict[str, float]]] = {
    "fast_sigmoid": (_sn.FastSigmoid, {"slope": 25.0}),
    "straight_through_estimator": (_sn.StraightThroughEstimator, {}),
    "atan": (_sn.ATan, {"alpha": 2.0}),
    "spike_rate_escape": (_sn.SpikeRateEscape, {"beta": 1.0, "slope": 25.0}),
    "triangular": (_sn.Triangular, {"threshold": 1.0}),
}
assert set(SURROGATES) == set(get_args(SurrogateName))


class Surrogate:
    """A spike function (Heaviside forward, surrogate backward) chosen by name.

    Args:
        name: One of ``fast_sigmoid``, ``straight_through_estimator``, ``atan``,
            ``spike_rate_escape``, ``triangular``.
        params: Hyper-parameters of that surrogate; missing ones take snntorch's defaults.
            A key that the surrogate does not take is an error.
        field: Prefix of the config fields named in error messages (``model.init_args.``).

    Example:
        >>> spike = Surrogate("atan", {"alpha": 2.0})
        >>> u = torch.tensor([-0.5, 0.0, 0.5], requires_grad=True)
        >>> spike(u)
        tensor([0., 0., 1.], grad_fn=<ATanBackward>)
        >>> spike(u).sum().backward(); u.grad
        tensor([0.2884, 1.0000, 0.2884])
    """

    def __init__(
        self, name: str, params: Mapping[str, float] | None = None, field: str = ""
    ) -> None:
        if name not in SURROGATES:
            raise ConfigError(
                f"`{field}surrogate`: unknown surrogate {name!r}; choose one of "
                f"{', '.join(SURROGATES)}."
            )
        function, defaults = SURROGATES[name]
        params = dict(params or {})
        wrong = sorted(set(params) - set(defaults))
        if wrong:
            allowed = ", ".join(defaults) or "none"
            raise ConfigError(
                f"`{field}surrogate_params`: {', '.join(wrong)} not a hyper-parameter of "
                f"surrogate {name!r} (it takes: {allowed}). Remove it or choose another surrogate."
            )
        self.name = name
        self.params = {key: float(params.get(key, default)) for key, default in defaults.items()}
        self._function = function

    def __call__(self, u: torch.Tensor) -> torch.Tensor:
        """Spikes of ``u`` (``mem - threshold``) with the surrogate gradient."""
        return self._function.apply(u, *self.params.values())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        return f"Surrogate({self.name}{', ' if args else ''}{args})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Surrogate)
            and (self.name, self.params) == (other.name, other.params)
        )

    def __hash__(self) -> int:
        return hash((self.name, tuple(self.params.items())))
