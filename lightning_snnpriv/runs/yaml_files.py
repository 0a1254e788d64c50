"""Reading YAML strictly: UTF-8 text, valid YAML, no key written twice, the expected top level.

PyYAML keeps the last of two equal keys in a mapping without a word (an SNN config with a
second ``class_path`` becomes an ANN). Every YAML this package reads goes through here: the
``--config`` files and every value jsonargparse parses (:func:`install`), run configs
(:mod:`lightning_snnpriv.runs`), sweep configs and attack lists. Each problem is a
:class:`~lightning_snnpriv.errors.UsageError` naming the file, the line and the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from lightning_snnpriv.errors import UsageError


class DuplicateKeyError(yaml.YAMLError):
    """A mapping that sets one key twice (a :class:`yaml.YAMLError`, as jsonargparse expects)."""


def check_duplicates(text: str) -> None:
    r"""Raise :class:`DuplicateKeyError` if a mapping in the YAML ``text`` repeats a key.

    Example:
        >>> check_duplicates("a: 1\nb: {c: 1}\n")
        >>> check_duplicates("model:\n  x: 1\n  x: 2\n")
        Traceback (most recent call last):
        ...
        lightning_snnpriv.runs.yaml_files.DuplicateKeyError: key 'model.x' set twice (lines 2 and 3)
    """
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if node is not None:
        _walk(node, "")


def _walk(node: yaml.Node, where: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            if name == "<<":  # a merge key: merged keys may be overridden on purpose
                continue
            line = key.start_mark.line + 1
            dotted = f"{where}.{name}" if where else str(name)
            if name is not None and name in seen:
                raise DuplicateKeyError(f"key {dotted!r} set twice (lines {seen[name]} and {line})")
            seen[name] = line
            _walk(value, dotted)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, f"{where}[{i}]")


def parse(text: str, source: str) -> Any:
    """``yaml.safe_load`` of ``text`` with duplicate keys refused; ``source`` names it in errors.

    Example:
        >>> parse("lr: 0.1", "x.yaml")
        {'lr': 0.1}
        >>> parse("a: [1", "x.yaml")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lightning_snnpriv.errors.UsageError: x.yaml: not valid YAML (line 1...
    """
    try:
        check_duplicates(text)
        return yaml.safe_load(text)
    except DuplicateKeyError as err:
        raise UsageError(f"{source}: {err}; keep one of them.") from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise UsageError(f"{source}: not valid YAML{at}: {problem}.") from err


def read(path: str | Path, field: str = "", mapping: bool = True) -> Any:
    """Read a YAML file strictly; with ``mapping``, its top level must be a mapping of keys.

    Args:
        path: The file.
        field: The option that named it (``--config``), to start error messages.
        mapping: Require a (non-empty) mapping at the top level.

    Raises:
        UsageError: An unreadable, non-UTF-8 or invalid file, a duplicate key, or (with
            ``mapping``) an empty file or one holding a list or a scalar.
    """
    source = f"{field} {path}".strip()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise UsageError(
            f"{source}: not a YAML text file (byte {err.start} is not UTF-8); pass a YAML "
            "config file."
        ) from err
    except OSError as err:
        raise UsageError(f"{source}: cannot be read ({err.strerror or err}).") from err
    value = parse(text, source)
    if mapping and not (isinstance(value, dict) and value):
        got = "an empty file" if value is None else f"{type(value).__name__} {str(value)[:40]!r}"
        raise UsageError(
            f"{source}: expected a mapping of config keys (such as `model:`, `data:`), got {got}."
        )
    return value


def check_config_files(paths: Sequence[str]) -> None:
    """Read each existing ``--config`` file strictly before the parser does (names the file).

    Missing files are left to the parser, whose message names them.
    """
    for path in paths:
        if Path(path).is_file():
            read(path, field="--config")


def install() -> None:
    """Make jsonargparse refuse duplicate keys in every YAML it loads (files and values)."""
    from jsonargparse import get_loader, set_loader

    default = get_loader("yaml")
    if getattr(default, "_strict", False):
        return

    def strict_load(text: str) -> Any:
        check_duplicates(text)
        return default(text)

    strict_load._strict = True  # type: ignore[attr-defined]
    set_loader("yaml", strict_load, exceptions=(yaml.YAMLError,))
