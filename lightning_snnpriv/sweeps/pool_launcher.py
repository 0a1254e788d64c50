"""Sweep points without start-up: each point forked from a worker that has the imports done.

A new ``python -m lightning_snnpriv fit`` process spends seconds importing torch, Lightning,
snntorch, brevitas, scikit-learn and TensorBoard before any work. :class:`PoolLauncher` starts
``jobs`` long-lived worker processes once per sweep; each imports what a fit imports and then
waits for point commands on its stdin. For every point it forks a child: the child is a copy of
the worker as it was after its imports (never of an earlier point: the worker itself runs no
point), sends its stdout and stderr to the point's attempt files, takes the sweep's working
directory and environment, and runs the point's own command line (``python -m lightning_snnpriv
fit ...``, via :func:`runpy.run_module`, as ``python -m`` does). So each point starts from the
same state as a new process (seed, RNG states, loggers, snntorch's neuron list, torch's global
flags, warnings filters, ``os.environ``, the working directory), exits with the same code, and
whatever it changes or crashes dies with its child. A worker that dies is replaced for the next
point.

The bookkeeping (attempt records, run directories, error tails) is :mod:`.runner`'s, shared
with :class:`~lightning_snnpriv.sweeps.runner.LocalLauncher`; only how a command runs differs.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import gc
import importlib
import json
import os
import queue
import runpy
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import IO, Any, NoReturn

from lightning_snnpriv.sweeps.runner import LocalLauncher, point_env, tail, threads_per_point
from lightning_snnpriv.sweeps.spec import Point, SweepSpec

#: What a worker imports before its first point: what ``fit`` imports, including the modules
#: it imports only once running (the fit parser lists every command; the TensorBoard logger;
#: the attacks' classifiers). A module missing here is imported by each point (slower only).
PRELOAD = (
    "lightning_snnpriv.commands.fit",
    "lightning_snnpriv.commands.registry",
    "lightning_snnpriv.commands.attack",
    "lightning_snnpriv.commands.sweep",
    "lightning_snnpriv.commands.report",
    "lightning_snnpriv.commands.describe",
    "torch.utils.tensorboard",
    "tensorboard.compat.tensorflow_stub",
    "sklearn.svm",
    "sklearn.linear_model",
)
#: The worker's entry point: ``python -m <this module>``.
WORKER_MODULE = __name__


class Worker:
    """One long-lived worker process: imports once, then forks a child per point command.

    Args:
        env: The worker's environment (the points' environment at the sweep's start).
    """

    def __init__(self, env: dict[str, str]) -> None:
        self.log = tempfile.TemporaryFile(mode="w+", prefix="snnpriv-worker-")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=env,
            text=True,
        )

    def run(self, command: list[str], out: IO[str], err: IO[str], env: dict[str, str],
            cwd: str) -> int:  # fmt: skip
        """Run ``command`` in a child of this worker; its exit code (negative: killed by signal).

        Raises:
            WorkerDied: The worker ended before answering (its log's tail is the message).
        """
        out.flush()
        err.flush()
        request = {"command": command, "stdout": out.name, "stderr": err.name,
                   "env": env, "cwd": cwd}  # fmt: skip
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            self.process.wait()
            self.log.seek(0)
            why = tail(self.log.read()) or f"exit code {self.process.returncode}"
            raise WorkerDied(f"the sweep's worker process ended while starting a point:\n{why}")
        return int(json.loads(line)["returncode"])

    @property
    def alive(self) -> bool:
        """Whether the worker process is still running."""
        return self.process.poll() is None

    def close(self) -> None:
        """End the worker (it exits when its stdin closes) and remove its log."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(OSError):  # the worker already gone
                self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.log.close()


class WorkerDied(RuntimeError):
    """A worker process ended without answering a point command."""


class WorkerPool:
    """``size`` workers started at once; :meth:`execute` runs a command on a free one.

    :meth:`execute` is a :data:`~lightning_snnpriv.sweeps.runner.Execute`: called from up to
    ``size`` threads at once, each takes a worker, and a worker that died is replaced.

    Args:
        size: Number of workers (the points run at once).
    """

    def __init__(self, size: int) -> None:
        self.env = point_env(threads_per_point(size))
        self.idle: queue.Queue[Worker] = queue.Queue()
        self.workers: list[Worker] = []
        for _ in range(size):
            self._add()

    def _add(self) -> None:
        worker = Worker(self.env)
        self.workers.append(worker)
        self.idle.put(worker)

    def execute(self, command: list[str], out: IO[str], err: IO[str], env: dict[str, str],
                cwd: str) -> int:  # fmt: skip
        """Run ``command`` on a free worker; the worker is replaced when it died meanwhile."""
        worker = self.idle.get()
        try:
            return worker.run(command, out, err, env, cwd)
        except WorkerDied as died:
            err.write(f"{died}\n")
            err.flush()
            return 1
        finally:
            if worker.alive:
                self.idle.put(worker)
            else:
                worker.close()
                self._add()

    def close(self) -> None:
        """End every worker."""
        for worker in self.workers:
            worker.close()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:  # fmt: skip
        self.close()


class PoolLauncher:
    """Runs each point forked from one of ``jobs`` workers that did the imports once.

    The same points, attempt records, files and exit codes as
    :class:`~lightning_snnpriv.sweeps.runner.LocalLauncher`, without a new interpreter's
    start-up per point (see the module docstring for what keeps points apart).

    Args:
        jobs: Points run at once (>= 1), and the number of workers.
    """

    def __init__(self, jobs: int = 1) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        self.jobs = jobs

    def launch(
        self,
        spec: SweepSpec,
        points: Sequence[Point],
        report: Callable[[str], None] = print,
    ) -> list[dict[str, Any]]:
        """Run the points; return their attempt records in the points' order."""
        if not points:
            return []
        with WorkerPool(min(self.jobs, len(points))) as pool:
            return LocalLauncher(self.jobs, execute=pool.execute).launch(spec, points, report)


# ----------------------------------------------------------------------------- the worker


def serve() -> None:
    """The worker: import :data:`PRELOAD`, then fork one child per request line on stdin.

    The requests come on stdin and the replies go to stdout; both are moved to other file
    descriptors first, so whatever an import prints cannot garble them and a child does not
    inherit them.
    """
    requests = os.fdopen(os.dup(0), "r")
    replies = os.fdopen(os.dup(1), "w")
    _redirect(os.devnull, sys.stderr.fileno())
    for name in PRELOAD:
        with contextlib.suppress(ImportError):  # an optional library not installed
            importlib.import_module(name)
    gc.freeze()  # the imports' objects: never collected, so a child's collections copy no page
    for line in requests:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            requests.close()
            replies.close()
            _exit(_exit_code(functools.partial(_run_point, request)))
        _, status = os.waitpid(pid, 0)
        replies.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")
        replies.flush()


def _exit_code(run: Callable[[], None]) -> int:
    """Run ``run``; the exit code the interpreter would give, printing what it would print."""
    try:
        run()
    except SystemExit as exit_:
        if exit_.code is None or isinstance(exit_.code, int):
            return exit_.code or 0
        print(exit_.code, file=sys.stderr)
        return 1
    except BaseException:
        sys.excepthook(*sys.exc_info())
        return 1
    return 0


def _exit(code: int) -> NoReturn:
    """End the child as the interpreter ends a process, less the teardown of its modules.

    As at any exit, non-daemon threads are joined, the ``atexit`` functions run and the standard
    streams are flushed; then ``os._exit``: tearing down the imports of a forked child costs
    seconds of CPU (each page it touches is copied first) and frees nothing the kernel does not.
    """
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _redirect(stdin: str, stdout: int) -> None:
    """Point file descriptor 0 at ``stdin`` and 1 at ``stdout`` (2 is left alone)."""
    fd = os.open(stdin, os.O_RDONLY)
    os.dup2(fd, 0)
    os.close(fd)
    os.dup2(stdout, 1)


def _run_point(request: dict[str, Any]) -> None:
    """In the forked child: take the point's files, directory and environment; run its command.

    ``python -m <module> args...`` runs as ``runpy.run_module(<module>, "__main__")`` with
    ``sys.argv`` set as that process would have it; its ``SystemExit`` or exception gives the
    exit code (:func:`_exit_code`).
    """
    for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
        file = os.open(path, os.O_WRONLY | os.O_APPEND)
        os.dup2(file, fd)
        os.close(file)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    command = request["command"]
    if command[1:2] != ["-m"]:
        raise ValueError(f"a worker runs `python -m <module> ...` commands, got {command}")
    sys.argv = [command[2], *command[3:]]
    runpy.run_module(command[2], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    serve()
