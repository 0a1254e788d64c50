"""DP-SGD for every model of an ensemble (target and shadows alike), through Opacus.

Each model gets its own Opacus ``GradSampleModule`` hooks (per-sample gradients), its own
``DPOptimizer`` (clipping to ``max_grad_norm``, Gaussian noise, the configured optimizer's
update) and its own accountant, and trains on Poisson-sampled batches of its own members
(Opacus' ``DPDataLoader``: each member is in a batch with probability ``q = 1 / batches per
epoch``, independently, so batch sizes vary and can be empty). The noise of an empty batch is
still added, as the accounting assumes.

Lightning sees one optimizer, :class:`ModelsDPOptimizer`, that steps the per-model
``DPOptimizer`` of every model that had a batch, so automatic optimization, ``global_step``
and checkpoints stay as without DP.

Per-sample gradients of a spiking network are the sum over time steps of each step's: the
LIF layers reuse their weights at every step and Opacus' hooks accumulate the per-sample
gradient of each call (``tests/models/test_dp_grads.py`` checks them against a brute-force
backward per sample, for ANN, SNN and ConvNet).

Where per-sample gradients cannot be had, DP is refused before training (:func:`check_network`,
:func:`check_trainer`): the vectorized ensemble (its batched matmuls and the fused LIF scan have
no per-sample hooks), brevitas or membrane quantization (learned quantizer scales), rate
encoding (the steps are folded into the batch dimension of the first layer), DDP, gradient
accumulation, Lightning's gradient clipping and mixed precision.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from lightning_snnpriv.errors import ConfigError, UsageError
from lightning_snnpriv.models.dp_settings import FIELD, DPSettings, check_delta

if TYPE_CHECKING:  # Opacus is imported where DP-SGD is set up: a fit without DP never loads it
    from opacus import GradSampleModule
    from opacus.accountants import IAccountant
    from opacus.data_loader import DPDataLoader
    from opacus.optimizers import DPOptimizer

#: Lightning precision settings under which per-sample gradients were tested.
FULL_PRECISION = ("32-true", "32", "64-true", "64")


def check_network(settings: Mapping[str, Any], ensemble: str) -> str:
    """Refuse network settings that DP-SGD cannot train; return the ensemble mode to use.

    Args:
        settings: The model's hyper-parameters (``hparams``).
        ensemble: The ``ensemble`` setting; ``auto`` resolves to ``loop``.

    Example:
        >>> check_network({"weight_bits": None}, "auto")
        'loop'
    """
    model = "model.init_args."
    if ensemble == "vectorized":
        raise ConfigError(
            f"`{model}ensemble: vectorized` cannot train with `{model}dp`: its batched passes "
            "(and the fused LIF scan) give no per-sample gradients. Use ensemble: auto or loop."
        )
    for name in ("weight_bits", "act_bits", "input_bits"):
        if settings.get(name) is not None:
            raise ConfigError(
                f"`{model}{name}` with `{model}dp`: DP-SGD of quantized networks is not "
                "supported (brevitas and state_quant scales have no per-sample gradients). "
                f"Set {name}: null, or remove dp."
            )
    if settings.get("encoding", "direct") == "rate":
        raise ConfigError(
            f"`{model}encoding: rate` with `{model}dp`: rate-coded inputs fold the time "
            "steps into the batch, which per-sample gradients cannot follow. Use "
            "encoding: direct, or remove dp."
        )
    return "loop"


def check_trainer(trainer: Any) -> None:
    """Refuse trainer settings that would break DP-SGD or its accounting (before training)."""
    if trainer.world_size > 1:
        raise ConfigError(
            f"`{FIELD[:-1]}` under DDP ({trainer.world_size} processes): per-model Poisson "
            "sampling and accounting run in one process only. Set trainer.devices: 1 and "
            "trainer.num_nodes: 1, or remove dp."
        )
    if trainer.gradient_clip_val:
        raise ConfigError(
            f"`trainer.gradient_clip_val` with `{FIELD[:-1]}`: DP-SGD clips each sample's "
            "gradient itself (dp.max_grad_norm). Remove trainer.gradient_clip_val."
        )
    if trainer.accumulate_grad_batches != 1:
        raise ConfigError(
            f"`trainer.accumulate_grad_batches` = {trainer.accumulate_grad_batches} with "
            f"`{FIELD[:-1]}`: the accountant counts one noisy step per batch. Set it to 1 and "
            "raise data.init_args.batch_size instead."
        )
    precision = str(trainer.precision)
    if precision not in FULL_PRECISION:
        raise ConfigError(
            f"`trainer.precision: {precision}` with `{FIELD[:-1]}`: DP-SGD is tested in full "
            "precision only. Set trainer.precision: 32-true, or remove dp."
        )


def _contiguous_input(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Forward pre-hook: a convolution's input in the default (NCHW) memory format.

    Opacus 1.6 computes wrong per-sample gradients of a ``Conv2d`` with more than one input
    channel whose input is in ``channels_last`` format (its unfold reads the layout as NCHW),
    so the DP path feeds convolutions contiguous inputs.
    """
    return tuple(a.contiguous() if isinstance(a, torch.Tensor) else a for a in args)


def attach_grad_samplers(network: nn.Module) -> GradSampleModule:
    """Opacus per-sample gradient hooks on ``network`` (which stays where it is)."""
    from opacus import GradSampleModule

    for layer in network.modules():
        if isinstance(layer, nn.Conv2d):
            layer.register_forward_pre_hook(_contiguous_input)
    with warnings.catch_warnings():  # Opacus warns that full backward hooks are in use
        warnings.simplefilter("ignore", UserWarning)
        return GradSampleModule(network, loss_reduction="sum", strict=True)


def _has_batch(optimizer: DPOptimizer) -> bool:
    """Whether this step gave the optimizer's model per-sample gradients (it had a batch)."""
    return all(getattr(p, "grad_sample", None) is not None for p in optimizer.params)


class ModelsDPOptimizer(torch.optim.Optimizer):
    """One optimizer for Lightning over one Opacus ``DPOptimizer`` per model.

    ``step`` runs the closure (forward and backward of all models) and then the
    ``DPOptimizer`` of each model that had a batch (possibly an empty one); a model without a
    batch is left alone, as without DP. Like Opacus' optimizers it wraps rather than
    initializes ``torch.optim.Optimizer``.

    Args:
        optimizers: One ``DPOptimizer`` per model, over that model's parameters.
    """

    def __init__(self, optimizers: Sequence[DPOptimizer]) -> None:
        self.optimizers = list(optimizers)

    @property
    def param_groups(self) -> list[dict]:  # type: ignore[override]
        """Every model's parameter groups."""
        return [group for opt in self.optimizers for group in opt.param_groups]

    @property
    def state(self) -> dict:  # type: ignore[override]
        """Every model's optimizer state (keyed by parameter)."""
        return {p: s for opt in self.optimizers for p, s in opt.state.items()}

    @property
    def defaults(self) -> dict:  # type: ignore[override]
        """The first model's optimizer defaults (all models share one recipe)."""
        return self.optimizers[0].defaults

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Run the closure, then each model's noisy step."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for opt in self.optimizers:
            if _has_batch(opt):
                opt.step()
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear gradients and per-sample gradients of every model."""
        for opt in self.optimizers:
            opt.zero_grad(set_to_none)

    def state_dict(self) -> dict[str, Any]:  # type: ignore[override]
        """The per-model optimizer states."""
        return {"models": [opt.state_dict() for opt in self.optimizers]}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:  # type: ignore[override]
        """Restore the per-model optimizer states."""
        for opt, state in zip(self.optimizers, state_dict["models"], strict=True):
            opt.load_state_dict(state)

    def __repr__(self) -> str:
        return f"ModelsDPOptimizer({len(self.optimizers)} x {self.optimizers[0]!r})"


class DPTraining:
    """DP-SGD state of one run: per-model samplers, optimizers, accountants and sample rates.

    Built by the LightningModule when its ``dp`` setting is given; its hooks delegate here.

    Args:
        settings: The DP settings (or their mapping, as a checkpoint stores them).
        members: The ensemble's networks (target first).
    """

    def __init__(self, settings: DPSettings | Mapping[str, Any], members: nn.ModuleList) -> None:
        from opacus.accountants import create_accountant

        settings = DPSettings.of(settings)
        settings.check_complete()
        self.settings = settings
        self.members = members
        self.accountants: list[IAccountant] = [
            create_accountant(settings.accountant) for _ in members
        ]
        self.optimizers: list[DPOptimizer] = []
        self.samplers: list[GradSampleModule] = []
        #: Per model: Poisson sample rate, members and planned steps (set with the loaders).
        self.sample_rates: list[float] | None = None
        self.num_members: list[int] = []
        self.planned_steps: list[int] = []
        self.noise_multiplier: float | None = settings.noise_multiplier

    def configure_optimizers(
        self, factory: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
    ) -> ModelsDPOptimizer:
        """Per-sample hooks and one ``DPOptimizer`` per model, over the configured optimizer.

        The noise and expected batch size are set with the Poisson loaders
        (:meth:`poisson_loaders`), which Lightning builds after the optimizers.
        """
        from opacus.optimizers import DPOptimizer

        if not self.samplers:
            self.samplers = [attach_grad_samplers(m) for m in self.members]
        self.optimizers = [
            DPOptimizer(
                factory(m.parameters()),
                noise_multiplier=float("nan"),  # set by poisson_loaders before any step
                max_grad_norm=self.settings.max_grad_norm,
                expected_batch_size=1,
                loss_reduction="mean",
            )
            for m in self.members
        ]
        return ModelsDPOptimizer(self.optimizers)

    def poisson_loaders(self, loaders: Sequence[DataLoader], trainer: Any) -> list[DPDataLoader]:
        """Each model's loader with Poisson sampling; resolve the noise; check delta.

        Args:
            loaders: One shuffled loader per model over exactly its members.
            trainer: The trainer (``max_epochs``, ``max_steps``: the planned steps).

        Raises:
            ConfigError: ``delta`` not below ``1 / n``, or a target epsilon that the planned
                steps cannot reach.
        """
        from opacus.data_loader import DPDataLoader

        dp_loaders = [DPDataLoader.from_data_loader(loader) for loader in loaders]
        self.num_members = [len(loader.dataset) for loader in loaders]  # type: ignore[arg-type]
        check_delta(self.settings.delta, self.num_members)
        self.sample_rates = [loader.sample_rate for loader in dp_loaders]
        self.planned_steps = [_planned_steps(trainer, len(loader)) for loader in dp_loaders]
        if self.settings.target_epsilon is not None:
            self.noise_multiplier = max(
                self._noise_for_target(q, steps)
                for q, steps in zip(self.sample_rates, self.planned_steps, strict=True)
            )
        for opt, acc, q, n in zip(
            self.optimizers, self.accountants, self.sample_rates, self.num_members, strict=True
        ):
            opt.noise_multiplier = self.noise_multiplier
            opt.expected_batch_size = int(n * q)  # as Opacus' make_private
            opt.attach_step_hook(acc.get_optimizer_hook_fn(sample_rate=q))
        return dp_loaders

    def _noise_for_target(self, sample_rate: float, steps: int) -> float:
        from opacus.accountants.utils import get_noise_multiplier

        s = self.settings
        try:
            return get_noise_multiplier(
                target_epsilon=s.target_epsilon,
                target_delta=s.delta,
                sample_rate=sample_rate,
                steps=max(steps, 1),
                accountant=s.accountant,
            )
        except ValueError:
            raise ConfigError(
                f"`{FIELD}target_epsilon` = {s.target_epsilon:g} cannot be reached in {steps} "
                f"steps at sample rate {sample_rate:.3g} (delta {s.delta:g}), even with "
                "Opacus' largest noise. Raise target_epsilon, or train fewer epochs "
                "(trainer.max_epochs)."
            ) from None

    def check_ready(self) -> None:
        """Refuse to train before the Poisson loaders set the noise (another DataModule)."""
        if self.sample_rates is None:
            raise UsageError(
                f"`{FIELD[:-1]}` needs the training loaders of a PrivacyDataModule, which it "
                "switches to Poisson sampling; this run's data module did not ask for them."
            )

    def epsilons(self) -> list[float]:
        """The epsilon each model has spent so far (0 before its first step)."""
        return [
            float(acc.get_epsilon(self.settings.delta)) if len(acc) else 0.0
            for acc in self.accountants
        ]

    def steps(self) -> list[int]:
        """The noisy steps each model has taken."""
        return [int(sum(n for _, _, n in acc.history)) for acc in self.accountants]

    def summary(self) -> dict[str, Any]:
        """Settings and spent budget for the results: the resolved noise, epsilon per model."""
        return {
            **self.settings.to_dict(),
            "noise_multiplier": self.noise_multiplier,
            "epsilon": self.epsilons(),
            "sample_rate": self.sample_rates,
            "steps": self.steps(),
            "members": self.num_members,
        }

    def state_dict(self) -> list[dict[str, Any]]:
        """The accountants' histories (saved in checkpoints, so a resumed run counts on)."""
        return [dict(acc.state_dict()) for acc in self.accountants]

    def load_state_dict(self, states: Sequence[Mapping[str, Any]]) -> None:
        """Restore the accountants' histories."""
        for acc, state in zip(self.accountants, states, strict=True):
            acc.load_state_dict(dict(state))


def _planned_steps(trainer: Any, batches_per_epoch: int) -> int:
    """Steps a model will take: ``max_epochs`` epochs, capped by ``max_steps`` if set."""
    epochs = trainer.max_epochs
    if epochs is None or epochs < 0:
        if trainer.max_steps is None or trainer.max_steps < 0:
            raise ConfigError(
                f"`{FIELD[:-1]}` needs a bounded training run: set trainer.max_epochs (or "
                "trainer.max_steps)."
            )
        return int(trainer.max_steps)
    steps = epochs * batches_per_epoch
    if trainer.max_steps is not None and trainer.max_steps >= 0:
        steps = min(steps, int(trainer.max_steps))
    return steps


class DPHooks:
    """The LightningModule hooks of DP-SGD; each does nothing when ``dp_training`` is None.

    Mixed into :class:`~lightning_snnpriv.models.module.PrivacyModule`, which sets
    ``dp_training`` (a :class:`DPTraining` or None).
    """

    dp_training: DPTraining | None
    trainer: Any

    def resample_train_loaders(self, loaders: Sequence[DataLoader]) -> Sequence[DataLoader]:
        """The per-model training loaders, Poisson-sampled under DP (asked by the DataModule)."""
        if self.dp_training is None:
            return loaders
        return self.dp_training.poisson_loaders(loaders, self.trainer)

    def on_train_start(self) -> None:
        """Under DP, refuse to train unless the loaders were switched to Poisson sampling."""
        if self.dp_training is not None:
            self.dp_training.check_ready()

    def on_train_epoch_end(self) -> None:
        """Under DP, log the epsilon the target has spent so far (``dp/epsilon``)."""
        if self.dp_training is not None:
            self.log("dp/epsilon", self.dp_training.epsilons()[0])  # type: ignore[attr-defined]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Under DP, save the accountants, so a resumed run goes on counting."""
        if self.dp_training is not None:
            checkpoint["dp_accountants"] = self.dp_training.state_dict()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Under DP, restore the accountants of a resumed run."""
        if self.dp_training is not None and "dp_accountants" in checkpoint:
            self.dp_training.load_state_dict(checkpoint["dp_accountants"])
