"""Check that every attack of a fit config is at chance on outputs without membership information.

``python -m lightning_snnpriv calibrate --config configs/<fit config>.yaml [overrides]
[--seeds 20] [--effect 0]`` parses the config with the ``fit`` parser itself (a finished run's
``config.yaml`` works too: ``--config logs/<name>/version_N/config.yaml``), builds the run's
membership plan (scheme, pool, number of models, seed) and its attacks and audit modes
(``mia.attacks``, ``mia.targets``, ``mia.fpr_targets``), and audits synthetic logits with the
run's number of classes drawn independently of the plan
(:func:`~lightning_snnpriv.attacks.calibration.synthetic_outputs`), once per seed. Nothing is
trained or written. It prints, per attack and audit mode, the mean AUC with its standard error,
the mean TPR at each FPR target with its chance interval, the share of seeds whose top score is
a member's, and a verdict (see :func:`~lightning_snnpriv.attacks.calibration.calibrate` for the
checks).

Exit status: 0 when every attack passes, 1 when some attack fails a check (it is biased on this
plan: do not believe its numbers above chance), 2 on bad input. An attack the plan cannot
support (e.g. online LiRA with the ``shokri`` scheme) is listed as ``n/a`` with the reason (fit
refuses it too); it does not change the exit status.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from jsonargparse import ArgumentParser

from lightning_snnpriv.attacks.calibration import MODES, calibrate, format_table
from lightning_snnpriv.callbacks.mia import MembershipInferenceCallback
from lightning_snnpriv.errors import UsageError

#: The parser is the ``fit`` parser: the same config, links and validation.
FIT_CONFIG = True
USAGE = "--config CONFIG [--SECTION.KEY=VALUE ...] [--seeds N] [--effect E] [--alpha A]"

#: Seeds audited by default (each a fresh draw of synthetic outputs).
DEFAULT_SEEDS = 20


def add_arguments(parser: ArgumentParser) -> None:
    """``--seeds``, ``--effect``, ``--modes`` and ``--alpha`` besides the ``fit`` config's."""
    parser.add_argument(
        "--seeds",
        type=int,
        default=DEFAULT_SEEDS,
        help="Number of seeds (synthetic draws) to average over, >= 2; the acceptance "
        "intervals are standard errors over seeds, so more seeds check more tightly.",
    )
    parser.add_argument(
        "--effect",
        type=float,
        default=0.0,
        help="Plant a membership effect (members' true-label logit raised by this many noise "
        "standard deviations) to see each attack's power instead; no check is made then.",
    )
    parser.add_argument(
        "--modes",
        type=str | None,
        default=None,
        help="Audit modes to check, comma-separated, among 1 (model 0 audited), all (each "
        "model audited, the mean over targets) and pooled (scores of all targets together). "
        "Default: 1 with mia.targets 1, else all three.",
    )
    # a finished run's config.yaml records the fit subcommand's own arguments: accept them
    for name, kind in (("ckpt_path", str | None), ("weights_only", bool | None)):
        parser.add_argument(
            f"--{name}",
            type=kind,
            default=None,
            help=f"Ignored: accepted so that a run's config.yaml (which records {name}) can be "
            "given as --config.",
        )
    parser.add_argument(
        "--alpha",
        type=float,
        default=0.01,
        help="Chance that an unbiased attack fails some check of the table (sets the width "
        "of the acceptance intervals, at least 3 standard errors).",
    )


def _options(config: Any) -> tuple[int, float, tuple[str, ...] | None, float]:
    """The command's options from the parsed config, checked (:class:`UsageError` if bad)."""
    seeds, effect, modes, alpha = (config.get(k) for k in ("seeds", "effect", "modes", "alpha"))
    if seeds < 2:
        raise UsageError(f"--seeds must be >= 2 (a standard error needs two); got {seeds}.")
    if effect < 0:
        raise UsageError(f"--effect must be >= 0 (0: no membership effect); got {effect}.")
    if not 0 < alpha < 1:
        raise UsageError(f"--alpha must lie in (0, 1); got {alpha}.")
    chosen = None if modes is None else tuple(m.strip() for m in str(modes).split(",") if m.strip())
    if chosen is not None and (not chosen or set(chosen) - set(MODES)):
        raise UsageError(f"--modes must be among {list(MODES)} (comma-separated); got {modes!r}.")
    return seeds, effect, chosen, alpha


def run(cli: Any) -> None:
    """Calibrate the attacks of the parsed ``fit`` config on its plan; exit 1 if one fails."""
    seeds, effect, modes, alpha = _options(cli.config)
    callback = next(c for c in cli.trainer.callbacks if isinstance(c, MembershipInferenceCallback))
    audit, datamodule = callback.audit, cli.datamodule
    datamodule.setup("fit")  # loads the pool (nothing is downloaded) and builds the plan
    plan = datamodule.plan
    keep, audited = torch.from_numpy(plan.keep), torch.from_numpy(plan.audit)
    labels = torch.as_tensor(datamodule.pool.labels, dtype=torch.long)
    audit.check_models(plan.num_models)
    if modes is None:
        modes = ("1",) if audit.resolve_targets(plan.num_models) == [0] else MODES
    print(
        f"calibrating {len(audit.attacks)} attack(s) on scheme {plan.scheme!r}: "
        f"{plan.num_models} models, {plan.num_samples} pool samples, "
        f"{datamodule.num_classes} classes, {seeds} seeds, modes {', '.join(modes)}"
        + (f", planted effect {effect:g}" if effect else " (outputs without membership)")
    )
    start = time.perf_counter()
    rows = calibrate(
        audit.attacks,
        keep,
        audited,
        labels,
        datamodule.num_classes,
        scheme=plan.scheme,
        seeds=seeds,
        effect=effect,
        modes=modes,
        fpr_targets=[f for f in audit.fpr_targets if f > 0],
        alpha=alpha,
    )
    print(format_table(rows))
    failed = sorted({r.attack for r in rows if r.skipped is None and r.failures})
    skipped = sorted({r.attack for r in rows if r.skipped is not None})
    took = time.perf_counter() - start
    if skipped:
        print(f"not applicable to this plan (fit refuses them too): {', '.join(skipped)}")
    if effect:
        print(f"planted effect {effect:g}: no check made ({took:.0f} s)")
    elif failed:
        print(
            f"FAILED: {', '.join(failed)} off chance on outputs without membership information "
            f"({took:.0f} s): their numbers on this plan are biased."
        )
        raise SystemExit(1)
    else:
        print(f"every attack is at chance on this plan ({took:.0f} s)")
