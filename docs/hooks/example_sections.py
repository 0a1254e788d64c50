"""MkDocs hook: read the project's ``Example:`` docstring sections as code examples.

The docstrings title their doctests ``Example:`` (Google style allows both spellings); griffe,
which mkdocstrings uses to parse them, knows only ``Examples:`` and would render the doctest
lines as Markdown text. This registers the singular title as the same section kind.
"""

from __future__ import annotations

from griffe import DocstringSectionKind

try:
    from griffe._internal.docstrings import google
except ImportError:  # griffe 1.x
    from _griffe.docstrings import google  # type: ignore[no-redef]

google._section_kind.setdefault("example", DocstringSectionKind.examples)
