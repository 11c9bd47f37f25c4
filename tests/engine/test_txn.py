"""lsmdb/engine/txn.py: isolation (what each level sees), savepoints (nest, rollback-to keeps
the savepoint, release invalidates it and later ones), transactional DDL."""

import pytest

from lsmdb import IsolationLevel
from lsmdb.errors import SchemaError, TransactionError


def _ids(tx):
    return sorted(r.row[0] for r in tx.scan("accounts"))


def test_own_writes_visible_others_uncommitted_never(accounts):
    a = accounts.transaction()
    b = accounts.transaction()
    a.insert("accounts", (1, "a", 1))
    assert _ids(a) == [1]
    assert _ids(b) == []
    a.commit()
    assert _ids(b) == []  # SNAPSHOT: b's snapshot predates a's commit
    b.rollback()
    with accounts.transaction() as c:
        assert _ids(c) == [1]


def test_read_committed_sees_each_statements_latest(accounts):
    rc = accounts.transaction(isolation=IsolationLevel.READ_COMMITTED)
    snap = accounts.transaction(isolation="snapshot")
    assert _ids(rc) == [] and _ids(snap) == []
    with accounts.transaction() as w:
        w.insert("accounts", (7, "w", 1))
    assert _ids(rc) == [7]
    assert _ids(snap) == []
    rc.commit()
    snap.commit()


def test_scan_is_stable_while_the_transaction_writes(accounts):
    with accounts.transaction() as tx:
        for i in range(5):
            tx.insert("accounts", (i, "x", i))
    with accounts.transaction() as tx:
        seen = []
        for rec in tx.scan("accounts"):
            seen.append(rec.row[0])
            tx.update("accounts", rec.tuple_id, {"balance": rec.row[2] + 100})
            tx.insert("accounts", (rec.row[0] + 1000, "new", 0))
        assert seen == [0, 1, 2, 3, 4]
    assert accounts.verify_indexes("accounts") == []


def test_savepoints_nest_rollback_to_keeps_release_drops(accounts):
    e = accounts
    with e.transaction() as tx:
        t = tx.txn_id
        tx.insert("accounts", (1, "a", 1))
        s1 = e.create_savepoint(t)
        tx.insert("accounts", (2, "b", 2))
        s2 = e.create_savepoint(t)
        tx.insert("accounts", (3, "c", 3))
        e.rollback_to_savepoint(t, s2)
        assert _ids(tx) == [1, 2]
        tx.insert("accounts", (4, "d", 4))
        e.rollback_to_savepoint(t, s2)  # still valid after rollback-to
        assert _ids(tx) == [1, 2]
        e.rollback_to_savepoint(t, s1)
        assert _ids(tx) == [1]
        with pytest.raises(TransactionError):
            e.rollback_to_savepoint(t, s2)  # rolled back past: gone
        s3 = e.create_savepoint(t)
        tx.insert("accounts", (5, "e", 5))
        e.release_savepoint(t, s1)  # releases s3 too
        for sp in (s1, s3):
            with pytest.raises(TransactionError, match="savepoint"):
                e.rollback_to_savepoint(t, sp)
        with pytest.raises(TransactionError):
            e.release_savepoint(t, 12345)
        assert _ids(tx) == [1, 5]
    with e.transaction() as tx:
        assert _ids(tx) == [1, 5]
    assert e.verify_indexes("accounts") == []


def test_savepoint_context_manager(accounts):
    with accounts.transaction() as tx:
        tx.insert("accounts", (1, "a", 1))
        with pytest.raises(KeyError):
            with tx.savepoint():
                tx.insert("accounts", (2, "b", 2))
                raise KeyError("x")
        with tx.savepoint() as sp:
            tx.insert("accounts", (3, "c", 3))
            with tx.savepoint():
                tx.update("accounts", tx.lookup("accounts", 1).tuple_id, {"owner": "z"})
            sp.rollback()
            tx.insert("accounts", (4, "d", 4))
        assert _ids(tx) == [1, 4]
        assert tx.lookup("accounts", 1).row == (1, "a", 1)
    assert accounts.verify_indexes("accounts") == []


def test_ddl_rolled_back_leaves_no_trace(engine):
    with pytest.raises(RuntimeError):
        with engine.transaction() as tx:
            tx.create_table("temp", [("a", "INT")], primary_key="a")
            tx.insert("temp", (1,))
            tx.create_index("temp", ["a DESC"], name="temp_desc")
            assert tx.count("temp") == 1
            raise RuntimeError
    assert engine.tables() == [] and engine.indexes() == []
    with engine.transaction() as tx:
        with pytest.raises(SchemaError):
            tx.count("temp")
        with pytest.raises(SchemaError):
            tx.scan_index("temp_desc")
    engine.create_table("temp", [("a", "INT")])
    assert [t.name for t in engine.tables()] == ["temp"]


def test_ddl_in_savepoint_rolled_back(engine):
    engine.create_table("t", [("a", "INT")])
    with engine.transaction() as tx:
        tx.insert("t", (1,))
        with tx.savepoint() as sp:
            tx.drop_table("t")
            with pytest.raises(SchemaError):
                tx.count("t")
            tx.create_table("t", [("x", "TEXT")])
            tx.insert("t", ("new",))
            sp.rollback()
        assert [r.row for r in tx.scan("t")] == [(1,)]
    with engine.transaction() as tx:
        assert [r.row for r in tx.scan("t")] == [(1,)]


def test_drop_and_recreate_in_one_transaction(engine):
    engine.create_table("t", [("a", "INT")])
    with engine.transaction() as tx:
        tx.insert("t", (1,))
    with engine.transaction() as tx:
        tx.drop_table("t")
        tx.create_table("t", [("a", "INT")])
        tx.insert("t", (2,))
        assert [r.row for r in tx.scan("t")] == [(2,)]
    with engine.transaction() as tx:
        assert [r.row for r in tx.scan("t")] == [(2,)]


def test_txn_protocol_errors(mem):
    mem.begin_txn(5, IsolationLevel.SNAPSHOT)
    with pytest.raises(TransactionError, match="already active"):
        mem.begin_txn(5, IsolationLevel.SNAPSHOT)
    mem.rollback_txn(5)
    for call in (lambda: mem.commit_txn(5), lambda: mem.rollback_txn(5),
                 lambda: mem.create_savepoint(5), lambda: mem.scan_table(5, 1)):
        with pytest.raises(TransactionError, match="not active"):
            call()
    from lsmdb.errors import InvalidArgumentError

    for bad in (0, -1, "1", 1 << 64):
        with pytest.raises(InvalidArgumentError):
            mem.begin_txn(bad, IsolationLevel.SNAPSHOT)
    with pytest.raises(InvalidArgumentError, match="isolation"):
        mem.begin_txn(6, "dirty")
    with pytest.raises(InvalidArgumentError, match="commit_ts"):
        mem.begin_txn(6, IsolationLevel.SNAPSHOT) or mem.commit_txn(6, -1)
    mem.commit_txn(6, 42)


def test_exception_in_with_rolls_back(accounts):
    with pytest.raises(ValueError):
        with accounts.transaction() as tx:
            tx.insert("accounts", (1, "a", 1))
            raise ValueError
    with accounts.transaction() as tx:
        assert _ids(tx) == []
    tx = accounts.transaction()
    tx.rollback()
    with pytest.raises(TransactionError):
        with tx:
            pass
