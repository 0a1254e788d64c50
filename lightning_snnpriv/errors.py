"""Errors that the command line reports as one paragraph with exit code 2."""

from __future__ import annotations

from contextvars import ContextVar

_last_raised: ContextVar[UsageError | None] = ContextVar("last_usage_error", default=None)


class UsageError(ValueError):
    """A bad config value, a missing file or a run directory that cannot be used.

    The message names the field or file and the fix; the command line prints it without a
    traceback and exits with code 2.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        _last_raised.set(self)


class ConfigError(UsageError):
    """A config value that is out of range or inconsistent with another one."""


class DataError(UsageError):
    """Dataset files that are missing, incomplete or corrupt."""


def find_usage_error(err: BaseException) -> UsageError | None:
    """The :class:`UsageError` behind ``err``, if there is one.

    That is ``err`` itself, one in its ``__cause__``/``__context__`` chain, or the last one
    raised whose message ``err`` quotes: jsonargparse re-raises errors from class constructors
    as a plain ``ValueError`` that lists their messages.

    Example:
        >>> try:
        ...     try:
        ...         raise ConfigError("`beta` must be in (0, 1]")
        ...     except ConfigError as e:
        ...         raise ValueError(f"Does not validate: {e}") from None
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
    last = _last_raised.get()
    if last is not None and str(last) and str(last) in str(err):
        return last
    return None
