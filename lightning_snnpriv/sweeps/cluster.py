"""Commands (ordinary ``fit`` runs) as SLURM jobs through submitit; re-attach to them by job id.

The sweep launcher (``sweep --launcher slurm``) builds on this module: it submits one job (or
job-array task) per unfinished point with :func:`submit`, stores each returned
:class:`JobRecord` (job id + submitit folder; plain JSON) with the point, and on a later run,
from a new process, asks :func:`job_status` for those records instead of submitting again. A
client that is killed loses nothing: the jobs belong to SLURM, and the records find them.

The job states come from the scheduler, not from submitit: submitit reads them with ``sacct``,
which needs SLURM's accounting storage (slurmdbd), and reports ``UNKNOWN`` for every job on a
cluster without it. :func:`query_states` asks ``squeue --states=all`` (which knows a job while
it is queued or running and for ``MinJobAge`` seconds after it ended), then ``sacct`` for the
jobs squeue no longer lists; a job known to neither gets its outcome from submitit's result
file (``completed`` or ``failed``), else ``unknown``.

Each job runs :class:`FitJob`: the command as a child process of submitit's job process, in a
fixed working directory, with its output going straight into the job's stdout/stderr files.
It is submitit-checkpointable: on a preemption or time-out signal submitit requeues the same
command, so a ``fit`` command should carry ``--ckpt_path last`` to continue where it stopped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import submitit
from submitit.helpers import Checkpointable

JobState = Literal["pending", "running", "completed", "failed", "unknown"]

#: SLURM's job states (``squeue %T``, ``sacct State``) by what they mean for a point.
SLURM_STATES: dict[str, JobState] = {
    **dict.fromkeys(
        ["PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"],
        "pending",
    ),
    **dict.fromkeys(
        ["RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESIZING"],
        "running",
    ),
    "COMPLETED": "completed",
    **dict.fromkeys(
        ["FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY"],
        "failed",
    ),
    **dict.fromkeys(["BOOT_FAIL", "DEADLINE", "REVOKED", "SPECIAL_EXIT"], "failed"),
}

#: States after which a job does nothing more (the others may still change).
FINAL_STATES: frozenset[JobState] = frozenset({"completed", "failed", "unknown"})


def slurm_state(raw: str) -> JobState:
    """Our state of a job from SLURM's state name (``sacct`` may add ``by <uid>``).

    Example:
        >>> slurm_state("PENDING"), slurm_state("CANCELLED by 0"), slurm_state("COMPLETED")
        ('pending', 'failed', 'completed')
        >>> slurm_state("SOMETHING_NEW")
        'unknown'
    """
    words = raw.split()
    return SLURM_STATES.get(words[0].rstrip("+") if words else "", "unknown")


def parse_job_lines(text: str) -> dict[str, tuple[str, str]]:
    r"""``job id -> (SLURM state, reason)`` from ``<id>|<state>[|<reason>]`` lines.

    Job steps (``123.batch``, ``123.0``) are skipped; a not yet split array range
    (``123_[2-4%1]``) gives one entry per task.

    Example:
        >>> parse_job_lines("7_0|RUNNING|None\n7_[1-2%1]|PENDING|JobArrayTaskLimit\n7.0|RUNNING")
        ... # doctest: +NORMALIZE_WHITESPACE
        {'7_0': ('RUNNING', 'None'), '7_1': ('PENDING', 'JobArrayTaskLimit'),
         '7_2': ('PENDING', 'JobArrayTaskLimit')}
    """
    states: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        fields = [f.strip() for f in line.split("|")]
        if len(fields) < 2 or not fields[0] or "." in fields[0]:
            continue
        entry = (fields[1], fields[2] if len(fields) > 2 else "")
        array = re.fullmatch(r"(\d+)_\[([\d,\-]+)(%\d+)?\]", fields[0])
        if array is None:
            states[fields[0]] = entry
            continue
        for part in array.group(2).split(","):
            low, _, high = part.partition("-")
            for task in range(int(low), int(high or low) + 1):
                states[f"{array.group(1)}_{task}"] = entry
    return states


def _run(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)


def query_states(job_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """The scheduler's ``(state, reason)`` of each job it still knows, by job id.

    ``squeue`` first (queued, running, and ended less than ``MinJobAge`` ago), then ``sacct``
    for the rest when accounting storage is enabled. Ids of array tasks are ``<job>_<task>``.
    """
    wanted = set(job_ids)
    if not wanted:
        return {}
    base_ids = sorted({job.split("_")[0] for job in wanted})
    squeue = _run(["squeue", "--states=all", "--array", "--noheader", "--format=%i|%T|%r",
                   f"--jobs={','.join(base_ids)}"])  # fmt: skip
    if squeue.returncode != 0 and "Invalid job id" not in squeue.stderr:
        raise RuntimeError(f"squeue failed: {squeue.stderr.strip()}")
    states = {k: v for k, v in parse_job_lines(squeue.stdout).items() if k in wanted}
    missing = sorted({job.split("_")[0] for job in wanted - set(states)})
    if missing and shutil.which("sacct"):
        sacct = _run(["sacct", "--noheader", "--parsable2", "--format=JobID,State",
                      f"--jobs={','.join(missing)}"])  # fmt: skip
        if sacct.returncode == 0:  # else: no accounting storage on this cluster
            found = parse_job_lines(sacct.stdout)
            states.update({k: v for k, v in found.items() if k in wanted and k not in states})
    return states


def slurm_unavailable() -> str | None:
    """Why SLURM jobs cannot be submitted from here, or None when they can.

    Example:
        >>> reason = slurm_unavailable()
        >>> reason is None or isinstance(reason, str)
        True
    """
    for tool in ("sbatch", "squeue", "srun"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not on PATH (no SLURM client here)"
    try:
        probe = _run(["squeue", "--noheader", "--jobs=1"])
    except subprocess.TimeoutExpired:
        return "squeue did not answer within 60 s (is slurmctld running?)"
    if probe.returncode != 0 and "Invalid job id" not in probe.stderr:
        last = (probe.stderr.strip().splitlines() or ["no message"])[-1]
        return f"squeue cannot reach the controller ({last})"
    return None


class FitJob(Checkpointable):
    """A command run by a SLURM job: a child process in ``cwd``, its output in the job's logs.

    Submitit pickles this object into the job folder and calls it in every task of the job;
    with several tasks (``tasks_per_node`` > 1) each task runs the command once, with its own
    ``SLURM_PROCID``, which is how Lightning's SLURM environment starts DDP. On preemption or
    time-out submitit requeues the same command (``Checkpointable``).

    Args:
        argv: The command, e.g. ``[sys.executable, "-m", "lightning_snnpriv", "fit", ...]``.
        cwd: Working directory of the command (relative paths in it resolve against this).
        env: Variables set on top of the job's environment (by default the submitting
            process's environment, which sbatch exports).
    """

    def __init__(
        self, argv: Sequence[str], cwd: str | Path, env: Mapping[str, str] | None = None
    ) -> None:
        self.argv = [str(a) for a in argv]
        self.cwd = str(cwd)
        self.env = dict(env or {})

    def __call__(self) -> int:
        """Run the command; return 0, or raise with its exit code (the job then fails)."""
        returncode = subprocess.run(
            self.argv, cwd=self.cwd, env={**os.environ, **self.env}, check=False
        ).returncode
        if returncode != 0:
            raise RuntimeError(f"command exited with code {returncode}: {' '.join(self.argv)}")
        return returncode


@dataclass(frozen=True)
class JobRecord:
    """What finds a submitted job again, from any process: SLURM's job id and submitit's folder.

    Args:
        job_id: SLURM job id; ``<array job>_<task>`` for a job-array task.
        folder: Submitit's folder for the job (pickles and ``<id>_<task>_log.{out,err}``).
    """

    job_id: str
    folder: str

    def to_dict(self) -> dict[str, str]:
        """The record as JSON-ready data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobRecord:
        """A record from :meth:`to_dict`'s output."""
        return cls(job_id=str(data["job_id"]), folder=str(data["folder"]))

    def job(self) -> submitit.SlurmJob:
        """Submitit's handle of the job (paths, result), attached by id."""
        return submitit.SlurmJob(folder=self.folder, job_id=self.job_id)


@dataclass(frozen=True)
class JobStatus:
    """Where a job stands, from the scheduler and the job's files.

    Args:
        record: The job.
        state: ``pending``, ``running``, ``completed``, ``failed`` or ``unknown``.
        slurm_state: SLURM's own state name (``TIMEOUT``, ``CANCELLED`` ...), None when the
            scheduler no longer knows the job.
        reason: SLURM's reason (why pending, why failed), or "".
        stdout: The job's (first task's) stdout file.
        stderr: The job's (first task's) stderr file: what a failed point shows.
    """

    record: JobRecord
    state: JobState
    slurm_state: str | None
    reason: str
    stdout: Path
    stderr: Path


def _outcome(job: submitit.SlurmJob) -> JobState:
    """``completed``/``failed`` from submitit's result file, ``unknown`` without one."""
    if not job.paths.result_pickle.exists():
        return "unknown"
    outcome, _ = submitit.core.utils.pickle_load(job.paths.result_pickle)
    return "completed" if outcome == "success" else "failed"


def job_status(records: Sequence[JobRecord]) -> list[JobStatus]:
    """The status of each job (one ``squeue`` call, plus ``sacct`` for jobs it lost)."""
    known = query_states(r.job_id for r in records)
    statuses = []
    for record in records:
        job = record.job()
        raw, reason = known.get(record.job_id, (None, ""))
        state = slurm_state(raw) if raw is not None else _outcome(job)
        if state == "completed" and _outcome(job) == "failed":
            state = "failed"  # the task ended cleanly but submitit recorded an exception
        statuses.append(
            JobStatus(record, state, raw, "" if reason == "None" else reason,
                      job.paths.stdout, job.paths.stderr)
        )  # fmt: skip
    return statuses


def ddp_parameters(devices: int, num_nodes: int = 1, gpus: bool = True) -> dict[str, int]:
    """Submitit parameters for a fit on ``trainer.devices`` x ``trainer.num_nodes``.

    One task per device (SLURM starts every DDP process; Lightning checks that
    ``--ntasks-per-node`` equals ``trainer.devices``), and on GPUs as many GPUs per node.

    Example:
        >>> ddp_parameters(4, num_nodes=2)
        {'nodes': 2, 'tasks_per_node': 4, 'gpus_per_node': 4}
        >>> ddp_parameters(2, gpus=False)
        {'nodes': 1, 'tasks_per_node': 2}
    """
    if devices < 1 or num_nodes < 1:
        raise ValueError(f"devices and num_nodes must be >= 1, got {devices} and {num_nodes}")
    parameters = {"nodes": num_nodes, "tasks_per_node": devices}
    return {**parameters, "gpus_per_node": devices} if gpus else parameters


def submit(
    commands: Sequence[Sequence[str]],
    folder: str | Path,
    cwd: str | Path,
    parameters: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> list[JobRecord]:
    """Submit one job per command; several commands go as one job array.

    Args:
        commands: Commands to run, one job (array task) each.
        folder: Submitit's folder (on a file system the compute nodes share).
        cwd: Working directory of the commands.
        parameters: Submitit ``AutoExecutor`` parameters: ``timeout_min``, ``slurm_partition``,
            ``cpus_per_task``, ``gpus_per_node``, ``tasks_per_node``, ``nodes``, ``mem_gb``,
            ``slurm_array_parallelism``, ``slurm_additional_parameters`` (any other sbatch
            directive), ``slurm_setup`` (shell lines before the job's command), ...
        env: Variables set for the commands on top of the job's environment.

    Returns:
        The jobs, in the order of ``commands``.
    """
    return submit_jobs([FitJob(c, cwd, env) for c in commands], folder, parameters)


def submit_jobs(
    jobs: Sequence[FitJob], folder: str | Path, parameters: Mapping[str, Any] | None = None
) -> list[JobRecord]:
    """Submit one SLURM job per :class:`FitJob` (several: one job array); see :func:`submit`."""
    if not jobs:
        return []
    executor = submitit.AutoExecutor(folder=str(folder), cluster="slurm")
    executor.update_parameters(**dict(parameters or {}))
    return [JobRecord(job.job_id, str(folder)) for job in executor.submit_array(list(jobs))]


def wait(records: Sequence[JobRecord], timeout_s: float, poll_s: float = 1.0) -> list[JobStatus]:
    """Poll :func:`job_status` until every job is in a final state (or ``timeout_s`` passed).

    Raises:
        TimeoutError: Some job is not in a final state after ``timeout_s``.

    Returns:
        The final statuses, in the order of ``records``.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        statuses = job_status(records)
        if all(s.state in FINAL_STATES for s in statuses):
            return statuses
        if time.monotonic() > deadline:
            pending = {s.record.job_id: s.slurm_state for s in statuses}
            raise TimeoutError(f"SLURM jobs not done after {timeout_s:.0f} s: {pending}")
        time.sleep(poll_s)
