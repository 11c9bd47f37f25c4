"""Catalog: descriptors <-> catalog records, and the in-memory catalog the engine reads.

Records (values of the 0x01 'T' / 0x01 'I' keys, see keys.py) are UTF-8 JSON objects with a
format version ``"v": 1``:

    table: {"v":1, "table_id":N, "name":S, "schema_version":N,
            "columns":[{"column_id":N, "name":S, "type":T, "nullable":B}, ...],
            "primary_key":[N, ...] | null}
    index: {"v":1, "index_id":N, "table_id":N, "name":S, "unique":B,
            "nulls_not_distinct":B, "key_columns":[[column_id, descending, nulls_first], ...],
            "include_columns":[N, ...], "primary":B}

T is a type name ("INT", "TEXT", ...), {"vector": dims, "element": "float32"} or
{"array": T}. A Catalog object is immutable once built: DDL makes a new one (copy on write),
so a transaction's view never changes under it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from lsmdb._core import rowcodec
from lsmdb.errors import CorruptionError, FeatureNotSupportedError, FormatVersionError, SchemaError
from lsmdb.indexes.base import kind_for
from lsmdb.storage_api import (
    DataKind,
    DataType,
    IndexKeyColumn,
    IndexStorageDescriptor,
    StorageColumn,
    TableStorageDescriptor,
    VectorElementType,
)
from lsmdb.storage_keys import heap_prefix, pk_index_id, prefix_end

__all__ = ["TableInfo", "Catalog", "encode_table", "decode_table", "encode_index",
           "decode_index", "pk_descriptor"]

RECORD_VERSION = 1
# Row codec specs whose stored form of a value of exactly this type is the value itself.
_EXACT_TYPES = {(DataKind.BOOLEAN.value,): bool, (DataKind.INT.value,): int,
                (DataKind.BIGINT.value,): int, (DataKind.DOUBLE.value,): float,
                (DataKind.TEXT.value,): str, (DataKind.BLOB.value,): bytes}


class TableInfo:
    """A table descriptor compiled for the hot paths (codec specs, positions, indexes)."""

    def __init__(self, desc: TableStorageDescriptor, schema_version: int = 1,
                 indexes: tuple = ()):
        self.descriptor = desc
        self.table_id = desc.table_id
        self.name = desc.name
        self.schema_version = schema_version
        self.specs = tuple(c.data_type.spec() for c in desc.columns)
        self.width = len(self.specs)
        self.positions = {c.column_id: i for i, c in enumerate(desc.columns)}
        self.names = {c.name: i for i, c in enumerate(desc.columns)}
        pk = set(desc.primary_key or ())
        # A primary-key column is NOT NULL whatever its descriptor says (as in SQL).
        self.not_null = tuple(i for i, c in enumerate(desc.columns)
                              if not c.nullable or c.column_id in pk)
        self.prefix = heap_prefix(desc.table_id)
        self.end = prefix_end(self.prefix)
        self.indexes = indexes
        self.unique_indexes = tuple(i for i in indexes if i.unique)
        # The B-tree insert plans of every index (None when an index kind has none).
        plans = tuple(getattr(i, "insert_plan", None) for i in indexes)
        self.insert_plans = None if None in plans else plans
        self.primary_index = next((i for i in indexes if getattr(i, "primary", False)), None)
        # Columns the indexes read, with the one Python type whose stored form is the value
        # itself; None when an index reads a column of another kind. When every such value
        # has exactly its type, index entries can be built from the row as given instead of
        # from a decode of its encoding (dml.encode_checked).
        used = sorted({p for i in indexes for p in (*getattr(i, "key_positions", ()),
                                                    *getattr(i, "include_positions", ()))})
        exact = [(p, _EXACT_TYPES.get(self.specs[p])) for p in used]
        self.index_exact = None if any(ty is None for _, ty in exact) else tuple(exact)

    def with_indexes(self, indexes: Iterable) -> TableInfo:
        return TableInfo(self.descriptor, self.schema_version, tuple(indexes))

    def column_position(self, column: int | str) -> int:
        pos = (self.names if isinstance(column, str) else self.positions).get(column)
        if pos is None or isinstance(column, bool):
            raise SchemaError(f"table {self.name!r} has no column {column!r}")
        return pos

    def column_name(self, pos: int) -> str:
        return self.descriptor.columns[pos].name  # type: ignore[return-value]


def check_table_types(desc: TableStorageDescriptor) -> None:
    """Refuse at create time what the engine cannot store (FeatureNotSupportedError)."""
    for c in desc.columns:
        t = c.data_type
        while t.kind is DataKind.ARRAY:
            t = t.element_type  # type: ignore[assignment]
        if t.kind is DataKind.VECTOR and t.element_type is not VectorElementType.FLOAT32:
            raise FeatureNotSupportedError(
                f"column {c.name!r}: VECTOR element type {t.element_type.value} is not "
                f"supported (float32 only)")
        rowcodec.check_spec(c.data_type.spec())


def pk_descriptor(desc: TableStorageDescriptor) -> IndexStorageDescriptor | None:
    if desc.primary_key is None:
        return None
    return IndexStorageDescriptor(
        index_id=pk_index_id(desc.table_id), table_id=desc.table_id,
        key_columns=tuple(IndexKeyColumn(c) for c in desc.primary_key), unique=True,
        name=f"{desc.name}_pkey")


class Catalog:
    """Tables and indexes by id and by name (immutable; ``with_*`` return new catalogs)."""

    def __init__(self, tables: dict[int, TableInfo] | None = None,
                 indexes: dict[int, Any] | None = None):
        self.tables = tables or {}
        self.indexes = indexes or {}
        self.table_names = {t.name: t.table_id for t in self.tables.values()}
        self.index_names = {i.name: i.index_id for i in self.indexes.values()}

    def table(self, ref: int | str) -> TableInfo:
        if isinstance(ref, str):
            tid = self.table_names.get(ref)
            t = None if tid is None else self.tables.get(tid)
        elif type(ref) is int:
            t = self.tables.get(ref)
        else:
            raise SchemaError(f"a table is named by its id (int) or name (str), not {ref!r}")
        if t is None:
            raise SchemaError(f"table {ref!r} does not exist")
        return t

    def index(self, ref: int | str):
        if isinstance(ref, str):
            iid = self.index_names.get(ref)
            i = None if iid is None else self.indexes.get(iid)
        elif type(ref) is int:
            i = self.indexes.get(ref)
        else:
            raise SchemaError(f"an index is named by its id (int) or name (str), not {ref!r}")
        if i is None:
            raise SchemaError(f"index {ref!r} does not exist")
        return i

    def with_table(self, info: TableInfo | None, table_id: int) -> Catalog:
        tables = dict(self.tables)
        indexes = dict(self.indexes)
        if info is None:
            tables.pop(table_id, None)
            for iid in [i for i, x in indexes.items() if x.table_id == table_id]:
                del indexes[iid]
        else:
            tables[table_id] = info
            for ix in info.indexes:
                indexes[ix.index_id] = ix
        return Catalog(tables, indexes)

    def with_index(self, index, index_id: int, table_id: int) -> Catalog:
        """Add (or with ``index`` None remove) an index and relink its table."""
        indexes = dict(self.indexes)
        if index is None:
            indexes.pop(index_id, None)
        else:
            indexes[index_id] = index
        tables = dict(self.tables)
        t = tables[table_id]
        tables[table_id] = TableInfo(t.descriptor, t.schema_version + 1, tuple(
            sorted((x for x in indexes.values() if x.table_id == table_id),
                   key=lambda x: x.index_id)))
        return Catalog(tables, indexes)


# ---------------------------------------------------------------------------- records


def encode_table(info: TableInfo) -> bytes:
    d = info.descriptor
    return json.dumps({
        "v": RECORD_VERSION, "table_id": d.table_id, "name": d.name,
        "schema_version": info.schema_version,
        "columns": [{"column_id": c.column_id, "name": c.name, "type": c.data_type.to_json(),
                     "nullable": c.nullable} for c in d.columns],
        "primary_key": None if d.primary_key is None else list(d.primary_key),
    }, separators=(",", ":")).encode()


def _load(data: bytes, what: str) -> dict:
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        # RecursionError: json's decoder gives up on deep nesting, which no record has.
        raise CorruptionError(f"unreadable {what} catalog record: {exc}") from exc
    if not isinstance(obj, dict):
        raise CorruptionError(f"unreadable {what} catalog record: not an object")
    v = obj.get("v")
    if v != RECORD_VERSION:
        raise FormatVersionError(f"{what} catalog record has format version {v!r}, this build "
                                 f"reads {RECORD_VERSION}")
    return obj


def decode_table(data: bytes) -> TableInfo:
    obj = _load(data, "table")
    try:
        cols = tuple(StorageColumn(c["column_id"], DataType.from_json(c["type"]), c["nullable"],
                                   c["name"]) for c in obj["columns"])
        pk = obj["primary_key"]
        desc = TableStorageDescriptor(obj["table_id"], cols, None if pk is None else tuple(pk),
                                      None, obj["name"])
        return TableInfo(desc, obj["schema_version"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptionError(f"unreadable table catalog record: {exc!r}") from exc


def encode_index(index) -> bytes:
    d = index.descriptor
    return json.dumps({
        "v": RECORD_VERSION, "index_id": d.index_id, "table_id": d.table_id, "name": d.name,
        "unique": d.unique, "nulls_not_distinct": d.nulls_not_distinct,
        "key_columns": [[k.column_id, k.descending, k.nulls_first] for k in d.key_columns],
        "include_columns": list(d.include_columns), "primary": index.primary,
    }, separators=(",", ":")).encode()


def decode_index(data: bytes, tables: dict[int, TableInfo]):
    obj = _load(data, "index")
    try:
        desc = IndexStorageDescriptor(
            index_id=obj["index_id"], table_id=obj["table_id"],
            key_columns=tuple(IndexKeyColumn(c, d, n) for c, d, n in obj["key_columns"]),
            unique=obj["unique"], nulls_not_distinct=obj["nulls_not_distinct"],
            include_columns=tuple(obj["include_columns"]), name=obj["name"])
        table = tables[desc.table_id]
        return kind_for(desc, table.descriptor, bool(obj["primary"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptionError(f"unreadable index catalog record: {exc!r}") from exc
