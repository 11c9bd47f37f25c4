"""Transactional DDL: create / alter / drop of tables and indexes.

DDL writes catalog records into the transaction's overlay and swaps the transaction's catalog
view (copy on write), so the transaction sees its own DDL and a rollback leaves no trace.
Dropping deletes the table's or index's key ranges in the commit batch (the transaction masks
them from its own reads at once). Creating an index on a populated table backfills it from
the transaction's view in the same transaction. Every DDL on a table rewrites the table's
catalog record: concurrent DML on that table then conflicts with it at commit.
"""

from __future__ import annotations

from lsmdb._core import rowcodec
from lsmdb.engine.catalog import (
    TableInfo,
    check_table_types,
    encode_index,
    encode_table,
    pk_descriptor,
)
from lsmdb.engine.txn import Transaction
from lsmdb.errors import (
    ConstraintError,
    FeatureNotSupportedError,
    InvalidArgumentError,
    SchemaError,
)
from lsmdb.indexes.base import kind_for
from lsmdb.storage_api import IndexStorageDescriptor, TableStorageDescriptor
from lsmdb.storage_keys import NAME_TAG, PK_INDEX_BIT, index_key, stats_key, table_key

__all__ = ["create_table", "create_index", "alter_table", "drop_table", "drop_index"]


def _touch_table(txn: Transaction, info: TableInfo) -> None:
    """Write the table's record and depend on no concurrent DML to it (see module doc)."""
    txn.put(table_key(info.table_id), encode_table(info))
    txn.checks.setdefault(info.prefix, txn.write_ts())
    _planned(txn, table_key(info.table_id))


def _planned(txn: Transaction, key: bytes) -> None:
    """DDL decided on the transaction's catalog, which READ COMMITTED keeps from its first DDL
    statement: a commit of ``key`` since that catalog's ts conflicts."""
    txn.checks.setdefault(key, txn.catalog_ts)


def _claim_name(txn: Transaction, kind: bytes, name: str) -> None:
    """Two concurrent transactions creating (or renaming to) one name conflict at commit."""
    key = NAME_TAG + kind + name.encode()
    _planned(txn, key)
    txn.marks.add(key)


def create_table(txn: Transaction, desc: TableStorageDescriptor) -> TableInfo:
    if not isinstance(desc, TableStorageDescriptor):
        raise InvalidArgumentError(f"expected a TableStorageDescriptor, got {desc!r}")
    if desc.table_id >= PK_INDEX_BIT:
        raise InvalidArgumentError(f"table_id must be below 2**63, got {desc.table_id}")
    if desc.shard_config is not None:
        raise FeatureNotSupportedError("sharded tables (shard_config) are not supported by "
                                       "this storage engine")
    cat = txn.catalog
    if desc.table_id in cat.tables:
        raise SchemaError(f"table id {desc.table_id} already exists")
    if desc.name in cat.table_names:
        raise SchemaError(f"table {desc.name!r} already exists")
    check_table_types(desc)
    info = TableInfo(desc, 1)
    pk = pk_descriptor(desc)
    if pk is not None:
        if pk.name in cat.index_names:
            raise SchemaError(f"index {pk.name!r} already exists")
        info = info.with_indexes([kind_for(pk, desc, primary=True)])
    # Claims only once nothing can fail: a failed statement must leave no conflict behind.
    _claim_name(txn, b"T", desc.name)
    if pk is not None:
        _claim_name(txn, b"I", pk.name)
    new = cat.with_table(info, desc.table_id)
    txn.set_catalog(new, desc.table_id, info)
    _touch_table(txn, info)
    for ix in info.indexes:
        txn.put(index_key(ix.index_id), encode_index(ix))
    txn.engine._tuple_counter(desc.table_id)
    return info


def create_index(txn: Transaction, desc: IndexStorageDescriptor):
    if not isinstance(desc, IndexStorageDescriptor):
        raise InvalidArgumentError(f"expected an IndexStorageDescriptor, got {desc!r}")
    if desc.index_id >= PK_INDEX_BIT:
        raise InvalidArgumentError(f"index_id must be below 2**63, got {desc.index_id}")
    cat = txn.catalog
    t = cat.table(desc.table_id)
    if desc.index_id in cat.indexes:
        raise SchemaError(f"index id {desc.index_id} already exists")
    if desc.name in cat.index_names:
        raise SchemaError(f"index {desc.name!r} already exists")
    for cid in [k.column_id for k in desc.key_columns] + list(desc.include_columns):
        if cid not in t.positions:
            raise SchemaError(f"table {t.name!r} has no column id {cid}")
    ix = kind_for(desc, t.descriptor)  # FeatureNotSupportedError for kinds not built
    for spec in ix.key_specs:
        rowcodec.check_spec(spec)
    # Backfill from this transaction's view, checking uniqueness, before anything is applied.
    from lsmdb.engine.scan import heap_scan

    entries: dict[bytes, bytes] = {}
    max_key = txn.engine._max_key
    for rec in heap_scan(txn, t, None):
        k, v = ix.entry(rec.row, rec.tuple_id)
        if len(k) > max_key:
            raise InvalidArgumentError(f"index {desc.name!r}: a key of {len(k)} bytes exceeds "
                                       f"the limit of {max_key} bytes")
        if k in entries:
            raise ConstraintError(f"could not create unique index {desc.name!r}: table "
                                  f"{t.name!r} holds duplicate key {ix.decode_leading(k, len(ix.key_specs))!r}")
        entries[k] = v
    added = _backfill_bytes(txn, entries.items(), replacing=False)
    _claim_name(txn, b"I", desc.name)
    new = cat.with_index(ix, desc.index_id, desc.table_id)
    txn.set_catalog(new, desc.table_id, new.tables[desc.table_id], desc.index_id, ix)
    _touch_table(txn, new.tables[desc.table_id])
    txn.put(index_key(desc.index_id), encode_index(ix))
    for k, v in entries.items():
        txn.put(k, v)
    txn.pending_bytes += added
    return ix


def _backfill_bytes(txn: Transaction, new_entries, replacing: bool) -> int:
    """Under a memory limit: the bytes a DDL statement's backfill (new keys) or row rewrite
    (``replacing`` the values of existing keys) adds, checked against the limit before
    anything is applied (MemoryLimitError). 0 without a limit."""
    eng = txn.engine
    if eng.options.memory_limit_bytes is None:
        return 0
    added = 0
    for k, v in new_entries:
        old = txn.get(k) if replacing else None
        added += len(v) - len(old) if old is not None else len(k) + len(v)
    eng._check_memory(txn, added)
    return added


def drop_index(txn: Transaction, index_id) -> None:
    cat = txn.catalog
    ix = cat.index(index_id)
    if ix.primary:
        raise SchemaError(f"index {ix.name!r} is the primary key of table {ix.table_id}; drop "
                          f"the table instead")
    new = cat.with_index(None, ix.index_id, ix.table_id)
    txn.set_catalog(new, ix.table_id, new.tables[ix.table_id], ix.index_id, None)
    txn.mask(ix.prefix, ix.end)
    _touch_table(txn, new.tables[ix.table_id])
    txn.put(index_key(ix.index_id), None)


def drop_table(txn: Transaction, table_id) -> None:
    cat = txn.catalog
    t = cat.table(table_id)
    new = cat.with_table(None, t.table_id)
    txn.set_catalog(new, t.table_id, None)
    for ix in t.indexes:
        txn.ddl_indexes[ix.index_id] = None
        txn.mask(ix.prefix, ix.end)
        txn.put(index_key(ix.index_id), None)
    txn.mask(t.prefix, t.end)
    txn.put(table_key(t.table_id), None)
    txn.put(stats_key(t.table_id), None)
    txn.checks.setdefault(t.prefix, txn.write_ts())
    _planned(txn, table_key(t.table_id))


def alter_table(txn: Transaction, desc: TableStorageDescriptor) -> TableInfo:
    """Columns are matched by column id. Allowed: add columns, drop columns no index uses,
    rename, change nullability (NOT NULL is checked against the rows). Other changes (type,
    primary key, sharding) raise FeatureNotSupportedError."""
    if not isinstance(desc, TableStorageDescriptor):
        raise InvalidArgumentError(f"expected a TableStorageDescriptor, got {desc!r}")
    cat = txn.catalog
    t = cat.table(desc.table_id)
    old = t.descriptor
    if desc.shard_config is not None:
        raise FeatureNotSupportedError("sharded tables (shard_config) are not supported")
    if desc.primary_key != old.primary_key:
        raise FeatureNotSupportedError("changing a table's primary key is not supported")
    if desc.name != old.name and desc.name in cat.table_names:
        raise SchemaError(f"table {desc.name!r} already exists")
    check_table_types(desc)
    old_cols = {c.column_id: c for c in old.columns}
    new_ids = {c.column_id for c in desc.columns}
    for c in desc.columns:
        prev = old_cols.get(c.column_id)
        if prev is not None and prev.data_type != c.data_type:
            raise FeatureNotSupportedError(
                f"changing the type of column {prev.name!r} ({prev.data_type} -> "
                f"{c.data_type}) is not supported")
    used = {k for ix in t.indexes for k in ix.descriptor.include_columns}
    used |= {k.column_id for ix in t.indexes for k in ix.descriptor.key_columns}
    for cid, c in old_cols.items():
        if cid not in new_ids and cid in used:
            raise SchemaError(f"column {c.name!r} of table {t.name!r} is used by an index; "
                              f"drop the index first")
    info = TableInfo(desc, t.schema_version + 1)
    indexes = tuple(kind_for(ix.descriptor, desc, ix.primary) for ix in t.indexes)
    info = info.with_indexes(indexes)
    info.schema_version = t.schema_version + 1
    # Rewrite every row into the new layout (checked against the new NOT NULL columns).
    from lsmdb.engine.dml import encode_checked
    from lsmdb.engine.scan import heap_scan
    from lsmdb.storage_keys import heap_key

    old_pos = t.positions
    mapping = [old_pos.get(c.column_id) for c in desc.columns]
    same_layout = mapping == list(range(len(old.columns))) and len(mapping) == t.width
    rewrites = []
    if not same_layout or info.not_null != t.not_null:
        for rec in heap_scan(txn, t, None):
            row = tuple(None if p is None else rec.row[p] for p in mapping)
            _, data = encode_checked(info, row, txn.engine._max_value)
            rewrites.append((heap_key(t.table_id, rec.tuple_id), data, len(rec.row)))
    added = (_backfill_bytes(txn, ((k, d) for k, d, _ in rewrites), replacing=True)
             if not same_layout else 0)
    if desc.name != old.name:  # claimed once nothing can fail (as in create_table)
        _claim_name(txn, b"T", desc.name)
    new = cat.with_table(None, t.table_id).with_table(info, t.table_id)
    txn.set_catalog(new, t.table_id, info)
    for ix in indexes:
        txn.ddl_indexes[ix.index_id] = ix
    _touch_table(txn, info)
    for key, data, _ in rewrites:
        if not same_layout:
            old_data = txn.get(key)
            txn.note_heap_before(key, -1 if old_data is None else len(old_data))
            txn.put(key, data)
    txn.pending_bytes += added
    return info
