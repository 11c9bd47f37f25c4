"""lsmdb/_core/rowstage.pyx: the insert staging loop against the Python entry builder it
replaces (BTreeIndex.insert_entry), the commit batch builder, the deleted-keys set."""

from __future__ import annotations

import struct

import pytest

from lsmdb._core import rowcodec
from lsmdb._core.batch import WriteBatch
from lsmdb._core.rowstage import batch_overlay, deleted_keys, stage_inserts
from lsmdb.indexes.btree import BTreeIndex
from lsmdb.storage_api import (
    DataType,
    IndexKeyColumn,
    IndexStorageDescriptor,
    StorageColumn,
    TableStorageDescriptor,
)

TABLE = TableStorageDescriptor(7, (StorageColumn(1, DataType.BIGINT, False, "id"),
                                   StorageColumn(2, DataType.TEXT, True, "name"),
                                   StorageColumn(3, DataType.DOUBLE, True, "score")),
                               (1,), None, "t")
SPECS = tuple(c.data_type.spec() for c in TABLE.columns)
ROWS = [(1, "ann", 0.5), (2, None, -1.0), (3, "cy", None), (2**62, "dee", 2.0)]


def _index(index_id, keys, unique=False, nnd=False, include=()):
    return BTreeIndex(IndexStorageDescriptor(index_id, 7, tuple(keys), unique, nnd, False,
                                             tuple(include), None, None, f"i{index_id}"),
                      TABLE)


INDEXES = [
    _index(1, [IndexKeyColumn(1)], unique=True),
    _index(2, [IndexKeyColumn(2, True, True), IndexKeyColumn(3)]),  # DESC NULLS FIRST
    _index(3, [IndexKeyColumn(2)], unique=True, include=[3, 1]),  # NULLs distinct
    _index(4, [IndexKeyColumn(3)], unique=True, nnd=True),
]


def _stage(rows, tids, get=lambda k: None, max_key=1 << 16, puts=None):
    puts = {} if puts is None else puts
    datas = [rowcodec.encode_row(SPECS, r) for r in rows]
    out = stage_inserts(7, tids, rows, datas, tuple(ix.insert_plan for ix in INDEXES), puts,
                        get, max_key, rowcodec.encode_key, rowcodec.encode_row)
    return out, puts, datas


def test_staged_entries_equal_the_python_entry_builder():
    tids = [10, 11, 12, 2**63 + 5]
    (heap_keys, stop), puts, datas = _stage(ROWS, tids)
    assert stop is None
    want = {}
    for tid, row, data in zip(tids, ROWS, datas, strict=True):
        hk = struct.pack(">BQQ", 0x10, 7, tid)
        want[hk] = data
        for ix in INDEXES:
            k, v, _ = ix.insert_entry(row, struct.pack(">Q", tid))
            want[k] = v
    assert heap_keys == [struct.pack(">BQQ", 0x10, 7, t) for t in tids]
    assert puts == want


def test_a_taken_slot_stops_the_stage():
    (_, stop), _, _ = _stage([ROWS[0], (5, "ann", 9.0)], [1, 2])  # "ann" again in index 3
    assert stop[0] == "taken" and stop[1] == 2 and stop[3] == 2
    existing = INDEXES[0].insert_entry(ROWS[1], struct.pack(">Q", 99))[0]
    (keys, stop), _, _ = _stage(ROWS, [1, 2, 3, 4], get=lambda k: b"x" if k == existing
                                else None)
    assert stop[:2] == ("taken", 0) and stop[2] == existing and len(keys) == 2
    # NULL under NULLS NOT DISTINCT (index 4) is a slot; two NULL scores collide there
    (_, stop), _, _ = _stage([(1, "a", None), (2, "b", None)], [1, 2])
    assert stop[:2] == ("taken", 3)


def test_a_key_over_the_limit_stops_the_stage():
    (_, stop), _, _ = _stage([(1, "x" * 100, 1.0)], [1], max_key=50)
    assert stop[0] == "too_long" and stop[1] == 1 and len(stop[2]) > 50


def test_no_indexes_stages_rows_only():
    puts: dict = {}
    keys, stop = stage_inserts(3, [4], [(1,)], [b"row"], (), puts, None, 10, None, None)
    assert stop is None and puts == {struct.pack(">BQQ", 0x10, 3, 4): b"row"} == dict(
        zip(keys, [b"row"], strict=True))


def test_batch_overlay_appends_what_put_and_delete_would():
    overlay = {b"b": b"2", b"a": None, b"c": b"", b"": b"empty key"}
    got, want = WriteBatch(), WriteBatch()
    batch_overlay(got, overlay)
    for k, v in overlay.items():
        if v is None:
            want.delete(k)
        else:
            want.put(k, v)
    assert got.data() == want.data() and got.count == 4
    with pytest.raises(TypeError):
        batch_overlay(WriteBatch(), {"text": b"v"})
    with pytest.raises(TypeError):
        batch_overlay(WriteBatch(), {b"k": 5})


def test_deleted_keys_are_the_none_values():
    assert deleted_keys({b"a": None, b"b": b"", b"c": None}) == frozenset({b"a", b"c"})
    assert deleted_keys({}) == frozenset()
