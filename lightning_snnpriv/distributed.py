"""Runs on several processes (DDP): strategy choice, agreement checks and rank-zero sections.

Every function here that talks to other processes is a collective call: each rank must make it,
in the same order. With one process they are cheap no-ops around the same code path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch
from pytorch_lightning.strategies import Strategy

from lightning_snnpriv.errors import ConfigError, UsageError

T = TypeVar("T")

#: Lightning's DDP strategy names and their counterparts that detect unused parameters.
DDP_NAMES = ("ddp", "ddp_spawn", "ddp_fork", "ddp_notebook")
UNUSED_SUFFIX = "_find_unused_parameters_true"


def detecting_unused_parameters(strategy: Any) -> Any:
    """The DDP strategy name that lets a model without a batch in a step go without an update.

    A step in which a model's loader is exhausted leaves that model's parameters out of the
    loss. DDP must then detect unused parameters (``find_unused_parameters=True``): parameters
    unused on every rank keep ``grad = None`` (Adam leaves them alone), and DDP does not wait
    for gradients that never come. Lightning's plain DDP names are mapped to their
    ``*_find_unused_parameters_true`` counterparts; any other value is returned unchanged.

    Example:
        >>> detecting_unused_parameters("ddp"), detecting_unused_parameters("auto")
        ('ddp_find_unused_parameters_true', 'auto')
    """
    if isinstance(strategy, str) and strategy in DDP_NAMES:
        return strategy + UNUSED_SUFFIX
    return strategy


def check_unused_parameter_detection(model: torch.nn.Module) -> None:
    """Refuse a DDP-wrapped ``model`` that does not detect unused parameters.

    Args:
        model: The strategy's model after setup (``trainer.strategy.model``).

    Raises:
        ConfigError: ``model`` is a ``DistributedDataParallel`` with
            ``find_unused_parameters=False``.
    """
    from torch.nn.parallel import DistributedDataParallel

    if isinstance(model, DistributedDataParallel) and not model.find_unused_parameters:
        raise ConfigError(
            "trainer.strategy: DDP runs here must detect unused parameters, because a model "
            "whose training loader is exhausted sits out the last steps of an epoch (no batch, "
            "no update) and DDP would otherwise wait for its gradients. Set `strategy: ddp` "
            "(the command line turns it into 'ddp_find_unused_parameters_true'), "
            "'ddp_find_unused_parameters_true', or DDPStrategy(find_unused_parameters=True); "
            "`strategy: auto` with several devices picks plain DDP without it."
        )


def disagreement(values: Sequence[str]) -> str | None:
    """A description of the ranks whose value differs from rank 0's, or ``None`` if all agree.

    Example:
        >>> disagreement(["ab", "ab"]) is None
        True
        >>> disagreement(["ab", "ab", "cd"])
        "rank 0: 'ab'; differing: rank 2: 'cd'"
    """
    odd = [f"rank {rank}: {value!r}" for rank, value in enumerate(values) if value != values[0]]
    if not odd:
        return None
    return f"rank 0: {values[0]!r}; differing: " + ", ".join(odd)


def gather_hex(strategy: Strategy, value: str) -> list[str]:
    """Every rank's ``value`` (a hex string of the same length on every rank), in rank order.

    A collective call. It uses the strategy's ``all_gather``, so it works with any backend.
    """
    local = torch.tensor(list(bytes.fromhex(value)), dtype=torch.int32, device=strategy.root_device)
    gathered = strategy.all_gather(local).reshape(-1, local.numel()).cpu()
    return [bytes(row.tolist()).hex() for row in gathered]


def check_same_on_all_ranks(strategy: Strategy, digest: str, what: str, fix: str) -> None:
    """Stop every rank with a :class:`UsageError` unless all ranks hold the same ``digest``.

    A collective call.

    Args:
        strategy: The trainer's strategy.
        digest: A hex digest of the thing that must agree (e.g. ``MembershipPlan.digest()``).
        what: What the digest describes, for the message.
        fix: How to make the ranks agree, for the message.
    """
    problem = disagreement(gather_hex(strategy, digest))
    if problem is not None:
        raise UsageError(f"{what} differs between the processes of this run ({problem}). {fix}")


def on_global_zero(strategy: Strategy, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Call ``fn`` on global rank 0 only; every rank waits for it and fails if it failed.

    A collective call: the outcome is broadcast from rank 0, which is also the barrier. Rank 0
    re-raises its own exception; the other ranks raise :class:`UsageError` (if rank 0's error was
    one) or ``RuntimeError`` with its message, so no process is left waiting.

    Returns:
        ``fn``'s result on rank 0, ``None`` elsewhere.
    """
    result, error = None, None
    if strategy.is_global_zero:
        try:
            result = fn(*args, **kwargs)
        except Exception as err:  # re-raised below, after the other ranks have heard of it
            error = err
    outcome = None if error is None else (isinstance(error, UsageError), str(error))
    outcome = strategy.broadcast(outcome, src=0)
    if error is not None:
        raise error
    if outcome is not None:
        usage, message = outcome
        raise (UsageError if usage else RuntimeError)(f"global rank 0 failed: {message}")
    return result
