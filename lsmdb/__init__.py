"""lsmdb: an embeddable LSM storage engine with Cython-accelerated hot paths."""

from lsmdb.errors import (
    BackgroundError,
    BusyError,
    ClosedError,
    ConstraintError,
    ContractError,
    CorruptionError,
    DeadlockError,
    Error,
    FeatureNotSupportedError,
    FormatVersionError,
    InvalidArgumentError,
    LockError,
    LockTimeoutError,
    MemoryLimitError,
    SchemaError,
    SerializationError,
    StorageIOError,
    TransactionError,
)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "BackgroundError",
    "BusyError",
    "ClosedError",
    "ConstraintError",
    "ContractError",
    "CorruptionError",
    "DeadlockError",
    "Error",
    "FeatureNotSupportedError",
    "FormatVersionError",
    "InvalidArgumentError",
    "LockError",
    "LockTimeoutError",
    "MemoryLimitError",
    "SchemaError",
    "SerializationError",
    "StorageIOError",
    "TransactionError",
]


def __getattr__(name):
    # The DB layer imports the Cython core; load it on first use so `import lsmdb.errors`
    # and the options stay importable (and cheap) on their own.
    if name in ("open", "DB", "Snapshot", "DBIterator"):
        from lsmdb.lsm import db as _db

        return getattr(_db, name)
    if name == "Options":
        from lsmdb.options import Options

        return Options
    if name in ("CompactionPolicy", "CompactionJob", "VersionView", "LeveledPolicy"):
        from lsmdb.lsm import compaction as _compaction

        return getattr(_compaction, name)
    if name in ("TieredPolicy", "LazyLevelingPolicy", "FluidPolicy", "FIFOPolicy"):
        from lsmdb.lsm import policies as _policies

        return getattr(_policies, name)
    raise AttributeError(f"module 'lsmdb' has no attribute {name!r}")
