"""The membership plan's file format (``membership.npz``): keep, audit, scheme, seed, digest.

:class:`~lightning_snnpriv.runs.run_dir.RunDir` names the file; this module writes it once and
reads it back checked (no pickles, the digest compared with the contents).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lightning_snnpriv.errors import UsageError
from lightning_snnpriv.runs.files import first_line, write_new

if TYPE_CHECKING:
    from lightning_snnpriv.data.membership import MembershipPlan


def save_plan(path: str | Path, plan: MembershipPlan) -> Path:
    """Write a plan as ``.npz`` (keep, audit, scheme, seed, digest); never overwrites."""
    return write_new(
        path,
        lambda f: np.savez(
            f,
            keep=plan.keep,
            audit=plan.audit,
            scheme=np.array(plan.scheme),
            seed=np.array(plan.seed),
            digest=np.array(plan.digest()),
        ),
    )


def load_plan(path: str | Path) -> MembershipPlan:
    """Read a plan written by :func:`save_plan` and check its digest against its contents."""
    from lightning_snnpriv.data.membership import MembershipPlan

    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            plan = MembershipPlan(
                keep=f["keep"].astype(bool),
                audit=f["audit"].astype(bool),
                scheme=str(f["scheme"]),
                seed=int(f["seed"]),
            )
            digest = str(f["digest"])
    except Exception as err:  # numpy raises many types for truncated or foreign files
        raise UsageError(
            f"{path}: not a readable membership plan ({first_line(err)}); it is truncated or "
            "was not written by fit. Use an unmodified run directory, or re-run fit."
        ) from err
    if plan.digest() != digest:
        raise UsageError(f"{path}: the plan's contents do not match its stored digest.")
    return plan
