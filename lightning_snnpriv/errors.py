"""Errors that the command line reports as one paragraph with exit code 2."""


class UsageError(ValueError):
    """A bad config value, a missing file or a run directory that cannot be used.

    The message names the field or file and the fix; the command line prints it without a
    traceback and exits with code 2.
    """


class ConfigError(UsageError):
    """A config value that is out of range or inconsistent with another one."""


class DataError(UsageError):
    """Dataset files that are missing, incomplete or corrupt."""
