"""The attacks a sweep's points run, by name: what a claim's ``attack`` selectors may name.

Each point runs its base fit config's ``mia.attacks`` (the ``default`` preset when it sets
none), or the point's own ``mia.attacks`` override (``fixed``, ``points`` or ``grid``), built
as the ``fit`` command builds them (:meth:`~lightning_snnpriv.attacks.Audit.from_config`), so
a name here is the name of the records the point writes (``shokri``, ``shokri_balanced``,
``lira_online``, ...).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from lightning_snnpriv.errors import ConfigError
from lightning_snnpriv.runs import yaml_files

__all__ = ["ATTACKS_KEY", "study_attacks"]

#: The override key of a run's attacks.
ATTACKS_KEY = "mia.attacks"


def _names(specs: Any, where: str) -> tuple[str, ...]:
    from jsonargparse import ArgumentError

    from lightning_snnpriv.attacks.audit import Audit

    specs = copy.deepcopy(specs)  # jsonargparse turns the mappings it parses into namespaces
    section = {} if specs is None else {"attacks": [specs] if isinstance(specs, str) else specs}
    try:
        return tuple(a.name for a in Audit.from_config(section).attacks)
    except ArgumentError as err:
        raise ConfigError(
            f"{where}: `{ATTACKS_KEY}` does not build ({str(err).splitlines()[0]}); give attack "
            "names (`shokri`, `shokri_balanced`, ...) or class_path entries."
        ) from err


def study_attacks(spec: Any) -> dict[str, tuple[str, ...]]:
    """The attacks every point of a sweep runs: point name -> attack names, in order.

    ``spec`` is a :class:`~lightning_snnpriv.sweeps.spec.SweepSpec` (not imported: ``load_spec``
    calls this function, and imports point one way).

    Raises:
        ConfigError: When a point's attacks do not build (an unknown name, a bad setting, two
            attacks sharing a name), naming the base config or the sweep file.
    """
    bases: dict[str, Any] = {}
    built: dict[str, tuple[str, ...]] = {}
    out = {}
    for point in spec.expand():
        base = point.base
        if ATTACKS_KEY in point.overrides:
            specs, where = point.overrides[ATTACKS_KEY], f"{spec.path}"
        else:
            if base not in bases:
                config = yaml_files.read(spec.base_path(base), field="base")
                bases[base] = (config.get("mia") or {}).get("attacks")
            specs, where = bases[base], f"{spec.base_path(base)}"
        key = json.dumps([where, specs], sort_keys=True, default=str)
        if key not in built:
            built[key] = _names(specs, where)
        out[point.name] = built[key]
    return out
