"""Where each point of a sweep stands: done, pending, running, failed or to run.

A point is ``done`` when its point directory holds a finished run, whoever ran it, and no job
of it is still queued or running (a job that wrote its results is ``running`` until it has
written the point's attempt record too, so a report never misses it). Otherwise its newest
SLURM job (from the sweep's submission records) says ``pending`` or ``running``
(asked from the scheduler: :func:`lightning_snnpriv.sweeps.cluster.job_status`), or
``failed`` (the job ended without a finished run: the fit failed, hit its time limit, was
cancelled, or the scheduler forgot a job that left no result); without a job, a failed local
attempt makes the point ``failed`` and no attempt leaves it ``to run``. A failed point comes
with the file that says why (the job's or the attempt's stderr).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lightning_snnpriv.errors import UsageError
from lightning_snnpriv.sweeps import cluster
from lightning_snnpriv.sweeps.layout import SweepDir
from lightning_snnpriv.sweeps.spec import Point, key_label, value_label

PointStateName = Literal["done", "pending", "running", "failed", "to run"]
#: States in which a point's job is alive: the point is neither run nor submitted again.
LIVE: frozenset[str] = frozenset({"pending", "running"})
STATE_ORDER: tuple[PointStateName, ...] = ("done", "running", "pending", "failed", "to run")


@dataclass(frozen=True)
class PointState:
    """One point's state.

    Args:
        point: The point.
        state: ``done``, ``pending``, ``running``, ``failed`` or ``to run``.
        job: The point's newest SLURM job, if it was ever submitted.
        slurm_state: SLURM's state name and reason, e.g. ``PENDING (JobHeldUser)``, or "".
        run_dir: The finished run (``done``), else None.
        stderr: The file that says why a ``failed`` point failed, else None.
    """

    point: Point
    state: PointStateName
    job: cluster.JobRecord | None = None
    slurm_state: str = ""
    run_dir: Path | None = None
    stderr: Path | None = None


def latest_jobs(sweep: SweepDir) -> dict[str, cluster.JobRecord]:
    """Point id -> its newest submitted job (later submissions replace earlier ones)."""
    jobs = {}
    for submission in sweep.submissions():
        for entry in submission["jobs"]:
            jobs[entry["point_id"]] = cluster.JobRecord.from_dict(entry)
    return jobs


def _job_statuses(records: Sequence[cluster.JobRecord]) -> dict[str, cluster.JobStatus]:
    try:
        return {s.record.job_id: s for s in cluster.job_status(records)}
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as err:
        raise UsageError(
            f"cannot ask SLURM for the sweep's jobs ({err}); run this where `squeue` reaches the "
            "cluster that ran them."
        ) from err


def point_states(sweep: SweepDir, points: Sequence[Point]) -> list[PointState]:
    """The state of each point, in the points' order (one ``squeue`` call for all jobs)."""
    jobs = latest_jobs(sweep)
    finished = {p.id: sweep.finished_run(p.name) for p in points}
    asked = [jobs[p.id] for p in points if p.id in jobs]
    statuses = _job_statuses(asked) if asked else {}
    states = []
    for point in points:
        job = jobs.get(point.id)
        run = finished[point.id]
        status = statuses[job.job_id] if job is not None else None
        slurm = ""
        if status is not None:
            slurm = status.slurm_state or f"not in squeue ({status.state})"
            slurm += f" ({status.reason})" if status.reason else ""
        if run is not None and (status is None or status.state not in LIVE):
            states.append(PointState(point, "done", job, slurm, run_dir=run.path))
            continue
        if status is not None:
            state = status.state if status.state in LIVE else "failed"
            stderr = status.stderr if state == "failed" else None
            states.append(PointState(point, state, job, slurm, stderr=stderr))
            continue
        attempts = sweep.attempts(point.name)
        if attempts and attempts[-1]["status"] == "failed":
            states.append(PointState(point, "failed", stderr=Path(attempts[-1]["stderr"])))
        else:
            states.append(PointState(point, "to run"))
    return states


def status_lines(name: str, directory: Path, states: Sequence[PointState]) -> list[str]:
    """``sweep --status``: a count per state, then one line per point (and why it failed)."""
    counts = ", ".join(f"{sum(s.state == k for s in states)} {k}" for k in STATE_ORDER)
    lines = [f"sweep {name}: {len(states)} points ({counts}); directory {directory}"]
    for s in states:
        swept = ", ".join(f"{key_label(k)}={value_label(k, v)}" for k, v in s.point.swept().items())
        job = s.job.job_id if s.job else "-"
        lines.append(
            f"  {s.point.id}  {s.state:<7}  job {job:<9} {s.slurm_state or '-':<28} "
            f"{swept or '(no swept keys)'}"
        )
        if s.stderr is not None:
            lines.append(f"      stderr: {s.stderr}")
    return lines
