"""Command-line failures as one short paragraph: the field, the problem and the fix (exit 2).

jsonargparse reports a bad value inside a ``class_path``/``init_args`` section as a nested
"Does not validate against any of the Union subtypes" report after a 60-line usage block, and a
:class:`~lightning_snnpriv.errors.UsageError` raised by a class's ``__init__`` arrives wrapped
in such a report. These functions extract what the user needs.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from typing import NoReturn

from lightning_snnpriv.errors import UsageError

#: Lines of jsonargparse's union reports that say nothing about the actual problem.
_NOISE = re.compile(
    r"^(Does not validate against any of the Union subtypes|Subtypes: .*|Errors:|"
    r"Expected a <class 'NoneType'>|Given value type: .*|Given value: .*|"
    r"Problem with given class_path .*|Parser key .*|"
    r"Expected a path but .* either not accessible or invalid)$"
)


def explain_usage_error(err: BaseException, usage_error: UsageError) -> str:
    """The message of ``usage_error``, naming the class whose construction raised it.

    jsonargparse wraps errors raised in a class's ``__init__`` in a report that names the class
    (``class_path='...'``); the class tells which config section the message is about.
    """
    if err is usage_error:
        return str(usage_error)
    where = re.search(r"class_path='([^']+)'", str(err))
    return f"{usage_error} (in {where.group(1)})" if where else str(usage_error)


def exit_with(message: str, usage: str | None = None) -> NoReturn:
    """Print ``error: message`` (and a one-line usage) on stderr; exit with code 2."""
    print(f"error: {message}", file=sys.stderr)
    if usage:
        print(f"usage: {usage}", file=sys.stderr)
    raise SystemExit(2) from None


def explain_parse_error(
    message: str, command: str, config_files: Sequence[str] = (), option_prefix: str = ""
) -> str:
    """One paragraph from a jsonargparse error: the dotted field, the problem and the fix.

    Args:
        message: The parser's error message.
        command: The command as typed, e.g. ``python -m lightning_snnpriv fit``.
        config_files: The ``--config`` files, named when one of them cannot be parsed.
        option_prefix: Put before the field (``--`` for commands whose settings are options
            rather than config keys).

    Example:
        >>> msg = '''Parser key "model":
        ...   Does not validate against any of the Union subtypes
        ...   Errors:
        ...     - Problem with given class_path 'pkg.SNNClassifier':
        ...         Parser key "num_steps":
        ...           Expected a <class 'int'>. Got value: abc
        ...     - Expected a <class 'NoneType'>'''
        >>> print(explain_parse_error(msg, "snnpriv fit"))  # doctest: +NORMALIZE_WHITESPACE
        model.init_args.num_steps: expected int, got value: abc. Fix it in the config file or
        on the command line; `snnpriv fit --model.help pkg.SNNClassifier` lists the accepted
        options and types.
    """
    keys = re.findall(r'Parser key "([^"]+)"', message)
    class_path = re.search(r"given class_path '([^']+)'", message)
    unknown = re.search(r"Option '([^']+)' is not accepted", message)
    lines = [line.strip().removeprefix("- ").strip() for line in message.splitlines()]
    problems = [line for line in lines if line and not _NOISE.match(line)]
    if unknown:
        problems = [f"unknown option {unknown.group(1)!r}"]
        keys.append(unknown.group(1))
    if class_path:  # a class was given: the other alternatives of its union are not the cause
        problems = [p for p in problems if not re.fullmatch(r"Expected a typing\.Literal\[.*\]", p)]
    name = re.search(r"Expected a dot import path string: (\S+)", message)
    names = re.search(r"Expected a typing\.Literal\[(.*?)\]", message)
    if name and names:  # a value that is neither a class nor one of the accepted names
        noun = keys[0].rsplit(".", 1)[-1].removesuffix("s") if keys else "name"
        problems = [f"unknown {noun} {name.group(1)!r}; the names are [{names.group(1)}], or "
                    "give a class_path entry"]  # fmt: skip
    missing_class = class_path and re.search(r"has no attribute|No module named", message)
    if missing_class:
        problems = [f"unknown class {class_path.group(1)!r}"]
    field = keys[0] if keys else ""
    if keys[1:]:
        field += (".init_args." if class_path else ".") + ".".join(keys[1:])
    if field == "config" or (field and option_prefix):
        field = "--" + field
    problem = _tidy("; ".join(dict.fromkeys(problems)) or message.strip())
    if missing_class:
        fix = f"`{command} --help` lists the known classes of {keys[0] if keys else 'each key'}"
    elif class_path and keys:
        fix = (f"`{command} --{keys[0]}.help {class_path.group(1)}` lists the accepted options "
               "and types")  # fmt: skip
    else:
        fix = f"`{command} --help` lists the accepted options"
    if not field and "parsing config" in message and config_files:
        field = "--config " + " ".join(config_files)
    if option_prefix:
        problem = re.sub(r"(required: )(\w+)", rf"\1{option_prefix}\2", problem)
    head = f"{field}: {problem}" if field else problem
    where = "on the command line" if option_prefix else "in the config file or on the command line"
    return f"{head}. Fix it {where}; {fix}."


def _tidy(text: str) -> str:
    """Readable type names and ranges, no trailing period, first letter lower-case.

    Example:
        >>> _tidy("Expected a typing.Literal['a', 'b']. Got value: c.")
        "expected one of ['a', 'b'], got value: c"
        >>> _tidy("Not of type PositiveInt: 0 does not conform to restriction v>0")
        'must be > 0, got 0'
    """
    text = re.sub(
        r"[Nn]ot of type \w+: (.+?) does not conform to restriction (v.+)$",
        lambda m: f"must be {_restriction(m.group(2))}, got {m.group(1)}",
        text,
    )
    text = re.sub(r"<class '(?:[\w.]+\.)?(\w+)'>", r"\1", text)
    text = re.sub(r'^[Pp]arser key "[^"]+": ', "", text)
    text = re.sub(r"typing\.Literal\[(.*?)\]", r"one of [\1]", text)
    text = text.replace(". Got value:", ", got value:").replace("Expected a ", "expected ")
    text = text.rstrip(".")
    return text[:1].lower() + text[1:]


def _restriction(text: str) -> str:
    """``v>=0 and v<1`` -> ``>= 0 and < 1``."""
    return re.sub(r"v\s*([<>=!]+)\s*", r"\1 ", text)
