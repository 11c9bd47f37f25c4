"""The one error hierarchy of lsmdb (SPEC §10). Every error lsmdb raises subclasses Error.

A failed operation leaves no partial state: a write that raises applied nothing.
"""

from __future__ import annotations

__all__ = [
    "Error",
    "InvalidArgumentError",
    "ClosedError",
    "LockError",
    "BusyError",
    "CorruptionError",
    "StorageIOError",
    "ContractError",
    "FormatVersionError",
    "SchemaError",
    "ConstraintError",
    "TransactionError",
    "SerializationError",
    "LockTimeoutError",
    "DeadlockError",
    "MemoryLimitError",
    "FeatureNotSupportedError",
    "BackgroundError",
]


def describe_error(exc: BaseException) -> str:
    """``exc`` for a message: its type name, then its text when it has one. Never empty:
    ``str(KeyboardInterrupt())`` is "", which once produced "stopped writes: ; call resume()"."""
    text = str(exc)
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


class Error(Exception):
    """Base class of every lsmdb error."""


class InvalidArgumentError(Error, ValueError):
    """A value is out of range or malformed (bad option, oversize key, ...)."""


class ClosedError(Error):
    """The DB, snapshot, iterator or batch was used after close()."""


class LockError(Error):
    """The directory is locked by another writer process."""


class BusyError(LockError):
    """A read-only open could not get a consistent view: a writer process kept replacing
    the files it was reading. Nothing is damaged; try again later."""


class CorruptionError(Error):
    """Persisted bytes failed a checksum or did not parse.

    ``file`` and ``offset`` name where (either may be None when unknown, e.g. an
    in-memory buffer); both appear in the message.
    """

    def __init__(self, message: str, file: str | None = None, offset: int | None = None):
        self.file = file
        self.offset = offset
        self.reason = message
        where = []
        if file is not None:
            where.append(f"file {file}")
        if offset is not None:
            where.append(f"offset {offset}")
        super().__init__(f"{message} ({', '.join(where)})" if where else message)

    def __reduce__(self):
        return (type(self), (self.reason, self.file, self.offset))


class StorageIOError(Error, OSError):
    """An OSError from the file system, with the path involved."""

    def __init__(self, message: str, path: str | None = None, errno_: int | None = None):
        self.path = path
        self.reason = message
        text = f"{message}: {path}" if path is not None else message
        if errno_ is not None:
            OSError.__init__(self, errno_, text)
        else:
            OSError.__init__(self, text)

    def __str__(self) -> str:
        return self.reason if self.path is None else f"{self.reason}: {self.path}"

    def __reduce__(self):
        return (type(self), (self.reason, self.path, self.errno))


class ContractError(Error):
    """The directory's CONTRACT is missing, unreadable or does not match."""


class FormatVersionError(ContractError):
    """A persisted structure has a format version this build cannot read."""


class SchemaError(Error):
    """Wrong type, arity, NULL in NOT NULL, unknown table/index, ..."""


class ConstraintError(Error):
    """A primary-key or unique constraint would be violated."""


class TransactionError(Error):
    """A transaction cannot proceed."""


class SerializationError(TransactionError):
    """A SERIALIZABLE transaction's read set changed before commit."""


class LockTimeoutError(TransactionError):
    """A row or table lock was not granted within the lock timeout."""


class DeadlockError(TransactionError):
    """This transaction was chosen as the victim of a deadlock."""


class MemoryLimitError(Error):
    """A write would exceed the configured memory limit; nothing was applied."""


class FeatureNotSupportedError(Error):
    """The requested feature or combination is not implemented."""


class BackgroundError(Error):
    """A background flush or compaction failed; writes are refused until resume()."""
