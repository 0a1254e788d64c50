"""Re-run membership-inference attacks on a finished run, without retraining.

``python -m lightning_snnpriv attack --run logs/<name>/version_N [--attacks ...] [--targets ...]
[--mia.<setting>=...]`` reads the run's membership plan and the saved outputs of every model,
runs the audit, and writes ``mia_results.K.json``, ``scores.K.pt`` and ``roc*.K.png`` beside
the run's own files, with ``K`` the first free number: nothing is ever overwritten. A run killed
during its audit (signals saved, no results) gets its own ``mia_results.json`` instead, as its
fit would have written it (:mod:`.finish_audit`). The audit's
settings default to the run's own (the ``mia:`` section of its ``config.yaml``); what is given
on the command line replaces them. The same settings give the same results, bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from jsonargparse import ArgumentParser

from lightning_snnpriv.attacks.audit import Audit, TargetsSetting
from lightning_snnpriv.callbacks.audit_files import write_audit_files
from lightning_snnpriv.errors import UsageError
from lightning_snnpriv.reports.tables import format_table
from lightning_snnpriv.runs import RunDir, yaml_files

USAGE = "--run RUN [--attacks ATTACKS] [--targets TARGETS] [--mia.KEY=VALUE ...]"


def add_arguments(parser: ArgumentParser) -> None:
    """``--run``, the shortcuts ``--attacks`` and ``--targets``, the audit's ``--mia.*``."""
    parser.add_argument(
        "--run", type=str, required=True, help="The run directory (logs/<name>/version_N)."
    )
    parser.add_argument(
        "--attacks",
        type=str | None,
        default=None,
        help="The attacks: comma-separated names (loss,lira_online,rmia,...), a YAML list of "
        "names and class_path entries, or a YAML file of one (or of a `mia: attacks:` section). "
        "Default: the run's mia.attacks.",
    )
    parser.add_argument(
        "--targets",
        type=TargetsSetting | None,
        default=None,
        help="The audited models, as --mia.targets: a count, a list of model indices or 'all'. "
        "Default: the run's.",
    )
    parser.add_argument(
        "--print_table", type=bool, default=True, help="Print the table of results at the end."
    )
    parser.add_class_arguments(Audit, "mia", help="The audit's settings; default: the run's.")


def run(parser: ArgumentParser, argv: Sequence[str]) -> None:
    """Audit the run again with its own settings, replaced by those given in ``argv``."""
    argv = list(argv)
    given = parser.parse_args(argv, defaults=False)  # the run's settings are the defaults
    run_ = RunDir(given.run).load()
    overrides = given.mia.as_dict() if given.get("mia") else {}
    if given.get("attacks") is not None:
        overrides["attacks"] = attack_specs(given.attacks)
    if given.get("targets") is not None:
        overrides["targets"] = given.targets
    if run_.results is None and not overrides and run_.dir.last_checkpoint.is_file():
        finish_with_fit(run_.dir, print_table=given.get("print_table", True))
        return
    saved = run_.mia_config
    audit = Audit.from_config(saved, **overrides)
    for key in Audit.QUERY_SETTINGS:
        recorded = saved.get(key, getattr(audit, key))
        if getattr(audit, key) != recorded:
            raise UsageError(
                f"--mia.{key}: the signals of {run_.dir} were collected with {key}={recorded}; "
                "changing it needs the trained models (run fit again)."
            )
    audit.check_plan(run_.keep, run_.audit, run_.plan.scheme)
    settings = (run_.results or {}).get("settings") or {"scheme_digest": run_.plan.digest()}
    result = audit.run(run_.outputs, run_.labels, run_.keep, run_.audit, settings)
    results = {**result.results, "command": {"name": "attack", "argv": argv}}
    suffix = run_.dir.free_suffix() if run_.dir.is_complete or overrides else ""
    label = f"attack re-run {suffix[1:]}" if suffix else "audit finished from saved signals"
    path, _ = write_audit_files(run_.dir, result, f"{run_.dir} ({label})", results, suffix)
    if given.get("print_table", True):
        print(format_table(result, path, run_.dir.report_file(suffix)))


def finish_with_fit(run: RunDir, print_table: bool) -> None:
    """Finish a run killed during its audit as ``fit --ckpt_path`` does: its own results.

    The run's own config and checkpoint give the settings a complete fit records, so the
    results are the ones the fit would have written (:mod:`.finish_audit`).
    """
    from lightning_snnpriv.commands.fit import build_cli

    build_cli(
        ["fit", "--config", str(run.config_file), "--ckpt_path", str(run.last_checkpoint),
         f"--mia.print_table={str(print_table).lower()}"]
    )  # fmt: skip


def attack_specs(value: str) -> list:
    """``--attacks``: a YAML file, a YAML list, or comma-separated names -> a list of attacks.

    Example:
        >>> attack_specs("loss, lira_online")
        ['loss', 'lira_online']
        >>> attack_specs("[loss, {class_path: lightning_snnpriv.attacks.GapAttack}]")[1]
        {'class_path': 'lightning_snnpriv.attacks.GapAttack'}
    """
    path = Path(value)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise UsageError(f"--attacks: {path} is not a file.")
        loaded = yaml_files.read(path, field="--attacks", mapping=False)
        if isinstance(loaded, dict):
            loaded = loaded.get("mia", loaded).get("attacks")
        if not isinstance(loaded, list):
            raise UsageError(
                f"--attacks: {path} must hold a list of attacks (or a `mia: attacks:` section)."
            )
        return loaded
    if value.lstrip().startswith("["):
        loaded = yaml_files.parse(value, "--attacks")
        if not isinstance(loaded, list):
            raise UsageError(f"--attacks: expected a YAML list of attacks, got {value!r}.")
        return loaded
    return [name.strip() for name in value.split(",") if name.strip()]
