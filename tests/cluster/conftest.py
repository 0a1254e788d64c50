"""The real SLURM cluster the tests in this directory submit to (``.ci/slurm.sh up`` starts one).

Without a usable cluster the tests that need it are skipped with the reason, unless
``SNNPRIV_REQUIRE_SLURM=1`` (set by ``.ci/run``) says it must be there: then its absence fails
them, so CI can never pass with the cluster checks silently left out.
"""

import os
import subprocess

import pytest

from lightning_snnpriv.cluster import slurm_unavailable

REQUIRE_VARIABLE = "SNNPRIV_REQUIRE_SLURM"
#: Node states (``sinfo %T``) in which a node takes new jobs now.
READY_STATES = ("idle", "mixed")


def cluster_problem() -> str | None:
    """Why this machine has no usable SLURM cluster, or None."""
    reason = slurm_unavailable()
    if reason is not None:
        return reason
    sinfo = subprocess.run(
        ["sinfo", "--noheader", "--format=%N %T"], capture_output=True, text=True, timeout=60
    )
    nodes = [line.split() for line in sinfo.stdout.splitlines() if line.strip()]
    if sinfo.returncode != 0 or not any(state.startswith(READY_STATES) for _, state in nodes):
        return f"no node is idle: sinfo says {sinfo.stdout.strip() or sinfo.stderr.strip()!r}"
    return None


@pytest.fixture(scope="session")
def slurm() -> None:
    """Skip (or, with SNNPRIV_REQUIRE_SLURM=1, fail) when there is no usable cluster."""
    problem = cluster_problem()
    if problem is None:
        return
    if os.environ.get(REQUIRE_VARIABLE) == "1":
        pytest.fail(f"{REQUIRE_VARIABLE}=1 but SLURM is not usable: {problem}")
    pytest.skip(f"no SLURM cluster here ({problem}); `.ci/slurm.sh up` starts one")
