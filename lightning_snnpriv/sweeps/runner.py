"""Running a sweep's points: the fit command of a point, and launchers that execute them.

Each point is an ordinary ``python -m lightning_snnpriv fit --config <base> --key=value ...``
process logging into its point directory, so a crash in one point loses nothing else. A
launcher takes the points to run and returns one attempt record per point it ran:
:class:`LocalLauncher` runs them as subprocesses of this machine, ``jobs`` at a time (through
an :data:`Execute`: :mod:`.pool_launcher` forks them from workers that did the imports). A
scheduler (a SLURM array, GNU parallel) runs :func:`worker_command` of each point instead:
``sweep --only <id> --no-report``, which runs that one point here, with the same bookkeeping.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, Protocol

import lightning_snnpriv
from lightning_snnpriv.runs import RESULTS_FILE
from lightning_snnpriv.runs.files import write_json
from lightning_snnpriv.runs.resume import versions
from lightning_snnpriv.sweeps.layout import SweepDir
from lightning_snnpriv.sweeps.point_lock import PointHeld, hold_point, note
from lightning_snnpriv.sweeps.spec import CONFIG_KEY, Point, SweepSpec, format_value

#: Lines of a failed point's stderr kept as its error in the results table.
ERROR_LINES = 6


def fit_command(spec: SweepSpec, point: Point, python: str = sys.executable) -> list[str]:
    """The ``fit`` command of a point, logging into ``<sweep_dir>/runs/<point name>``."""
    runs = SweepDir(spec.sweep_dir).runs_dir.resolve()
    args = [python, "-m", "lightning_snnpriv", "fit", "--config"]
    args.append(str(spec.base_path(point.overrides[CONFIG_KEY])))
    args += [f"--{k}={format_value(v)}" for k, v in point.overrides.items() if k != CONFIG_KEY]
    args += [
        f"--trainer.logger.init_args.save_dir={runs}",
        f"--trainer.logger.init_args.name={point.name}",
    ]
    return args


def worker_command(spec: SweepSpec, point: Point, python: str = sys.executable) -> str:
    """A shell command that runs one point with the sweep's bookkeeping (for a scheduler)."""
    config = shlex.quote(str(spec.path))
    out = shlex.quote(str(spec.sweep_dir.parent))
    return (
        f"cd {shlex.quote(os.getcwd())} && {shlex.quote(python)} -m lightning_snnpriv sweep "
        f"--config {config} --output-dir {out} --only {point.id} --no-report --launcher local"
    )


def tail(text: str, lines: int = ERROR_LINES) -> str:
    r"""The last non-empty lines of a log (progress-bar carriage returns split lines too).

    Example:
        >>> tail("a\nb\r c\n\nerror: bad value\n", lines=2)
        'c\nerror: bad value'
    """
    kept = [line.strip() for line in text.replace("\r", "\n").splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


#: Runs a point's command: ``(command, stdout, stderr, env, cwd) -> exit code``.
Execute = Callable[[list[str], IO[str], IO[str], dict[str, str], str], int]


#: Thread-count variables of the math libraries torch uses (OpenMP, MKL).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def threads_per_point(jobs: int) -> int:
    """CPU threads for each of ``jobs`` points run at once: this process's CPUs shared out.

    Without a limit every point's torch starts one OpenMP thread per CPU, so ``jobs`` points
    oversubscribe the machine ``jobs`` times, and the threads' spinning while they wait for each
    other can cost more CPU time than the work itself (``docs/guide/sweeps.md``).

    Example:
        >>> threads_per_point(10 ** 6)
        1
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, cpus // max(1, jobs))


def point_env(threads: int | None = None) -> dict[str, str]:
    """The environment of a point's process: this one's, with this package first on the path.

    Args:
        threads: Threads of the point's math libraries (:data:`THREAD_VARIABLES`), unless this
            environment sets them already (a user's own setting wins); ``None`` leaves them.
    """
    env = dict(os.environ)
    package_root = str(Path(lightning_snnpriv.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    if threads is not None:
        for name in THREAD_VARIABLES:
            env.setdefault(name, str(threads))
    return env


def run_point(
    spec: SweepSpec, point: Point, execute: Execute | None = None, threads: int | None = None
) -> dict[str, Any]:
    """Run one point's fit; write and return its attempt record.

    The point's lock (:mod:`.point_lock`) is held meanwhile: a point another live process
    runs is not started (a ``held`` record, not written). By default (``execute`` None) the fit
    is a subprocess that inherits the lock and dies with this process; another ``execute``
    (the pool launcher's) runs the command its own way while this process holds the lock.
    ``threads``: the point's math-library threads (:func:`point_env`).
    """
    directory = SweepDir(spec.sweep_dir).point_dir(point.name)
    try:
        with hold_point(directory) as lock:
            return _run_held_point(spec, point, lock, execute, point_env(threads))
    except PointHeld as held:
        return {"point_id": point.id, "point": point.name, "status": "held",
                "error": str(held), "holder": held.holder}  # fmt: skip


def _run_held_point(
    spec: SweepSpec, point: Point, lock: int, execute: Execute | None, env: dict[str, str]
) -> dict[str, Any]:
    sweep = SweepDir(spec.sweep_dir)
    directory = sweep.point_dir(point.name)
    number, record_path, out_path, err_path = sweep.new_attempt(point.name)
    command = fit_command(spec, point)
    before = {run.path.name for run in versions(directory)}
    started = time.time()
    with open(out_path, "x") as out, open(err_path, "x") as err:
        if execute is None:
            returncode = _run_child(command, lock, stdout=out, stderr=err, env=env,
                                    cwd=os.getcwd())  # fmt: skip
        else:
            returncode = execute(command, out, err, env, os.getcwd())
    wall = time.time() - started
    created = [run for run in versions(directory) if run.path.name not in before]
    run = created[0] if created else None  # the newest new version
    done = run is not None and run.is_complete
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
        "run_dir": str(run) if run else None,
        "command": shlex.join(command),
        "stdout": str(out_path),
        "stderr": str(err_path),
        "error": error,
    }
    write_json(record_path, record)
    return record


#: The fits running now (signals to this process are forwarded to them).
_CHILDREN: set[subprocess.Popen] = set()
_CHILDREN_LOCK = threading.Lock()
#: Set by a forwarded SIGTERM/SIGINT: no further point starts.
_STOPPING = threading.Event()
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> Callable[[], None]:
    """``preexec_fn``: the child gets SIGKILL when this process dies (Linux ``prctl``)."""

    def preexec() -> None:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def _run_child(command: list[str], lock: int, **kwargs: Any) -> int:
    """Run the fit as a child that holds the point's lock and dies with this process."""
    preexec = _die_with_parent(os.getpid()) if sys.platform == "linux" else None
    with warnings.catch_warnings():  # preexec_fn with threads: ours makes no Python locks
        warnings.simplefilter("ignore", RuntimeWarning)
        child = subprocess.Popen(command, pass_fds=(lock,), preexec_fn=preexec, **kwargs)
    note(lock, {"fit_pid": child.pid})
    with _CHILDREN_LOCK:
        _CHILDREN.add(child)
    try:
        return child.wait()
    finally:
        with _CHILDREN_LOCK:
            _CHILDREN.discard(child)


@contextlib.contextmanager
def forwarding_signals() -> Iterator[None]:
    """While the block runs, SIGTERM and SIGINT go to the running fits and stop new starts.

    Only in the main thread (where Python runs signal handlers); the previous handlers come
    back afterwards, and the launcher exits with ``128 + signal`` once its fits ended.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def forward(signum: int, _frame: Any) -> None:
        received.append(signum)
        _STOPPING.set()
        with _CHILDREN_LOCK:
            for child in _CHILDREN:
                with contextlib.suppress(ProcessLookupError):
                    child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    _STOPPING.clear()
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        raise SystemExit(128 + received[0])


class Launcher(Protocol):
    """Runs points of a sweep and returns an attempt record of each point it ran."""

    def launch(
        self,
        spec: SweepSpec,
        points: Sequence[Point],
        report: Callable[[str], None] = print,
    ) -> list[dict[str, Any]]:
        """Run ``points``; ``report`` receives one progress line per start and end."""
        ...


class LocalLauncher:
    """Runs each point's fit as a subprocess of this machine, ``jobs`` points at a time.

    The points share the CPUs: each runs with :func:`threads_per_point` math-library threads
    (``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``) unless the environment sets them.

    Args:
        jobs: Points run at once (>= 1).
        execute: How a point's command runs (a new process by default; the pool launcher
            forks it from a process that has the imports done).
    """

    def __init__(self, jobs: int = 1, execute: Execute | None = None) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        self.jobs = jobs
        self.execute = execute

    def launch(
        self,
        spec: SweepSpec,
        points: Sequence[Point],
        report: Callable[[str], None] = print,
    ) -> list[dict[str, Any]]:
        """Run the points; return their attempt records in the points' order."""
        threads = threads_per_point(min(self.jobs, max(1, len(points))))

        def one(i_point: tuple[int, Point]) -> dict[str, Any]:
            i, point = i_point
            if _STOPPING.is_set():
                return {"point_id": point.id, "point": point.name, "status": "stopped",
                        "error": "the sweep was stopped before this point started"}  # fmt: skip
            report(f"[{i + 1}/{len(points)}] start  {point.name}")
            record = run_point(spec, point, self.execute, threads)
            if record["status"] == "held":
                report(f"[{i + 1}/{len(points)}] held     {record['error']}")
                return record
            report(
                f"[{i + 1}/{len(points)}] {record['status']:<8} {point.name} "
                f"({record['wall_s']:.0f} s)"
            )
            return record

        with forwarding_signals(), ThreadPoolExecutor(max_workers=self.jobs) as pool:
            return list(pool.map(one, enumerate(points)))
