"""The audit: which attacks to run against which models, and running them (no Lightning).

:class:`Audit` holds an audit's settings (attacks, FPR targets, targets, bootstrap, query
settings) and turns the outputs of every model on the pool plus the membership plan into the
records of ``mia_results.json``. The fit callback, the ``attack`` command and the sweep report
all call it; :func:`~lightning_snnpriv.attacks.multi_target.run_audit` is its functional core.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

import torch
from jsonargparse.typing import (
    ClosedUnitInterval,
    NonNegativeInt,
    OpenUnitInterval,
    PositiveInt,
    restricted_number_type,
)

from lightning_snnpriv.attacks.base import Attack, AttackInputs
from lightning_snnpriv.attacks.metrics import DEFAULT_FPR_TARGETS
from lightning_snnpriv.attacks.multi_target import POOLED, AuditResult, resolve_targets, run_audit
from lightning_snnpriv.attacks.privacy import epsilon_lower_bound
from lightning_snnpriv.attacks.registry import AttackName, build_attacks, check_preset_schemes
from lightning_snnpriv.errors import ConfigError

__all__ = [
    "POOLED",
    "Audit",
    "AuditResult",
    "accuracy_by_model",
    "resolve_targets",
    "run_audit",
]

#: Constrained types of the audit's settings: the command line checks them before any code
#: runs, and :class:`Audit` checks values given from Python with the same types.
FPR = ClosedUnitInterval
DropoutRate = restricted_number_type("DropoutRate", float, [(">=", 0), ("<", 1)])
Delta = OpenUnitInterval
TargetsSetting = PositiveInt | list[NonNegativeInt] | Literal["all"]


def accuracy_by_model(
    outputs: torch.Tensor, labels: torch.Tensor, keep: torch.Tensor, audit: torch.Tensor
) -> tuple[list[float], list[float]]:
    """Per model: accuracy on its members (train) and on its audited non-members (test).

    Example:
        >>> out = torch.tensor([[[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]]])
        >>> keep = torch.tensor([[True, False, False]]); audit = torch.ones(1, 3, dtype=bool)
        >>> accuracy_by_model(out, torch.tensor([0, 1, 1]), keep, audit)
        ([1.0], [0.5])
    """
    correct = outputs.argmax(-1) == labels
    train = [correct[m][keep[m]].float().mean().item() for m in range(len(outputs))]
    test = [correct[m][audit[m] & ~keep[m]].float().mean().item() for m in range(len(outputs))]
    return train, test


def _checked(field: str, value: Any, kind: Any, what: str, given: Any = None) -> None:
    """Raise :class:`ConfigError` naming ``mia.<field>`` unless ``kind(value)`` accepts it."""
    try:
        if isinstance(value, bool):
            raise ValueError("a boolean is not a number")
        kind(value)
    except (TypeError, ValueError):
        shown = value if given is None else given
        raise ConfigError(f"`mia.{field}` must be {what}, got {shown!r}.") from None


class Audit:
    """The settings of a membership-inference audit, and the audit itself (:meth:`run`).

    Args:
        attacks: The attacks: attack objects (``class_path`` entries in a config) and names
            (``loss``, ``lira_online``, ``rmia_offline``, ... or a preset; see
            :mod:`lightning_snnpriv.attacks.registry`). Default: the ``default`` preset, the
            loss-threshold attack and the Shokri shadow attack (per-class RBF SVM, the source
            study's).
        fpr_targets: FPRs at which the TPR is reported, each in [0, 1].
        targets: Models audited as the target, each with all other models as its reference
            models (leave-one-out): ``1`` (model 0 only), a count ``k`` (models ``0..k-1``),
            a list of model indices, or ``"all"``. With more than one, the results also hold
            one ``target: "pooled"`` record per attack (scores of all targets concatenated,
            with the mean and std over targets). Meant for the ``lira`` scheme.
        bootstrap: Stratified bootstrap replicates for 95% confidence intervals of the AUC
            and each TPR at FPR (0: none).
        seed: Seed of the bootstrap.
        query_dropout: Attack-side input dropout (Guan et al. 2025): each query's input is
            multiplied by a random keep mask (inverted dropout, rate ``query_dropout``); the
            outputs (logits, or the SNN readout) of ``query_repeats`` masks are averaged
            (in logit space) before any signal is computed. The same masks are used for all
            models. 0 disables it. It shapes the outputs the audit is given, so it is fixed
            once the outputs are collected.
        query_repeats: Number of dropout masks averaged per sample (>= 1).
        query_seed: Seed of the dropout masks.
        delta: The delta of each record's ``epsilon_lower_bound`` (the empirical epsilon the
            attack demonstrates, :mod:`lightning_snnpriv.attacks.privacy`) for runs trained
            without DP; a DP run's bound uses the run's own ``dp.delta``.

    Example:
        >>> audit = Audit(["loss"], fpr_targets=[0.1], bootstrap=0)
        >>> keep = torch.tensor([[True, True, False, False]])
        >>> outputs = torch.tensor([[[3.0, 0.0], [0.0, 3.0], [0.0, 1.0], [1.0, 0.0]]])
        >>> result = audit.run(outputs, torch.tensor([0, 1, 0, 1]), keep, torch.ones_like(keep))
        >>> result.records[0]["auc"], result.accuracy
        (1.0, {'train': [1.0], 'test': [0.0]})
    """

    def __init__(
        self,
        attacks: Sequence[Attack | AttackName] | None = None,
        fpr_targets: Sequence[FPR] = DEFAULT_FPR_TARGETS,
        targets: TargetsSetting = 1,
        bootstrap: NonNegativeInt = 200,
        seed: int = 0,
        query_dropout: DropoutRate = 0.0,
        query_repeats: PositiveInt = 1,
        query_seed: int = 0,
        delta: Delta = 1e-5,
    ) -> None:
        self.attacks = build_attacks(attacks)
        self.presets = [a for a in attacks or () if isinstance(a, str)]  # names as given
        for fpr in fpr_targets:
            _checked("fpr_targets", fpr, FPR, "a list of FPRs in [0, 1]", list(fpr_targets))
        _checked("bootstrap", bootstrap, NonNegativeInt, "an integer >= 0")
        _checked("query_dropout", query_dropout, DropoutRate, "a rate in [0, 1)")
        _checked("query_repeats", query_repeats, PositiveInt, "an integer >= 1")
        _checked("delta", delta, Delta, "in (0, 1)")
        if targets != "all" and isinstance(targets, int):
            _checked("targets", targets, PositiveInt, ">= 1, a list of model indices or 'all'")
        self.fpr_targets = tuple(fpr_targets)
        self.targets = targets
        self.bootstrap = bootstrap
        self.seed = seed
        self.query_dropout = query_dropout
        self.query_repeats = query_repeats
        self.query_seed = query_seed
        self.delta = delta

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None = None, **overrides: Any) -> Audit:
        """The audit a config section describes (a run's ``mia:``), with ``overrides`` applied.

        Parsed and built by jsonargparse from this class's signature, as the ``fit`` command
        builds its ``mia`` callback: the same names, ``class_path`` entries, types, defaults.
        Keys of the section that are not audit settings (the callback's ``save_signals``,
        ``print_table``) are left out.

        Raises:
            jsonargparse.ArgumentError: A value the signature does not accept.
        """
        from jsonargparse import ArgumentParser

        names = inspect.signature(cls).parameters
        values = {k: v for k, v in (section or {}).items() if k in names}
        parser = ArgumentParser(exit_on_error=False)
        parser.add_class_arguments(cls, "mia")
        config = parser.parse_object({"mia": {**values, **overrides}})
        return parser.instantiate(config).mia

    #: Settings that describe how the outputs were collected: fixed once they are.
    QUERY_SETTINGS = ("query_dropout", "query_repeats", "query_seed")

    def settings(self) -> dict[str, Any]:
        """The audit's settings other than the attacks (recorded in the results as ``mia``)."""
        return {
            "fpr_targets": list(self.fpr_targets),
            "targets": self.targets,
            "bootstrap": self.bootstrap,
            "seed": self.seed,
            "query_dropout": self.query_dropout,
            "query_repeats": self.query_repeats,
            "query_seed": self.query_seed,
            "delta": self.delta,
        }

    def resolve_targets(self, num_models: int) -> list[int]:
        """The audited model indices of a run of ``num_models`` (:class:`ConfigError` if none)."""
        try:
            return resolve_targets(self.targets, num_models)
        except ValueError as err:
            raise ConfigError(f"`mia.targets`: {err}.") from err

    def check_models(self, num_models: int) -> None:
        """Refuse a shadow attack in a run without shadow models."""
        for attack in self.attacks:
            if attack.requires_shadows and num_models < 2:
                raise ConfigError(
                    f"attack {attack.name!r} needs shadow models, but the run has none: set "
                    "data.init_args.num_shadows >= 1, or remove the attack from mia.attacks."
                )

    def check_plan(
        self, keep: torch.Tensor, audit: torch.Tensor, scheme: str | None = None
    ) -> None:
        """Refuse, before any training, a membership plan that an attack cannot audit.

        With ``scheme`` (the plan's ``data.init_args.scheme``), a preset that needs another
        scheme (``strong``: ``lira``) is refused first, naming the field.
        """
        if scheme is not None:
            check_preset_schemes(self.presets, scheme)
        for target in self.resolve_targets(len(keep)):
            for attack in self.attacks:
                attack.check_plan(keep, audit, target)

    def run(
        self,
        outputs: torch.Tensor,
        labels: torch.Tensor,
        keep: torch.Tensor,
        audit: torch.Tensor,
        settings: dict[str, Any] | None = None,
        each: Callable[[Sequence[Attack]], Iterable[Attack]] = iter,
    ) -> AuditResult:
        """Run every attack on every target of a run.

        Args:
            outputs: ``[models, N, classes]`` outputs of every model on every pool sample.
            labels: ``[N]`` labels of the pool.
            keep: ``[models, N]`` bool membership plan.
            audit: ``[models, N]`` bool audited samples.
            settings: The run's settings, recorded in every record and in the results.
            each: Iterates over the attacks (a progress bar can wrap them).

        Returns:
            The :class:`AuditResult`; its ``results`` are the contents of ``mia_results.json``.
        """
        settings = {} if settings is None else settings
        train_acc, test_acc = accuracy_by_model(outputs, labels, keep, audit)
        inputs = AttackInputs(logits=outputs, labels=labels, keep=keep, audit=audit)
        result = run_audit(
            inputs,
            self.attacks,
            self.resolve_targets(inputs.num_models),
            self.fpr_targets,
            self.bootstrap,
            self.seed,
            train_acc,
            test_acc,
            extra={"settings": settings},
            each=each,
        )
        result.config = self.settings()
        add_privacy(result, settings.get("dp"), self.delta)
        return result


def add_privacy(result: AuditResult, dp: Mapping[str, Any] | None, delta: float) -> None:
    """Add to every record its empirical epsilon lower bound and, for DP runs, the epsilon.

    ``epsilon_lower_bound`` (with ``epsilon_lower_bound_info``: delta, confidence, the
    threshold) is computed from the record's ROC curve at the DP run's delta, else ``delta``.
    ``epsilon`` is the accountant's epsilon of the record's target (of the targets, the
    largest, for a pooled record), ``None`` without DP.
    """
    delta = dp["delta"] if dp else delta
    spent = dp.get("epsilon") if dp else None
    for record in result.records:
        fpr, tpr = result.curves[record["attack"]][record["target"]]
        bound = epsilon_lower_bound(fpr, tpr, record["n_members"], record["n_nonmembers"], delta)
        record["epsilon_lower_bound"] = bound.epsilon
        record["epsilon_lower_bound_info"] = bound.to_dict()
        models = record.get("targets", [record["target"]])
        record["epsilon"] = max(spent[m] for m in models) if spent else None
