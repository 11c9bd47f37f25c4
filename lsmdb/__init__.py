"""lsmdb: an embeddable LSM storage engine with Cython-accelerated hot paths."""

from lsmdb.errors import (
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
