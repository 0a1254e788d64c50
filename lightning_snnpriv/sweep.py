"""Sweeps: a grid of ordinary ``fit`` runs, each in its own process, resumable point by point.

A sweep config (``configs/sweeps/<name>.yaml``) names one or more base fit configs and the
overrides to vary, in the dotted keys the ``fit`` command takes::

    name: demo
    base: ../breast_cancer_snn.yaml        # or a list: one more axis (``config``)
    fixed: {trainer.max_epochs: 5}         # applied to every point
    grid:                                  # every combination
      model.init_args.weight_bits: [null, 4]
      seed_everything: [0, 1]
    points:                                # optional explicit override sets, crossed with grid
      - {model.init_args.act_bits: null}
    output_dir: logs/sweeps                # the sweep directory is <output_dir>/<name>

A point is identified by a hash of its base config path (as written) and all its overrides, so
re-running a sweep skips every point whose run directory holds a ``mia_results.json``, and a
point whose results were deleted is run again (into a new ``version_N``, nothing overwritten).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import lightning_snnpriv
from lightning_snnpriv.errors import ConfigError, UsageError
from lightning_snnpriv.io import write_json

MANIFEST_FILE = "manifest.json"
RESULTS_FILE = "mia_results.json"  # written by the MIA callback at the end of every fit
RUNS_DIR = "runs"
ATTEMPTS_DIR = "attempts"
CONFIG_KEY = "config"
SPEC_KEYS = ("name", "base", "fixed", "grid", "points", "output_dir")
#: Lines of a failed point's stderr kept as its error in the results table.
ERROR_LINES = 6


def is_seed_key(key: str) -> bool:
    """Whether an override key sets a seed (summaries average over these axes).

    Example:
        >>> is_seed_key("seed_everything"), is_seed_key("data.init_args.seed")
        (True, True)
        >>> is_seed_key("model.init_args.weight_bits")
        False
    """
    return key == "seed_everything" or key.endswith(".seed")


def format_value(value: Any) -> str:
    """An override value as the command line takes it (``--key=<this>``, parsed as YAML).

    Example:
        >>> format_value(None), format_value(4), format_value("atan"), format_value([16, 8])
        ('null', '4', 'atan', '[16, 8]')
    """
    return value if isinstance(value, str) else json.dumps(value)


def value_label(key: str, value: Any) -> str:
    """A short human label of an override value (figures, run names).

    Example:
        >>> value_label("model.init_args.weight_bits", None), value_label("config", "a/b_snn.yaml")
        ('full', 'b_snn')
        >>> value_label("data.class_path", "lightning_snnpriv.data.IrisDataModule")
        'IrisDataModule'
    """
    if value is None:
        return "full" if key.endswith("bits") else "null"
    if key == CONFIG_KEY:
        return Path(value).stem
    if isinstance(value, str) and key.endswith("class_path"):
        return value.rsplit(".", 1)[-1]
    return format_value(value)


def key_label(key: str) -> str:
    """The last component of a dotted key (``model.init_args.weight_bits`` -> ``weight_bits``).

    Example:
        >>> key_label("model.init_args.weight_bits"), key_label("data.class_path")
        ('weight_bits', 'data.class_path')
    """
    parts = key.split(".")
    return ".".join(parts[-2:]) if parts[-1] == "class_path" else parts[-1]


def point_id(overrides: Mapping[str, Any]) -> str:
    """A stable identifier of a point: a hash of its base config path and overrides.

    Example:
        >>> point_id({"config": "a.yaml", "seed_everything": 0})
        '5db2b34ea6'
        >>> point_id({"seed_everything": 0, "config": "a.yaml"}) == point_id(
        ...     {"config": "a.yaml", "seed_everything": 0})
        True
    """
    text = json.dumps(dict(overrides), sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:10]


@dataclass(frozen=True)
class Point:
    """One grid point: a base fit config and its overrides.

    Attributes:
        overrides: ``config`` (the base config path as written in the sweep) and every override.
        axes: The keys that vary across the sweep (the others are fixed).
    """

    overrides: dict[str, Any]
    axes: tuple[str, ...]

    @property
    def id(self) -> str:
        """The point's hash (see :func:`point_id`)."""
        return point_id(self.overrides)

    @property
    def name(self) -> str:
        """A readable, unique directory name: the varying values, then the hash."""
        slug = ",".join(f"{key_label(k)}={value_label(k, v)}" for k, v in self.swept().items())
        slug = slug.replace("/", "_").replace(" ", "")[:100]
        return f"{slug}-{self.id}" if slug else self.id

    def swept(self) -> dict[str, Any]:
        """The values of the varying keys this point sets (an explicit point may set few)."""
        return {k: self.overrides[k] for k in self.axes if k in self.overrides}


@dataclass(frozen=True)
class SweepSpec:
    """A sweep: base fit config(s), fixed overrides, a grid and explicit points.

    Args:
        name: Name of the sweep (its directory under ``output_dir``).
        path: The sweep config file; relative base paths are resolved against its directory.
        base: Base fit config paths as written; several make the ``config`` axis.
        fixed: Overrides applied to every point.
        grid: Key -> values; every combination is a point.
        points: Explicit override sets, each crossed with the grid.
        output_dir: Parent of the sweep directory (relative to the working directory).
    """

    name: str
    path: Path
    base: tuple[str, ...]
    fixed: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    points: tuple[dict[str, Any], ...] = ()
    output_dir: str = "logs/sweeps"

    @property
    def sweep_dir(self) -> Path:
        """``<output_dir>/<name>``, absolute (relative ``output_dir``: to the working directory)."""
        return Path(self.output_dir).resolve() / self.name

    def base_path(self, base: str) -> Path:
        """A base config path resolved against the sweep file's directory."""
        path = Path(base)
        return path if path.is_absolute() else (self.path.parent / path).resolve()

    @property
    def axes(self) -> tuple[str, ...]:
        """The keys that vary: ``config`` (several bases), explicit points' keys, grid keys."""
        axes = [CONFIG_KEY] if len(self.base) > 1 else []
        for point in self.points:
            axes += [k for k in point if k not in axes]
        return (*axes, *self.grid)

    def expand(self) -> list[Point]:
        """Every point, in order: base, then explicit point, then the grid (last key fastest).

        Raises:
            ConfigError: When two points are identical.
        """
        axes = self.axes
        keys = list(self.grid)
        points = []
        for base in self.base:
            for explicit in self.points or ({},):
                for values in itertools.product(*self.grid.values()):
                    overrides = {
                        CONFIG_KEY: base,
                        **self.fixed,
                        **explicit,
                        **dict(zip(keys, values, strict=True)),
                    }
                    points.append(Point(overrides, axes))
        ids = [p.id for p in points]
        dupes = sorted({p.name for p in points if ids.count(p.id) > 1})
        if dupes:
            raise ConfigError(
                f"{self.path}: the sweep defines identical points ({', '.join(dupes)}); remove "
                "the repeated values from `grid` or `points`."
            )
        return points

    def command(self, point: Point, python: str = sys.executable) -> list[str]:
        """The ``fit`` command of a point, logging into ``<sweep_dir>/runs/<point name>``."""
        runs = (self.sweep_dir / RUNS_DIR).resolve()
        args = [python, "-m", "lightning_snnpriv", "fit", "--config"]
        args.append(str(self.base_path(point.overrides[CONFIG_KEY])))
        args += [f"--{k}={format_value(v)}" for k, v in point.overrides.items() if k != CONFIG_KEY]
        args += [
            f"--trainer.logger.init_args.save_dir={runs}",
            f"--trainer.logger.init_args.name={point.name}",
        ]
        return args

    def to_dict(self) -> dict[str, Any]:
        """The spec as JSON (for the manifest)."""
        return {
            "name": self.name,
            "path": str(self.path),
            "base": list(self.base),
            "fixed": self.fixed,
            "grid": {k: list(v) for k, v in self.grid.items()},
            "points": list(self.points),
            "output_dir": self.output_dir,
        }


def _check_keys(where: str, mapping: Any, path: Path) -> dict[str, Any]:
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"{path}: `{where}` must be a mapping of dotted keys to values.")
    for key in mapping:
        if not isinstance(key, str) or not key or key.startswith("-"):
            raise ConfigError(
                f"{path}: `{where}` has the key {key!r}; keys are the dotted names the fit "
                "command takes without dashes, e.g. `model.init_args.weight_bits`."
            )
        if key == CONFIG_KEY:
            raise ConfigError(
                f"{path}: `{where}` sets `config`; base fit configs are listed under `base`."
            )
    return dict(mapping)


def load_spec(path: str | Path, output_dir: str | None = None) -> SweepSpec:
    """Read and validate a sweep config.

    Args:
        path: The sweep YAML file.
        output_dir: Overrides the file's ``output_dir``.

    Raises:
        ConfigError: On a missing file, an unknown key, an empty grid axis, a key set twice or
            a base fit config that does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"sweep config {path} does not exist; pass an existing YAML file.")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: a sweep config is a mapping with keys {', '.join(SPEC_KEYS)}.")
    unknown = sorted(set(raw) - set(SPEC_KEYS))
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) {unknown}; a sweep config takes {', '.join(SPEC_KEYS)} "
            "(overrides go under `fixed`, `grid` or `points`)."
        )
    base = raw.get("base")
    base = [base] if isinstance(base, str) else base
    if not base or not all(isinstance(b, str) for b in base):
        raise ConfigError(f"{path}: `base` must be a fit config path or a list of them.")
    if len(set(base)) != len(base):
        raise ConfigError(f"{path}: `base` lists a config twice.")
    fixed = _check_keys("fixed", raw.get("fixed") or {}, path)
    grid = _check_keys("grid", raw.get("grid") or {}, path)
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(
                f"{path}: `grid.{key}` must be a non-empty list of values, got {values!r}."
            )
    points = raw.get("points") or []
    if not isinstance(points, list):
        raise ConfigError(f"{path}: `points` must be a list of override mappings.")
    points = [_check_keys(f"points[{i}]", p, path) for i, p in enumerate(points)]
    for where, keys in [("grid", set(grid))] + [
        (f"points[{i}]", set(p)) for i, p in enumerate(points)
    ]:
        clash = sorted(keys & set(fixed)) or (sorted(keys & set(grid)) if where != "grid" else [])
        if clash:
            raise ConfigError(
                f"{path}: {clash} set in `{where}` and in `fixed` or `grid`; set each key in "
                "one place."
            )
    name = raw.get("name") or path.stem
    if not isinstance(name, str) or "/" in name:
        raise ConfigError(f"{path}: `name` must be a plain directory name, got {name!r}.")
    spec = SweepSpec(
        name=name,
        path=path.resolve(),
        base=tuple(base),
        fixed=fixed,
        grid={k: tuple(v) for k, v in grid.items()},
        points=tuple(points),
        output_dir=output_dir or raw.get("output_dir") or "logs/sweeps",
    )
    missing = [b for b in spec.base if not spec.base_path(b).is_file()]
    if missing:
        raise ConfigError(
            f"{path}: base fit config(s) {missing} not found (resolved against {path.parent}); "
            "fix `base`, or create the configs first."
        )
    return spec


# ----------------------------------------------------------------------------- run state


def point_dir(sweep_dir: Path, name: str) -> Path:
    """Where a point's versioned run directories (``version_N``) and attempts live."""
    return Path(sweep_dir) / RUNS_DIR / name


def finished_run(directory: Path) -> Path | None:
    """The newest ``version_N`` under a point directory that holds ``mia_results.json``."""
    runs = [p.parent for p in Path(directory).glob(f"version_*/{RESULTS_FILE}")]
    return max(runs, key=_version, default=None)


def _version(run_dir: Path) -> int:
    suffix = run_dir.name.removeprefix("version_")
    return int(suffix) if suffix.isdigit() else -1


def attempts(directory: Path) -> list[dict[str, Any]]:
    """The point's attempt records, oldest first."""
    files = sorted(
        (Path(directory) / ATTEMPTS_DIR).glob("attempt_*.json"),
        key=lambda p: int(p.stem.removeprefix("attempt_")),
    )
    return [json.loads(f.read_text()) for f in files]


def tail(text: str, lines: int = ERROR_LINES) -> str:
    r"""The last non-empty lines of a log (progress-bar carriage returns split lines too).

    Example:
        >>> tail("a\nb\r c\n\nerror: bad value\n", lines=2)
        'c\nerror: bad value'
    """
    kept = [line.strip() for line in text.replace("\r", "\n").splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def run_point(spec: SweepSpec, point: Point) -> dict[str, Any]:
    """Run one point's fit as a subprocess; write and return its attempt record."""
    directory = point_dir(spec.sweep_dir, point.name)
    record_dir = directory / ATTEMPTS_DIR
    record_dir.mkdir(parents=True, exist_ok=True)
    number = len(list(record_dir.glob("attempt_*.json")))
    while (record_dir / f"attempt_{number}.json").exists() or (
        record_dir / f"attempt_{number}.err"
    ).exists():
        number += 1
    command = spec.command(point)
    env = dict(os.environ)
    package_root = str(Path(lightning_snnpriv.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    before = {p.name for p in directory.glob("version_*")}
    started = time.time()
    out_path, err_path = record_dir / f"attempt_{number}.out", record_dir / f"attempt_{number}.err"
    with open(out_path, "x") as out, open(err_path, "x") as err:
        returncode = subprocess.run(
            command, stdout=out, stderr=err, env=env, cwd=os.getcwd(), check=False
        ).returncode
    wall = time.time() - started
    created = sorted((p for p in directory.glob("version_*") if p.name not in before), key=_version)
    run_dir = created[-1] if created else None
    done = run_dir is not None and (run_dir / RESULTS_FILE).is_file()
    error = ""
    if returncode != 0 or not done:
        error = tail(err_path.read_text(errors="replace")) or f"exit code {returncode}"
        if returncode == 0:
            error = f"the fit ended without writing {RESULTS_FILE}:\n{error}"
    record = {
        "point_id": point.id,
        "point": point.name,
        "attempt": number,
        "status": "finished" if returncode == 0 and done else "failed",
        "returncode": returncode,
        "wall_s": round(wall, 2),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "run_dir": str(run_dir) if run_dir else None,
        "command": shlex.join(command),
        "stdout": str(out_path),
        "stderr": str(err_path),
        "error": error,
    }
    write_json(record_dir / f"attempt_{number}.json", record)
    return record


def write_manifest(spec: SweepSpec, points: Sequence[Point]) -> Path:
    """Write ``manifest.json`` (the sweep's definition and points) in the sweep directory.

    An existing manifest with the same points is kept; one with other points (the sweep config
    changed) is renamed to ``manifest.<k>.json``, never overwritten.
    """
    manifest = {
        "name": spec.name,
        "spec": spec.to_dict(),
        "axes": list(spec.axes),
        "seed_axes": [k for k in spec.axes if is_seed_key(k)],
        "points": [
            {
                "id": p.id,
                "name": p.name,
                "swept": p.swept(),
                "overrides": p.overrides,
                "dir": str(point_dir(spec.sweep_dir, p.name).resolve()),
            }
            for p in points
        ],
    }
    path = spec.sweep_dir / MANIFEST_FILE
    if path.exists():
        old = json.loads(path.read_text())
        if old.get("points") == json.loads(json.dumps(manifest["points"])):
            return path
        k = 0
        while (spec.sweep_dir / f"manifest.{k}.json").exists():
            k += 1
        path.rename(spec.sweep_dir / f"manifest.{k}.json")
        print(f"sweep definition changed: previous manifest kept as manifest.{k}.json")
    try:
        return write_json(path, manifest)
    except UsageError:  # written at the same moment by another task of the same sweep
        if json.loads(path.read_text()).get("points") != json.loads(json.dumps(manifest["points"])):
            raise
        return path


# ----------------------------------------------------------------------------- command


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lightning_snnpriv sweep",
        description="Run a grid of fits (one process each), skipping finished points, then "
        "write a report (results table, summary over seeds, figures, TensorBoard summary run).",
    )
    parser.add_argument("--config", required=True, help="sweep YAML (configs/sweeps/<name>.yaml)")
    parser.add_argument("--jobs", type=int, default=1, help="points run at once (default 1)")
    parser.add_argument("--dry-run", action="store_true", help="list the points; run nothing")
    parser.add_argument(
        "--print-commands",
        action="store_true",
        help="print one shell command per unfinished point (for a SLURM array or any "
        "scheduler) and run nothing",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="ID",
        help="run only these point ids (see --dry-run)",
    )
    parser.add_argument("--output-dir", default=None, help="overrides the config's output_dir")
    parser.add_argument("--no-report", action="store_true", help="do not write a report")
    return parser


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    try:
        return parser.parse_args(list(argv))
    except SystemExit as exc:
        if exc.code in (0, None):  # --help
            raise
        raise UsageError("sweep: invalid arguments (see the usage line above).") from None


def main(argv: Sequence[str]) -> None:
    """``sweep``: run (or list) the points of a sweep, then report.

    Exits with code 1 when a point failed (the others still run), 2 on a bad sweep config.
    """
    args = _parse(_parser(), argv)
    if args.jobs < 1:
        raise UsageError(f"sweep: --jobs must be >= 1, got {args.jobs}.")
    spec = load_spec(args.config, args.output_dir)
    points = every_point = spec.expand()
    if args.only:
        unknown = sorted(set(args.only) - {p.id for p in points})
        if unknown:
            raise UsageError(f"sweep: --only {unknown}: no such point ids (see --dry-run).")
        points = [p for p in points if p.id in args.only]
    done = {p.id: finished_run(point_dir(spec.sweep_dir, p.name)) for p in points}
    if args.dry_run:
        print(f"sweep {spec.name}: {len(points)} points, directory {spec.sweep_dir}")
        for i, p in enumerate(points):
            state = f"finished ({done[p.id]})" if done[p.id] else "to run"
            swept = ", ".join(f"{key_label(k)}={value_label(k, v)}" for k, v in p.swept().items())
            print(f"{i:>4}  {p.id}  {swept or '(no swept keys)'}  [{state}]")
        return
    if args.print_commands:
        config = shlex.quote(str(Path(args.config).resolve()))
        out = f" --output-dir {shlex.quote(str(spec.sweep_dir.parent.resolve()))}"
        for p in points:
            if not done[p.id]:
                print(
                    f"cd {shlex.quote(os.getcwd())} && {shlex.quote(sys.executable)} -m "
                    f"lightning_snnpriv sweep --config {config}{out} --only {p.id} --no-report"
                )
        return
    write_manifest(spec, every_point)
    todo = [p for p in points if not done[p.id]]
    print(
        f"sweep {spec.name}: {len(points)} points, {len(points) - len(todo)} finished already "
        f"(skipped), {len(todo)} to run with {args.jobs} job(s); directory {spec.sweep_dir}"
    )
    failed = []

    def run(i_point: tuple[int, Point]) -> dict[str, Any]:
        i, point = i_point
        print(f"[{i + 1}/{len(todo)}] start  {point.name}", flush=True)
        record = run_point(spec, point)
        print(
            f"[{i + 1}/{len(todo)}] {record['status']:<8} {point.name} ({record['wall_s']:.0f} s)",
            flush=True,
        )
        return record

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for record in pool.map(run, enumerate(todo)):
            if record["status"] != "finished":
                failed.append(record)
    if not args.no_report and (todo or not (spec.sweep_dir / "report_0").exists()):
        from lightning_snnpriv.report import write_report

        write_report(spec.sweep_dir)
    for record in failed:
        print(
            f"FAILED {record['point']}: {record['error'].splitlines()[-1]}\n"
            f"  full log: {record['stderr']}",
            file=sys.stderr,
        )
    if failed:
        raise SystemExit(1)
