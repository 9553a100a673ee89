"""The project's error classes.

Every driver error is translated into one of these at a single boundary per adapter
(``raise ... from exc``).  Each class also inherits the closest built-in, so callers
that only know Python's own exceptions still catch them (the pyarrow.fs pattern).
"""

from __future__ import annotations


class StorageBenchError(Exception):
    """Root of every error this project raises on purpose."""


class UsageError(StorageBenchError, ValueError):
    """Bad input from the user: unknown adapter, malformed workload, bad option.  Exit status 2."""


class AdapterError(StorageBenchError):
    """An operation against a store failed."""


class NotFound(AdapterError, KeyError):
    """The record (or namespace) does not exist."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want a plain message
        return str(self.args[0]) if self.args else "not found"


class AlreadyExists(AdapterError):
    """Insert of a key that is already there, on a store that can tell."""


class Unavailable(AdapterError, ConnectionError):
    """The store cannot be reached, or it went away mid-run."""


class Unsupported(AdapterError, NotImplementedError):
    """The adapter declares this operation unsupported."""


class ServiceError(StorageBenchError, RuntimeError):
    """Provisioning, starting or stopping a local engine failed."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived: like KeyboardInterrupt, not caught by ``except Exception``.

    The phase running is stopped and written as ``interrupted``; the process exits ``128 + signum``."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum
