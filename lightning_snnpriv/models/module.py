"""LightningModules that train a target and its shadows: independent copies of one network."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from pytorch_lightning import LightningModule
from pytorch_lightning.cli import OptimizerCallable
from torch import nn
from torch.nn import functional as F
from torchmetrics.classification import MulticlassAccuracy

from lightning_snnpriv.distributed import check_unused_parameter_detection
from lightning_snnpriv.errors import ConfigError
from lightning_snnpriv.models import dp as dp_training
from lightning_snnpriv.models import quant
from lightning_snnpriv.models.dp_settings import DPSettings
from lightning_snnpriv.models.networks import (
    ANN,
    SNN,
    Encoding,
    Readout,
    ResetMechanism,
)
from lightning_snnpriv.models.surrogates import Surrogate, SurrogateName
from lightning_snnpriv.models.vectorized import EnsembleMode, build_ensemble

#: Where the model's settings live in a config; error messages name fields with it.
FIELD = "model.init_args."


def _adam(params: Any) -> torch.optim.Optimizer:
    """Adam, lr 1e-3, with the fused kernel (``fused=True``), the default optimizer.

    The fused kernel updates all parameters in one pass; torch's default on CPU is a Python
    loop of several elementwise operations per parameter. Same update rule (results equal to
    float rounding), and about 5-8x faster per step here (1 thread, target + 1 shadow: paper
    ConvNet 53 -> 6.5 ms, a significant part of its 120 ms training step; MNIST MLP 3.6 -> 0.8
    ms; ``foreach=True`` only 38 and 2.9 ms). Parameters without a gradient (a model without a
    batch) are skipped as by the default Adam; it runs on CPU and CUDA, and under DDP (gloo)
    each process steps its own replica as before. The shipped configs set ``fused: true`` too.
    """
    return torch.optim.Adam(params, lr=1e-3, fused=True)


class PrivacyModule(dp_training.DPHooks, LightningModule, abc.ABC):
    """Base LightningModule: ``num_models`` copies of one network, each trained on its own data.

    Model 0 is the target, the others its shadows. A training batch is a list with one
    ``(x, y)`` (or ``None``) per model; each model's loss is the cross-entropy of its own batch,
    and the sum is minimized, so every copy gets exactly the gradient it would get alone. A model
    without a batch gets no gradient (``None``, so Adam leaves it alone).

    ``num_models``, ``num_classes`` and ``input_shape`` are linked from the DataModule by the CLI.
    Subclasses take their network's settings and pass these arguments on as ``**kwargs``; every
    setting is read back from ``hparams``.

    Args:
        num_models: Target + shadows.
        num_classes: Number of classes.
        input_shape: Shape of one input sample.
        optimizer: Optimizer factory, applied to all copies' parameters (fused Adam, lr
            1e-3, by default).
        ensemble: How the copies run: ``loop`` (one after another), ``vectorized`` (all in one
            batched pass: MLPs and hybrid SNNs, full precision or quantized, and
            full-precision ANN ConvNets; conv front ends grouped where measured faster) or ``auto``
            (vectorized where supported and measured faster: SNN MLPs and hybrid ConvNet
            SNNs, quantized or not, and quantized ANN MLPs). Same results either way, to float
            tolerance; checkpoints load in either.
        dp: DP-SGD (Opacus) for every model: ``noise_multiplier`` or ``target_epsilon``,
            ``max_grad_norm``, ``delta``, ``accountant`` (see
            :class:`~lightning_snnpriv.models.dp_settings.DPSettings`); ``null`` for none.
            With DP the models run in a loop (``ensemble: auto``), unquantized.
    """

    def __init__(
        self,
        num_models: int = 2,
        num_classes: int = 2,
        input_shape: Sequence[int] = (1,),
        optimizer: OptimizerCallable = _adam,
        ensemble: EnsembleMode = "auto",
        dp: DPSettings | None = None,
    ) -> None:
        super().__init__()
        if num_models < 1:
            raise ConfigError(f"`num_models` must be >= 1, got {num_models}.")
        # with the subclasses' arguments: their settings are read back from hparams
        self.save_hyperparameters(ignore=["optimizer"])
        self.optimizer = optimizer
        if dp is not None:
            ensemble = dp_training.check_network(self.hparams, ensemble)
        self.ensemble = build_ensemble(self.configure_network, num_models, ensemble)
        #: DP-SGD of every model (models/dp.py), or None.
        self.dp_training = None if dp is None else dp_training.DPTraining(dp, self.ensemble.members)
        self.val_acc = MulticlassAccuracy(num_classes=num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes=num_classes, average="micro")

    @property
    def num_models(self) -> int:
        """Target + shadows (linked from the data)."""
        return self.hparams.num_models

    @property
    def num_classes(self) -> int:
        """Number of classes (linked from the data)."""
        return self.hparams.num_classes

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input sample (linked from the data)."""
        return tuple(self.hparams.input_shape)

    @abc.abstractmethod
    def configure_network(self) -> nn.Module:
        """Build one freshly initialized copy of the network (settings from ``hparams``)."""

    @property
    def kind(self) -> str:
        """``ann`` or ``snn``."""
        return type(self).__name__.removesuffix("Classifier").lower()

    def settings(self) -> dict[str, Any]:
        """The model's settings for results files and TensorBoard hparams."""
        hparams = {k: v for k, v in self.hparams.items() if not k.startswith("_")}
        if self.dp_training is not None:
            hparams["dp"] = self.dp_training.summary()
        return {"model": type(self).__name__, "kind": self.kind, **hparams}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs of every model on ``x``: ``[num_models, batch, num_classes]``."""
        return self.ensemble(x)

    def training_step(self, batch: Sequence[Any], batch_idx: int) -> torch.Tensor:
        """Sum of each model's cross-entropy on its own batch."""
        inputs = [None if b is None else b[0] for b in batch]
        outputs = self.ensemble.forward_each(inputs)
        # DP: per-sample losses summed; Opacus divides the noisy sum by the expected batch size
        reduction = "mean" if self.dp_training is None else "sum"
        losses = [
            F.cross_entropy(out, b[1], reduction=reduction)
            for out, b in zip(outputs, batch, strict=True)
            if out is not None
        ]
        loss = torch.stack(losses).sum()
        size = 0 if outputs[0] is None else len(batch[0][1])
        if size and self._logger_writes_this_step():
            shown = losses[0] if reduction == "mean" else losses[0] / size
            self.log("train/loss", shown, prog_bar=True, batch_size=size, sync_dist=True)
        return loss

    def on_fit_start(self) -> None:
        """Under DDP, refuse a strategy that would not let a model without a batch sit out."""
        check_unused_parameter_detection(self.trainer.strategy.model)
        if self.dp_training is not None:
            dp_training.check_trainer(self.trainer)

    def _logger_writes_this_step(self) -> bool:
        """Whether Lightning writes step values now (every ``log_every_n_steps``).

        ``self.log`` costs milliseconds per call (benchmarks/overhead.py), as much as a small
        model's whole step; values logged on other steps are never written, so skip them.
        """
        trainer = self._trainer
        if trainer is None:
            return True
        return bool(getattr(trainer._logger_connector, "should_update_logs", True))

    def _target_step(self, batch: Sequence[torch.Tensor], metric: MulticlassAccuracy, stage: str):
        x, y = batch[0], batch[1]
        logits = self.ensemble.forward_each([x] + [None] * (self.num_models - 1))[0]
        assert logits is not None
        metric(logits, y)
        self.log(f"{stage}/loss", F.cross_entropy(logits, y), batch_size=len(y), sync_dist=True)
        self.log(f"{stage}/acc", metric, batch_size=len(y), prog_bar=stage == "val")

    def validation_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> None:
        """Target loss and accuracy on its non-members."""
        self._target_step(batch, self.val_acc, "val")

    def test_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> None:
        """Target loss and accuracy on its non-members."""
        self._target_step(batch, self.test_acc, "test")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """One optimizer over all copies (their parameters are disjoint); under DP one each."""
        if self.dp_training is not None:
            return self.dp_training.configure_optimizers(self.optimizer)
        return self.optimizer(self.parameters())


class ANNClassifier(PrivacyModule):
    """Conventional (ReLU) networks, full precision or quantized with brevitas.

    Args:
        hidden_sizes: Width of each hidden fully connected layer.
        conv_channels: Output channels of each convolution block (3x3 'same' convolution,
            ReLU, 2x2 max pooling) before the FC layers; ``[]`` for an MLP (image inputs
            only: ``[32, 64]`` is the source study's ConvNet).
        weight_bits: Weight bits (brevitas ``QuantLinear``/``QuantConv2d``, 2 to 32), ``null``
            for full precision.
        act_bits: Activation bits (brevitas ``QuantReLU``, 1 to 32), ``null`` for full precision.
        input_bits: Input bits (brevitas ``QuantIdentity``, 2 to 32), ``null`` for full
            precision.
        per_channel_scaling: One weight scale per output channel instead of per tensor.
        **kwargs: The arguments of :class:`PrivacyModule` (``num_models``, ``num_classes`` and
            ``input_shape``, linked from the data; ``optimizer``, ``ensemble``).
    """

    def __init__(
        self,
        hidden_sizes: Sequence[int] = (1000,),
        conv_channels: Sequence[int] = (),
        weight_bits: int | None = None,
        act_bits: int | None = None,
        input_bits: int | None = None,
        per_channel_scaling: bool = False,
        **kwargs: Any,
    ) -> None:
        _check_quant_bits(weight_bits, input_bits)
        quant.check_bits(f"{FIELD}act_bits", act_bits)
        _check_sizes(hidden_sizes)
        super().__init__(**kwargs)

    def configure_network(self) -> nn.Module:
        """One ANN."""
        hp = self.hparams
        return ANN(
            self.input_shape,
            self.num_classes,
            list(hp.hidden_sizes),
            weight_bits=hp.weight_bits,
            act_bits=hp.act_bits,
            input_bits=hp.input_bits,
            per_channel=hp.per_channel_scaling,
            conv_channels=list(hp.conv_channels),
        )


class SNNClassifier(PrivacyModule):
    """Spiking networks of snntorch ``Leaky`` neurons, trained with a surrogate gradient.

    Args:
        hidden_sizes: Width of each hidden fully connected layer (each followed by LIF).
        conv_channels: Output channels of each convolution block (3x3 'same' convolution,
            activation, 2x2 max pooling) before the FC layers; ``[]`` for an MLP (image inputs
            only: ``[32, 64]`` is the source study's ConvNet).
        spiking_conv: ``false``: the source study's hybrid, a non-spiking ReLU convolutional
            feature extractor (computed once per sample with direct input) feeding spiking FC
            layers; ``true``: LIF neurons after every convolution too, run at every step.
        encoding: ``direct`` (the input is the same current at every step, the source
            study's) or ``rate`` (Bernoulli spikes with the input values as probabilities,
            snntorch ``spikegen.rate``, seeded by ``seed_everything``; needs inputs in
            [0, 1]: for the image datasets set ``data.init_args.normalization: none``).
        num_steps: Time steps per sample.
        beta: Membrane decay per step, in (0, 1].
        threshold: Firing threshold (> 0).
        reset_mechanism: ``subtract`` (reset by subtraction), ``zero`` or ``none``.
        surrogate: Surrogate gradient: ``fast_sigmoid``, ``straight_through_estimator``,
            ``atan``, ``spike_rate_escape`` or ``triangular``.
        surrogate_params: Its hyper-parameters (``slope``; ``alpha``; ``beta``, ``slope``;
            ``threshold``); missing ones take snntorch's defaults.
        readout: The outputs: ``membrane_last`` (the source study's), ``membrane_mean`` or
            ``spike_count``. Losses and attack signals are computed from it.
        weight_bits: Weight bits (brevitas ``QuantLinear``/``QuantConv2d``, 2 to 32), ``null``
            for full precision.
        act_bits: Membrane bits (snntorch ``state_quant``, 1 to 16), and the bits of the hybrid
            front end's ReLU outputs (brevitas ``QuantReLU``); ``null`` for full precision.
        input_bits: Input bits (brevitas ``QuantIdentity``, 2 to 32), ``null`` for full
            precision.
        state_quant_lower_limit: ``state_quant``'s ``lower_limit``: levels start at
            ``-threshold * (1 + lower_limit)``; ``null`` takes snntorch's default (0). Only with
            ``act_bits`` set (an error otherwise: it would have no effect).
        state_quant_upper_limit: ``state_quant``'s ``upper_limit``: levels end at
            ``threshold * (1 + upper_limit)``; ``null`` takes snntorch's default (0.2). Only with
            ``act_bits`` set.
        per_channel_scaling: One weight scale per output channel instead of per tensor.
        **kwargs: The arguments of :class:`PrivacyModule` (``num_models``, ``num_classes`` and
            ``input_shape``, linked from the data; ``optimizer``, ``ensemble``).
    """

    def __init__(
        self,
        hidden_sizes: Sequence[int] = (1000,),
        conv_channels: Sequence[int] = (),
        spiking_conv: bool = False,
        encoding: Encoding = "direct",
        num_steps: int = 25,
        beta: float = 0.95,
        threshold: float = 1.0,
        reset_mechanism: ResetMechanism = "subtract",
        surrogate: SurrogateName = "fast_sigmoid",
        surrogate_params: Mapping[str, float] | None = None,
        readout: Readout = "membrane_last",
        weight_bits: int | None = None,
        act_bits: int | None = None,
        input_bits: int | None = None,
        state_quant_lower_limit: float | None = None,
        state_quant_upper_limit: float | None = None,
        per_channel_scaling: bool = False,
        **kwargs: Any,
    ) -> None:
        _check_quant_bits(weight_bits, input_bits)
        quant.check_state_bits(f"{FIELD}act_bits", act_bits)
        limits = {"lower_limit": state_quant_lower_limit, "upper_limit": state_quant_upper_limit}
        unused = [f"{FIELD}state_quant_{key}" for key, value in limits.items() if value is not None]
        if act_bits is None and unused:
            raise ConfigError(
                f"{', '.join(f'`{u}`' for u in unused)} set, but `{FIELD}act_bits` is null (no "
                "membrane quantization), so it would have no effect. Set `act_bits` to quantize "
                "the membrane, or remove the limit."
            )
        _check_sizes(hidden_sizes)
        if num_steps < 1:
            raise ConfigError(f"`num_steps` must be >= 1, got {num_steps}.")
        if not 0 < beta <= 1:
            raise ConfigError(f"`beta` (membrane decay) must be in (0, 1], got {beta}.")
        if threshold <= 0:
            raise ConfigError(f"`threshold` must be > 0, got {threshold}.")
        #: The surrogate (by name, with its hyper-parameters resolved and checked).
        self.surrogate = Surrogate(surrogate, surrogate_params, field=FIELD)
        #: ``(lower_limit, upper_limit)`` in effect (snntorch's defaults where not set).
        self.state_quant_limits = tuple(
            quant.STATE_QUANT_DEFAULTS[key] if value is None else value
            for key, value in limits.items()
        )
        super().__init__(**kwargs)

    def settings(self) -> dict[str, Any]:
        """Model settings, with the surrogate's hyper-parameters and state_quant limits resolved.

        The state_quant limits are ``None`` when the membrane is not quantized.
        """
        quantized = self.hparams.act_bits is not None
        return {
            **super().settings(),
            "surrogate_params": self.surrogate.params,
            "state_quant_lower_limit": self.state_quant_limits[0] if quantized else None,
            "state_quant_upper_limit": self.state_quant_limits[1] if quantized else None,
        }

    def configure_network(self) -> nn.Module:
        """One SNN."""
        hp = self.hparams
        return SNN(
            self.input_shape,
            self.num_classes,
            list(hp.hidden_sizes),
            num_steps=hp.num_steps,
            beta=hp.beta,
            threshold=hp.threshold,
            reset_mechanism=hp.reset_mechanism,
            surrogate=self.surrogate,
            readout=hp.readout,
            weight_bits=hp.weight_bits,
            act_bits=hp.act_bits,
            input_bits=hp.input_bits,
            state_quant_limits=self.state_quant_limits,
            per_channel=hp.per_channel_scaling,
            conv_channels=list(hp.conv_channels),
            spiking_conv=hp.spiking_conv,
            encoding=hp.encoding,
        )


def _check_quant_bits(weight_bits: int | None, input_bits: int | None) -> None:
    quant.check_weight_bits(f"{FIELD}weight_bits", weight_bits)
    quant.check_input_bits(f"{FIELD}input_bits", input_bits)


def _check_sizes(hidden_sizes: Sequence[int]) -> None:
    if any(size < 1 for size in hidden_sizes):
        raise ConfigError(f"`hidden_sizes` must be positive widths, got {list(hidden_sizes)}.")
