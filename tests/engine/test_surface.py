"""lsmdb/engine/surface.py: every storage-API call with a bad argument raises the documented
error at call time (scans too, before the first ``next``) and leaves the engine usable."""

import pytest

from lsmdb import UNBOUNDED, KeyRange
from lsmdb.errors import InvalidArgumentError, SchemaError, TransactionError


@pytest.fixture
def e(mem):
    mem.create_table("t", [("a", "INT", False), ("b", "TEXT")], primary_key="a")
    mem.create_index("t", ["b"], name="t_b")
    mem.insert(0, "t", (1, "x"))
    return mem


BAD = [
    (lambda e: e.insert(0, 3.5, (1, "x")), SchemaError),
    (lambda e: e.insert(0, "t", None), SchemaError),
    (lambda e: e.insert(0, "t", {"a": 1}), SchemaError),
    (lambda e: e.insert(77, "t", (2, "y")), TransactionError),
    (lambda e: e.insert("0", "t", (2, "y")), TransactionError),
    (lambda e: e.update(0, "t", -1, (1, "x")), InvalidArgumentError),
    (lambda e: e.update(0, "t", 1, (1,)), SchemaError),
    (lambda e: e.delete(0, "t", None), InvalidArgumentError),
    (lambda e: e.fetch(0, "t", 1, "a"), SchemaError),
    (lambda e: e.fetch(0, "t", 1, [9]), SchemaError),
    (lambda e: e.scan_table(0, "nope"), SchemaError),
    (lambda e: e.scan_table(0, "t", [True]), SchemaError),
    (lambda e: e.scan_table_limited(0, "t", None, 0, -1), InvalidArgumentError),
    (lambda e: e.scan_table_eq_filter(0, "t", "zz", 1), SchemaError),
    (lambda e: e.scan_table_eq_filter(0, "t", "b", 5), SchemaError),
    (lambda e: e.scan_table_eq_filter_limited(0, "t", "b", "x", None, "1"),
     InvalidArgumentError),
    (lambda e: e.scan_table_range_filter(0, "t", "a", 1, UNBOUNDED), InvalidArgumentError),
    (lambda e: e.scan_table_in_filter(0, "t", "a", 5), InvalidArgumentError),
    (lambda e: e.scan_table_in_filter(0, "t", "a", ["x"]), SchemaError),
    (lambda e: e.scan_table_multi_range_filter(0, "t", "a"), InvalidArgumentError),
    (lambda e: e.scan_index(0, "t_b", None), InvalidArgumentError),
    (lambda e: e.scan_index_ordered(0, "t_b", KeyRange(), None, "yes"), InvalidArgumentError),
    (lambda e: e.scan_index_limited(0, "t_b", KeyRange(), None, -3), InvalidArgumentError),
    (lambda e: e.visible_index_row_count(0, "t_b", KeyRange.point([5])), InvalidArgumentError),
    (lambda e: e.index_min_single_column_value(0, 999), SchemaError),
    (lambda e: e.try_prove_filter_empty(0, "t", [("a",)]), InvalidArgumentError),
    (lambda e: e.visible_eq_row_count(0, "t", "a", "one"), SchemaError),
    (lambda e: e.create_table_storage(0, None), InvalidArgumentError),
    (lambda e: e.alter_table_storage(0, "t"), InvalidArgumentError),
    (lambda e: e.drop_table_storage(0, 42), SchemaError),
    (lambda e: e.drop_index_storage(0, "zz"), SchemaError),
    (lambda e: e.create_index("t", ["b"], name="t_b"), SchemaError),
    (lambda e: e.create_table("t", [("a", "INT")]), SchemaError),
    (lambda e: e.graph_projection_cache_put("n", "k", 0, "str"), InvalidArgumentError),
    (lambda e: e.log_analyze_stats("t", 1, 1, 1, [(1, float("nan"), 0.0, 1)]),
     InvalidArgumentError),
]


@pytest.mark.parametrize("call, err", BAD)
def test_bad_arguments(e, call, err):
    with pytest.raises(err):
        call(e)
    # usable afterwards, and nothing was applied
    assert [r.row for r in e.scan_table(0, "t")] == [(1, "x")]
    assert e.verify_indexes("t") == []
    assert e._horizons == {} and e._txns == {}


def test_bad_arguments_inside_a_transaction_keep_it_usable(e):
    with e.transaction() as tx:
        for call, err in BAD[:12]:
            with pytest.raises(err):
                call(_Bound(e, tx.txn_id))
        tx.insert("t", (2, "y"))
    assert [r.row for r in e.scan_table(0, "t")] == [(1, "x"), (2, "y")]


class _Bound:
    """Routes the engine calls of BAD (written for autocommit) into one transaction."""

    def __init__(self, engine, txn):
        self._e, self._txn = engine, txn

    def __getattr__(self, name):
        fn = getattr(self._e, name)

        def call(txn, *args):
            return fn(self._txn if txn == 0 else txn, *args)
        return call
