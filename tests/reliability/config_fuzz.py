"""TEST-ONLY: the config and run-file fuzzer's mutations and verdicts (issue 18).

Configs: every shipped tabular fit config (``configs/`` and ``configs/paper/``), mutated by
setting a random leaf to a value of another type or range (NaN, infinities, huge, negative,
strings, lists, mappings), deleting a key, adding an unknown key or writing a top-level key
twice, then fitted in-process for one epoch of a tiny network (the settings that make a case
fast are given on the command line and never mutated). Run files: a finished run's
``membership.npz``, ``signals.pt``, ``mia_results.json`` or ``config.yaml`` truncated,
bit-flipped, overwritten, or rewritten with other shapes, dtypes and values, then
``attack --run``. :func:`run_case` returns the verdict:

- ``ok``: exit 0 and correct results: the run's results load, and an attack on unchanged
  signals, plan and audit settings reproduces the original records exactly;
- ``refused``: exit 2 with one ``error:`` paragraph and no traceback.

Anything else fails the case: another exit code, an exception (a traceback), a run outside
the temporary directory, a hang (``CASE_SECONDS``), or a change to a file that existed before.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import shutil
import signal
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from cli_runs import CONFIGS, run_cli
from hypothesis import strategies as st

CASE_SECONDS = 90  # one tiny fit on a loaded 2-core machine, with room
FIT_CONFIGS = sorted(
    p for d in (CONFIGS, CONFIGS / "paper") for p in d.glob("*.yaml")
    if p.name.startswith(("breast_cancer", "iris"))
)  # fmt: skip
#: Given on the command line so every case is fast; never mutated.
FAST = {
    "trainer.max_epochs": "1",
    "trainer.enable_progress_bar": "false",
    "trainer.enable_model_summary": "false",
    "model.init_args.hidden_sizes": "[8]",
    "mia.print_table": "false",
}
RUN_FILES = ["membership.npz", "signals.pt", "mia_results.json", "config.yaml"]


class CaseTimeout(BaseException):
    """Raised by the alarm: a BaseException, so that no ``except Exception`` swallows it."""


# --- strategies ---------------------------------------------------------------------------------

ODD_FLOATS = [math.nan, math.inf, -math.inf, 1e300, -1e-300, -1.0, 0.0]
values = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 40), st.sampled_from(ODD_FLOATS),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
    st.lists(st.integers(-2, 12), max_size=3),
    st.dictionaries(st.sampled_from(["a", "slope", "lr"]), st.integers(-2, 5), max_size=2),
)  # fmt: skip


def leaves(config: Any, prefix: tuple = ()) -> list[tuple]:
    """The paths of a config's values (mappings walked, lists as leaves)."""
    if isinstance(config, dict) and config:
        return [p for k, v in config.items() for p in leaves(v, (*prefix, k))]
    return [prefix] if prefix else []


def _mutable(path: tuple) -> bool:
    dotted = ".".join(map(str, path))
    return (
        not any(dotted == k or dotted.startswith(k + ".") for k in FAST) and "save_dir" not in path
    )


@st.composite
def config_cases(draw) -> tuple[Path, list[tuple]]:
    """A shipped config and 1-3 mutations ``(kind, path, value)``."""
    path = draw(st.sampled_from(FIT_CONFIGS))
    config = yaml.safe_load(path.read_text())
    paths = [p for p in leaves(config) if _mutable(p)]
    muts = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["set", "set", "set", "delete", "unknown", "duplicate"]))
        where = draw(st.sampled_from(paths))
        value = draw(values) if kind in ("set", "unknown") else None
        muts.append((kind, where, value))
    return path, muts


def mutate_config(config: dict, muts: list[tuple]) -> str:
    """The mutated config as YAML text (a duplicate key is added to the text)."""
    duplicates = []
    for kind, path, value in muts:
        parent = config
        for key in path[:-1]:
            if not isinstance(parent.get(key), dict):
                parent[key] = {}
            parent = parent[key]
        if kind == "set":
            parent[path[-1]] = value
        elif kind == "delete":
            parent.pop(path[-1], None)
        elif kind == "unknown":
            parent[f"{path[-1]}_x"] = value
        elif kind == "duplicate":
            duplicates.append(path[0])
    text = yaml.safe_dump(config, sort_keys=False)
    for key in duplicates:
        text += f"{key}: null\n"  # the section written a second time
    return text


@st.composite
def run_file_cases(draw) -> tuple[str, tuple]:
    """A run file and a mutation of it."""
    file = draw(st.sampled_from(RUN_FILES))
    kind = draw(st.sampled_from(["truncate", "flip", "overwrite", "rewrite"]))
    if kind == "truncate":
        return file, (kind, draw(st.floats(0, 1)))
    if kind == "flip":
        return file, (kind, tuple(draw(st.lists(st.tuples(st.floats(0, 1), st.integers(0, 7)),
                                                 min_size=1, max_size=6))))  # fmt: skip
    if kind == "overwrite":
        return file, (kind, draw(st.binary(max_size=64)))
    return file, (kind, draw(st.sampled_from(_REWRITES[file])), draw(values))


_REWRITES = {
    "membership.npz": ["keep-shape", "keep-dtype", "audit-transposed", "seed", "scheme"],
    "signals.pt": ["outputs-shape", "outputs-dtype", "labels-dtype", "labels-value", "drop"],
    "mia_results.json": ["value", "records", "digest"],
    "config.yaml": ["mia", "attacks", "value"],
}


def mutate_run_file(path: Path, mutation: tuple) -> None:
    """Apply a run-file mutation in place (the file is a copy)."""
    kind = mutation[0]
    data = path.read_bytes()
    if kind == "truncate":
        path.write_bytes(data[: int(len(data) * mutation[1])])
    elif kind == "flip":
        buf = bytearray(data)
        for where, bit in mutation[1]:
            if buf:
                buf[min(int(where * len(buf)), len(buf) - 1)] ^= 1 << bit
        path.write_bytes(bytes(buf))
    elif kind == "overwrite":
        path.write_bytes(mutation[1])
    else:
        _rewrite(path, mutation[1], mutation[2])


def _rewrite(path: Path, how: str, value: Any) -> None:
    if path.name == "membership.npz":
        with np.load(path) as f:
            arrays = dict(f)
        if how == "keep-shape":
            arrays["keep"] = arrays["keep"][:, :-1]
        elif how == "keep-dtype":
            arrays["keep"] = arrays["keep"].astype(np.float32) * 3
        elif how == "audit-transposed":
            arrays["audit"] = arrays["audit"].T
        elif how == "seed":
            arrays["seed"] = np.array(str(value))
        else:
            arrays["scheme"] = np.array(value if isinstance(value, int) else str(value))
        with open(path, "wb") as f:
            np.savez(f, **arrays)
    elif path.name == "signals.pt":
        signals = torch.load(path, weights_only=True)
        if how == "outputs-shape":
            signals["outputs"] = signals["outputs"][:, :, :1]
        elif how == "outputs-dtype":
            signals["outputs"] = signals["outputs"].to(torch.int64)
        elif how == "labels-dtype":
            signals["labels"] = signals["labels"].float()
        elif how == "labels-value":
            signals["labels"][0] = (
                value if isinstance(value, int) and not isinstance(value, bool) else 5
            )
        else:
            signals.pop("labels")
        torch.save(signals, path)
    elif path.name == "mia_results.json":
        results = json.loads(path.read_text())
        if how == "records":
            results["records"] = value
        elif how == "digest":
            results.setdefault("settings", {})["scheme_digest"] = value
        else:
            results = value
        path.write_text(json.dumps(results))
    else:
        config = yaml.safe_load(path.read_text())
        if how == "mia":
            config["mia"] = value
        elif how == "attacks":
            config["mia"]["attacks"] = value
        else:
            config[str(value)[:8] or "x"] = value
        path.write_text(yaml.safe_dump(config))


# --- running a case -----------------------------------------------------------------------------


def snapshot(root: Path) -> dict[str, str]:
    """Digest of every file under ``root``."""
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip


def run_cli_bounded(args: list[str]) -> tuple[Any, str]:
    """``main(args)`` under the time bound: (exit code or the exception's traceback, stderr)."""

    def alarm(*_):
        raise CaseTimeout

    err = io.StringIO()
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code: Any = run_cli(args)
    except CaseTimeout:
        code = f"hang (> {CASE_SECONDS} s)"
    except Exception:
        code = "traceback:\n" + traceback.format_exc()[-3000:]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return code, err.getvalue()


def verdict(code: Any, err: str) -> str:
    """``ok`` (exit 0), ``refused`` (a clean exit 2) or what went wrong."""
    if code == 0:
        return "ok"
    if code == 2:
        message = err[err.find("error: ") :] if "error: " in err else ""
        if "Traceback" in err or err.count("error: ") != 1 or len(message) > 1500:
            return f"unclean exit 2: {err[-1500:]}"
        return "refused"
    return f"{code}\n{err[-1500:]}" if isinstance(code, str) else f"exit {code}: {err[-1500:]}"


def fit_case(tmp: Path, config_path: Path, muts: list[tuple]) -> str:
    """Fit a mutated config in ``tmp``; the verdict."""
    config = yaml.safe_load(config_path.read_text())
    text = mutate_config(config, muts)
    path = tmp / "config.yaml"
    path.write_text(text)
    before = snapshot(tmp)
    args = ["fit", "--config", str(path), f"--trainer.logger.init_args.save_dir={tmp / 'logs'}"]
    args += [f"--{k}={v}" for k, v in FAST.items()]
    result, changed = _run_unchanged(tmp, before, args)
    if changed:
        return f"changed existing files {changed}"
    if result == "ok":
        from lightning_snnpriv.runs import RunDir

        runs = list((tmp / "logs").glob("*/version_*"))
        if len(runs) != 1:
            return f"exit 0 but runs {runs}"
        if RunDir(runs[0]).load_results()["records"] == []:
            return "exit 0 with no records"
    return result


def _run_unchanged(tmp: Path, before: dict, args: list[str]) -> tuple[str, list]:
    """Run the CLI bounded; its verdict and the files of ``before`` it changed."""
    code, err = run_cli_bounded(args)
    after = snapshot(tmp)
    return verdict(code, err), [f for f, digest in before.items() if after.get(f) != digest]


def run_file_case(tmp: Path, finished_run: Path, file: str, mutation: tuple) -> str:
    """``attack --run`` on a copy of a finished run with one file mutated; the verdict."""
    from lightning_snnpriv.runs import RunDir

    run = tmp / "run"
    shutil.copytree(finished_run, run, ignore=shutil.ignore_patterns("*.ckpt"))
    mutate_run_file(run / file, mutation)
    before = snapshot(tmp)
    args = ["attack", "--run", str(run), "--print_table=false"]
    result, changed = _run_unchanged(tmp, before, args)
    if changed:
        return f"changed existing files {changed}"
    if result == "ok":
        new = sorted(run.glob("mia_results.*.json"))
        if len(new) != 1:
            return f"exit 0 but results files {new}"
        got = RunDir(run).load_results(
            new[0].name.removeprefix("mia_results").removesuffix(".json")
        )
        if file in ("mia_results.json",):  # signals, plan and audit settings unchanged
            want = RunDir(finished_run).load_results()["records"]
            if json.dumps(got["records"]) != json.dumps(want):
                return "exit 0 with records other than the original run's"
    return result
