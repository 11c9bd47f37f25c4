"""lsmdb/engine/scan.py: every scan of ORIGIN.md §1 through the heap and through B-tree
indexes gives the same answers (checked against a plain Python evaluation)."""

import datetime
import decimal
import math
import uuid

import pytest

from lsmdb import UNBOUNDED, Excluded, Included, KeyRange
from lsmdb.errors import InvalidArgumentError, SchemaError

ROWS = [(i, (None if i % 5 == 0 else i % 7), f"n{i % 3}", float(i) / 2) for i in range(40)]


@pytest.fixture(params=["heap", "index"])
def t(engine, request):
    engine.create_table("t", [("id", "INT", False), ("a", "INT"), ("s", "TEXT"),
                              ("f", "DOUBLE")], primary_key="id")
    if request.param == "index":
        engine.create_index("t", ["a DESC"], name="t_a")
        engine.create_index("t", ["s", "f"], name="t_sf")
        engine.create_index("t", ["f"], name="t_f")
    with engine.transaction() as tx:
        tx.insert_many("t", ROWS)
    return engine


def ids(records):
    return sorted(r.row[0] for r in records)


def where(pred):
    return sorted(r[0] for r in ROWS if pred(r))


def test_scan_table_projection_limit_offset(t):
    assert [r.row for r in t.scan_table(0, "t", ["s", "id"])][:2] == [("n0", 0), ("n1", 1)]
    got = list(t.scan_table_limited(0, "t", None, 5, 3))
    assert [r.row[0] for r in got] == [5, 6, 7]
    assert [r.tuple_id for r in got] == [6, 7, 8]
    assert list(t.scan_table_limited(0, "t", None, 100, None)) == []
    with pytest.raises(InvalidArgumentError):
        t.scan_table_limited(0, "t", None, -1, 3)


def test_eq_filter(t):
    assert ids(t.scan_table_eq_filter(0, "t", "a", 3)) == where(lambda r: r[1] == 3)
    assert ids(t.scan_table_eq_filter(0, "t", "a", None)) == []  # = NULL matches nothing
    assert ids(t.scan_table_eq_filter(0, "t", "s", "n1", ["id"])) == where(
        lambda r: r[2] == "n1")
    assert len(list(t.scan_table_eq_filter_limited(0, "t", "a", 3, None, 2))) == 2
    assert t.visible_eq_row_count(0, "t", "a", 3) == len(where(lambda r: r[1] == 3))
    with pytest.raises(SchemaError, match="'a'"):
        t.scan_table_eq_filter(0, "t", "a", "three")


@pytest.mark.parametrize("lo, hi, pred", [
    (Included(2), Included(4), lambda v: 2 <= v <= 4),
    (Excluded(2), Excluded(4), lambda v: 2 < v < 4),
    (UNBOUNDED, Excluded(3), lambda v: v < 3),
    (Included(5), UNBOUNDED, lambda v: v >= 5),
    (UNBOUNDED, UNBOUNDED, lambda v: True),
    (Included(5), Included(2), lambda v: False),
])
def test_range_filter(t, lo, hi, pred):
    got = ids(t.scan_table_range_filter(0, "t", "a", lo, hi))
    assert got == where(lambda r: r[1] is not None and pred(r[1]))


def test_null_in_multi_range_filters(t):
    assert ids(t.scan_table_null_filter(0, "t", "a", False)) == where(lambda r: r[1] is None)
    assert ids(t.scan_table_null_filter(0, "t", "a", True)) == where(
        lambda r: r[1] is not None)
    assert ids(t.scan_table_in_filter(0, "t", "a", [1, 3, None, 3])) == where(
        lambda r: r[1] in (1, 3))
    got = ids(t.scan_table_multi_range_filter(0, "t", [("a", Included(1), Included(4)),
                                                       ("f", Excluded(5.0), UNBOUNDED)]))
    assert got == where(lambda r: r[1] is not None and 1 <= r[1] <= 4 and r[3] > 5.0)
    with pytest.raises(InvalidArgumentError):
        t.scan_table_multi_range_filter(0, "t", [("a", 1)])
    with pytest.raises(InvalidArgumentError):
        t.scan_table_null_filter(0, "t", "a", 1)


def test_try_prove_filter_empty(t):
    assert t.try_prove_filter_empty(0, "t", [("a", Included(100), UNBOUNDED)]) is True
    assert t.try_prove_filter_empty(0, "t", [("a", Included(3), Included(2))]) is True
    assert t.try_prove_filter_empty(0, "t", [("a", Included(3), Included(3))]) is False
    assert t.visible_row_count(0, "t") == len(ROWS)


def test_filters_see_the_transactions_own_writes(t):
    with t.transaction() as tx:
        tid = tx.insert("t", (100, 3, "zz", 0.0))
        tx.delete("t", 4)  # row id 3 (tuple 4) had a == 3
        got = ids(tx.scan("t", where={"a": 3}))
        assert got == sorted([i for i in where(lambda r: r[1] == 3) if i != 3] + [100])
        assert tid in [r.tuple_id for r in tx.scan("t", where={"s": "zz"})]
        tx.rollback()


def test_nan_and_signed_zero_compare_as_postgresql(engine):
    engine.create_table("d", [("x", "DOUBLE")])
    ix = engine.create_index("d", ["x"])
    with engine.transaction() as tx:
        tx.insert_many("d", [(math.nan,), (-0.0,), (1.0,), (math.inf,), (None,)])
    assert len(list(engine.scan_table_eq_filter(0, "d", "x", 0.0))) == 1
    assert len(list(engine.scan_table_eq_filter(0, "d", "x", math.nan))) == 1
    got = [r.row[0] for r in engine.scan_table_range_filter(0, "d", "x", Included(1.0),
                                                             UNBOUNDED)]
    assert got[:2] == [1.0, math.inf] and math.isnan(got[2])  # NaN sorts above +inf
    assert math.isnan(engine.index_max_single_column_value(0, ix))


def test_index_scans_composite_prefix_desc_and_limits(engine):
    engine.create_table("c", [("a", "INT"), ("b", "TEXT"), ("c", "INT")])
    ix = engine.create_index("c", ["a", "b DESC NULLS LAST"], name="c_ab", include=["c"])
    rows = [(a, b, a * 10) for a in (1, 2, 3) for b in ("x", "y", None)]
    with engine.transaction() as tx:
        tx.insert_many("c", rows)
    full = [r.row for r in engine.scan_index(0, ix, KeyRange.full())]
    assert full == [(a, b, a * 10) for a in (1, 2, 3) for b in ("y", "x", None)]
    assert [r.row for r in engine.scan_index(0, "c_ab", KeyRange.point([2]))] == [
        (2, "y", 20), (2, "x", 20), (2, None, 20)]
    assert [r.row for r in engine.scan_index(0, ix, KeyRange.point([2, "x"]))] == [
        (2, "x", 20)]
    kr = KeyRange(Excluded([1]), Included([3, "y"]))
    assert [r.row[:2] for r in engine.scan_index(0, ix, kr)] == [
        (2, "y"), (2, "x"), (2, None), (3, "y")]
    assert [r.row for r in engine.scan_index_limited(0, ix, KeyRange.full(), ["b"], 2)] == [
        ("y",), ("x",)]
    desc = [r.row for r in engine.scan_index_ordered(0, ix, KeyRange.full(), None, True)]
    assert desc == full[::-1]
    assert [r.row for r in engine.scan_index_ordered_limited(
        0, ix, KeyRange.full(), None, True, 1)] == [full[-1]]
    assert engine.visible_index_row_count(0, ix, KeyRange.point([1])) == 3
    assert engine.index_candidate_tuple_ids(0, ix, KeyRange.point([3])) == [8, 7, 9]
    assert engine.visible_index_group_counts(0, ix, KeyRange.full()) == [(1, 3), (2, 3), (3, 3)]
    assert engine.visible_index_group_count_rows(0, ix, KeyRange.point([2])) == [(2, 3)]
    assert engine.index_min_single_column_value(0, ix) == 1
    assert engine.index_max_single_column_value(0, ix) == 3
    with pytest.raises(InvalidArgumentError):
        engine.scan_index(0, ix, (1, 2))
    with pytest.raises(InvalidArgumentError):
        list(engine.scan_index(0, ix, KeyRange.point([1, "x", 5])))
    with pytest.raises(SchemaError):
        engine.scan_index(0, "nope", KeyRange.full())


def test_min_max_skip_nulls_and_empty(engine):
    engine.create_table("m", [("v", "INT")])
    asc = engine.create_index("m", ["v NULLS FIRST"])
    desc = engine.create_index("m", ["v DESC"])
    for ix in (asc, desc):
        assert engine.index_min_single_column_value(0, ix) is None
    with engine.transaction() as tx:
        tx.insert_many("m", [(None,), (5,), (-2,), (None,)])
    for ix in (asc, desc):
        assert engine.index_min_single_column_value(0, ix) == -2
        assert engine.index_max_single_column_value(0, ix) == 5
    assert [r.row[0] for r in engine.scan_index(0, asc, KeyRange.full())] == [None, None, -2, 5]
    assert [r.row[0] for r in engine.scan_index(0, desc, KeyRange.full())] == [None, None, 5, -2]


TYPED = [
    ("BOOLEAN", [True, False, None]),
    ("REAL", [1.5, -2.0, float("inf")]),
    ("NUMERIC", [decimal.Decimal("1.50"), decimal.Decimal("-3")]),
    ("BLOB", [b"\x00", b"", b"\xff\x00"]),
    ("DATE", [datetime.date(2020, 1, 2), datetime.date(1999, 1, 1)]),
    ("UUID", [uuid.UUID(int=5), uuid.UUID(int=1)]),
    ("JSONB", [{"a": 1}, [1, 2], "s", 3, True]),
    ("vector(2)", [[1.0, 2.0], [0.5, 9.0]]),
    ("text[]", [["b", None], ["a"], []]),
]


@pytest.mark.parametrize("typename, values", TYPED)
def test_every_type_indexes_in_its_natural_order(mem, typename, values):
    mem.create_table("x", [("v", typename)])
    ix = mem.create_index("x", ["v"])
    desc = mem.create_index("x", ["v DESC"])
    with mem.transaction() as tx:
        tids = tx.insert_many("x", [(v,) for v in values])
    asc_ids = [r.tuple_id for r in mem.scan_index(0, ix, KeyRange.full())]
    desc_ids = [r.tuple_id for r in mem.scan_index(0, desc, KeyRange.full())]
    assert sorted(asc_ids) == sorted(tids)
    assert desc_ids == asc_ids[::-1]  # DESC NULLS FIRST is the exact reverse of ASC NULLS LAST
    for tid, v in zip(tids, values, strict=True):
        if v is not None:
            assert tid in [r.tuple_id for r in mem.scan_table_eq_filter(0, "x", "v", v)]
    assert mem.verify_indexes("x") == []
