"""lsmdb: an embeddable LSM storage engine with Cython-accelerated hot paths."""

from lsmdb._version import __version__
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

_ENGINE_NAMES = ("StorageEngine", "StorageOptions", "WalConfig", "WalCommitPolicy")
_STORAGE_API_NAMES = (
    "IsolationLevel", "DataType", "DataKind", "StorageColumn", "TableStorageDescriptor",
    "IndexKeyColumn", "IndexStorageDescriptor", "KeyRange", "Included", "Excluded",
    "UNBOUNDED", "TupleRecord", "HnswStorageOptions", "IvfFlatStorageOptions",
    "StoredVectorMetric", "StoredQuantizationKind", "StorageShardConfig", "ShardHashFunction",
    "CheckpointInfo", "StorageMetrics", "RecoveryReport", "RecoveredStatistics",
)


def __getattr__(name):
    # The DB layer imports the Cython core; load it on first use so `import lsmdb.errors`
    # and the options stay importable (and cheap) on their own.
    if name in ("open", "DB", "Snapshot", "DBIterator"):
        from lsmdb.lsm import db as _db

        return getattr(_db, name)
    if name in _ENGINE_NAMES:
        from lsmdb.engine import engine as _engine
        from lsmdb.engine import options as _engine_options

        return getattr(_engine_options if hasattr(_engine_options, name) else _engine, name)
    if name in _STORAGE_API_NAMES:
        from lsmdb import storage_api as _api

        return getattr(_api, name)
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
