"""lsmdb/engine/dml.py: inserts, updates, deletes and fetches with schema and constraint
checks; a failing statement applies nothing."""

import datetime
import decimal
import uuid

import numpy as np
import pytest

from lsmdb import DataType, StorageColumn, StorageEngine, TableStorageDescriptor
from lsmdb.errors import (
    ConstraintError,
    InvalidArgumentError,
    SchemaError,
    SerializationError,
)


def test_insert_fetch_update_delete_roundtrip(accounts):
    with accounts.transaction() as tx:
        tid = tx.insert("accounts", (1, "ann", 10))
        assert tx.fetch("accounts", tid) == (1, "ann", 10)
        assert tx.update("accounts", tid, {"balance": 20}) == tid  # keeps the tuple id
        assert tx.fetch("accounts", tid, ["balance", "id"]) == (20, 1)
    with accounts.transaction() as tx:
        assert tx.fetch("accounts", tid) == (1, "ann", 20)
        tx.delete("accounts", tid)
        assert tx.fetch("accounts", tid) is None
    with accounts.transaction() as tx:
        assert tx.fetch("accounts", tid) is None
        assert tx.count("accounts") == 0
    assert accounts.verify_indexes("accounts") == []


def test_every_type_roundtrips(engine):
    types = ["BOOLEAN", "INT", "BIGINT", "REAL", "DOUBLE", "NUMERIC", "TEXT", "BLOB", "DATE",
             "TIME", "TIMESTAMP", "TIMESTAMPTZ", "INTERVAL", "UUID", "JSONB", "vector(3)",
             "int[][]"]
    engine.create_table("t", [(f"c{i}", t) for i, t in enumerate(types)])
    tz = datetime.UTC
    row = (True, -5, 1 << 40, 1.5, 2.25, decimal.Decimal("1.25"), "héllo", b"\x00\xff",
           datetime.date(2024, 2, 29), datetime.time(1, 2, 3), datetime.datetime(2024, 1, 1),
           datetime.datetime(2024, 1, 1, tzinfo=tz), datetime.timedelta(days=1, seconds=5),
           uuid.UUID(int=7), {"a": [1, None, "x"]}, np.array([1, 2, 3], dtype=np.float32),
           [[1, None], []])
    with engine.transaction() as tx:
        tid = tx.insert("t", row)
    with engine.transaction() as tx:
        got = tx.fetch("t", tid)
    assert got[:15] == row[:15]
    assert isinstance(got[15], np.ndarray) and got[15].dtype == np.float32
    assert got[15].tolist() == [1.0, 2.0, 3.0]
    assert got[16] == [[1, None], []]
    # NULL in every nullable column
    with engine.transaction() as tx:
        tid = tx.insert("t", (None,) * len(types))
        assert tx.fetch("t", tid) == (None,) * len(types)


@pytest.mark.parametrize("row, words", [
    ((1, "a"), ["accounts", "3 columns", "2 values"]),
    ((1, "a", 1, 2), ["accounts", "4 values"]),
    (("x", "a", 1), ["accounts", "'id'", "'x'"]),
    ((1, 5, 1), ["accounts", "'owner'", "5"]),
    ((1, "a", 1 << 70), ["accounts", "'balance'"]),
    ((None, "a", 1), ["accounts", "'id'", "NULL"]),
    ((True, "a", 1), ["accounts", "'id'", "True"]),
    ("abc", ["accounts", "tuple or list"]),
])
def test_schema_errors_name_table_column_value(accounts, row, words):
    with accounts.transaction() as tx:
        with pytest.raises(SchemaError) as info:
            tx.insert("accounts", row)
        for w in words:
            assert w in str(info.value)
        assert tx.count("accounts") == 0  # nothing applied; the transaction goes on
        tx.insert("accounts", (1, "ok", 1))
    assert accounts.verify_indexes("accounts") == []


def test_vector_dims_checked(engine):
    engine.create_table("v", [("e", "vector(3)", False)])
    with engine.transaction() as tx:
        with pytest.raises(SchemaError, match="'e'"):
            tx.insert("v", ([1.0, 2.0],))
        with pytest.raises(SchemaError, match="'e'"):
            tx.insert("v", ([1.0, float("nan"), 2.0],))


def test_unknown_table_column_and_tuple(accounts):
    with accounts.transaction() as tx:
        with pytest.raises(SchemaError, match="nope"):
            tx.insert("nope", (1,))
        with pytest.raises(SchemaError, match="nope"):
            tx.insert("accounts", {"id": 1, "nope": 2})
        with pytest.raises(SchemaError, match="nope"):
            tx.fetch("accounts", 1, ["nope"])
        with pytest.raises(InvalidArgumentError, match="tuple 99 does not exist"):
            tx.update("accounts", 99, (1, "a", 1))
        with pytest.raises(InvalidArgumentError, match="tuple 99 does not exist"):
            tx.delete("accounts", 99)
        with pytest.raises(InvalidArgumentError, match="tuple id"):
            tx.fetch("accounts", "1")
        with pytest.raises(SchemaError):
            accounts.fetch(0, 3.5, 1)


def test_primary_key_violation_applies_nothing(accounts):
    with accounts.transaction() as tx:
        tx.insert("accounts", (1, "a", 1))
    with accounts.transaction() as tx:
        with pytest.raises(ConstraintError, match="accounts_pkey"):
            tx.insert("accounts", (1, "b", 2))
        # insert_batch: the duplicate inside the batch rejects the whole batch
        with pytest.raises(ConstraintError):
            tx.insert_many("accounts", [(2, "b", 2), (3, "c", 3), (2, "d", 4)])
        assert tx.count("accounts") == 1
        assert [r.row for r in tx.scan("accounts", where={"balance": 2})] == []
    assert accounts.verify_indexes("accounts") == []


def test_update_to_existing_key_rejected_and_own_key_kept(accounts):
    with accounts.transaction() as tx:
        a = tx.insert("accounts", (1, "a", 1))
        tx.insert("accounts", (2, "b", 2))
    with accounts.transaction() as tx:
        with pytest.raises(ConstraintError):
            tx.update("accounts", a, (2, "a", 1))
        assert tx.fetch("accounts", a) == (1, "a", 1)
        tx.update("accounts", a, (1, "a2", 5))  # same key: no conflict with itself
        # delete then re-insert the same key in one transaction
        tx.delete("accounts", a)
        b = tx.insert("accounts", (1, "again", 7))
        assert b != a
    assert accounts.verify_indexes("accounts") == []


def test_unique_index_nulls_distinct_and_not_distinct(engine):
    engine.create_table("u", [("a", "INT"), ("b", "INT")])
    engine.create_index("u", ["a", "b"], name="u_ab", unique=True)
    engine.create_table("w", [("a", "INT")])
    engine.create_index("w", ["a"], name="w_a", unique=True, nulls_not_distinct=True)
    with engine.transaction() as tx:
        tx.insert("u", (1, None))
        tx.insert("u", (1, None))  # NULLs are distinct: allowed
        tx.insert("u", (1, 2))
        with pytest.raises(ConstraintError, match="u_ab"):
            tx.insert("u", (1, 2))
        tx.insert("w", (None,))
        with pytest.raises(ConstraintError, match="w_a"):
            tx.insert("w", (None,))
    assert engine.verify_indexes("u") == [] and engine.verify_indexes("w") == []


def test_row_larger_than_value_limit_rejected(mem):
    mem.create_table("big", [("b", "BLOB")])
    limit = mem._max_value
    with mem.transaction() as tx:
        with pytest.raises(InvalidArgumentError, match=str(limit)):
            tx.insert("big", (b"x" * (limit + 1),))
        assert tx.count("big") == 0


def test_index_key_larger_than_key_limit_rejected(mem):
    mem.create_table("k", [("t", "TEXT")])
    mem.create_index("k", ["t"])
    with mem.transaction() as tx:
        with pytest.raises(InvalidArgumentError, match="index"):
            tx.insert("k", ("x" * (70 << 10),))
        assert tx.count("k") == 0


def test_real_values_index_consistently(engine):
    engine.create_table("r", [("x", "REAL")])
    engine.create_index("r", ["x"])
    with engine.transaction() as tx:
        tid = tx.insert("r", (0.1,))  # stored as float32
        tx.update("r", tid, (0.2,))
        tx.delete("r", tid)
    assert engine.verify_indexes("r") == []


def test_low_level_api_with_descriptor_and_autocommit(engine):
    d = TableStorageDescriptor(9, (StorageColumn(1, DataType.INT, False),
                                   StorageColumn(2, DataType.TEXT)))
    engine.create_table_storage(0, d)
    tid = engine.insert(0, 9, (1, "x"))
    assert engine.fetch(0, 9, tid) == (1, "x")
    assert engine.fetch_ref(0, 9, tid, [2]) == ("x",)
    assert engine.insert_batch(0, 9, [(2, "y"), (3, None)]) == [tid + 1, tid + 2]
    engine.update(0, 9, tid, (1, "z"))
    engine.delete(0, 9, tid + 1)
    assert [r.row for r in engine.scan_table(0, 9)] == [(1, "z"), (3, None)]
    with pytest.raises(InvalidArgumentError):
        engine.insert_batch(0, 9, "rows")


@pytest.fixture(params=["c-stage", "python-stage"])
def staging(request, monkeypatch):
    """Inserts through the C staging loop (every index a B-tree) and through the Python
    loop kept for index kinds without an insert plan."""
    if request.param == "python-stage":
        from lsmdb.engine import catalog

        init = catalog.TableInfo.__init__

        def no_plans(self, *args, **kwargs):
            init(self, *args, **kwargs)
            self.insert_plans = None
        monkeypatch.setattr(catalog.TableInfo, "__init__", no_plans)
    return request.param


def test_both_insert_stages_check_keys_alike(staging, mem):
    mem.create_table("s", [("id", "INT", False), ("t", "TEXT"), ("n", "INT")],
                     primary_key="id")
    mem.create_index("s", ["t"], name="s_t", unique=True)
    mem.create_index("s", ["n DESC"], name="s_n", include=["t"])
    with mem.transaction() as tx:
        tids = tx.insert_many("s", [(1, "a", 5), (2, None, 5), (3, None, None)])
        with pytest.raises(ConstraintError, match="s_pkey"):
            tx.insert_many("s", [(4, "d", 1), (1, "e", 1)])
        with pytest.raises(ConstraintError, match="s_t"):
            tx.insert("s", (5, "a", 1))
        with pytest.raises(InvalidArgumentError, match="s_t"):
            tx.insert("s", (6, "x" * (70 << 10), 1))
        assert [r.tuple_id for r in tx.scan("s", where={"t": "a"})] == tids[:1]
        assert [r.row[0] for r in tx.scan_index("s_n")] == [3, 1, 2]  # DESC: NULL first
    assert mem.verify_indexes("s") == []


# A write is validated at commit against the catalog version it was planned with: READ
# COMMITTED after its own DDL keeps an older catalog than its statements' snapshots.


def _t_and_u(memory_limit=None):
    e = (StorageEngine.new_without_wal() if memory_limit is None
         else StorageEngine.new_without_wal_with_memory_limit(memory_limit))
    e.create_table("t", [("id", "INT", False), ("v", "INT")], primary_key="id")
    e.create_table("u", [("id", "INT", False), ("v", "TEXT")], primary_key="id")
    return e


def _rc_after_own_ddl(e):
    a = e.transaction("read_committed")
    a.create_table("x", [("id", "INT", False)])  # A's catalog is now its own
    return a


def test_read_committed_after_own_ddl_cannot_write_into_a_table_dropped_before():
    e = _t_and_u()
    a = _rc_after_own_ddl(e)
    e.drop_table_storage(0, "t")  # committed before A's next statement
    try:
        a.insert("t", (1, 1))  # accepted (A's catalog still has t) ...
        a.commit()  # ... and was committed: the acknowledged row was gone
    except (SchemaError, SerializationError):
        assert [t.name for t in e.tables()] == ["u"]
    else:
        raise AssertionError("an insert into a table dropped before the statement committed")
    e.close()


def test_read_committed_after_own_ddl_maintains_a_concurrently_created_index():
    e = _t_and_u()
    a = _rc_after_own_ddl(e)
    e.create_index("t", ["v"], name="t_v", unique=True)  # committed before A's inserts
    try:
        a.insert("t", (1, 5))
        a.insert("t", (2, 5))  # a duplicate under t_v, which A's catalog lacks
        a.commit()
    except (ConstraintError, SerializationError):
        refused = True
    else:
        refused = False
    assert e.verify_indexes("t") == []  # was: "index 't_v': entry for tuple 2 missing"
    assert refused, "two rows with v = 5 committed under a unique index on v"
    e.close()


def test_read_committed_after_own_ddl_cannot_write_past_a_concurrently_dropped_index():
    e = _t_and_u()
    e.create_index("t", ["v"], name="t_v")
    a = _rc_after_own_ddl(e)
    e.drop_index_storage(0, "t_v")  # committed before A's insert, which maintains t_v
    a.insert("t", (1, 1))
    with pytest.raises(SerializationError):
        a.commit()  # was committed, its t_v entry written into a dropped index's range
    assert e.verify_indexes("t") == [] and e.visible_row_count(0, "t") == 0
    e.close()
