"""lsmdb: an embeddable LSM storage engine with Cython-accelerated hot paths.

The errors and the version load with the package; everything else (``lsmdb.open``, the
engine, the storage vocabulary, the policies) loads on first use through :func:`__getattr__`,
so ``import lsmdb.errors`` and ``lsmdb.options`` stay cheap (no Cython module). Type checkers
and IDEs read the same names from the ``TYPE_CHECKING`` imports below, so ``lsmdb.open`` is as
typed as :func:`lsmdb.lsm.db.open` itself.
"""

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    # The names __getattr__ serves, for type checkers and IDEs (`X as X`: a re-export).
    # Nothing here runs: the imports stay lazy.
    from lsmdb.engine.engine import StorageEngine as StorageEngine
    from lsmdb.engine.options import StorageOptions as StorageOptions
    from lsmdb.engine.options import WalCommitPolicy as WalCommitPolicy
    from lsmdb.engine.options import WalConfig as WalConfig
    from lsmdb.lsm.compaction import CompactionJob as CompactionJob
    from lsmdb.lsm.compaction import CompactionPolicy as CompactionPolicy
    from lsmdb.lsm.compaction import LeveledPolicy as LeveledPolicy
    from lsmdb.lsm.compaction import VersionView as VersionView
    from lsmdb.lsm.db import DB as DB
    from lsmdb.lsm.db import open as open
    from lsmdb.lsm.iterators import DBIterator as DBIterator
    from lsmdb.lsm.iterators import Snapshot as Snapshot
    from lsmdb.lsm.policies import FIFOPolicy as FIFOPolicy
    from lsmdb.lsm.policies import FluidPolicy as FluidPolicy
    from lsmdb.lsm.policies import LazyLevelingPolicy as LazyLevelingPolicy
    from lsmdb.lsm.policies import TieredPolicy as TieredPolicy
    from lsmdb.options import Options as Options
    from lsmdb.storage_api import UNBOUNDED as UNBOUNDED
    from lsmdb.storage_api import CheckpointInfo as CheckpointInfo
    from lsmdb.storage_api import DataKind as DataKind
    from lsmdb.storage_api import DataType as DataType
    from lsmdb.storage_api import Excluded as Excluded
    from lsmdb.storage_api import HnswStorageOptions as HnswStorageOptions
    from lsmdb.storage_api import Included as Included
    from lsmdb.storage_api import IndexKeyColumn as IndexKeyColumn
    from lsmdb.storage_api import IndexStorageDescriptor as IndexStorageDescriptor
    from lsmdb.storage_api import IsolationLevel as IsolationLevel
    from lsmdb.storage_api import IvfFlatStorageOptions as IvfFlatStorageOptions
    from lsmdb.storage_api import KeyRange as KeyRange
    from lsmdb.storage_api import RecoveredStatistics as RecoveredStatistics
    from lsmdb.storage_api import RecoveryReport as RecoveryReport
    from lsmdb.storage_api import ShardHashFunction as ShardHashFunction
    from lsmdb.storage_api import StorageColumn as StorageColumn
    from lsmdb.storage_api import StorageMetrics as StorageMetrics
    from lsmdb.storage_api import StorageShardConfig as StorageShardConfig
    from lsmdb.storage_api import StoredQuantizationKind as StoredQuantizationKind
    from lsmdb.storage_api import StoredVectorMetric as StoredVectorMetric
    from lsmdb.storage_api import TableStorageDescriptor as TableStorageDescriptor
    from lsmdb.storage_api import TupleRecord as TupleRecord

_ENGINE_NAMES = ("StorageEngine", "StorageOptions", "WalConfig", "WalCommitPolicy")
_STORAGE_API_NAMES = (
    "IsolationLevel", "DataType", "DataKind", "StorageColumn", "TableStorageDescriptor",
    "IndexKeyColumn", "IndexStorageDescriptor", "KeyRange", "Included", "Excluded",
    "UNBOUNDED", "TupleRecord", "HnswStorageOptions", "IvfFlatStorageOptions",
    "StoredVectorMetric", "StoredQuantizationKind", "StorageShardConfig", "ShardHashFunction",
    "CheckpointInfo", "StorageMetrics", "RecoveryReport", "RecoveredStatistics",
)


if not TYPE_CHECKING:
    # Hidden from type checkers: they read the imports above, so a misspelt name stays an
    # error for them instead of whatever a module-level __getattr__ returns.
    def __getattr__(name: str) -> Any:
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
