"""The real SLURM cluster that tests/cluster submits to (``.ci/slurm.sh up`` starts one).

The ``slurm`` fixture of ``tests/conftest.py`` calls :func:`require_slurm`. Without a usable
cluster the tests that need it are skipped with the reason, unless ``SNNPRIV_REQUIRE_SLURM=1``
(set by ``.ci/run``) says it must be there: then its absence fails them, so CI can never pass
with the cluster checks silently left out. They submit only to the local test cluster
(``ClusterName=snnpriv``), never by surprise to a real cluster that the machine running the
tests (a login node) belongs to; ``SNNPRIV_SLURM_TESTS=1`` allows that.
"""

import os
import subprocess

import pytest

from lightning_snnpriv.sweeps.cluster import slurm_unavailable

REQUIRE_VARIABLE = "SNNPRIV_REQUIRE_SLURM"
ANY_CLUSTER_VARIABLE = "SNNPRIV_SLURM_TESTS"
LOCAL_CLUSTER = "snnpriv"  # the ClusterName .ci/slurm.sh writes
#: Node states (``sinfo %T``) in which a node takes new jobs now; a suffix (``idle*``: not
#: responding, ``idle~``: powered off, ``drain`` ...) means it does not.
READY_STATES = ("idle", "mixed")


def _output(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def cluster_problem() -> str | None:
    """Why this machine has no SLURM cluster the tests may use, or None."""
    reason = slurm_unavailable()
    if reason is not None:
        return reason
    config = _output(["scontrol", "show", "config"]).stdout
    names = [line.split("=", 1)[1].strip() for line in config.splitlines()
             if line.startswith("ClusterName")]  # fmt: skip
    if names != [LOCAL_CLUSTER] and os.environ.get(ANY_CLUSTER_VARIABLE) != "1":
        return (
            f"SLURM here is cluster {names}, not the local test cluster '{LOCAL_CLUSTER}'; "
            f"{ANY_CLUSTER_VARIABLE}=1 submits the tests' jobs to it"
        )
    sinfo = _output(["sinfo", "--noheader", "--format=%N %T"])
    nodes = [line.split() for line in sinfo.stdout.splitlines() if line.strip()]
    if sinfo.returncode != 0 or not any(state in READY_STATES for _, state in nodes):
        return f"no node is idle: sinfo says {sinfo.stdout.strip() or sinfo.stderr.strip()!r}"
    return None


def require_slurm() -> None:
    """Skip (or, with SNNPRIV_REQUIRE_SLURM=1, fail) when there is no usable cluster."""
    problem = cluster_problem()
    if problem is None:
        return
    if os.environ.get(REQUIRE_VARIABLE) == "1":
        pytest.fail(f"{REQUIRE_VARIABLE}=1 but SLURM is not usable: {problem}")
    pytest.skip(f"no SLURM cluster here ({problem}); `.ci/slurm.sh up` starts one")
