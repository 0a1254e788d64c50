"""A sweep's curves: ROC curves of its runs (from results or re-scored), its Pareto front.

The Pareto front (:func:`mark_front`) is drawn on the chance-floored AUC of the summary
(``auc_front``): an attack scoring below chance on a setting leaks nothing, it does not make
that setting more private than one at chance.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

from lightning_snnpriv.attacks.audit import Audit
from lightning_snnpriv.errors import UsageError
from lightning_snnpriv.runs import RunDir
from lightning_snnpriv.runs.files import write_json
from lightning_snnpriv.sweeps.figures import pareto_front


def run_curves(run: RunDir, cache_dir: Path) -> dict[str, tuple[list[float], list[float]]]:
    """ROC curves (attack -> (fpr, tpr)) of a run's main target.

    Taken from the results when the records carry ``fpr``/``tpr``; otherwise re-scored by the
    run's own audit (:func:`rescore`) and cached in ``cache_dir``. A re-scored AUC that
    differs from the recorded one is reported.
    """
    records = [r for r in run.load_results().get("records", []) if is_main_target(r)]
    if records and all("fpr" in r and "tpr" in r for r in records):
        return {r["attack"]: (r["fpr"], r["tpr"]) for r in records}
    cache = cache_dir / f"{run.path.parent.name}.{run.path.name}.json"
    if cache.is_file():
        stored = json.loads(cache.read_text())
    else:
        stored = rescore(run)
        write_json(cache, stored)
    for r in records:
        again = stored.get(r["attack"], {}).get("auc")
        if again is not None and abs(again - r["auc"]) > 1e-9:
            print(
                f"note: {run}: attack {r['attack']!r} re-scored from the saved signals has "
                f"AUC {again:.6f}, the run recorded {r['auc']:.6f}; the ROC figure shows the "
                "re-scored curve."
            )
    return {name: (c["fpr"], c["tpr"]) for name, c in stored.items()}


def rescore(run: RunDir) -> dict[str, dict[str, Any]]:
    """Audit a finished run's main target again with its own attacks, on its saved signals.

    The run is loaded and checked through :mod:`lightning_snnpriv.runs`, and the attacks are
    built from its config by :meth:`Audit.from_config`, as ``attack --run`` builds them.

    Returns:
        Attack -> ``{"fpr", "tpr", "auc"}`` of model 0.
    """
    missing = [f.name for f in (run.config_file, run.signals_file, run.plan_file)
               if not f.is_file()]  # fmt: skip
    if missing:
        raise UsageError(
            f"{run}: cannot draw its ROC curve: the results have no curve points and "
            f"{missing} are missing (run fits with mia.save_signals: true)."
        )
    loaded = run.load()  # checked: safe loading, shapes agree with the plan, finite
    audit = Audit.from_config(loaded.mia_config, targets=1, bootstrap=0)
    with warnings.catch_warnings():  # the run warned about unmeasurable FPR targets already
        warnings.simplefilter("ignore", UserWarning)
        result = audit.run(loaded.outputs, loaded.labels, loaded.keep, loaded.audit)
    return {
        record["attack"]: {
            "fpr": result.curves[record["attack"]][0][0],
            "tpr": result.curves[record["attack"]][0][1],
            "auc": record["auc"],
        }
        for record in result.records
    }


def is_main_target(row: Mapping[str, Any]) -> bool:
    """Rows of the run's main target (model 0); rows without ``target`` count as model 0."""
    return row.get("target", 0) in (0, "0", None)


def mark_front(summary: Sequence[MutableMapping[str, Any]]) -> None:
    """Set ``pareto_front`` on each summary entry: on its attack's accuracy-leakage front.

    Leakage is the chance-floored AUC ``auc_front`` (see
    :func:`~lightning_snnpriv.sweeps.statistics.chance_floor`), so two settings whose attacks
    both score at or below chance tie on leakage and the more accurate one dominates.

    Example:
        >>> s = [{"attack": "loss", "target_test_acc_mean": a, "auc_front": f}
        ...      for a, f in ((0.9, 0.5), (0.8, 0.5), (0.95, 0.6))]
        >>> mark_front(s); [e["pareto_front"] for e in s]
        [True, False, True]
    """
    for attack in dict.fromkeys(e["attack"] for e in summary):
        entries = [e for e in summary if e["attack"] == attack]
        front = set(
            pareto_front(
                [e.get("target_test_acc_mean", float("nan")) for e in entries],
                [e["auc_front"] for e in entries],
            )
        )
        for i, entry in enumerate(entries):
            entry["pareto_front"] = i in front
