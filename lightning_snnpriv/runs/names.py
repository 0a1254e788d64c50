"""Short, shell-safe names of runs and sweep points, made from their settings.

One vocabulary names both: a setting becomes one *token* (:func:`setting_token`), tokens are
joined by ``-``. Every token is made of ``[A-Za-z0-9._-]`` only, starts with a letter or a
digit and is at most :data:`MAX_TOKEN` characters:

| setting | token | example |
|---|---|---|
| ``config`` (a sweep's base) | the file's stem | ``breast_cancer_ann`` |
| ``*.class_path`` | the class, lower case, less ``Classifier``, ``DataModule``... | ``snn`` |
| ``*.weight_bits``, ``*.act_bits`` | ``w``/``a``, the bits (``full``: null) | ``w4``, ``afull`` |
| ``seed_everything`` | ``s`` and the seed | ``s0`` |
| ``*.scheme``, ``*.surrogate`` | the value | ``lira``, ``atan`` |
| ``*.num_shadows`` | ``m`` and the number of models (shadows + 1) | ``m16`` |
| a number, a list of them | the key's last part and the value | ``max_epochs5`` |
| a string | the key's last part, ``_``, the value | ``readout_rate`` |
| true, false or null | the key's last part, or ``no_`` and it | ``no_augment`` |
| other, or too long | the key's last part, ``_``, a hash | ``attacks_3fa2c1`` |

A sweep point's directory is its swept settings' tokens, cut to :data:`MAX_READABLE`
characters at a token boundary, then its id (a hash of all its settings, unique per point):
``breast_cancer_ann-w4-s0-5db2b34ea6`` (:func:`point_dir_name`). A run that ``fit`` names is
the config's logger name followed by the tokens of the settings changed from the config file
(:func:`run_name`). Hashes are SHA-1 of the settings as sorted JSON: the same in every process.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: Longest token (one setting).
MAX_TOKEN = 24
#: Longest readable part of a name (tokens and their ``-``), before a hash.
MAX_READABLE = 48
#: Hex digits of the hash added to a cut or unreadable part.
HASH_LENGTH = 6
#: Class-name endings left out of a class token (``SNNClassifier`` -> ``snn``).
CLASS_SUFFIXES = ("DataModule", "Classifier", "Attack", "Module", "Dataset")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def is_safe_name(name: str) -> bool:
    """Whether ``name`` is a shell-safe directory name: ``[A-Za-z0-9._-]``, no leading ``-``/``.``.

    Example:
        >>> is_safe_name("ann-w4-s0-5db2b34ea6"), is_safe_name("config=a,b"), is_safe_name("-x")
        (True, False, False)
    """
    return bool(_SAFE_NAME.fullmatch(name))


def settings_hash(value: Any, length: int = HASH_LENGTH) -> str:
    """A stable hex hash of settings (SHA-1 of sorted JSON; not Python's per-process ``hash``).

    Example:
        >>> settings_hash({"b": 1, "a": [2]}) == settings_hash({"a": [2], "b": 1})
        True
        >>> len(settings_hash("x", 10))
        10
    """
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:length]


def _clean(text: str) -> str:
    """``text`` with each run of other characters as ``_``, no ``_-.`` at either end."""
    return _UNSAFE.sub("_", text).strip("_-.")


def _scalar(value: Any) -> bool:
    return isinstance(value, int | float | str) and not isinstance(value, bool)


def _list_text(value: Any) -> str:
    return "_".join(_list_text(v) for v in value) if isinstance(value, list | tuple) else str(value)


def _class_token(path: str) -> str:
    name = path.rsplit(".", 1)[-1]
    for suffix in CLASS_SUFFIXES:
        if name.endswith(suffix) and name != suffix:
            name = name.removesuffix(suffix)
            break
    return name.lower()


def _generic_token(leaf: str, value: Any) -> str:
    if value is None or value is False:
        return f"no_{leaf}"
    if value is True:
        return leaf
    if isinstance(value, int | float):
        return f"{leaf}{value}"
    if isinstance(value, str):
        return f"{leaf}_{value}"
    if isinstance(value, list | tuple) and all(_scalar(v) for v in value):
        return f"{leaf}{_list_text(value)}"
    return ""  # a mapping, a nested list: only its hash names it


def setting_token(key: str, value: Any) -> str:
    """The short, shell-safe token of one setting (dotted key and value); see the module's table.

    Example:
        >>> setting_token("model.init_args.weight_bits", None), setting_token("seed_everything", 3)
        ('wfull', 's3')
        >>> setting_token("data.init_args.num_shadows", 15), setting_token("config", "a/b_ann.yaml")
        ('m16', 'b_ann')
        >>> setting_token("model.class_path", "lightning_snnpriv.models.SNNClassifier")
        'snn'
        >>> setting_token("model.init_args.hidden_sizes", [16, 8])
        'hidden_sizes16_8'
    """
    leaf = key.rsplit(".", 1)[-1]
    if key == "config" and isinstance(value, str):
        token = Path(value).stem
    elif leaf == "class_path" and isinstance(value, str):
        token = _class_token(value)
    elif leaf in ("weight_bits", "act_bits") and (value is None or isinstance(value, int)):
        token = f"{leaf[0]}{'full' if value is None else value}"
    elif key == "seed_everything" and _scalar(value):
        token = f"s{value}"
    elif leaf in ("scheme", "surrogate") and isinstance(value, str):
        token = value
    elif leaf == "num_shadows" and isinstance(value, int) and not isinstance(value, bool):
        token = f"m{value + 1}"
    else:
        token = _generic_token(leaf, value)
    token = _clean(token)
    if not token or len(token) > MAX_TOKEN:
        head = _clean(leaf)[: MAX_TOKEN - HASH_LENGTH - 1] or "x"
        token = f"{head}_{settings_hash([key, value])}"
    return token


def join_tokens(tokens: Sequence[str], limit: int = MAX_READABLE) -> tuple[str, bool]:
    """Tokens joined by ``-``, as many whole ones as fit in ``limit``; and whether any was cut.

    Example:
        >>> join_tokens(["ann", "w4", "s0"]), join_tokens(["abc", "def"], limit=5)
        (('ann-w4-s0', False), ('abc', True))
    """
    kept: list[str] = []
    for token in tokens:
        if len("-".join([*kept, token])) > limit:
            return "-".join(kept), True
        kept.append(token)
    return "-".join(kept), False


def point_dir_name(swept: Mapping[str, Any], point_id: str) -> str:
    """A sweep point's directory: its swept settings' tokens (cut at a token), then its id.

    Example:
        >>> point_dir_name({"config": "../breast_cancer_ann.yaml",
        ...                 "model.init_args.weight_bits": 4, "seed_everything": 0}, "5db2b34ea6")
        'breast_cancer_ann-w4-s0-5db2b34ea6'
        >>> point_dir_name({}, "5db2b34ea6")
        '5db2b34ea6'
    """
    readable, _ = join_tokens([setting_token(k, v) for k, v in swept.items()])
    return f"{readable}-{point_id}" if readable else point_id


#: Settings named first in a run's name, in this order (then the others, sorted by key).
FIRST_KEYS = (
    "data.class_path",
    "model.class_path",
    "data.init_args.scheme",
    "data.init_args.num_shadows",
    "model.init_args.weight_bits",
    "model.init_args.act_bits",
    "model.init_args.surrogate",
    "seed_everything",
)


def run_name(base: str, changed: Mapping[str, Any]) -> str:
    """A run's logger name: ``base``, then the tokens of the ``changed`` settings.

    The tokens of :data:`FIRST_KEYS` come first, the others follow sorted by key; when they do
    not fit in :data:`MAX_READABLE` characters, the whole ones that do are followed by a hash of
    every changed setting (so two runs that differ still get two names). No change: ``base``.

    Example:
        >>> run_name("breast_cancer_snn", {"data.init_args.num_shadows": 15,
        ...                                "data.init_args.scheme": "lira"})
        'breast_cancer_snn-lira-m16'
        >>> run_name("breast_cancer_snn", {})
        'breast_cancer_snn'
    """
    if not changed:
        return base
    order = {key: i for i, key in enumerate(FIRST_KEYS)}
    keys = sorted(changed, key=lambda k: (order.get(k, len(order)), k))
    tokens = [setting_token(k, changed[k]) for k in keys]
    readable, cut = join_tokens(tokens)
    if cut:
        readable, _ = join_tokens(tokens, MAX_READABLE - HASH_LENGTH - 1)
        readable = "-".join(filter(None, [readable, settings_hash(dict(changed))]))
    return f"{base}-{readable}"
