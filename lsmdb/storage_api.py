"""The storage API of lsmdb's relational engine (SPEC §6, ORIGIN.md §0-§2).

Ids, descriptors and enums with the origin's field names and defaults, as frozen dataclasses
validated at construction (a bad field raises InvalidArgumentError naming it), and the four
``typing.Protocol``s a storage engine implements: StorageDDL, StorageDML,
StorageTxnParticipant and StorageCapabilities. ``lsmdb.StorageEngine`` implements all four.

Additions to the origin: columns and tables carry a ``name`` (the Pythonic layer addresses
them by name), and DataType is limited to the types the row codec stores.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, NewType, Protocol, runtime_checkable

from lsmdb.errors import InvalidArgumentError

__all__ = [
    "TxnId", "RelationId", "IndexId", "ColumnId", "TupleId",
    "DataKind", "DataType", "VectorElementType", "StorageColumn", "TableStorageDescriptor",
    "StorageShardConfig", "ShardHashFunction", "IndexKeyColumn", "IndexStorageDescriptor",
    "HnswStorageOptions", "IvfFlatStorageOptions", "StoredVectorMetric",
    "StoredQuantizationKind", "Bound", "Unbounded", "Included", "Excluded", "UNBOUNDED",
    "KeyRange", "TupleRecord", "IsolationLevel", "CheckpointInfo", "StorageMetrics",
    "RecoveryReport", "RecoveredStatistics", "StorageDDL", "StorageDML",
    "StorageTxnParticipant", "StorageCapabilities",
    "MAX_STORAGE_SHARD_COUNT", "MAX_STORAGE_VIRTUAL_NODES_PER_SHARD", "MAX_VALUE_ARRAY_DEPTH",
    "AUTOCOMMIT_TXN",
]

# Ids are plain ints (NewType costs nothing at run time); u64 like the origin's newtypes.
TxnId = NewType("TxnId", int)
RelationId = NewType("RelationId", int)
IndexId = NewType("IndexId", int)
ColumnId = NewType("ColumnId", int)
TupleId = NewType("TupleId", int)

U64_MAX = (1 << 64) - 1
U32_MAX = (1 << 32) - 1
MAX_STORAGE_SHARD_COUNT = 1 << 16
MAX_STORAGE_VIRTUAL_NODES_PER_SHARD = 4096
MAX_VALUE_ARRAY_DEPTH = 256
MAX_VECTOR_DIMS = 65535  # the row codec's limit (docs/format/rowcodec.md)
AUTOCOMMIT_TXN = TxnId(0)  # the origin's autocommit transaction id: one statement, committed


def _bad(owner: str, field_name: str, expected: str, value: Any) -> InvalidArgumentError:
    return InvalidArgumentError(f"{owner}.{field_name} must be {expected}, got {value!r}")


def check_u64(owner: str, name: str, value: Any, lo: int = 0, hi: int = U64_MAX) -> int:
    if type(value) is not int or not lo <= value <= hi:
        raise _bad(owner, name, f"an int in [{lo}, {hi}]", value)
    return value


def _check_bool(owner: str, name: str, value: Any) -> None:
    if type(value) is not bool:
        raise _bad(owner, name, "a bool", value)


def _check_enum(owner: str, name: str, value: Any, kind: type[enum.Enum]) -> None:
    if not isinstance(value, kind):
        raise _bad(owner, name, f"a {kind.__name__}", value)


def _check_name(owner: str, name: str, value: Any) -> None:
    if not isinstance(value, str) or not value or len(value) > 255 or "\x00" in value:
        raise _bad(owner, name, "a non-empty str of at most 255 characters without NUL", value)
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            # Surrogates: names are stored as UTF-8 (name keys, JSON catalog records, where a
            # pair would come back as one character), so they must be valid Unicode.
            raise _bad(owner, name, "valid Unicode (no surrogate code points)", value) from None


def _tuple_of(owner: str, name: str, value: Any, cls: type) -> tuple:
    """``value`` as a non-empty tuple of ``cls`` instances (a str or bytes is no sequence)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise _bad(owner, name, f"a non-empty sequence of {cls.__name__}", value)
    out = tuple(value)
    for item in out:
        if not isinstance(item, cls):
            raise _bad(owner, name, f"a sequence of {cls.__name__}", item)
    return out


def _id_tuple(owner: str, name: str, value: Any, *, allow_empty: bool = True) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise _bad(owner, name, "a sequence of column ids", value)
    out = tuple(value)
    for v in out:
        check_u64(owner, name, v)
    if not allow_empty and not out:
        raise _bad(owner, name, "a non-empty sequence", value)
    if len(set(out)) != len(out):
        raise _bad(owner, name, "a sequence without duplicates", value)
    return out


# ---------------------------------------------------------------------------- data types


class DataKind(enum.Enum):
    """The stored types; the value is the row codec's persisted type code (never change)."""

    BOOLEAN = 1
    INT = 2
    BIGINT = 3
    REAL = 4
    DOUBLE = 5
    NUMERIC = 6
    TEXT = 7
    BLOB = 8
    DATE = 9
    TIME = 10
    TIMESTAMP = 11
    TIMESTAMPTZ = 12
    INTERVAL = 13
    UUID = 14
    JSONB = 15
    VECTOR = 16
    ARRAY = 17


class VectorElementType(enum.Enum):
    FLOAT32 = "float32"
    FLOAT16 = "float16"
    UINT8 = "uint8"


@dataclass(frozen=True, slots=True)
class DataType:
    """A column type: ``DataType.INT``, ``DataType.vector(3)``, ``DataType.array(DataType.TEXT)``."""

    kind: DataKind
    dims: int | None = None  # VECTOR only
    element_type: DataType | VectorElementType | None = None  # ARRAY: element; VECTOR: float32

    def __post_init__(self) -> None:
        _check_enum("DataType", "kind", self.kind, DataKind)
        if self.kind is DataKind.VECTOR:
            check_u64("DataType", "dims", self.dims, 1, MAX_VECTOR_DIMS)
            if self.element_type is None:
                object.__setattr__(self, "element_type", VectorElementType.FLOAT32)
            _check_enum("DataType", "element_type", self.element_type, VectorElementType)
        elif self.kind is DataKind.ARRAY:
            if self.dims is not None:
                raise _bad("DataType", "dims", "None for an ARRAY", self.dims)
            if not isinstance(self.element_type, DataType):
                raise _bad("DataType", "element_type", "a DataType", self.element_type)
            if self.depth() > MAX_VALUE_ARRAY_DEPTH:
                raise _bad("DataType", "element_type",
                           f"nested at most {MAX_VALUE_ARRAY_DEPTH} arrays deep", "...")
        else:
            if self.dims is not None:
                raise _bad("DataType", "dims", f"None for {self.kind.name}", self.dims)
            if self.element_type is not None:
                raise _bad("DataType", "element_type", f"None for {self.kind.name}",
                           self.element_type)

    def depth(self) -> int:
        d, t = 0, self
        while t.kind is DataKind.ARRAY:
            d += 1
            t = t.element_type  # type: ignore[assignment]
        return d

    @staticmethod
    def vector(dims: int, element_type: VectorElementType = VectorElementType.FLOAT32) -> DataType:
        return DataType(DataKind.VECTOR, dims, element_type)

    @staticmethod
    def array(element: DataType) -> DataType:
        return DataType(DataKind.ARRAY, None, element)

    def spec(self) -> tuple:
        """The row codec's type spec (see lsmdb/_core/rowcodec.pyx)."""
        if self.kind is DataKind.VECTOR:
            return (DataKind.VECTOR.value, self.dims)
        if self.kind is DataKind.ARRAY:
            return (DataKind.ARRAY.value, self.element_type.spec())  # type: ignore[union-attr]
        return (self.kind.value,)

    def to_json(self) -> Any:
        if self.kind is DataKind.VECTOR:
            return {"vector": self.dims, "element": self.element_type.value}  # type: ignore
        if self.kind is DataKind.ARRAY:
            return {"array": self.element_type.to_json()}  # type: ignore[union-attr]
        return self.kind.name

    @staticmethod
    def from_json(obj: Any) -> DataType:
        if isinstance(obj, str):
            try:
                return DataType(DataKind[obj])
            except KeyError:
                raise InvalidArgumentError(f"unknown data type {obj!r}") from None
        if isinstance(obj, dict) and "vector" in obj:
            return DataType.vector(obj["vector"], VectorElementType(obj.get("element", "float32")))
        if isinstance(obj, dict) and "array" in obj:
            return DataType.array(DataType.from_json(obj["array"]))
        raise InvalidArgumentError(f"unreadable data type {obj!r}")

    def __str__(self) -> str:
        if self.kind is DataKind.VECTOR:
            return f"VECTOR({self.dims})"
        if self.kind is DataKind.ARRAY:
            return f"{self.element_type}[]"
        return self.kind.name


for _kind in DataKind:
    if _kind not in (DataKind.VECTOR, DataKind.ARRAY):
        setattr(DataType, _kind.name, DataType(_kind))


# ---------------------------------------------------------------------------- tables


class ShardHashFunction(enum.Enum):
    SHA256 = "sha256"


@dataclass(frozen=True, slots=True)
class StorageShardConfig:
    shard_key_columns: tuple[ColumnId, ...]
    shard_count: int
    hash_function: ShardHashFunction = ShardHashFunction.SHA256
    virtual_nodes_per_shard: int = 128

    def __post_init__(self) -> None:
        object.__setattr__(self, "shard_key_columns", _id_tuple(
            "StorageShardConfig", "shard_key_columns", self.shard_key_columns, allow_empty=False))
        check_u64("StorageShardConfig", "shard_count", self.shard_count, 1,
                  MAX_STORAGE_SHARD_COUNT)
        _check_enum("StorageShardConfig", "hash_function", self.hash_function, ShardHashFunction)
        check_u64("StorageShardConfig", "virtual_nodes_per_shard",
                  self.virtual_nodes_per_shard, 1, MAX_STORAGE_VIRTUAL_NODES_PER_SHARD)


@dataclass(frozen=True, slots=True)
class StorageColumn:
    column_id: ColumnId
    data_type: DataType
    nullable: bool = True
    name: str | None = None  # addition: defaults to f"c{column_id}"

    def __post_init__(self) -> None:
        check_u64("StorageColumn", "column_id", self.column_id)
        if not isinstance(self.data_type, DataType):
            raise _bad("StorageColumn", "data_type", "a DataType", self.data_type)
        _check_bool("StorageColumn", "nullable", self.nullable)
        if self.name is None:
            object.__setattr__(self, "name", f"c{self.column_id}")
        _check_name("StorageColumn", "name", self.name)


@dataclass(frozen=True, slots=True)
class TableStorageDescriptor:
    table_id: RelationId
    columns: tuple[StorageColumn, ...]
    primary_key: tuple[ColumnId, ...] | None = None
    shard_config: StorageShardConfig | None = None
    name: str | None = None  # addition: defaults to f"t{table_id}"

    def __post_init__(self) -> None:
        owner = "TableStorageDescriptor"
        check_u64(owner, "table_id", self.table_id, 1)
        cols = _tuple_of(owner, "columns", self.columns, StorageColumn)
        ids = [c.column_id for c in cols]
        if len(set(ids)) != len(ids):
            raise _bad(owner, "columns", "columns with distinct column_id", ids)
        names = [c.name for c in cols]
        if len(set(names)) != len(names):
            raise _bad(owner, "columns", "columns with distinct names", names)
        object.__setattr__(self, "columns", cols)
        if self.primary_key is not None:
            pk = _id_tuple(owner, "primary_key", self.primary_key, allow_empty=False)
            for cid in pk:
                if cid not in ids:
                    raise _bad(owner, "primary_key", f"ids of the table's columns {ids}", cid)
            object.__setattr__(self, "primary_key", pk)
        if self.shard_config is not None and not isinstance(self.shard_config,
                                                            StorageShardConfig):
            raise _bad(owner, "shard_config", "a StorageShardConfig or None", self.shard_config)
        if self.name is None:
            object.__setattr__(self, "name", f"t{self.table_id}")
        _check_name(owner, "name", self.name)

    def column_position(self, column_id: int) -> int:
        for i, c in enumerate(self.columns):
            if c.column_id == column_id:
                return i
        raise KeyError(column_id)


# ---------------------------------------------------------------------------- indexes


class StoredVectorMetric(enum.Enum):
    L2 = "l2"
    COSINE = "cosine"
    INNER_PRODUCT = "inner_product"
    MANHATTAN = "manhattan"

    def as_str(self) -> str:
        return self.value


class StoredQuantizationKind(enum.Enum):
    NONE = "none"
    SCALAR = "sq"
    BINARY = "bq"
    PRODUCT = "pq"

    def as_str(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class HnswStorageOptions:
    m: int = 16
    ef_construction: int = 200
    distance_metric: StoredVectorMetric = StoredVectorMetric.L2
    quantization: StoredQuantizationKind = StoredQuantizationKind.NONE
    prenormalised: bool = False

    def __post_init__(self) -> None:
        check_u64("HnswStorageOptions", "m", self.m, 2, 128)
        check_u64("HnswStorageOptions", "ef_construction", self.ef_construction, 1, U32_MAX)
        _check_enum("HnswStorageOptions", "distance_metric", self.distance_metric,
                    StoredVectorMetric)
        _check_enum("HnswStorageOptions", "quantization", self.quantization,
                    StoredQuantizationKind)
        _check_bool("HnswStorageOptions", "prenormalised", self.prenormalised)


@dataclass(frozen=True, slots=True)
class IvfFlatStorageOptions:
    nlist: int = 64
    nprobe: int = 8
    distance_metric: StoredVectorMetric = StoredVectorMetric.L2

    def __post_init__(self) -> None:
        check_u64("IvfFlatStorageOptions", "nlist", self.nlist, 1, U32_MAX)
        check_u64("IvfFlatStorageOptions", "nprobe", self.nprobe, 1, U32_MAX)
        _check_enum("IvfFlatStorageOptions", "distance_metric", self.distance_metric,
                    StoredVectorMetric)


@dataclass(frozen=True, slots=True)
class IndexKeyColumn:
    """One key column. ``nulls_first`` defaults as PostgreSQL: ASC NULLS LAST, DESC NULLS FIRST."""

    column_id: ColumnId
    descending: bool = False
    nulls_first: bool | None = None

    def __post_init__(self) -> None:
        check_u64("IndexKeyColumn", "column_id", self.column_id)
        _check_bool("IndexKeyColumn", "descending", self.descending)
        if self.nulls_first is None:
            object.__setattr__(self, "nulls_first", self.descending)
        _check_bool("IndexKeyColumn", "nulls_first", self.nulls_first)

    @property
    def codec_flags(self) -> int:
        return (1 if self.descending else 0) | (2 if self.nulls_first else 0)


@dataclass(frozen=True, slots=True)
class IndexStorageDescriptor:
    index_id: IndexId
    table_id: RelationId
    key_columns: tuple[IndexKeyColumn, ...]
    unique: bool = False
    nulls_not_distinct: bool = False
    gin: bool = False
    include_columns: tuple[ColumnId, ...] = ()
    hnsw_options: HnswStorageOptions | None = None
    ivf_flat_options: IvfFlatStorageOptions | None = None
    name: str | None = None  # addition: defaults to f"i{index_id}"

    def __post_init__(self) -> None:
        owner = "IndexStorageDescriptor"
        check_u64(owner, "index_id", self.index_id, 1)
        check_u64(owner, "table_id", self.table_id, 1)
        kc = _tuple_of(owner, "key_columns", self.key_columns, IndexKeyColumn)
        if len({k.column_id for k in kc}) != len(kc):
            raise _bad(owner, "key_columns", "distinct column ids", [k.column_id for k in kc])
        object.__setattr__(self, "key_columns", kc)
        for name in ("unique", "nulls_not_distinct", "gin"):
            _check_bool(owner, name, getattr(self, name))
        inc = _id_tuple(owner, "include_columns", self.include_columns)
        if set(inc) & {k.column_id for k in kc}:
            raise _bad(owner, "include_columns", "columns that are not key columns", inc)
        object.__setattr__(self, "include_columns", inc)
        if self.hnsw_options is not None and not isinstance(self.hnsw_options,
                                                            HnswStorageOptions):
            raise _bad(owner, "hnsw_options", "HnswStorageOptions or None", self.hnsw_options)
        if self.ivf_flat_options is not None and not isinstance(self.ivf_flat_options,
                                                                IvfFlatStorageOptions):
            raise _bad(owner, "ivf_flat_options", "IvfFlatStorageOptions or None",
                       self.ivf_flat_options)
        if self.hnsw_options is not None and self.ivf_flat_options is not None:
            raise _bad(owner, "ivf_flat_options", "None when hnsw_options is set (exclusive)",
                       self.ivf_flat_options)
        if self.name is None:
            object.__setattr__(self, "name", f"i{self.index_id}")
        _check_name(owner, "name", self.name)

    @property
    def kind(self) -> str:
        if self.hnsw_options is not None:
            return "hnsw"
        if self.ivf_flat_options is not None:
            return "ivf_flat"
        return "gin" if self.gin else "btree"


# ---------------------------------------------------------------------------- ranges


class Unbounded:
    """No bound on this side (a singleton: ``UNBOUNDED``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNBOUNDED"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unbounded)

    def __hash__(self) -> int:
        return 0


UNBOUNDED = Unbounded()


@dataclass(frozen=True, slots=True)
class Included:
    value: Any


@dataclass(frozen=True, slots=True)
class Excluded:
    value: Any


Bound = Unbounded | Included | Excluded


def check_bound(owner: str, name: str, b: Any, *, key: bool) -> Any:
    if isinstance(b, Unbounded):
        return b
    if not isinstance(b, (Included, Excluded)):
        raise _bad(owner, name, "UNBOUNDED, Included(...) or Excluded(...)", b)
    if key:
        v = b.value
        if isinstance(v, (str, bytes)) or not isinstance(v, Sequence) or not v:
            raise _bad(owner, name, "a bound on a non-empty tuple of key values", b)
        return type(b)(tuple(v))
    return b


@dataclass(frozen=True, slots=True)
class KeyRange:
    """A range of index keys: bounds hold a tuple of leading key-column values (a prefix).

    Bounds are in the index's own order: for a DESC column, ``lower`` is the larger value.
    """

    lower: Bound = UNBOUNDED
    upper: Bound = UNBOUNDED

    def __post_init__(self) -> None:
        object.__setattr__(self, "lower", check_bound("KeyRange", "lower", self.lower, key=True))
        object.__setattr__(self, "upper", check_bound("KeyRange", "upper", self.upper, key=True))

    @staticmethod
    def full() -> KeyRange:
        return KeyRange()

    @staticmethod
    def point(key: Sequence[Any]) -> KeyRange:
        return KeyRange(Included(tuple(key)), Included(tuple(key)))

    @staticmethod
    def prefix(key: Sequence[Any]) -> KeyRange:
        """Every entry whose leading key columns equal ``key`` (same as ``point``)."""
        return KeyRange.point(key)


class TupleRecord(NamedTuple):
    """One row of a scan: its tuple id and the row (a tuple in column / projection order)."""

    tuple_id: int
    row: tuple

    @property
    def heap_position(self) -> int:
        return self.tuple_id


# ---------------------------------------------------------------------------- txns, reports


class IsolationLevel(enum.Enum):
    READ_COMMITTED = "read_committed"
    SNAPSHOT = "snapshot"
    SERIALIZABLE = "serializable"

    @classmethod
    def parse(cls, value: Any) -> IsolationLevel:
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            key = value.strip().lower().replace(" ", "_")
            aliases = {"repeatable_read": "snapshot", "snapshot_isolation": "snapshot"}
            key = aliases.get(key, key)
            for level in cls:
                if level.value == key:
                    return level
        raise InvalidArgumentError(
            f"isolation must be an IsolationLevel or one of 'read_committed', 'snapshot', "
            f"'serializable', got {value!r}")


@dataclass(frozen=True, slots=True)
class CheckpointInfo:
    """``checkpoint_lsn``: the LSM sequence number the checkpoint covers;
    ``dirty_pages_flushed``: memtable entries written to SSTables by this checkpoint."""

    checkpoint_lsn: int
    dirty_pages_flushed: int


@dataclass(frozen=True, slots=True)
class RecoveredStatistics:
    table_id: RelationId
    row_count: int
    total_bytes: int
    dead_row_count: int
    column_stats: tuple[tuple[ColumnId, float, float, int], ...] = ()


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    recovered_transactions: int = 0
    recovered_statistics: tuple[RecoveredStatistics, ...] = ()
    records_replayed: int = 0
    last_lsn: int = 0
    torn_tail: bool = False


@dataclass(frozen=True, slots=True)
class StorageMetrics:
    table_count: int = 0
    index_count: int = 0
    hnsw_index_count: int = 0
    gin_index_count: int = 0
    total_row_count: int = 0
    total_dead_row_count: int = 0
    active_transaction_count: int = 0
    estimated_memory_bytes: int = 0
    wal_written_bytes_total: int = 0
    wal_durable_flush_total: int = 0
    wal_group_commit_queue_depth_peak: int = 0
    rows_read_total: int = 0
    rows_written_total: int = 0
    transactions_committed_total: int = 0
    transactions_aborted_total: int = 0
    serialization_failures_total: int = 0
    commit_groups_total: int = 0
    checkpoints_total: int = 0
    extra: dict = field(default_factory=dict, compare=False)


def check_finite(owner: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _bad(owner, name, "a finite number", value)
    return float(value)


# ---------------------------------------------------------------------------- protocols

Projection = Sequence[ColumnId] | None
Stream = Iterator[TupleRecord]


@runtime_checkable
class StorageDDL(Protocol):
    def create_table_storage(self, txn: TxnId, table: TableStorageDescriptor) -> None: ...
    def create_index_storage(self, txn: TxnId, index: IndexStorageDescriptor) -> None: ...
    def alter_table_storage(self, txn: TxnId, table: TableStorageDescriptor) -> None: ...
    def drop_table_storage(self, txn: TxnId, table_id: RelationId) -> None: ...
    def drop_index_storage(self, txn: TxnId, index_id: IndexId) -> None: ...
    def reindex_vector_index_storage(self, txn: TxnId, index_id: IndexId) -> None: ...


@runtime_checkable
class StorageTxnParticipant(Protocol):
    def begin_txn(self, txn: TxnId, isolation: IsolationLevel) -> None: ...
    def validate_commit_txn(self, txn: TxnId) -> None: ...
    def commit_txn(self, txn: TxnId, commit_ts: int | None = None) -> None: ...
    def rollback_txn(self, txn: TxnId) -> None: ...
    def checkpoint(self) -> CheckpointInfo: ...
    def create_savepoint(self, txn: TxnId) -> int: ...
    def rollback_to_savepoint(self, txn: TxnId, savepoint_id: int) -> None: ...
    def release_savepoint(self, txn: TxnId, savepoint_id: int) -> None: ...


@runtime_checkable
class StorageCapabilities(Protocol):
    def supports_vector_search(self) -> bool: ...
    def supports_gin_search(self) -> bool: ...
    def supports_savepoints(self) -> bool: ...
    def supports_durability(self) -> bool: ...
    def supports_persistent_ordered_indexes(self) -> bool: ...
    def supports_vacuum(self) -> bool: ...
    def supports_statistics_logging(self) -> bool: ...
    def supports_adjacency_lookup(self) -> bool: ...


RangeFilter = tuple[ColumnId, Bound, Bound]


@runtime_checkable
class StorageDML(Protocol):
    """Reads see the transaction's snapshot (SNAPSHOT) or the statement's (READ COMMITTED)
    merged with its own writes; the origin's explicit ``snapshot`` argument is implied by the
    transaction. ``txn`` 0 (AUTOCOMMIT_TXN) runs one statement in its own transaction."""

    def cache_generation(self) -> int | None: ...
    def graph_projection_cache_get(self, namespace: str, cache_key: str,
                                   generation: int) -> bytes | None: ...
    def graph_projection_cache_put(self, namespace: str, cache_key: str, generation: int,
                                   payload: bytes) -> None: ...
    def apply_replicated_wal_entry(self, record_bytes: bytes) -> None: ...
    def scan_table(self, txn: TxnId, table_id: RelationId,
                   projected_columns: Projection = None) -> Stream: ...
    def scan_table_limited(self, txn: TxnId, table_id: RelationId, projected_columns: Projection,
                           offset: int, limit: int | None) -> Stream: ...
    def scan_table_shard(self, txn: TxnId, table_id: RelationId, shard_id: int,
                         projected_columns: Projection = None) -> Stream: ...
    def scan_table_eq_filter(self, txn: TxnId, table_id: RelationId, filter_column: ColumnId,
                             filter_value: Any, projected_columns: Projection = None) -> Stream: ...
    def scan_table_eq_filter_limited(self, txn: TxnId, table_id: RelationId,
                                     filter_column: ColumnId, filter_value: Any,
                                     projected_columns: Projection,
                                     max_matches: int | None) -> Stream: ...
    def scan_table_range_filter(self, txn: TxnId, table_id: RelationId, filter_column: ColumnId,
                                lower: Bound, upper: Bound,
                                projected_columns: Projection = None) -> Stream: ...
    def scan_table_null_filter(self, txn: TxnId, table_id: RelationId, filter_column: ColumnId,
                               is_not_null: bool, projected_columns: Projection = None) -> Stream: ...
    def scan_table_multi_range_filter(self, txn: TxnId, table_id: RelationId,
                                      filters: Sequence[RangeFilter],
                                      projected_columns: Projection = None) -> Stream: ...
    def scan_table_in_filter(self, txn: TxnId, table_id: RelationId, filter_column: ColumnId,
                             filter_values: Sequence[Any],
                             projected_columns: Projection = None) -> Stream: ...
    def visible_row_count(self, txn: TxnId, table_id: RelationId) -> int: ...
    def try_prove_filter_empty(self, txn: TxnId, table_id: RelationId,
                               column_predicates: Sequence[RangeFilter]) -> bool | None: ...
    def visible_eq_row_count(self, txn: TxnId, table_id: RelationId, filter_column: ColumnId,
                             filter_value: Any) -> int: ...
    def visible_index_row_count(self, txn: TxnId, index_id: IndexId,
                                key_range: KeyRange) -> int: ...
    def index_candidate_tuple_ids(self, txn: TxnId, index_id: IndexId,
                                  key_range: KeyRange) -> list[TupleId]: ...
    def visible_index_group_counts(self, txn: TxnId, index_id: IndexId,
                                   key_range: KeyRange) -> list[tuple[Any, int]]: ...
    def visible_index_group_count_rows(self, txn: TxnId, index_id: IndexId,
                                       key_range: KeyRange) -> list[tuple]: ...
    def index_min_single_column_value(self, txn: TxnId, index_id: IndexId) -> Any: ...
    def index_max_single_column_value(self, txn: TxnId, index_id: IndexId) -> Any: ...
    def scan_index(self, txn: TxnId, index_id: IndexId, key_range: KeyRange,
                   projected_columns: Projection = None) -> Stream: ...
    def scan_index_limited(self, txn: TxnId, index_id: IndexId, key_range: KeyRange,
                           projected_columns: Projection, limit: int) -> Stream: ...
    def scan_index_ordered(self, txn: TxnId, index_id: IndexId, key_range: KeyRange,
                           projected_columns: Projection, descending: bool) -> Stream: ...
    def scan_index_ordered_limited(self, txn: TxnId, index_id: IndexId, key_range: KeyRange,
                                   projected_columns: Projection, descending: bool,
                                   limit: int) -> Stream: ...
    def fetch(self, txn: TxnId, table_id: RelationId, tuple_id: TupleId,
              projected_columns: Projection = None) -> tuple | None: ...
    def fetch_ref(self, txn: TxnId, table_id: RelationId, tuple_id: TupleId,
                  projected_columns: Projection = None) -> tuple | None: ...
    def insert(self, txn: TxnId, table_id: RelationId, row: Sequence[Any]) -> TupleId: ...
    def insert_batch(self, txn: TxnId, table_id: RelationId,
                     rows: Sequence[Sequence[Any]]) -> list[TupleId]: ...
    def update(self, txn: TxnId, table_id: RelationId, tuple_id: TupleId,
               row: Sequence[Any]) -> TupleId: ...
    def delete(self, txn: TxnId, table_id: RelationId, tuple_id: TupleId) -> None: ...
    def vacuum_table(self, table_id: RelationId) -> int: ...
    def vector_search(self, txn: TxnId, index_id: IndexId, query: Sequence[float], k: int,
                      ef: int | None = None,
                      tuple_id_filter: Callable[[int], bool] | None = None) -> Stream: ...
    def gin_containment_search(self, txn: TxnId, index_id: IndexId, pattern: Any) -> Stream: ...
    def gin_containment_search_limited(self, txn: TxnId, index_id: IndexId, pattern: Any,
                                       visible_limit: int) -> Stream: ...
    def register_edge_table(self, table_id: RelationId, source_col_idx: int,
                            target_col_idx: int) -> None: ...
    def unregister_edge_table(self, table_id: RelationId) -> None: ...
    def log_analyze_stats(self, table_id: RelationId, row_count: int, total_bytes: int,
                          dead_row_count: int,
                          column_stats: Sequence[tuple[ColumnId, float, float, int]]) -> None: ...
    def adjacency_lookup(self, txn: TxnId, edge_table_id: RelationId, node_id: Any,
                         outgoing: bool) -> list[TupleId]: ...
    def adjacency_neighbors(self, txn: TxnId, edge_table_id: RelationId, node_id: Any,
                            outgoing: bool) -> list[Any]: ...
    def adjacency_edges(self, txn: TxnId, edge_table_id: RelationId) -> list[tuple]: ...
    def adjacency_weighted_edges(self, txn: TxnId, edge_table_id: RelationId,
                                 weight_column: ColumnId) -> list[tuple]: ...
    def adjacency_edge_endpoints(self, txn: TxnId, edge_table_id: RelationId,
                                 edge_tuple_id: TupleId) -> tuple[Any, Any] | None: ...
    def adjacency_index_available(self, txn: TxnId, edge_table_id: RelationId) -> bool: ...
    def adjacency_index_has_edges(self, txn: TxnId, edge_table_id: RelationId) -> bool: ...
