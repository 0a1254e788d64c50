"""Attacks by name, and the one set of default attacks every command uses.

Configs and commands can name attacks instead of writing ``class_path`` entries:
``mia.attacks: [loss, lira_online, rmia_online]``. A name is either an attack's own ``name``
(``lira_offline_fixvar``: the class with the settings that give it that name), the short name
of a class (``lira``: the class with its defaults), or a preset (a tuple of names, expanded in
place). Adding a preset is one entry in :data:`PRESETS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from lightning_snnpriv.attacks.attack_r import ReferenceAttack
from lightning_snnpriv.attacks.base import Attack
from lightning_snnpriv.attacks.lira import LiRAAttack
from lightning_snnpriv.attacks.rmia import RMIAAttack
from lightning_snnpriv.attacks.shadow import ShokriAttack
from lightning_snnpriv.attacks.threshold import (
    ConfidenceAttack,
    EntropyAttack,
    GapAttack,
    LossAttack,
    ModifiedEntropyAttack,
)
from lightning_snnpriv.errors import ConfigError

__all__ = [
    "ATTACK_CLASSES",
    "DEFAULT_PRESET",
    "NAMED_ATTACKS",
    "PRESETS",
    "AttackName",
    "build_attacks",
]

#: One short name per attack class: that class with its defaults (``attack --attacks lira``).
ATTACK_CLASSES: dict[str, type[Attack]] = {
    "loss": LossAttack,
    "confidence": ConfidenceAttack,
    "entropy": EntropyAttack,
    "modified_entropy": ModifiedEntropyAttack,
    "gap": GapAttack,
    "shokri": ShokriAttack,
    "lira": LiRAAttack,
    "rmia": RMIAAttack,
    "reference": ReferenceAttack,
}

#: Settings whose attacks are also known by their own name (``lira_online``, ``rmia_offline``).
_VARIANTS: tuple[tuple[type[Attack], dict[str, Any]], ...] = (
    *((LiRAAttack, {"online": o, "fix_variance": f}) for o in (True, False) for f in (False, True)),
    *((RMIAAttack, {"online": o}) for o in (True, False)),
)

#: Name -> (class, constructor arguments).
NAMED_ATTACKS: dict[str, tuple[type[Attack], dict[str, Any]]] = {
    **{name: (cls, {}) for name, cls in ATTACK_CLASSES.items()},
    **{cls(**kwargs).name: (cls, kwargs) for cls, kwargs in _VARIANTS},
}

#: The preset used when no attacks are given: the loss-threshold attack and the source study's
#: Shokri attack (a per-class RBF SVM).
DEFAULT_PRESET = "default"

#: Preset name -> the attack names it stands for.
PRESETS: dict[str, tuple[str, ...]] = {DEFAULT_PRESET: ("loss", "shokri")}

assert not set(PRESETS) & set(NAMED_ATTACKS)
assert all(set(names) <= set(NAMED_ATTACKS) for names in PRESETS.values())

#: Every name ``mia.attacks`` accepts besides ``class_path`` entries.
AttackName = Literal[tuple(NAMED_ATTACKS) + tuple(PRESETS)]  # type: ignore[valid-type]


def build_attacks(specs: Sequence[Attack | str] | None = None) -> list[Attack]:
    """Attacks from a list of attack objects and names (``None``: the default preset).

    Raises:
        ConfigError: On an unknown name, or two attacks with the same name.

    Example:
        >>> [a.name for a in build_attacks(["loss", "lira_offline_fixvar", "rmia"])]
        ['loss', 'lira_offline_fixvar', 'rmia_offline']
        >>> [a.name for a in build_attacks()]
        ['loss', 'shokri']
    """
    attacks: list[Attack] = []
    for spec in [DEFAULT_PRESET] if specs is None else specs:
        if isinstance(spec, Attack):
            attacks.append(spec)
        elif spec in PRESETS:
            attacks += build_attacks(PRESETS[spec])
        elif spec in NAMED_ATTACKS:
            cls, kwargs = NAMED_ATTACKS[spec]
            attacks.append(cls(**kwargs))
        else:
            raise ConfigError(
                f"`mia.attacks`: unknown attack {spec!r}; the names are "
                f"{sorted(NAMED_ATTACKS)}, the presets {sorted(PRESETS)}, or give a class_path "
                "entry (lightning_snnpriv.attacks.<Class> with its init_args)."
            )
    names = [attack.name for attack in attacks]
    if len(set(names)) != len(names):
        raise ConfigError(f"`mia.attacks`: attack names must be unique, got {names}.")
    return attacks
