"""``attack``: re-run membership-inference attacks on a finished run, without retraining.

``python -m lightning_snnpriv attack --run logs/<name>/version_N [--attacks ...] [--targets ...]
[--mia.<setting>=...]`` reads the run's membership plan (``membership.npz``) and the saved
outputs of every model (``signals.pt``), runs the attacks, and writes ``mia_results.K.json``,
``scores.K.pt`` and ``roc*.K.png`` beside the run's own files, with ``K`` the first free
number: nothing is ever overwritten. The settings default to the run's ``config.yaml`` ``mia:``
section and are parsed by the same jsonargparse parser the ``fit`` command uses, so the same
settings give the same results, bit for bit.

The run directory is checked here with a minimal loader (files present, plan readable and
matching its digest, signals matching the plan's shape and the digest recorded in the run's
results).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import yaml

from lightning_snnpriv.errors import UsageError

PLAN_FILE = "membership.npz"
PROG = "python -m lightning_snnpriv attack"

#: Callback settings that describe how the signals were collected: fixed by the run.
QUERY_SETTINGS = ("query_dropout", "query_repeats", "query_seed")


def _attack_specs(value: str) -> str:
    """``--attacks``: a YAML file, a YAML list, or comma-separated short names -> YAML list.

    Example:
        >>> _attack_specs("loss,lira")
        '[{"class_path": "lightning_snnpriv.attacks.LossAttack"}, {"class_path": "lightning_snnpriv.attacks.LiRAAttack"}]'
    """  # noqa: E501
    from lightning_snnpriv.attacks import ATTACK_CLASSES

    path = Path(value)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise UsageError(f"--attacks: {path} is not a file.")
        loaded = yaml.safe_load(path.read_text())
        if isinstance(loaded, dict):
            loaded = loaded.get("mia", loaded).get("attacks")
        if not isinstance(loaded, list):
            raise UsageError(
                f"--attacks: {path} must hold a list of attacks (or a `mia: attacks:` section)."
            )
        return json.dumps(loaded)
    if value.lstrip().startswith("["):
        return value
    specs = []
    for name in (part.strip() for part in value.split(",")):
        if name not in ATTACK_CLASSES:
            raise UsageError(
                f"--attacks: unknown attack {name!r}; short names are {sorted(ATTACK_CLASSES)} "
                "(each with its defaults), or give a YAML list / file of class_path entries."
            )
        specs.append({"class_path": f"lightning_snnpriv.attacks.{ATTACK_CLASSES[name].__name__}"})
    return json.dumps(specs)


def load_run(run_dir: Path) -> dict[str, Any]:
    """Load what an attack re-run needs from a run directory (checked by :func:`run_dir.load_run`).

    Returns:
        ``{"config": dict, "plan": MembershipPlan, "outputs": Tensor, "labels": Tensor,
        "results": dict | None}`` (``results``: the run's own ``mia_results.json``).

    Raises:
        UsageError: If the directory is not a finished run, or its plan, signals and results
            disagree.
    """
    from lightning_snnpriv import run_dir as runs

    run = runs.load_run(run_dir)
    results = None
    if run.results_path.is_file():
        results = json.loads(run.results_path.read_text())
        digest = results.get("settings", {}).get("scheme_digest")
        if digest is not None and digest != run.plan.digest():
            raise UsageError(
                f"--run: {run_dir / PLAN_FILE} (digest {run.plan.digest()}) is not the plan the "
                f"run's results were computed on (digest {digest})."
            )
    return {
        "config": run.config,
        "plan": run.plan,
        "outputs": run.outputs,
        "labels": run.labels,
        "results": results,
    }


def _free_suffix(run_dir: Path) -> str:
    """``".K"`` with the smallest ``K >= 1`` for which no results or scores file exists."""
    k = 1
    while any(run_dir.glob(f"*.{k}.json")) or any(run_dir.glob(f"*.{k}.pt")):
        k += 1
    return f".{k}"


def attack_main(argv: Sequence[str]) -> None:
    """Entry point of the ``attack`` subcommand (``argv`` without the command name)."""
    from pytorch_lightning.cli import LightningArgumentParser

    from lightning_snnpriv.callbacks import MembershipInferenceCallback
    from lightning_snnpriv.callbacks.mia import RESULTS_FILE, format_table, write_audit

    parser = LightningArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=str, required=True, help="The run directory.")
    parser.add_argument(
        "--attacks",
        type=str | None,
        default=None,
        help="Attacks: comma-separated short names (loss,lira,...), a YAML list of "
        "class_path entries, or a YAML file; default: the run's mia.attacks.",
    )
    parser.add_argument(
        "--targets", type=str | None, default=None, help="Same as --mia.targets: 'all', k or [..]."
    )
    parser.add_lightning_class_args(MembershipInferenceCallback, "mia")
    argv = list(argv)
    if "-h" in argv or "--help" in argv:
        parser.parse_args(argv)  # prints the help and exits
    rest = list(argv)
    run_value = _pop_option(rest, "--run")
    attacks = _pop_option(rest, "--attacks")
    targets = _pop_option(rest, "--targets")
    if run_value is None:
        raise UsageError(f"{PROG}: --run <run directory> is required.")
    run_dir = Path(run_value)
    run = load_run(run_dir)
    saved_mia = run["config"].get("mia") or {}
    args = ["--run", run_value, *(["--mia", json.dumps(saved_mia)] if saved_mia else [])]
    if attacks is not None:
        args.append(f"--mia.attacks={_attack_specs(attacks)}")
    if targets is not None:
        args.append(f"--mia.targets={targets}")
    cfg = parser.parse_args(args + rest)
    instantiate = getattr(parser, "instantiate", None) or parser.instantiate_classes
    init = instantiate(cfg)
    callback: MembershipInferenceCallback = init.mia
    for key in QUERY_SETTINGS:
        recorded = saved_mia.get(key, getattr(callback, key))
        if getattr(callback, key) != recorded:
            raise UsageError(
                f"--mia.{key}: the signals of {run_dir} were collected with {key}={recorded}; "
                "changing it needs the trained models (run fit again)."
            )
    plan = run["plan"]
    settings = (run["results"] or {}).get("settings") or {"scheme_digest": plan.digest()}
    results, audit = callback.audit(
        run["outputs"],
        run["labels"],
        torch.from_numpy(plan.keep),
        torch.from_numpy(plan.audit),
        settings,
    )
    suffix = _free_suffix(run_dir)
    results["command"] = {"name": "attack", "argv": argv}
    write_audit(run_dir, results, audit, suffix=suffix)
    if callback.print_table:
        print(format_table(audit, run_dir / RESULTS_FILE.replace(".json", f"{suffix}.json")))


def _pop_option(argv: list[str], name: str) -> str | None:
    """Remove ``name`` and its value from ``argv``; return the value (last one wins)."""
    value = None
    i = 0
    while i < len(argv):
        if argv[i] == name and i + 1 < len(argv):
            value = argv[i + 1]
            del argv[i : i + 2]
        elif argv[i].startswith(name + "="):
            value = argv[i][len(name) + 1 :]
            del argv[i]
        else:
            i += 1
    return value
