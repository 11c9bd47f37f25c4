"""Scans: heap scans, B-tree index scans, filter scans (eq / range / multi-range / in / null)
and the counting helpers of ORIGIN.md §1. Filters use a B-tree index whose leading column is
the filter column when one exists, else a heap scan testing each row. Values compare through
the key codec, so equality and order are the type's own (NaN = NaN, 1.0 = 1.00, -0.0 = 0.0)."""

from __future__ import annotations

import struct
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from heapq import merge
from itertools import islice
from typing import Any

from lsmdb._core import rowcodec
from lsmdb._core.rowiter import HeapRecords, IndexRecords
from lsmdb.engine.catalog import TableInfo
from lsmdb.engine.dml import decode
from lsmdb.engine.txn import Transaction
from lsmdb.errors import InvalidArgumentError, SchemaError
from lsmdb.storage_api import (
    UNBOUNDED,
    Excluded,
    Included,
    KeyRange,
    TupleRecord,
    Unbounded,
)
from lsmdb.storage_keys import heap_key, heap_prefix, prefix_end, table_key, unpack_u64

__all__ = ["heap_scan", "index_scan", "filter_scan", "Filter", "index_entries",
           "overtaken"]

_encode_key = rowcodec.encode_key
_decode_row = rowcodec.decode_row
# TupleRecord(a, b) runs the namedtuple's Python __new__; tuple.__new__ builds the same
# object in one C call (the per-row cost of a scan matters).
_tuple_new = tuple.__new__
_U64_AT = struct.Struct(">Q").unpack_from


def heap_scan(txn: Transaction, t: TableInfo, positions, reverse: bool = False
              ) -> Iterator[TupleRecord]:
    """The table's rows (``positions``: a projection), as of this call."""
    metrics = txn.engine._metrics
    if txn.overlay or txn.masks or txn.serializable:
        return _merged_heap_scan(txn, t, positions, reverse)
    # No own writes to merge and no read set: the key space's own iterator at the statement's
    # snapshot (kept until the scan ends), each row decoded by the C loop of rowiter.
    snap = txn.stmt.acquire()
    try:
        items = txn.backend.scan(t.prefix, t.end, reverse, snap.keysnap)
    except BaseException:
        snap.release()
        raise
    return HeapRecords(items, t.specs, positions, TupleRecord, _decode_row,
                       rowcodec.decode_row_columns, metrics).then(snap.release)


def _merged_heap_scan(txn: Transaction, t: TableInfo, positions, reverse: bool
                      ) -> Iterator[TupleRecord]:
    specs = t.specs
    metrics = txn.engine._metrics
    n = 0
    new, unpack = _tuple_new, _U64_AT
    try:
        if positions is None:
            for k, v in txn.scan(t.prefix, t.end, reverse):
                n += 1
                yield new(TupleRecord, (unpack(k, 9)[0], _decode_row(specs, v)))
        else:
            cols = rowcodec.decode_row_columns
            for k, v in txn.scan(t.prefix, t.end, reverse):
                n += 1
                yield new(TupleRecord, (unpack(k, 9)[0], cols(specs, v, positions)))
    finally:
        metrics.rows_read += n


def index_entries(txn: Transaction, ix, start: bytes, stop: bytes, reverse: bool = False,
                  skip_nulls: bool = False) -> Iterator[tuple[bytes, bytes]]:
    if txn.rc and (overtaken(txn, ix.table_id)
                   or ix.index_id not in txn.stmt.catalog.indexes):
        # The second case: a READ COMMITTED transaction with DDL of its own keeps its
        # catalog, and a commit since dropped this index: the statement snapshot holds no
        # entries of it, so they are made from the rows, as for an index the transaction
        # created itself.
        it = _own_view_entries(txn, ix, start, stop, reverse)
    else:
        it = txn.scan(start, stop, reverse)
    if not skip_nulls:
        return it
    null = ix.null_lead
    return ((k, v) for k, v in it if not k.startswith(null))


def overtaken(txn: Transaction, table_id: int) -> bool:
    """READ COMMITTED: a commit changed the table (DML or DDL) since this transaction planned
    its first write to it. Its overlay's index entries were made against older versions of
    the rows than the statement snapshot holds, so merging them key by key with the snapshot
    would show a tuple twice, or under a key its row no longer has."""
    checks = txn.checks
    ck, marker = table_key(table_id), heap_prefix(table_id)  # catalog record, DML marker
    deps = [checks[k] for k in (ck, marker) if k in checks]
    if not deps:
        return False  # this transaction wrote nothing to the table
    dep = min(deps)
    recent = txn.engine._tracker.recent
    return recent.get(marker, 0) > dep or recent.get(ck, 0) > dep


def _own_view_entries(txn: Transaction, ix, start: bytes, stop: bytes, reverse: bool
                      ) -> Iterator[tuple[bytes, bytes]]:
    """The entries in [start, stop) of the statement's view: the snapshot's entries of the
    tuples this transaction did not write, and entries made from its own rows for the tuples
    it wrote (they replace the snapshot's). An index this transaction created (absent from the
    snapshot) is made from the rows of its heap view."""
    t = txn.catalog.table(ix.table_id)
    snap = txn.stmt.acquire()
    try:
        if ix.index_id not in snap.catalog.indexes:
            own = [ix.entry(rec.row, rec.tuple_id) for rec in heap_scan(txn, t, None)]
            base = iter(())
        else:
            ov = txn.overlay
            keys = txn._sorted_keys()
            own = []
            for k in keys[bisect_left(keys, t.prefix):bisect_left(keys, t.end)]:
                if ov[k] is not None:
                    own.append(ix.entry(_decode_row(t.specs, ov[k]), unpack_u64(k, 9)))
            tid_of, tid_table = ix.entry_tuple_id, t.table_id
            base = ((k, v) for k, v in txn.backend.scan(start, stop, reverse, snap.keysnap)
                    if heap_key(tid_table, tid_of(k, v)) not in ov)
        # Equal keys (one unique slot twice: a doomed view) in tuple id order, as the model.
        def order(e, tid_of=ix.entry_tuple_id):
            return e[0], tid_of(e[0], e[1])
        own = sorted((e for e in own if start <= e[0] < stop), key=order, reverse=reverse)
        yield from merge(base, own, key=order, reverse=reverse)
    finally:
        snap.release()


def rows_for_entries(txn: Transaction, t: TableInfo, ix, entries, positions,
                     predicate=None) -> Iterator[TupleRecord]:
    """The rows the index ``entries`` name (``predicate``: a filter on the full row)."""
    if not txn.overlay and not txn.masks and not txn.serializable and predicate is None:
        # Nothing of the transaction's own to merge and no read set to record: the rows are
        # read straight from the statement's snapshot by the C loop of rowiter.
        snap = txn.stmt.acquire()
        return IndexRecords(entries, txn.backend.get_many, snap.keysnap, t.table_id, ix.unique,
                            t.specs, positions, TupleRecord, _decode_row,
                            rowcodec.decode_row_columns, txn.engine._metrics
                            ).then(snap.release)
    return _merged_rows_for_entries(txn, t, ix, entries, positions, predicate)


def _merged_rows_for_entries(txn: Transaction, t: TableInfo, ix, entries, positions,
                             predicate) -> Iterator[TupleRecord]:
    tid_of = ix.entry_tuple_id
    get = txn.get
    tid_table = t.table_id
    n = 0
    snap = txn.stmt.acquire()  # the entries' snapshot: the statement's, held as theirs is
    try:
        for k, v in entries:
            tid = tid_of(k, v)
            data = get(heap_key(tid_table, tid), snap)
            if data is None:
                continue  # cannot happen while index and heap commit together
            n += 1
            if predicate is None:
                yield TupleRecord(tid, decode(t, data, positions))
            else:
                row = _decode_row(t.specs, data)
                if predicate(row):
                    yield TupleRecord(tid, row if positions is None
                                      else tuple(row[p] for p in positions))
    finally:
        snap.release()
        txn.engine._metrics.rows_read += n


def index_scan(txn: Transaction, t: TableInfo, ix, kr: KeyRange, positions,
               reverse: bool = False) -> Iterator[TupleRecord]:
    start, stop = ix.key_range_bytes(kr)
    return rows_for_entries(txn, t, ix, index_entries(txn, ix, start, stop, reverse), positions)


# ---------------------------------------------------------------------------- filters


class Filter:
    """One column predicate: eq (``values`` of one), in (several), range, or null test."""

    __slots__ = ("pos", "spec", "kind", "values", "lower", "upper", "is_not_null", "_keys",
                 "_lo", "_hi")

    def __init__(self, t: TableInfo, column, kind: str, values=(), lower=UNBOUNDED,
                 upper=UNBOUNDED, is_not_null: bool = False):
        self.pos = t.column_position(column)
        self.spec = t.specs[self.pos]
        self.kind = kind
        self.is_not_null = is_not_null
        for name, b in (("lower", lower), ("upper", upper)):
            if not isinstance(b, (Included, Excluded, Unbounded)):
                raise InvalidArgumentError(
                    f"range filter {name} must be UNBOUNDED, Included(v) or Excluded(v), "
                    f"not {b!r}")
        self.lower, self.upper = lower, upper
        col = t.descriptor.columns[self.pos]
        enc = self._enc_for(t, col)
        # SQL: a comparison with NULL is never true, so NULL values match nothing.
        self.values = [v for v in values if v is not None]
        self._keys = {enc(v) for v in self.values}
        self._lo = None if not isinstance(lower, (Included, Excluded)) or lower.value is None \
            else (enc(lower.value), isinstance(lower, Included))
        self._hi = None if not isinstance(upper, (Included, Excluded)) or upper.value is None \
            else (enc(upper.value), isinstance(upper, Included))
        if kind == "range" and ((isinstance(lower, (Included, Excluded)) and lower.value is None)
                                or (isinstance(upper, (Included, Excluded))
                                    and upper.value is None)):
            self.kind = "none"  # a NULL bound: matches nothing

    def _enc_for(self, t: TableInfo, col):
        spec = (self.spec,)

        def enc(v: Any) -> bytes:
            try:
                return _encode_key(spec, (v,), (0,))
            except InvalidArgumentError as exc:
                raise SchemaError(f"table {t.name!r} column {col.name!r} ({col.data_type}): "
                                  f"{exc} (filter value {v!r})") from None
        return enc

    def empty(self) -> bool:
        if self.kind == "none":
            return True
        if self.kind in ("eq", "in"):
            return not self._keys
        if self.kind == "range" and self._lo is not None and self._hi is not None:
            (lo, lo_inc), (hi, hi_inc) = self._lo, self._hi
            return lo > hi or (lo == hi and not (lo_inc and hi_inc))
        return False

    def matches(self, row: Sequence[Any]) -> bool:
        v = row[self.pos]
        if self.kind == "null":
            return (v is not None) == self.is_not_null
        if v is None:
            return False
        k = _encode_key((self.spec,), (v,), (0,))
        if self.kind in ("eq", "in"):
            return k in self._keys
        if self.kind == "none":
            return False
        if self._lo is not None:
            lo, inc = self._lo
            if k < lo or (k == lo and not inc):
                return False
        if self._hi is not None:
            hi, inc = self._hi
            if k > hi or (k == hi and not inc):
                return False
        return True

    def index_entries(self, txn: Transaction, ix):
        """Entries of ``ix`` (leading column = this filter's) satisfying the filter."""
        spec, flag = ix.key_specs[:1], ix.flags[:1]
        if self.kind in ("eq", "in"):
            starts = sorted({ix.prefix + _encode_key(spec, (v,), flag) for v in self.values})
            return _chain(index_entries(txn, ix, s, prefix_end(s)) for s in starts)
        if self.kind == "null":
            if not self.is_not_null:
                return index_entries(txn, ix, ix.null_lead, prefix_end(ix.null_lead))
            return index_entries(txn, ix, ix.prefix, ix.end, skip_nulls=True)
        lower = UNBOUNDED if self._lo is None else self.lower
        upper = UNBOUNDED if self._hi is None else self.upper
        start, stop = ix.value_range_bytes(lower, upper)
        # Between two non-NULL bounds there are no NULL keys (they sort first or last).
        return index_entries(txn, ix, start, stop,
                             skip_nulls=self._lo is None or self._hi is None)


def _chain(iterables):
    for it in iterables:
        yield from it


def leading_index(t: TableInfo, pos: int):
    best = None
    for ix in t.indexes:
        if ix.key_positions[0] == pos and (best is None or (ix.unique and not best.unique)):
            best = ix
    return best


def filter_scan(txn: Transaction, t: TableInfo, filters: list[Filter], positions,
                max_matches: int | None = None) -> Iterator[TupleRecord]:
    if any(f.empty() for f in filters):
        return iter(())
    driver = ix = None
    for f in filters:
        ix = leading_index(t, f.pos)
        if ix is not None:
            driver = f
            break
    rest = [f for f in filters if f is not driver]
    predicate = None
    if rest:
        def predicate(row, rest=rest):
            return all(f.matches(row) for f in rest)
    if driver is not None:
        it = rows_for_entries(txn, t, ix, driver.index_entries(txn, ix), positions, predicate)
    else:
        def heap_filtered():
            for rec in heap_scan(txn, t, None):
                row = rec.row
                if all(f.matches(row) for f in filters):
                    yield TupleRecord(rec.tuple_id, row if positions is None
                                      else tuple(row[p] for p in positions))
        it = heap_filtered()
    return it if max_matches is None else islice(it, max_matches)
