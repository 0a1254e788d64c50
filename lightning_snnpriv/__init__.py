"""Membership-inference audits of spiking and conventional networks on PyTorch Lightning.

The Python API (:mod:`lightning_snnpriv.api`) is available from the package itself, imported
on first use (``import lightning_snnpriv`` stays cheap): ``lightning_snnpriv.fit``,
``lightning_snnpriv.audit``, ``lightning_snnpriv.audit_run``.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

#: The names of :mod:`lightning_snnpriv.api` the package exports.
API = ("FitResult", "audit", "audit_run", "fit", "load_config")
__all__ = ["__version__", *API]


def __getattr__(name: str) -> Any:
    """``lightning_snnpriv.fit`` & co.: the API's functions, imported on first use."""
    if name in API:
        from lightning_snnpriv import api

        return getattr(api, name)
    raise AttributeError(f"module 'lightning_snnpriv' has no attribute {name!r}")
