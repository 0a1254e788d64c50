"""Attacks by name, and the one set of default attacks every command uses.

Configs and commands can name attacks instead of writing ``class_path`` entries:
``mia.attacks: [loss, lira_online, rmia_online]``. A name is either an attack's own ``name``
(``lira_offline_fixvar``: the class with the settings that give it that name), the short name
of a class (the class with its defaults: ``lira`` is ``lira_online`` and ``rmia`` is
``rmia_online``, the attacks as their papers define them; ``_offline`` names the variant that
needs only OUT references; ``shokri_balanced`` is ``shokri`` trained on as many members as
non-members in every class, the source study's ANN attack), or a preset (a tuple of names,
expanded in place):

* ``default``: ``loss`` and ``shokri`` (every command's default, any scheme);
* ``paper``: ``shokri``, the source study's attack (per-class RBF SVM on the raw outputs);
* ``strong``: ``lira_online`` and ``rmia_online``, the strongest attacks here; they need IN and
  OUT references for every audited sample, i.e. ``data.init_args.scheme: lira``
  (:data:`PRESET_SCHEMES`; a run with another scheme is refused, naming the field).

Adding a preset is one entry in :data:`PRESETS` (and in :data:`PRESET_SCHEMES` if it needs a
scheme).
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
    "PRESET_SCHEMES",
    "AttackName",
    "build_attacks",
    "check_preset_schemes",
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
    (ShokriAttack, {"balance_per_class": True}),
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
PRESETS: dict[str, tuple[str, ...]] = {
    DEFAULT_PRESET: ("loss", "shokri"),
    "paper": ("shokri",),
    "strong": ("lira_online", "rmia_online"),
}

#: Presets that need one membership scheme (``data.init_args.scheme``), and why.
PRESET_SCHEMES: dict[str, tuple[str, str]] = {
    "strong": ("lira", "its online attacks need each audited sample IN for some reference "
               "models and OUT for others"),
}  # fmt: skip

assert not set(PRESETS) & set(NAMED_ATTACKS)
assert all(set(names) <= set(NAMED_ATTACKS) for names in PRESETS.values())
assert set(PRESET_SCHEMES) <= set(PRESETS)

#: Every name ``mia.attacks`` accepts besides ``class_path`` entries.
AttackName = Literal[tuple(NAMED_ATTACKS) + tuple(PRESETS)]  # type: ignore[valid-type]


def build_attacks(specs: Sequence[Attack | str] | None = None) -> list[Attack]:
    """Attacks from a list of attack objects and names (``None``: the default preset).

    An attack's name names its records, its metrics (``mia/<name>/auc``) and its report rows, so
    two attacks of one list must not share one.

    Raises:
        ConfigError: On an unknown name, or two attacks with the same name.

    Example:
        >>> [a.name for a in build_attacks(["loss", "lira_offline_fixvar", "rmia", "lira"])]
        ['loss', 'lira_offline_fixvar', 'rmia_online', 'lira_online']
        >>> [a.name for a in build_attacks(["shokri", "shokri_balanced"])]
        ['shokri', 'shokri_balanced']
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
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        given = "; ".join(repr(a) for a in attacks if a.name in twice)
        raise ConfigError(
            f"`mia.attacks`: attack names must be unique (a name labels the attack's records, "
            f"metrics and report rows); {', '.join(map(repr, twice))} is given more than once: "
            f"{given}. An attack's name comes from its class and the settings that make a named "
            f"variant ({', '.join(sorted(set(NAMED_ATTACKS) - set(ATTACK_CLASSES)))}); keep one "
            "of them, or run the other in a separate run."
        )
    return attacks


def check_preset_schemes(specs: Sequence[Attack | str] | None, scheme: str) -> None:
    """Refuse a preset among ``specs`` that needs another membership scheme than ``scheme``.

    Raises:
        ConfigError: Naming the preset, the field ``data.init_args.scheme`` and the fix.

    Example:
        >>> check_preset_schemes(["strong"], "lira")
        >>> check_preset_schemes(["loss", "strong"], "shokri")
        Traceback (most recent call last):
        ...
        lightning_snnpriv.errors.ConfigError: `mia.attacks`: the preset 'strong' (lira_online, rmia_online) needs data.init_args.scheme: lira (its online attacks need each audited sample IN for some reference models and OUT for others); this run's scheme is 'shokri'. Set data.init_args.scheme: lira (with data.init_args.num_shadows >= 3, an odd number), or choose attacks that work with 'shokri' (e.g. the preset default).
    """  # noqa: E501
    for spec in specs or ():
        if isinstance(spec, str) and spec in PRESET_SCHEMES:
            needed, why = PRESET_SCHEMES[spec]
            if scheme != needed:
                raise ConfigError(
                    f"`mia.attacks`: the preset {spec!r} ({', '.join(PRESETS[spec])}) needs "
                    f"data.init_args.scheme: {needed} ({why}); this run's scheme is {scheme!r}. "
                    f"Set data.init_args.scheme: {needed} (with data.init_args.num_shadows >= 3, "
                    f"an odd number), or choose attacks that work with {scheme!r} (e.g. the "
                    f"preset {DEFAULT_PRESET})."
                )
