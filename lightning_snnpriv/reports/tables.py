"""Plain-text tables of an audit, printed at the end of ``fit`` and ``attack``."""

from __future__ import annotations

from pathlib import Path

from lightning_snnpriv.attacks.audit import AuditResult
from lightning_snnpriv.reports.labels import tpr_label


def format_table(result: AuditResult, results_path: Path, report_path: Path | None = None) -> str:
    """Each attack's summary results (pooled over targets if several), accuracy and files."""
    records = result.summary()
    fprs = [point["fpr_target"] for point in records[0]["tpr_at_fpr"]] if records else []
    head = f"{'attack':<22}{'AUC':>8}" + "".join(f"{tpr_label(f):>12}" for f in fprs)
    what = "pooled over targets " + str(result.targets) if len(result.targets) > 1 else "target"
    lines = [
        f"membership inference ({what})",
        head + f"{'bal. acc':>10}{'eps LB':>8}{'members':>9}{'non-mem.':>9}{'time s':>9}",
    ]
    for r in records:
        tprs = "".join(f"{p['tpr']:>12.4f}" for p in r["tpr_at_fpr"])
        bound = r.get("epsilon_lower_bound")
        lines.append(
            f"{r['attack']:<22}{r['auc']:>8.4f}{tprs}{r['balanced_accuracy']:>10.4f}"
            + ("" if bound is None else f"{bound:>8.3f}").rjust(8)
            + f"{r['n_members']:>9}{r['n_nonmembers']:>9}{result.timing[r['attack']]:>9.2f}"
        )
    if records and records[0].get("epsilon") is not None:
        lines.append(
            f"DP-SGD: epsilon {records[0]['epsilon']:.3f} (accountant); eps LB: the empirical "
            "lower bound each attack demonstrates (95%)"
        )
    lines.append(
        f"target accuracy: train {records[0]['target_train_acc']:.4f}, "
        f"test {records[0]['target_test_acc']:.4f}"
    )
    lines.append(f"results: {results_path}")
    if report_path is not None:
        lines.append(f"report: {report_path}")
    return "\n".join(lines)
