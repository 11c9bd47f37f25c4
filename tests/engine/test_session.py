"""lsmdb/engine/session.py: the Pythonic layer (names, mappings, type names, savepoints)."""

import pytest

from lsmdb import DataType, IndexKeyColumn, KeyRange
from lsmdb.engine.session import index_descriptor, parse_type, table_descriptor
from lsmdb.errors import InvalidArgumentError, SchemaError, TransactionError


@pytest.mark.parametrize("text, want", [
    ("INT", DataType.INT), ("integer", DataType.INT), ("bigint", DataType.BIGINT),
    ("vector(3)", DataType.vector(3)), ("text[]", DataType.array(DataType.TEXT)),
    ("INT[][]", DataType.array(DataType.array(DataType.INT))), ("json", DataType.JSONB),
    (DataType.UUID, DataType.UUID),
])
def test_parse_type(text, want):
    assert parse_type(text) == want


@pytest.mark.parametrize("bad", ["", "vector", "int(3)", "widget", "ARRAY", 5, "text[", None])
def test_parse_type_rejects(bad):
    with pytest.raises(InvalidArgumentError):
        parse_type(bad)


def test_descriptor_builders():
    d = table_descriptor(3, "t", [("a", "INT", False), ("b", DataType.TEXT)], primary_key="a")
    assert [c.column_id for c in d.columns] == [1, 2] and d.primary_key == (1,)
    assert not d.columns[0].nullable and d.columns[1].nullable
    with pytest.raises(SchemaError):
        table_descriptor(3, "t", [("a", "INT")], primary_key=["x"])
    with pytest.raises(InvalidArgumentError):
        table_descriptor(3, "t", [("a",)])
    with pytest.raises(InvalidArgumentError):
        table_descriptor(3, "t", [])
    ix = index_descriptor(4, d, ["b DESC NULLS LAST", IndexKeyColumn(1)], "i", True, False,
                          ["a"][:0])
    assert ix.key_columns == (IndexKeyColumn(2, True, False), IndexKeyColumn(1))
    for bad in (["zz"], ["b sideways"], [3]):
        with pytest.raises((SchemaError, InvalidArgumentError)):
            index_descriptor(4, d, bad, None, False, False, [])


def test_names_and_ids_interchangeable(accounts):
    tid = accounts.table("accounts").table_id
    with accounts.transaction() as tx:
        t1 = tx.insert(tid, (1, "a", 5))
        assert tx.fetch("accounts", t1, [3, "owner"]) == (5, "a")
        assert tx.lookup("accounts", 1).tuple_id == t1
        assert tx.lookup("accounts", 2) is None
        assert [r.tuple_id for r in tx.scan_index("by_balance", 5, 5)] == [t1]
        assert [r.tuple_id for r in tx.scan_index("by_balance", KeyRange.point([5]))] == [t1]
        assert [r.row for r in tx.scan("accounts", ["owner"], where={"id": [1, 2]})] == [("a",)]
        with pytest.raises(InvalidArgumentError):
            tx.scan("accounts", where=[("id", 1)])
        with pytest.raises(SchemaError):
            tx.update("accounts", t1, {"nope": 1})
        with pytest.raises(InvalidArgumentError):
            tx.update("accounts", 999, {"owner": "x"})
        tx.create_table("other", [("x", "TEXT")])
        with pytest.raises(SchemaError, match="no primary key"):
            tx.lookup("other", 1)
        tx.drop_table("other")
        tx.drop_index("by_balance")
    assert [i.name for i in accounts.indexes("accounts")] == ["accounts_pkey"]


def test_explicit_commit_inside_with_and_reuse(accounts):
    with accounts.transaction() as tx:
        tx.insert("accounts", (1, "a", 1))
        tx.commit()
    with pytest.raises(TransactionError):
        tx.insert("accounts", (2, "b", 2))
    with pytest.raises(TransactionError):
        with tx:
            pass
    with accounts.transaction("read_committed") as tx:
        assert tx.count("accounts") == 1
        with tx.savepoint() as sp:
            tx.insert("accounts", (2, "b", 2))
            sp.release()
            with pytest.raises(TransactionError):
                sp.rollback()
        assert tx.count("accounts") == 2


def test_engine_lookup_reads_the_latest_commit_by_primary_key(accounts):
    assert accounts.lookup("accounts", 1) is None
    with accounts.transaction() as tx:
        t1 = tx.insert("accounts", (1, "a", 5))
        assert accounts.lookup("accounts", 1) is None  # uncommitted: not visible
    assert accounts.lookup("accounts", 1) == (t1, (1, "a", 5))
    with accounts.transaction() as tx:  # the key moves to another row
        tx.update("accounts", t1, {"id": 2})
        t3 = tx.insert("accounts", (1, "b", 6))
    assert accounts.lookup("accounts", 1) == (t3, (1, "b", 6))
    assert accounts.lookup("accounts", 2) == (t1, (2, "a", 5))
    assert accounts.lookup("accounts", None) is None
    with pytest.raises(SchemaError):
        accounts.lookup("nope", 1)
    accounts.create_table("other", [("x", "TEXT")])
    with pytest.raises(SchemaError, match="no primary key"):
        accounts.lookup("other", "x")


def test_engine_lookup_rereads_in_a_snapshot_when_a_commit_moves_the_key(accounts,
                                                                        monkeypatch):
    with accounts.transaction() as tx:
        t1 = tx.insert("accounts", (1, "a", 5))
    backend = accounts._backend
    real_get = backend.get
    calls = []

    def racing_get(key, snapshot=None):
        value = real_get(key, snapshot)
        calls.append(key)
        if len(calls) == 1:  # between the entry read and the row read: key 1 -> 2, new 1
            with accounts.transaction() as tx:
                tx.update("accounts", t1, {"id": 2})
                tx.insert("accounts", (1, "new", 7))
        return value

    monkeypatch.setattr(backend, "get", racing_get)
    rec = accounts.lookup("accounts", 1)
    assert rec.row == (1, "new", 7)  # not the row the stale entry named, which is now key 2


def _overtaken_read_committed(accounts):
    """A READ COMMITTED transaction that rewrote row (1, "a", 5) without moving its key (its
    overlay holds the row, no primary-key entry), then a commit that overtook it."""
    with accounts.transaction() as tx:
        t1 = tx.insert("accounts", (1, "a", 5))
    rc = accounts.transaction("read_committed")
    rc.update("accounts", t1, {"owner": "mine"})
    return rc, t1


def test_read_committed_lookup_finds_its_own_row_after_a_commit_deleted_it(accounts):
    rc, t1 = _overtaken_read_committed(accounts)
    with accounts.transaction() as tx:
        tx.delete("accounts", t1)
    assert [r.tuple_id for r in rc.scan("accounts")] == [t1]  # its own row stays in its view
    assert rc.lookup("accounts", 1) == (t1, (1, "mine", 5))  # was None
    rc.rollback()


def test_read_committed_lookup_follows_its_own_row_after_a_commit_moved_the_key(accounts):
    rc, t1 = _overtaken_read_committed(accounts)
    with accounts.transaction() as tx:
        tx.update("accounts", t1, {"id": 2})
    assert rc.lookup("accounts", 1) == (t1, (1, "mine", 5))  # was None
    assert rc.lookup("accounts", 2) is None  # was (t1, (1, "mine", 5)): a key its row lacks
    rc.rollback()


def test_new_ids_after_reopen_skip_a_table_dropped_while_a_transaction_sees_it(reopen, tmp_path):
    """Ids start above the opened catalog's: before, dropping the newest table after a reopen
    handed its ids to the next table and index, which a transaction that saw the old table
    (and dropped it itself) then read as holding the old table's rows."""
    e = reopen(tmp_path / "db")
    e.create_table("a", [("id", "INT", False)])
    old_table = e.create_table("b", [("id", "INT", False)])
    old_index = e.create_index("b", ["id"], name="b_id")
    e.close()
    e = reopen(tmp_path / "db")
    tx = e.transaction()  # sees b
    e.drop_table_storage(0, "b")
    assert e.create_table("c", [("id", "INT", False)]) > old_table  # was old_table
    assert e.create_index("c", ["id"], name="c_id") > old_index  # was old_index
    tx.rollback()
    e.close()


def test_new_ids_never_collide_with_an_open_snapshot_after_reopen(tmp_path):
    # Found by fuzz/fuzz_engine.py: after a reopen the id hint restarts from the catalog, so
    # once table "a" (id 1) and its index were dropped, the next id handed out was 1 again,
    # while an open transaction's snapshot still had table / index 1: its create_table /
    # create_index raised SchemaError("table id 1 already exists").
    from tests.engine.conftest import open_durable

    eng = open_durable(tmp_path / "db")
    eng.create_table("a", [("k", "INT", False), ("v", "INT")], primary_key="k")
    eng.create_index("a", ["v"], name="a_v")
    eng.close()
    eng = open_durable(tmp_path / "db")
    try:
        tx = eng.transaction()  # its snapshot has table "a" and index "a_v"
        tx.count("a")
        with eng.transaction() as other:
            other.drop_table("a")
        tx.create_table("b", [("k", "INT", False), ("v", "INT")], primary_key="k")
        tx.create_index("b", ["v"], name="b_v")
        tx.insert("b", (1, 2))
        tx.commit()
        with eng.transaction() as t:
            assert [r.row for r in t.scan("b")] == [(1, 2)]
            assert [r.row for r in t.scan_index("b_v")] == [(1, 2)]
    finally:
        eng.close()
