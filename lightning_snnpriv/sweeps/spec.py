"""A sweep's definition: base fit configs, the overrides to vary, and the points they make.

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
    launcher: {kind: slurm, time_min: 60}  # optional: where the points run (launcher_spec)
    claims: [...]                          # optional: what the study tests (sweeps/claims.py)

A point is identified by a hash of its base config path (as written) and all its overrides, so
re-running a sweep skips every point whose run directory holds its results, and a point whose
results were deleted is run again (into a new ``version_N``, nothing overwritten). Its
directory under ``runs/`` is short and shell-safe (``breast_cancer_ann-w4-s0-5db2b34ea6``);
the manifest maps each directory name to the point's settings.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lightning_snnpriv.errors import ConfigError
from lightning_snnpriv.runs import yaml_files
from lightning_snnpriv.runs.names import point_dir_name
from lightning_snnpriv.sweeps.claims import Claim, check_claim_attacks, parse_claims
from lightning_snnpriv.sweeps.launcher_spec import LauncherSpec, parse_launcher

#: The axis of the base configs (a sweep with several bases).
CONFIG_KEY = "config"
SPEC_KEYS = ("name", "base", "fixed", "grid", "points", "output_dir", "launcher", "claims")


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
    """A short human label of an override value (figures, tables).

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
        dir_name: The directory name an existing sweep gave the point (its manifest's), used
            instead of :attr:`name`'s own; ``None`` for a new point.
    """

    overrides: dict[str, Any]
    axes: tuple[str, ...]
    dir_name: str | None = field(default=None, compare=False)

    @property
    def base(self) -> str:
        """The base fit config's path as the sweep file writes it."""
        return self.overrides[CONFIG_KEY]

    @property
    def id(self) -> str:
        """The point's hash (see :func:`point_id`)."""
        return point_id(self.overrides)

    @property
    def name(self) -> str:
        """Its directory under ``runs/``: short, shell-safe, unique; or its :attr:`dir_name`.

        The swept values' tokens, then the id
        (:func:`~lightning_snnpriv.runs.names.point_dir_name`).
        """
        return self.dir_name or point_dir_name(self.swept(), self.id)

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
        launcher: Where the points run (local subprocesses or SLURM jobs) and their resources.
        claims: What the study tests (decided by ``report``; they do not change the points).
    """

    name: str
    path: Path
    base: tuple[str, ...]
    fixed: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    points: tuple[dict[str, Any], ...] = ()
    output_dir: str = "logs/sweeps"
    launcher: LauncherSpec = field(default_factory=LauncherSpec)
    claims: tuple[Claim, ...] = ()

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
            "launcher": self.launcher.to_dict(),
            "claims": [c.to_dict() for c in self.claims],
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
        ConfigError: On a missing file, an unknown key, an empty grid axis, a key set twice,
            a base fit config that does not exist, or a claim naming an attack that no point
            runs (read from the points' ``mia.attacks`` only when a claim names attacks).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"sweep config {path} does not exist; pass an existing YAML file.")
    raw = yaml_files.read(path, field="--config", mapping=False) or {}
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
        launcher=parse_launcher(raw.get("launcher"), path),
        claims=parse_claims(raw.get("claims"), path),
    )
    missing = [b for b in spec.base if not spec.base_path(b).is_file()]
    if missing:
        raise ConfigError(
            f"{path}: base fit config(s) {missing} not found (resolved against {path.parent}); "
            "fix `base`, or create the configs first."
        )
    if any(claim.attacks for claim in spec.claims):
        from lightning_snnpriv.sweeps.study_attacks import study_attacks

        run = {name for names in study_attacks(spec).values() for name in names}
        check_claim_attacks(spec.claims, run, path)
    return spec
