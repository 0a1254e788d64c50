"""Errors that the command line reports as one paragraph with exit code 2."""

from __future__ import annotations


class UsageError(ValueError):
    """A bad config value, a missing file or a run directory that cannot be used.

    The message names the field or file and the fix; the command line prints it without a
    traceback and exits with code 2.
    """


class ConfigError(UsageError):
    """A config value that is out of range or inconsistent with another one."""


class DataError(UsageError):
    """Dataset files that are missing, incomplete or corrupt."""


def find_usage_error(err: BaseException) -> UsageError | None:
    """The :class:`UsageError` behind ``err``, if there is one.

    That is ``err`` itself or one in its ``__cause__``/``__context__`` chain: jsonargparse
    re-raises errors from class constructors as a ``ValueError`` caused by them.

    Example:
        >>> try:
        ...     try:
        ...         raise ConfigError("`beta` must be in (0, 1]")
        ...     except ConfigError as e:
        ...         raise ValueError(f"Does not validate: {e}") from e
        ... except ValueError as wrapped:
        ...     print(find_usage_error(wrapped))
        `beta` must be in (0, 1]
    """
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, UsageError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
