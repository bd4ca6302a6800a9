"""Typed errors raised by the core; the CLI turns each into one line and an exit code.

Exit codes: 1 runtime failure (engine, store), 2 usage or input error, 3 a quality gate failed,
4 partial: a collect over several engines completed without one of them.
"""


class ClaudePerfError(Exception):
    """Base class: the message is one line a user can act on."""

    exit_code = 1


class UsageError(ClaudePerfError):
    """A command-line option or config value is malformed."""

    exit_code = 2


class ConfigError(UsageError):
    """The TOML configuration cannot be read or holds an invalid value."""


class InputError(ClaudePerfError):
    """An input path is missing, a directory, or unreadable."""

    exit_code = 2


class EngineError(ClaudePerfError):
    """The Docker Engine cannot be reached or refused what we asked."""

    exit_code = 1


class TargetError(EngineError):
    """The engine answered, but no container it runs is one the collect was asked for."""


class StoreError(ClaudePerfError):
    """The embedded store cannot be opened or written."""

    exit_code = 1


class GateFailure(ClaudePerfError):
    """One or more quality gates failed (the report was still written)."""

    exit_code = 3


class UnreachableError(ClaudePerfError):
    """The proxy a load was aimed at could not be reached at all (the records are still kept)."""

    exit_code = 1


class PartialCollect(ClaudePerfError):
    """A collect over several engines stored what the others gave; one or more were missing."""

    exit_code = 4
