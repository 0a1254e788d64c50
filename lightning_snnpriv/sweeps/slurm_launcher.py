"""The SLURM launcher: one job (or job-array task) per unfinished point, through submitit.

``sweep --launcher slurm`` (or ``launcher: {kind: slurm}`` in the sweep config) submits each
point that is neither done nor queued/running as a SLURM job running the point's ordinary
``fit`` command (:func:`lightning_snnpriv.sweeps.runner.fit_command`, with ``--ckpt_path
last`` so a job requeued after a time-out or preemption continues its run). Points of one
shape (``trainer.devices`` x ``trainer.num_nodes``) go as one job array; a point with several
devices gets one SLURM task per device (srun starts them; Lightning's SLURM environment
connects them, as ``configs/slurm/fit.sbatch`` does). The jobs are recorded in the sweep
directory (``slurm/submission_<k>.json``), so a later ``sweep`` from any process attaches to
them instead of submitting again, and ``sweep --status`` reads their state from the scheduler.

Each job writes the point's attempt record (``runs/<point>/attempts/attempt_<k>.json``, as a
local run does) whose stdout/stderr are the job's own log files, so the report of a sweep
that ran on the cluster is the same as of one that ran here.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import submitit
import yaml

import lightning_snnpriv
from lightning_snnpriv.errors import ConfigError, UsageError
from lightning_snnpriv.runs.files import write_json
from lightning_snnpriv.runs.resume import versions
from lightning_snnpriv.sweeps import cluster
from lightning_snnpriv.sweeps.launcher_spec import LauncherSpec
from lightning_snnpriv.sweeps.layout import SweepDir
from lightning_snnpriv.sweeps.runner import fit_command, tail
from lightning_snnpriv.sweeps.spec import CONFIG_KEY, Point, SweepSpec
from lightning_snnpriv.sweeps.status import LIVE, PointState, point_states

#: What every point's fit gets on SLURM: a requeued job continues the point's run.
RESUME_ARGS = ("--ckpt_path=last",)


def point_shape(spec: SweepSpec, point: Point) -> tuple[int, int]:
    """``(trainer.devices, trainer.num_nodes)`` of a point: its overrides, else its base config.

    Raises:
        ConfigError: When either is not a positive number (``auto``, a device list): SLURM
            needs to know how many tasks per node to start.
    """
    base = yaml.safe_load(spec.base_path(point.overrides[CONFIG_KEY]).read_text()) or {}
    trainer = base.get("trainer") or {}
    shape = []
    for key in ("devices", "num_nodes"):
        value = point.overrides.get(f"trainer.{key}", trainer.get(key, 1))
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(
                f"{spec.path}: point {point.name} has trainer.{key}={value!r}; the SLURM "
                f"launcher starts one task per device, so set trainer.{key} to a number >= 1 "
                "(in the base config or the sweep's `fixed`)."
            )
        shape.append(value)
    return shape[0], shape[1]


def job_parameters(
    launcher: LauncherSpec, devices: int, num_nodes: int, name: str
) -> dict[str, Any]:
    """Submitit parameters of a point's job (one task per device, as the sbatch template).

    Example:
        >>> job_parameters(LauncherSpec(partition="gpu", gpus_per_device=1, time_min=90,
        ...                             sbatch={"account": "p1"}), 4, 1, "demo")
        ... # doctest: +NORMALIZE_WHITESPACE
        {'name': 'snnpriv-demo', 'timeout_min': 90, 'cpus_per_task': 1, 'nodes': 1,
         'tasks_per_node': 4, 'gpus_per_node': 4, 'slurm_partition': 'gpu',
         'slurm_additional_parameters': {'account': 'p1'}}
    """
    parameters: dict[str, Any] = {
        "name": f"snnpriv-{name}",
        "timeout_min": launcher.time_min,
        "cpus_per_task": launcher.cpus_per_device,
        **cluster.ddp_parameters(devices, num_nodes, gpus=launcher.gpus_per_device > 0),
    }
    if launcher.gpus_per_device > 0:
        parameters["gpus_per_node"] = devices * launcher.gpus_per_device
    optional = {
        "slurm_partition": launcher.partition,
        "mem_gb": launcher.mem_gb,
        "slurm_array_parallelism": launcher.array_parallelism,
        "slurm_additional_parameters": dict(launcher.sbatch) or None,
        "slurm_setup": list(launcher.setup) or None,
    }
    return parameters | {k: v for k, v in optional.items() if v is not None}


class PointJob(cluster.FitJob):
    """A point's fit as a SLURM job; the first task also writes the point's attempt record.

    Args:
        argv: The point's fit command.
        cwd: Working directory of the fit (the sweep client's).
        env: Variables set on top of the job's environment.
        sweep_path: The sweep directory.
        point_id: The point's id.
        point_name: The point's directory name under ``runs/``.
    """

    def __init__(
        self,
        argv: Sequence[str],
        cwd: str | Path,
        env: Mapping[str, str] | None,
        sweep_path: str | Path,
        point_id: str,
        point_name: str,
    ) -> None:
        super().__init__(argv, cwd, env)
        self.sweep_path = str(sweep_path)
        self.point_id = point_id
        self.point_name = point_name

    def __call__(self) -> int:
        """Run the fit (every task); the first task records the attempt like a local run."""
        job = submitit.JobEnvironment()
        if job.global_rank != 0:
            return super().__call__()
        sweep = SweepDir(Path(self.sweep_path))
        directory = sweep.point_dir(self.point_name)
        number, record_path, _, _ = sweep.new_attempt(self.point_name)
        before = {run.path.name for run in versions(directory) if run.is_complete}
        started = time.time()
        returncode = subprocess.run(
            self.argv, cwd=self.cwd, env={**os.environ, **self.env}, check=False
        ).returncode
        wall = time.time() - started
        new = [r for r in versions(directory) if r.is_complete and r.path.name not in before]
        error = ""
        if returncode != 0 or not new:
            error = tail(job.paths.stderr.read_text(errors="replace")) or f"exit code {returncode}"
        record = {
            "point_id": self.point_id, "point": self.point_name, "attempt": number,
            "status": "finished" if returncode == 0 and new else "failed",
            "returncode": returncode, "wall_s": round(wall, 2),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
            "run_dir": str(new[0]) if new else None, "command": shlex.join(self.argv),
            "stdout": str(job.paths.stdout), "stderr": str(job.paths.stderr),
            "error": error, "job_id": job.job_id,
        }  # fmt: skip
        write_json(record_path, record)
        if record["status"] != "finished":
            raise RuntimeError(f"point {self.point_name} failed (exit code {returncode})")
        return returncode


@contextmanager
def _submit_lock(sweep: SweepDir) -> Iterator[None]:
    """One client at a time decides what to submit (two would both see a point unsubmitted)."""
    sweep.jobs_dir.mkdir(parents=True, exist_ok=True)
    with open(sweep.jobs_dir.parent / ".submit.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


class SlurmLauncher:
    """Submits the points that are neither done nor queued/running as SLURM jobs.

    Args:
        settings: The sweep config's ``launcher`` section (partition, time, resources...).
        poll_s: Seconds between two scheduler queries while waiting.
    """

    def __init__(self, settings: LauncherSpec, poll_s: float = 1.0) -> None:
        self.settings = settings
        self.poll_s = poll_s

    def launch(
        self,
        spec: SweepSpec,
        points: Sequence[Point],
        report: Callable[[str], None] = print,
    ) -> list[dict[str, Any]]:
        """Submit the points without a live job, attach to the others; returns immediately.

        Returns:
            One record per point: ``point_id``, ``point``, ``status`` (``submitted``, or
            ``pending``/``running`` for a job attached to) and ``job_id``.
        """
        problem = cluster.slurm_unavailable()
        if problem is not None:
            raise UsageError(
                f"sweep: the SLURM launcher cannot submit from here: {problem}. Run the sweep "
                "where sbatch reaches the cluster (a login node), or pass --launcher local."
            )
        sweep = SweepDir(spec.sweep_dir)
        with _submit_lock(sweep):
            states = point_states(sweep, points)
            live = [s for s in states if s.state in LIVE]
            todo = [s.point for s in states if s.state not in LIVE and s.state != "done"]
            for s in live:
                report(f"attached  {s.point.name}: job {s.job.job_id} {s.state}")
            submitted = self._submit(spec, sweep, todo)
            if submitted:
                sweep.write_submission(
                    {"submitted": time.strftime("%Y-%m-%dT%H:%M:%S"), "jobs": submitted}
                )
        for entry in submitted:
            report(f"submitted {entry['point']}: job {entry['job_id']}")
        attached = [
            {"point_id": s.point.id, "point": s.point.name, "status": s.state,
             "job_id": s.job.job_id}
            for s in live
        ]  # fmt: skip
        return attached + [{**entry, "status": "submitted"} for entry in submitted]

    def _submit(
        self, spec: SweepSpec, sweep: SweepDir, points: Sequence[Point]
    ) -> list[dict[str, Any]]:
        groups: dict[tuple[int, int], list[Point]] = {}
        for point in points:
            groups.setdefault(point_shape(spec, point), []).append(point)
        package_root = str(Path(lightning_snnpriv.__file__).resolve().parents[1])
        path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
        entries = []
        for (devices, nodes), group in groups.items():
            jobs = [
                PointJob([*fit_command(spec, p), *RESUME_ARGS], os.getcwd(),
                         {"PYTHONPATH": path}, spec.sweep_dir, p.id, p.name)
                for p in group
            ]  # fmt: skip
            parameters = job_parameters(self.settings, devices, nodes, spec.name)
            records = cluster.submit_jobs(jobs, sweep.jobs_dir, parameters)
            entries += [
                {"point_id": p.id, "point": p.name, "devices": devices, "num_nodes": nodes,
                 **r.to_dict()}
                for p, r in zip(group, records, strict=True)
            ]  # fmt: skip
        return entries

    def wait(self, spec: SweepSpec, points: Sequence[Point], timeout_s: float) -> list[PointState]:
        """Poll until no point is pending or running, or ``timeout_s`` passed; the states."""
        sweep = SweepDir(spec.sweep_dir)
        deadline = time.monotonic() + timeout_s
        while True:
            states = point_states(sweep, points)
            if not any(s.state in LIVE for s in states) or time.monotonic() > deadline:
                return states
            time.sleep(self.poll_s)
