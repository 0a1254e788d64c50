"""The ``launcher:`` section of a sweep config: where the points run, and with what resources.

::

    launcher:
      kind: slurm              # local (default): subprocesses of this machine; slurm: SLURM jobs
      jobs: 2                  # local: points at once (``sweep --jobs`` overrides)
      partition: gpu           # slurm: the rest are per point (one job or array task each)
      time_min: 240            # time limit of a point's job, minutes
      gpus_per_device: 1       # 0: CPU; 1: one GPU per device (trainer.devices) of a point
      cpus_per_device: 4       # CPU cores per device (one SLURM task per device)
      mem_gb: 16               # memory per node of a point's job
      array_parallelism: 20    # points of one submission running at once
      sbatch: {account: my_project, qos: normal}   # any other sbatch directive
      setup: [module load cuda, source ~/venvs/snnpriv/bin/activate]   # shell lines before

Moving a sweep from a laptop to a cluster changes this section only; the points, their
directories and results are the same. The SLURM settings are checked even with
``kind: local``, so a section that is wrong for the cluster fails before anything runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from lightning_snnpriv.errors import ConfigError

LauncherKind = Literal["local", "slurm"]
KINDS: tuple[LauncherKind, ...] = ("local", "slurm")

#: sbatch options the launcher sets from its own fields (or submitit sets): never in ``sbatch``.
MANAGED_DIRECTIVES: dict[str, str] = {
    "partition": "partition", "time": "time_min", "gpus-per-node": "gpus_per_device",
    "gres": "gpus_per_device", "gpus": "gpus_per_device", "gpus-per-task": "gpus_per_device",
    "cpus-per-task": "cpus_per_device", "mem": "mem_gb", "array": "array_parallelism",
    "ntasks-per-node": "the point's trainer.devices", "ntasks": "the point's trainer.devices",
    "nodes": "the point's trainer.num_nodes", "output": "(submitit's job folder)",
    "error": "(submitit's job folder)", "job-name": "(snnpriv-<sweep name>)",
    "signal": "(submitit's requeue signal)", "open-mode": "(submitit)",
}  # fmt: skip
_DIRECTIVE = re.compile(r"[a-z][a-z0-9_-]*")


@dataclass(frozen=True)
class LauncherSpec:
    """Where a sweep's points run and, on SLURM, the resources of each point's job.

    Args:
        kind: ``local`` runs the points as subprocesses here; ``slurm`` submits one job (or
            job-array task) per point through submitit. ``sweep --launcher`` overrides it.
        jobs: Local launcher: points run at once (``sweep --jobs`` overrides it).
        partition: SLURM partition; None: the cluster's default partition.
        time_min: Time limit of each point's job in minutes (SLURM ``--time``). A job that
            reaches it is requeued by submitit and continues its run from the last checkpoint.
        gpus_per_device: GPUs per device of a point: 0 on a CPU partition, 1 on a GPU one (a
            point with ``trainer.devices=D`` then gets D GPUs per node, one per process).
        cpus_per_device: CPU cores per device (SLURM ``--cpus-per-task``; one task per device).
        mem_gb: Memory per node of a point's job in GB; None: the partition's default.
        array_parallelism: Points of one submission that run at once (the ``%N`` of the job
            array); None: as many as the cluster schedules.
        sbatch: Other sbatch directives by name without dashes (``account``, ``qos``,
            ``constraint``, ``hold``...); ``true`` gives a bare flag.
        setup: Shell lines the job runs before the point's fit (modules, environment).
    """

    kind: LauncherKind = "local"
    jobs: int = 1
    partition: str | None = None
    time_min: int = 60
    gpus_per_device: int = 0
    cpus_per_device: int = 1
    mem_gb: float | None = None
    array_parallelism: int | None = None
    sbatch: dict[str, str | int | float | bool] = field(default_factory=dict)
    setup: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The section as JSON (for the manifest)."""
        return {f.name: getattr(self, f.name) for f in fields(self)} | {"setup": list(self.setup)}


def _fail(path: Path, key: str, expected: str, value: Any) -> ConfigError:
    return ConfigError(f"{path}: `launcher.{key}` must be {expected}, got {value!r}.")


def _integer(path: Path, key: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _fail(path, key, f"an integer >= {low}", value)
    return value


def _sbatch(path: Path, raw: Any) -> dict[str, str | int | float | bool]:
    if not isinstance(raw, Mapping):
        raise _fail(path, "sbatch", "a mapping of sbatch option names to values", raw)
    for key, value in raw.items():
        if not isinstance(key, str) or not _DIRECTIVE.fullmatch(key):
            raise _fail(path, "sbatch", "keyed by sbatch option names such as `account`", key)
        managed = MANAGED_DIRECTIVES.get(key.replace("_", "-"))
        if managed is not None:
            raise ConfigError(
                f"{path}: `launcher.sbatch.{key}` is set by the launcher; use "
                f"{managed if managed.startswith(('(', 'the')) else f'`launcher.{managed}`'}."
            )
        if value is False or not isinstance(value, str | int | float | bool):
            raise _fail(path, f"sbatch.{key}", "a string, a number or true", value)
    return dict(raw)


def parse_launcher(raw: Any, path: Path) -> LauncherSpec:
    """Validate a sweep config's ``launcher`` section (None: the defaults).

    Raises:
        ConfigError: Naming the field (``launcher.<field>``) and what it takes.

    Example:
        >>> parse_launcher({"kind": "slurm", "time_min": 30}, Path("s.yaml")).time_min
        30
        >>> parse_launcher({"time_min": "1:00"}, Path("s.yaml"))
        Traceback (most recent call last):
        ...
        lightning_snnpriv.errors.ConfigError: s.yaml: `launcher.time_min` must be an integer >= 1, got '1:00'.
    """  # noqa: E501
    if raw is None:
        return LauncherSpec()
    names = [f.name for f in fields(LauncherSpec)]
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: `launcher` must be a mapping with keys {', '.join(names)}.")
    unknown = sorted(set(raw) - set(names))
    if unknown:
        raise ConfigError(
            f"{path}: unknown `launcher` key(s) {unknown}; it takes {', '.join(names)}."
        )
    kind = raw.get("kind", "local")
    if kind not in KINDS:
        raise _fail(path, "kind", " or ".join(KINDS), kind)
    partition = raw.get("partition")
    if partition is not None and (not isinstance(partition, str) or not partition.strip()):
        raise _fail(path, "partition", "a partition name", partition)
    mem = raw.get("mem_gb")
    if mem is not None and (isinstance(mem, bool) or not isinstance(mem, int | float) or mem <= 0):
        raise _fail(path, "mem_gb", "a number of GB > 0", mem)
    parallel = raw.get("array_parallelism")
    if parallel is not None:
        parallel = _integer(path, "array_parallelism", parallel, 1)
    setup = raw.get("setup") or []
    if not isinstance(setup, list) or not all(isinstance(line, str) for line in setup):
        raise _fail(path, "setup", "a list of shell lines", setup)
    return LauncherSpec(
        kind=kind,
        jobs=_integer(path, "jobs", raw.get("jobs", 1), 1),
        partition=partition,
        time_min=_integer(path, "time_min", raw.get("time_min", 60), 1),
        gpus_per_device=_integer(path, "gpus_per_device", raw.get("gpus_per_device", 0), 0),
        cpus_per_device=_integer(path, "cpus_per_device", raw.get("cpus_per_device", 1), 1),
        mem_gb=mem,
        array_parallelism=parallel,
        sbatch=_sbatch(path, raw.get("sbatch") or {}),
        setup=tuple(setup),
    )
