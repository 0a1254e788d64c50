"""Surrogate gradients chosen by name: picklable wrappers around snntorch's autograd Functions.

snntorch's ``surrogate.fast_sigmoid()`` and friends return closures, which cannot be pickled
or sent to DDP workers. :class:`Surrogate` keeps the name and hyper-parameters and calls the
same snntorch ``torch.autograd.Function`` in ``__call__``, so the forward pass (a Heaviside
step at zero, the neuron passes ``mem - threshold``) and the gradient are exactly snntorch's.

Verified against snntorch 1.0.0's ``snntorch/surrogate.py`` (and by
``tests/models/test_surrogates.py``). Forward, for every surrogate: ``S = 1 if U > 0 else 0``
with ``U = mem - threshold`` (strictly greater: a membrane exactly at the threshold does not
spike, although snntorch's docstrings write U >= U_thr). Backward, dS/dU:

===========================  ==========================================  =====================
name                         dS/dU                                       hyper-parameters
===========================  ==========================================  =====================
fast_sigmoid                 1 / (1 + slope * |U|)^2                     slope = 25
straight_through_estimator   1                                           (none)
atan                         (alpha / 2) / (1 + (pi / 2 * alpha * U)^2)  alpha = 2.0
spike_rate_escape            slope * exp(-beta * |U - 1|)                beta = 1, slope = 25
triangular                   threshold if U < 0 else -threshold          threshold = 1
===========================  ==========================================  =====================

Where they peak, and quirks kept as they are (results depend on snntorch 1.0.0):

- ``fast_sigmoid`` peaks at U = 0 (value 1); ``atan`` at U = 0 (value alpha / 2 = 1);
  ``straight_through_estimator`` passes the gradient unchanged at every U, however far from
  the threshold.
- ``spike_rate_escape`` peaks at U = 1, i.e. at ``mem = threshold + 1`` (one absolute unit
  above the firing threshold, whatever the threshold), with value ``slope`` = 25; at the
  threshold itself it is ``slope * exp(-beta)`` (9.2 with the defaults). Its ``beta`` is an
  escape-rate sharpness, unrelated to the neuron's membrane decay ``beta``.
- ``triangular`` is not a triangle: its gradient has constant magnitude ``threshold`` (a
  gradient scale, unrelated to the neuron's firing threshold) and flips sign at the firing
  threshold: +threshold below it (U < 0), -threshold at and above it (U >= 0). It has no peak;
  a neuron above threshold gets the opposite-signed gradient of one below it.
- snntorch's ``sigmoid`` surrogate (not one of the five) overflows in float32: at slope 25
  its gradient is NaN for U below about -3.4 (``exp(-slope * U)`` is inf in the numerator
  and the denominator), one reason it is not offered here.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from typing import Literal, get_args

import torch
from snntorch import surrogate as _sn

from lightning_snnpriv.errors import ConfigError

SurrogateName = Literal[
    "fast_sigmoid", "straight_through_estimator", "atan", "spike_rate_escape", "triangular"
]

#: For each surrogate: snntorch's autograd Function and its hyper-parameters with snntorch's
#: defaults (read from its factory function, e.g. ``fast_sigmoid(slope=25)``), in the order the
#: Function's ``apply`` takes them.
SURROGATES: dict[str, tuple[type[torch.autograd.Function], dict[str, float]]] = {
    name: (
        function,
        {
            key: float(param.default)
            for key, param in inspect.signature(getattr(_sn, name)).parameters.items()
        },
    )
    for name, function in {
        "fast_sigmoid": _sn.FastSigmoid,
        "straight_through_estimator": _sn.StraightThroughEstimator,
        "atan": _sn.ATan,
        "spike_rate_escape": _sn.SpikeRateEscape,
        "triangular": _sn.Triangular,
    }.items()
}
assert set(SURROGATES) == set(get_args(SurrogateName))


# The surrogates' backward formulas, written out for the fused LIF loop
# (:mod:`lightning_snnpriv.models.lif_scan`), which needs ``grad * dS/dU`` for a slice at a time
# into a buffer it reuses. Each is the same sequence of float operations as snntorch 1.0.0's
# ``backward`` (so the results are bit-for-bit equal; ``tests/models/test_surrogates.py``
# checks it), done in place in ``out``; ``u`` and ``grad`` are only read.


def _fast_sigmoid_grad(u: torch.Tensor, grad: torch.Tensor, out: torch.Tensor, slope: float
                       ) -> torch.Tensor:  # fmt: skip
    # grad / (slope * |u| + 1) ** 2
    torch.abs(u, out=out).mul_(slope).add_(1.0).pow_(2)
    return torch.div(grad, out, out=out)


def _ste_grad(u: torch.Tensor, grad: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    # grad
    return out.copy_(grad)


def _atan_grad(u: torch.Tensor, grad: torch.Tensor, out: torch.Tensor, alpha: float
               ) -> torch.Tensor:  # fmt: skip
    # alpha / 2 / (1 + (pi / 2 * alpha * u) ** 2) * grad
    # (``float / tensor`` is ``tensor.reciprocal() * float`` in torch)
    torch.mul(u, torch.pi / 2 * alpha, out=out).pow_(2).add_(1)
    return out.reciprocal_().mul_(alpha / 2).mul_(grad)


def _spike_rate_escape_grad(u: torch.Tensor, grad: torch.Tensor, out: torch.Tensor,
                            beta: float, slope: float) -> torch.Tensor:  # fmt: skip
    # grad * slope * exp(-beta * |u - 1|)
    torch.sub(u, 1, out=out).abs_().mul_(-beta).exp_()
    return out.mul_(torch.mul(grad, slope))  # (grad * slope) * exp(...), commuted


def _triangular_grad(u: torch.Tensor, grad: torch.Tensor, out: torch.Tensor, threshold: float
                     ) -> torch.Tensor:  # fmt: skip
    # grad * threshold, negated where u >= 0
    torch.mul(grad, threshold, out=out)
    return torch.where(u >= 0, -out, out, out=out)


#: name -> ``f(u, grad, out, **params)``: ``grad * dS/dU`` at ``u``, written into ``out``.
GRADIENTS: dict[str, Callable[..., torch.Tensor]] = {
    "fast_sigmoid": _fast_sigmoid_grad,
    "straight_through_estimator": _ste_grad,
    "atan": _atan_grad,
    "spike_rate_escape": _spike_rate_escape_grad,
    "triangular": _triangular_grad,
}
assert set(GRADIENTS) == set(SURROGATES)


def _positive_finite(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


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
        bad = {k: v for k, v in params.items() if not _positive_finite(v)}
        if bad:
            raise ConfigError(
                f"`{field}surrogate_params`: {', '.join(f'{k}={v}' for k, v in bad.items())}: "
                "each hyper-parameter is a scale or a width, a finite number > 0."
            )
        self.name = name
        self.params = {key: float(params.get(key, default)) for key, default in defaults.items()}
        self._function = function

    def __call__(self, u: torch.Tensor) -> torch.Tensor:
        """Spikes of ``u`` (``mem - threshold``) with the surrogate gradient."""
        return self._function.apply(u, *self.params.values())

    def grad(
        self, u: torch.Tensor, grad_spikes: torch.Tensor, out: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``grad_spikes * dS/dU`` at ``u``: what backward through ``self(u)`` gives, bit for bit.

        Args:
            u: ``mem - threshold``.
            grad_spikes: Gradient of the loss with respect to the spikes ``self(u)``.
            out: Buffer of ``u``'s shape for the result (a new tensor if ``None``).

        Example:
            >>> Surrogate("fast_sigmoid").grad(torch.tensor([0.0, 0.2]), torch.ones(2))
            tensor([1.0000, 0.0278])
        """
        out = torch.empty_like(u) if out is None else out
        return GRADIENTS[self.name](u, grad_spikes, out, **self.params)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        return f"Surrogate({self.name}{', ' if args else ''}{args})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Surrogate) and (self.name, self.params) == (
            other.name,
            other.params,
        )

    def __hash__(self) -> int:
        return hash((self.name, tuple(self.params.items())))
