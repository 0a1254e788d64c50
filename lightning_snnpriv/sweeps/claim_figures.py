"""A figure per claim: the compared settings' leakage and accuracy, mean and 95% interval.

One figure per claim and attack (one per claim when its selectors name the attacks): a panel
per metric (the claim's leakage metrics, then test accuracy), each dataset (and ``by``
context) a series, the baseline and other settings along the x axis, error bars the
t-interval over seeds, chance (AUC 0.5) dashed. The records are the ones the findings use
(pooled when present, else model 0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from lightning_snnpriv.sweeps.claims import Claim
from lightning_snnpriv.sweeps.findings import ACCURACY, selected, selector_label, study_records
from lightning_snnpriv.sweeps.statistics import mean_interval


def _series_key(row: Mapping[str, Any], claim: Claim) -> str:
    data = str(row.get("data", "")).removesuffix("DataModule")
    context = ", ".join(f"{k}={row.get(k)}" for k in claim.by)
    return f"{data} ({context})" if context else data


def claim_figures(rows: Sequence[Mapping[str, Any]], claim: Claim) -> dict[str, Any]:
    """Figures of one claim, by attack (attack -> matplotlib figure).

    A claim whose selectors name their attacks has one figure, keyed by its attack label with
    ``_`` for spaces (``shokri_balanced_vs_shokri``).
    """
    import matplotlib.pyplot as plt

    records = study_records(rows)
    settings = [*claim.baseline, *claim.other]
    labels = [selector_label(s) for s in settings]
    if claim.attack_label:
        groups = {claim.attack_label: [r for r in records if r["attack"] in claim.attacks]}
    else:
        groups = {}
        for r in records:
            groups.setdefault(r["attack"], []).append(r)
    out = {}
    for attack, mine in groups.items():
        if not mine:
            continue
        metrics = [m for m in claim.metrics if any(r.get(m) not in (None, "") for r in mine)]
        metrics.append(ACCURACY)
        fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics) + 1, 3.4))
        axes = [axes] if len(metrics) == 1 else list(axes)
        series = list(dict.fromkeys(_series_key(r, claim) for r in mine))
        for ax, metric in zip(axes, metrics, strict=True):
            for j, name in enumerate(series):
                xs, means, lows, highs = [], [], [], []
                for i, selector in enumerate(settings):
                    values = [
                        float(r[metric])
                        for r in mine
                        if _series_key(r, claim) == name
                        and selected(r, selector)
                        and r.get(metric) not in (None, "")
                    ]
                    if not values:
                        continue
                    interval = mean_interval(values)
                    low = interval.mean - interval.low if math.isfinite(interval.low) else 0.0
                    high = interval.high - interval.mean if math.isfinite(interval.high) else 0.0
                    xs.append(i + 0.08 * (j - (len(series) - 1) / 2))
                    means.append(interval.mean)
                    lows.append(low)
                    highs.append(high)
                ax.errorbar(xs, means, yerr=[lows, highs], marker="o", capsize=3, label=name)
            if metric in ("auc", "per_class_auc_mean"):
                ax.axhline(0.5, color="grey", linestyle="--", linewidth=0.8)
            ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize="small")
            ax.set_title(metric, fontsize="small")
        axes[0].legend(fontsize="x-small")
        fig.suptitle(f"{claim.name}: {attack} (mean, 95% CI over seeds)", fontsize="small")
        fig.tight_layout()
        out[attack.replace(" ", "_")] = fig
    return out
