"""lsmdb/engine/dml.py: inserts, updates, deletes and fetches with schema and constraint
checks; a failing statement applies nothing."""

import datetime
import decimal
import uuid

import numpy as np
import pytest

from lsmdb import DataType, StorageColumn, TableStorageDescriptor
from lsmdb.errors import ConstraintError, InvalidArgumentError, SchemaError


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
