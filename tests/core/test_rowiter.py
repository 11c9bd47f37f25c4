"""The C scan loops of the storage engine (lsmdb/_core/rowiter.pyx)."""

from __future__ import annotations

import gc
import struct

import pytest

from lsmdb._core import rowcodec
from lsmdb._core.rowiter import HeapRecords, IndexRecords
from lsmdb.storage_api import TupleRecord

SPECS = ((3,), (7,))  # BIGINT, TEXT
ROWS = {5: (50, "five"), 7: (70, "seven"), 2**63 + 3: (1, "big")}


def heap_key(table_id: int, tid: int) -> bytes:
    return struct.pack(">BQQ", 0x10, table_id, tid)


def heap_items(table_id: int = 9):
    return [(heap_key(table_id, tid), rowcodec.encode_row(SPECS, row))
            for tid, row in sorted(ROWS.items())]


class Metrics:
    rows_read = 0


def test_heap_records_decode_every_row_with_its_tuple_id_and_count_them():
    m = Metrics()
    done = []
    it = HeapRecords(heap_items(), SPECS, None, TupleRecord, rowcodec.decode_row,
                     rowcodec.decode_row_columns, m).then(lambda: done.append(1))
    got = list(it)
    assert got == [TupleRecord(tid, row) for tid, row in sorted(ROWS.items())]
    assert all(type(r) is TupleRecord for r in got)
    assert (m.rows_read, done) == (3, [1])
    assert list(it) == [] and done == [1]  # finished once


def test_heap_records_project_columns():
    it = HeapRecords(heap_items(), SPECS, (1,), TupleRecord, rowcodec.decode_row,
                     rowcodec.decode_row_columns)
    assert [r.row for r in it] == [("five",), ("seven",), ("big",)]


def test_index_records_read_rows_of_unique_and_non_unique_entries():
    heap = dict(heap_items(4))
    reads = []

    def get(keys, snap):
        reads.append((list(keys), snap))
        return [heap.get(k) for k in keys]

    tids = sorted(ROWS)
    unique = [(b"\x20k%d" % i, struct.pack(">Q", tid) + b"inc") for i, tid in enumerate(tids)]
    it = IndexRecords(unique, get, "snap", 4, True, SPECS, None, TupleRecord,
                      rowcodec.decode_row, rowcodec.decode_row_columns)
    assert [(r.tuple_id, r.row) for r in it] == [(t, ROWS[t]) for t in tids]
    assert reads[0] == ([heap_key(4, t) for t in tids], "snap")  # one batch, in entry order
    plain = [(b"\x20" + b"x" * 9 + struct.pack(">Q", tid), b"") for tid in (*tids, 12345)]
    m = Metrics()
    it = IndexRecords(plain, get, None, 4, False, SPECS, (0,), TupleRecord,
                      rowcodec.decode_row, rowcodec.decode_row_columns, m)
    assert [r.row for r in it] == [(50,), (70,), (1,)]  # the entry without a row is skipped
    assert m.rows_read == 3


def test_an_error_or_an_abandoned_iterator_still_finishes_once():
    done = []

    def boom():
        yield heap_items()[0]
        raise OSError("disk")

    it = HeapRecords(boom(), SPECS, None, TupleRecord, rowcodec.decode_row,
                     rowcodec.decode_row_columns).then(lambda: done.append("err"))
    assert next(it).tuple_id == 5
    with pytest.raises(OSError):
        next(it)
    assert done == ["err"]
    it = HeapRecords(heap_items(), SPECS, None, TupleRecord, rowcodec.decode_row,
                     rowcodec.decode_row_columns).then(lambda: done.append("drop"))
    next(it)
    del it
    gc.collect()
    assert done == ["err", "drop"]
    it = HeapRecords(heap_items(), SPECS, None, TupleRecord, rowcodec.decode_row,
                     rowcodec.decode_row_columns).then(lambda: done.append("close"))
    it.close()
    it.close()
    assert done == ["err", "drop", "close"]
    with pytest.raises(StopIteration):
        next(it)


def test_malformed_keys_raise_instead_of_reading_out_of_bounds():
    with pytest.raises(ValueError):
        next(HeapRecords([(b"\x10short", b"")], SPECS, None, TupleRecord,
                         rowcodec.decode_row, rowcodec.decode_row_columns))
    with pytest.raises(ValueError):
        next(IndexRecords([(b"k", b"1234")], lambda k, s: [None] * len(k), None, 1, True,
                          SPECS, None,
                          TupleRecord, rowcodec.decode_row, rowcodec.decode_row_columns))


def test_index_records_read_rows_in_growing_batches_and_finish_after_the_last_row():
    """Batches of 4, 8, 16, ... entries (so a scan stopped early reads few rows ahead); the
    finish callbacks run only once the last buffered row is out, not when the entries run
    out."""
    n = 40
    heap = {heap_key(4, t): rowcodec.encode_row(SPECS, (t, f"r{t}")) for t in range(n)}
    sizes, done = [], []

    def get_many(keys, snap):
        sizes.append(len(keys))
        return [heap.get(k) for k in keys]

    entries = [(b"\x20" + b"x" * 9 + struct.pack(">Q", t), b"") for t in range(n)]
    it = IndexRecords(entries, get_many, None, 4, False, SPECS, None, TupleRecord,
                      rowcodec.decode_row, rowcodec.decode_row_columns
                      ).then(lambda: done.append(1))
    first = next(it)
    assert first.tuple_id == 0 and sizes == [4]
    rest = list(it)
    assert [r.tuple_id for r in rest] == list(range(1, n))
    assert sizes == [4, 8, 16, 12] and done == [1]


def test_index_records_refuse_a_short_answer_from_get_many():
    entries = [(b"\x20" + b"x" * 9 + struct.pack(">Q", t), b"") for t in range(3)]
    it = IndexRecords(entries, lambda keys, snap: [], None, 4, False, SPECS, None,
                      TupleRecord, rowcodec.decode_row, rowcodec.decode_row_columns)
    with pytest.raises(AssertionError):
        next(it)
