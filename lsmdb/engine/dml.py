"""Row writes and point reads: insert / update / delete / fetch with schema and constraint
checks. Each call stages every key it will write, validates, and only then applies the stage
to the overlay, so a failing statement applies nothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lsmdb._core import rowcodec
from lsmdb._core.rowstage import stage_inserts as _stage_inserts
from lsmdb.engine.catalog import TableInfo
from lsmdb.engine.txn import Transaction
from lsmdb.errors import ConstraintError, InvalidArgumentError, SchemaError
from lsmdb.storage_keys import heap_key, pack_u64

__all__ = ["insert_rows", "update_row", "delete_row", "fetch_row", "encode_checked",
           "projection_positions", "pk_slot_key", "lookup_row"]

_encode_row = rowcodec.encode_row
_decode_row = rowcodec.decode_row
_encode_key = rowcodec.encode_key


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def encode_checked(t: TableInfo, row: Any, max_value: int) -> tuple[tuple, bytes]:
    """(normalized row, encoded bytes), or SchemaError naming table, column and value."""
    if not isinstance(row, (tuple, list)):
        raise SchemaError(f"table {t.name!r}: a row is a tuple or list of {t.width} values, "
                          f"not {type(row).__name__}")
    if len(row) != t.width:
        raise SchemaError(f"table {t.name!r} has {t.width} columns, the row has {len(row)} "
                          f"values: {_short(row)}")
    for p in t.not_null:
        if row[p] is None:
            raise SchemaError(f"table {t.name!r} column {t.column_name(p)!r}: NULL in a NOT "
                              f"NULL column")
    try:
        data = _encode_row(t.specs, tuple(row))
    except InvalidArgumentError:
        for p, (spec, value) in enumerate(zip(t.specs, row, strict=True)):
            try:
                rowcodec.normalize(spec, value)
            except InvalidArgumentError as exc:
                col = t.descriptor.columns[p]
                raise SchemaError(f"table {t.name!r} column {col.name!r} ({col.data_type}): "
                                  f"{exc} (value {_short(value)})") from None
        raise
    if len(data) > max_value:
        raise InvalidArgumentError(
            f"table {t.name!r}: the row encodes to {len(data)} bytes, more than the storage "
            f"limit of {max_value} bytes per row")
    # The stored form (REAL rounded to float32, buffers as bytes, ...) is what index keys are
    # built from, so an entry written now is found again from the decoded row later. Values
    # whose stored form is themselves (catalog.TableInfo.index_exact) need no decode.
    if not t.indexes:
        return tuple(row), data
    exact = t.index_exact
    if exact is not None:
        for p, ty in exact:
            v = row[p]
            if type(v) is not ty and v is not None:
                break
        else:
            return tuple(row), data
    return _decode_row(t.specs, data), data


def _index_stage(txn: Transaction, t: TableInfo, tid: int, old: tuple | None,
                 new: tuple | None, puts: dict, deletes: list, max_key: int) -> None:
    for ix in t.indexes:
        if old is None:
            dels, ps = (), (ix.entry(new, tid),)
        elif new is None:
            dels, ps = ix.on_delete(old, tid), ()
        else:
            dels, ps = ix.on_update(old, new, tid)
        if dels:
            deletes.extend(dels)
        for k, v in ps:
            if len(k) > max_key:
                raise InvalidArgumentError(
                    f"index {ix.name!r}: the key encodes to {len(k)} bytes, more than the "
                    f"limit of {max_key} bytes per index key")
            if ix.unique and ix.is_slot(new):
                _check_unique(txn, t, ix, k, tid, puts, deletes)
            puts[k] = v


def _check_unique(txn: Transaction, t: TableInfo, ix, key: bytes, tid: int, puts: dict,
                  deletes: list) -> None:
    if key in puts and ix.entry_tuple_id(key, puts[key]) != tid:
        raise ConstraintError(f"duplicate key value violates unique index {ix.name!r} of "
                              f"table {t.name!r} (within one statement)")
    if key in deletes:
        return
    v = txn.get(key)
    if v is not None and ix.entry_tuple_id(key, v) != tid:
        values = ix.decode_leading(key, len(ix.key_specs))
        raise ConstraintError(
            f"duplicate key value violates unique index {ix.name!r} of table {t.name!r}: "
            f"key {_short(values)} already exists")


def _apply(txn: Transaction, t: TableInfo, deletes: list, puts: dict) -> None:
    put = txn.put
    for k in deletes:
        if k not in puts:
            put(k, None)
    if txn.savepoints or txn.rc:
        for k, v in puts.items():
            put(k, v)
    else:  # nothing to undo or timestamp per key: one dict update
        txn.overlay.update(puts)
        txn._sorted = None
    marker = t.prefix
    if marker not in txn.marks:
        txn.marks.add(marker)
        # Planned with the catalog as of catalog_ts (older than the statement for READ
        # COMMITTED after own DDL): any DDL on the table committed since must abort this.
        txn.checks.setdefault(txn.engine._catalog_key(t.table_id), txn.catalog_ts)


def _staged_bytes(puts: dict, deletes: list) -> int:
    """What staged writes add to the key space as the memory limit counts it (key + value of
    every live entry): every put whole, less the key of every delete. A deleted entry's value
    is not known here, so the figure errs high: a write may be refused a little early, never
    let past the limit."""
    return sum(len(k) + len(v) for k, v in puts.items()) - sum(len(k) for k in deletes)


def insert_rows(txn: Transaction, t: TableInfo, rows: Sequence[Any]) -> list[int]:
    eng = txn.engine
    max_value, max_key = eng._max_value, eng._max_key
    nrows: list[tuple] = []
    datas: list[bytes] = []
    puts: dict[bytes, bytes] = {}
    deletes: list[bytes] = []
    added = 0
    for row in rows:
        nrow, data = encode_checked(t, row, max_value)
        nrows.append(nrow)
        datas.append(data)
        added += len(data)
    eng._check_memory(txn, added)
    counter = eng._tuple_counter(t.table_id)
    tids = [next(counter) for _ in nrows]
    indexes = t.indexes
    plans = t.insert_plans
    if plans is not None:  # every index is a B-tree: the C staging loop
        heap_keys, stop = _stage_inserts(t.table_id, tids, nrows, datas, plans, puts,
                                         txn.get, max_key, _encode_key, _encode_row)
        if stop is not None:
            reason, j, k, tid = stop
            _refuse_entry(txn, t, indexes[j], k, tid, max_key, puts, deletes)
    else:
        heap_keys = []
        for tid, nrow, data in zip(tids, nrows, datas, strict=True):
            key = heap_key(t.table_id, tid)
            heap_keys.append(key)
            puts[key] = data
            tb = pack_u64(tid)
            for ix in indexes:
                k, v, slot = ix.insert_entry(nrow, tb)
                # A new tuple id is in no stored entry, so any entry in its slot (staged by
                # this statement or visible to the transaction) belongs to another row.
                if len(k) > max_key or (slot and (k in puts or txn.get(k) is not None)):
                    _refuse_entry(txn, t, ix, k, tid, max_key, puts, deletes)
                puts[k] = v
    if eng.options.memory_limit_bytes is not None:
        # The rows' bytes checked above are a lower bound; index entries and keys add more.
        added = _staged_bytes(puts, deletes)
        eng._check_memory(txn, added)
    before = txn.heap_before
    for nrow_key in heap_keys:
        before.setdefault(nrow_key, -1)
    _apply(txn, t, deletes, puts)
    txn.pending_bytes += added
    eng._metrics.rows_written += len(tids)
    return tids


def _refuse_entry(txn: Transaction, t: TableInfo, ix, key: bytes, tid: int, max_key: int,
                  puts: dict, deletes: list) -> None:
    """Raise the error of an index entry the insert path stopped at (too long, or its
    uniqueness slot taken)."""
    if len(key) > max_key:
        raise InvalidArgumentError(
            f"index {ix.name!r}: the key encodes to {len(key)} bytes, more than the "
            f"limit of {max_key} bytes per index key")
    _check_unique(txn, t, ix, key, tid, puts, deletes)
    raise AssertionError(f"index {ix.name!r}: a taken uniqueness slot was not refused")


def _old_row(txn: Transaction, t: TableInfo, tid: int) -> tuple[bytes, bytes]:
    if type(tid) is not int or tid < 0:
        raise InvalidArgumentError(f"a tuple id is a non-negative int, not {tid!r}")
    key = heap_key(t.table_id, tid)
    old = txn.get(key)
    if old is None:
        raise InvalidArgumentError(f"tuple {tid} does not exist in table {t.name!r}")
    return key, old


def update_row(txn: Transaction, t: TableInfo, tid: int, row: Sequence[Any]) -> int:
    eng = txn.engine
    key, old_data = _old_row(txn, t, tid)
    nrow, data = encode_checked(t, row, eng._max_value)
    grow = len(data) - len(old_data)
    if grow > 0:
        eng._check_memory(txn, grow)
    puts = {key: data}
    deletes: list[bytes] = []
    if t.indexes:
        _index_stage(txn, t, tid, _decode_row(t.specs, old_data), nrow, puts, deletes,
                     eng._max_key)
    if eng.options.memory_limit_bytes is not None:
        # the changed index entries count too (the heap entry replaces its old version)
        grow = _staged_bytes(puts, deletes) - len(key) - len(old_data)
        if grow > 0:
            eng._check_memory(txn, grow)
    txn.note_heap_before(key, len(old_data))
    _apply(txn, t, deletes, puts)
    txn.pending_bytes += grow
    eng._metrics.rows_written += 1
    return tid


def delete_row(txn: Transaction, t: TableInfo, tid: int) -> None:
    key, old_data = _old_row(txn, t, tid)
    deletes = [key]
    if t.indexes:
        old = _decode_row(t.specs, old_data)
        for ix in t.indexes:
            deletes.extend(ix.on_delete(old, tid))
    txn.note_heap_before(key, len(old_data))
    _apply(txn, t, deletes, {})
    txn.pending_bytes -= len(old_data)
    txn.engine._metrics.rows_written += 1


def projection_positions(t: TableInfo, projected: Sequence[Any] | None) -> tuple[int, ...] | None:
    if projected is None:
        return None
    if isinstance(projected, (str, bytes)) or not isinstance(projected, Sequence):
        raise SchemaError(f"a projection is a sequence of column ids or names, not "
                          f"{projected!r}")
    return tuple(t.column_position(c) for c in projected)


def decode(t: TableInfo, data: bytes, positions: tuple[int, ...] | None) -> tuple:
    if positions is None:
        return _decode_row(t.specs, data)
    return rowcodec.decode_row_columns(t.specs, data, positions)


def fetch_row(txn: Transaction, t: TableInfo, tid: int,
              positions: tuple[int, ...] | None) -> tuple | None:
    if type(tid) is not int or tid < 0:
        raise InvalidArgumentError(f"a tuple id is a non-negative int, not {tid!r}")
    data = txn.get(heap_key(t.table_id, tid))
    if data is None:
        return None
    txn.engine._metrics.rows_read += 1
    return decode(t, data, positions)


def pk_slot_key(t: TableInfo, key: tuple) -> bytes | None:
    """The primary-key entry key of a full key (its uniqueness slot: one point read finds the
    row), or None when ``key`` is partial or holds a NULL (no slot: callers scan instead)."""
    ix = t.primary_index
    if ix is None:
        raise SchemaError(f"table {t.name!r} has no primary key")
    if len(key) != len(ix.key_specs) or None in key:
        return None
    return ix.prefix + rowcodec.encode_key(ix.key_specs, key, ix.flags)


def lookup_row(get, t: TableInfo, slot: bytes) -> tuple[int, tuple] | None:
    """(tuple id, row) of the primary-key slot ``slot`` read through ``get`` (a transaction's
    or a snapshot's point read), or None."""
    v = get(slot)
    if v is None:
        return None
    tid = t.primary_index.entry_tuple_id(slot, v)
    data = get(heap_key(t.table_id, tid))
    if data is None:
        return None  # cannot happen while index and heap commit together
    return tid, _decode_row(t.specs, data)
