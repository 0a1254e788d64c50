"""An audit in the loggers: ``mia/...`` scalars, the TensorBoard HParams entry and figures."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from typing import Any

import matplotlib.image
import numpy as np
from pytorch_lightning.loggers import Logger, TensorBoardLogger

from lightning_snnpriv.attacks.audit import AuditResult


def audit_metrics(result: AuditResult) -> dict[str, float]:
    """The scalars of an audit: target accuracies and each attack's summary metrics.

    ``mia/target_test_acc``, ``mia/target_train_acc`` (means over the audited targets), and per
    attack ``mia/<attack>/auc``, ``.../balanced_accuracy``, ``.../advantage``, ``.../time_s``,
    ``.../tpr_at_fpr_<fpr>``, ``.../epsilon_lower_bound`` and, where computed, confidence
    bounds and the std over targets; for a DP run ``mia/epsilon`` (the accountant's).
    """
    targets, accuracy = result.targets, result.accuracy or {}
    metrics = {
        "mia/target_test_acc": sum(accuracy["test"][t] for t in targets) / len(targets),
        "mia/target_train_acc": sum(accuracy["train"][t] for t in targets) / len(targets),
    }
    for record in result.summary():
        prefix = f"mia/{record['attack']}"
        metrics[f"{prefix}/auc"] = record["auc"]
        metrics[f"{prefix}/balanced_accuracy"] = record["balanced_accuracy"]
        metrics[f"{prefix}/advantage"] = record["advantage"]
        metrics[f"{prefix}/time_s"] = result.timing[record["attack"]]
        if record.get("epsilon_lower_bound") is not None:
            metrics[f"{prefix}/epsilon_lower_bound"] = record["epsilon_lower_bound"]
        if record.get("epsilon") is not None:  # a DP run: the accountant's epsilon
            metrics["mia/epsilon"] = record["epsilon"]
        if "auc_ci" in record:
            metrics[f"{prefix}/auc_ci_low"], metrics[f"{prefix}/auc_ci_high"] = record["auc_ci"]
        if "across_targets" in record:
            metrics[f"{prefix}/auc_std_over_targets"] = record["across_targets"]["auc"]["std"]
        for point in record["tpr_at_fpr"]:
            name = f"{prefix}/tpr_at_fpr_{point['fpr_target']:g}"
            metrics[name] = point["tpr"]
            if "tpr_ci" in point:
                metrics[f"{name}_ci_low"], metrics[f"{name}_ci_high"] = point["tpr_ci"]
    return metrics


#: The HParams columns a reader compares first. TensorBoard sorts its columns by name (those
#: that differ between runs first), so the numbers keep these in this order, left.
LEAD_HPARAMS = ("1_dataset", "2_kind", "3_surrogate", "4_bits")


def lead_hparams(settings: Mapping[str, Any]) -> dict[str, str]:
    """The run's dataset, kind (ann/snn), surrogate and bit widths, as the first columns.

    Example:
        >>> lead_hparams({"data": "BreastCancerDataModule", "kind": "snn",
        ...               "surrogate": "atan", "weight_bits": 4, "act_bits": 8})
        {'1_dataset': 'BreastCancer', '2_kind': 'snn', '3_surrogate': 'atan', '4_bits': 'w4/a8'}
    """
    weights, acts = settings.get("weight_bits"), settings.get("act_bits")
    bits = "full" if weights is None and acts is None else f"w{weights or 'full'}/a{acts or 'full'}"
    if weights == acts and weights is not None:
        bits = str(weights)
    values = (
        str(settings.get("data", "")).removesuffix("DataModule") or "none",
        str(settings.get("kind") or "none"),
        str(settings.get("surrogate") or "none"),
        bits,
    )
    return dict(zip(LEAD_HPARAMS, values, strict=True))


def hparam_values(settings: Mapping[str, Any]) -> dict[str, bool | int | float | str]:
    """Settings as TensorBoard's HParams take them: numbers, strings and booleans.

    The :func:`lead_hparams` columns come first, then every setting under its own name.

    Example:
        >>> hparam_values({"kind": "snn", "bits": None, "sizes": [8], "p": {"slope": 25.0}})
        {'1_dataset': 'none', '2_kind': 'snn', '3_surrogate': 'none', '4_bits': 'full', \
'kind': 'snn', 'bits': 'none', 'sizes': '[8]', 'p.slope': 25.0}
    """
    flat: dict[str, Any] = dict(lead_hparams(settings))
    for key, value in settings.items():
        if isinstance(value, bool | int | float | str):
            flat[key] = value
        elif isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = "none" if value is None else str(value)
    return flat


def png_pixels(png: bytes) -> np.ndarray:
    """The RGB pixels (``[H, W, 3]``, floats in ``[0, 1]``) of PNG bytes."""
    return matplotlib.image.imread(io.BytesIO(png), format="png")[..., :3]


def log_audit(
    loggers: Iterable[Logger],
    step: int,
    settings: Mapping[str, Any],
    result: AuditResult,
    pngs: Mapping[str, bytes],
) -> None:
    """Hand an audit to the loggers.

    TensorBoard gets the metrics with the run's settings as one HParams entry
    (``log_hyperparams(params, metrics)``, which writes the metrics at step 0, as Lightning's
    ``hp_metric``) and the figures at ``step``: the PNGs the run's files hold (tag -> bytes,
    :func:`~lightning_snnpriv.reports.html.figure_pngs`), not each figure drawn again, as
    ``add_figure`` would. Other loggers get the metrics at ``step``.
    """
    metrics = audit_metrics(result)
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.log_hyperparams(hparam_values(settings), metrics)
            for tag, png in pngs.items():
                logger.experiment.add_image(tag, png_pixels(png), step, dataformats="HWC")
        else:
            logger.log_metrics(metrics, step=step)
        logger.save()
