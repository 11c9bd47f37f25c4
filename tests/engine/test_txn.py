"""lsmdb/engine/txn.py: isolation (what each level sees), savepoints (nest, rollback-to keeps
the savepoint, release invalidates it and later ones), transactional DDL."""

import dataclasses

import pytest

from lsmdb import IsolationLevel, StorageEngine
from lsmdb.errors import SchemaError, SerializationError, TransactionError


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


# Savepoint rollback undoes every trace of the undone statements, not just their writes: before
# the fix, their conflict keys, catalog dependencies, DML markers and pending bytes stayed.


def _t_and_u(memory_limit=None):
    e = (StorageEngine.new_without_wal() if memory_limit is None
         else StorageEngine.new_without_wal_with_memory_limit(memory_limit))
    e.create_table("t", [("id", "INT", False), ("v", "INT")], primary_key="id")
    e.create_table("u", [("id", "INT", False), ("v", "TEXT")], primary_key="id")
    return e


def test_read_committed_rewrite_after_rollback_to_savepoint_does_not_conflict():
    """READ COMMITTED: an update undone by ROLLBACK TO, a concurrent commit of that row, then
    the row updated again from the latest version. The surviving write is based on the
    latest commit (as the same update without the savepoint detour, which commits), so there
    is no lost update to prevent."""
    e = _t_and_u()
    tid = e.insert(0, "t", (1, 0))
    a = e.transaction("read_committed")
    sp = a.savepoint()
    a.update("t", tid, (1, 1))
    sp.rollback()
    e.update(0, "t", tid, (1, 2))  # commits after A's undone write
    a.update("t", tid, (1, 3))  # reads the committed (1, 2)
    a.commit()  # was a SerializationError: wts kept the undone write's snapshot
    assert e.fetch(0, "t", tid) == (1, 3)
    e.close()


def test_ddl_rolled_back_to_savepoint_does_not_conflict_with_concurrent_dml():
    e = _t_and_u()
    e.insert(0, "t", (1, 0))
    a = e.transaction("snapshot")
    sp = a.savepoint()
    a.create_index("t", ["v"], name="t_v")
    sp.rollback()  # the index is gone from A's view
    a.insert("u", (5, "x"))
    e.insert(0, "t", (2, 2))  # concurrent DML on t
    a.commit()  # was a SerializationError: the undone DDL's dependency on t stayed
    assert [i.name for i in e.indexes("t")] == ["t_pkey"]
    assert e.visible_row_count(0, "u") == 1
    e.close()


def test_dml_rolled_back_to_savepoint_does_not_conflict_with_concurrent_ddl():
    e = _t_and_u()
    b = e.transaction("snapshot")
    b.create_index("t", ["v"], name="t_v")
    a = e.transaction("snapshot")
    sp = a.savepoint()
    a.insert("t", (7, 7))
    sp.rollback()  # A wrote nothing to t after all
    a.insert("u", (5, "x"))
    a.commit()
    b.commit()  # was a SerializationError: A's undone insert still published t's marker
    assert "t_v" in [i.name for i in e.indexes("t")]
    e.close()


def test_inserts_rolled_back_to_savepoint_do_not_count_against_memory_limit():
    e = _t_and_u(memory_limit=20_000)
    a = e.transaction()
    for i in range(20):  # 20 x 2 KB inserted and undone: never more than one row pending
        sp = a.savepoint()
        a.insert("u", (i, "x" * 2000))
        sp.rollback()
        sp.release()
    a.insert("u", (100, "y"))  # was a MemoryLimitError (10th iteration)
    a.commit()
    assert e.visible_row_count(0, "u") == 1
    e.close()


def test_rolling_back_to_one_savepoint_again_restores_its_bookkeeping_again():
    e = _t_and_u(memory_limit=20_000)
    a = e.transaction()
    sp = a.savepoint()
    for i in range(20):  # the same savepoint, rolled back to 20 times
        a.insert("u", (i, "x" * 2000))
        sp.rollback()
    a.insert("u", (100, "y"))
    a.commit()
    assert e.visible_row_count(0, "u") == 1
    e.close()


def _claim_and_roll_back(e, a, kind: str) -> None:
    """In ``a``: a savepoint, a statement claiming the name "n" (a table, an index, a
    rename), a rollback to the savepoint."""
    sp = a.savepoint()
    if kind == "table":
        a.create_table("n", [("id", "INT", False)], primary_key="id")
    elif kind == "index":
        a.create_index("t", ["v"], name="n")
    else:
        desc = next(d for d in e.tables() if d.name == "t")
        e.alter_table_storage(a.txn_id, dataclasses.replace(desc, name="n"))
    sp.rollback()


def _create_name(e, kind: str) -> None:
    if kind == "index":
        e.create_index("w", ["v"], name="n")  # on a table A does not touch
    else:
        e.create_table("n", [("id", "INT", False)], primary_key="id")


@pytest.mark.parametrize("level", ["read_committed", "snapshot", "serializable"])
@pytest.mark.parametrize("kind", ["table", "index", "rename"])
def test_name_claim_rolled_back_to_savepoint_does_not_conflict(level, kind):
    """A name claimed by a statement rolled back to a savepoint is no longer claimed: another
    transaction creating that name and committing first does not abort this one."""
    e = _t_and_u()
    e.create_table("w", [("id", "INT", False), ("v", "INT")])
    a = e.transaction(level)
    a.insert("u", (1, "kept"))  # work before the savepoint, on another table
    _claim_and_roll_back(e, a, kind)
    _create_name(e, "index" if kind == "index" else "table")  # commits after A's snapshot
    a.commit()  # was a SerializationError: the undone claim stayed in A's checks and marks
    assert e.visible_row_count(0, "u") == 1
    names = [t.name for t in e.tables()] + [i.name for i in e.indexes("w")]
    assert names.count("n") == 1 and "t" in names
    e.close()


def test_name_claimed_before_the_savepoint_stays_claimed():
    """Only the undone statements' claims go: a claim made before the savepoint still
    conflicts."""
    e = _t_and_u()
    a = e.transaction("snapshot")
    a.create_table("n", [("id", "INT", False)], primary_key="id")
    sp = a.savepoint()
    a.drop_table("n")
    a.create_table("n", [("id", "INT", False)], primary_key="id")  # claimed again
    sp.rollback()
    b = e.transaction("snapshot")
    b.create_table("n", [("id", "INT", False)])
    b.commit()
    with pytest.raises(SerializationError):
        a.commit()
    e.close()


def test_serializable_reads_of_rolled_back_work_still_count():
    """Reads are not undone: the transaction saw what the rolled-back statements read and may
    act on it (PostgreSQL keeps a rolled-back subtransaction's SIREAD locks for this reason).
    A concurrent write to what they read still aborts a SERIALIZABLE commit."""
    e = _t_and_u()
    e.insert(0, "u", (1, "x"))
    a = e.transaction("serializable")
    sp = a.savepoint()
    assert a.count("u") == 1
    sp.rollback()
    a.insert("t", (1, 1))  # a write decided on what the undone statement read
    e.insert(0, "u", (2, "y"))
    with pytest.raises(SerializationError):
        a.commit()
    e.close()


def test_read_committed_with_own_ddl_reads_an_index_dropped_since_from_its_rows(accounts):
    """A READ COMMITTED transaction with DDL of its own keeps its catalog; when a commit then
    drops an index of another table, the transaction's index scans still return that table's
    rows in index order (made from the rows: the statement snapshot has no entries left), not
    nothing. Found by the hypothesis engine model."""
    with accounts.transaction() as w:
        for i, bal in ((1, 30), (2, 10), (3, 20)):
            w.insert("accounts", (i, "o", bal))
    rc = accounts.transaction(isolation=IsolationLevel.READ_COMMITTED)
    rc.create_table("other", [("x", "BIGINT", False)])
    with accounts.transaction() as d:
        d.drop_index("by_balance")
    assert [r.tuple_id for r in rc.scan_index("by_balance")] == [
        r.tuple_id for r in sorted(rc.scan("accounts"), key=lambda r: r.row[2])]
    assert [r.row[0] for r in rc.scan_index("by_balance")] == [2, 3, 1]
    rc.rollback()
