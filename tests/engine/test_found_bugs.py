"""Engine bugs found by the model and differential tests (tests/property/test_engine_model.py,
tests/engine/test_sqlite_differential.py), each reduced to a few statements. They fail until
the engine is fixed; nothing here is skipped.

All four are the same root cause: ``Transaction.rollback_to_savepoint``
(lsmdb/engine/txn.py:191) undoes the overlay and the catalog but not the bookkeeping the undone
statements added, so work that was rolled back to a savepoint still acts at commit:
- ``wts`` (txn.py:100, READ COMMITTED first-write timestamps) stays at the undone write's
  statement snapshot;
- ``checks`` and ``marks`` (dml.py:109-110, ddl.py:38/44-45/145: catalog dependencies and the
  table DML marker) stay, so undone DML / DDL still conflicts with concurrent DDL / DML;
- ``pending_bytes`` (dml.py:140/169/183) stays, so undone inserts count against memory_limit.
The first three are spurious SerializationErrors (first-committer-wins aborting a transaction
whose surviving writes conflict with nothing); the fourth a spurious MemoryLimitError.

The last two: a READ COMMITTED transaction that ran DDL keeps the catalog of that statement
(docs/engine.md, Isolation), but its DML still registers its dependency on the table's catalog
record at the *current* statement's snapshot (``txn.write_ts()`` in dml.py:110). DDL committed
between the frozen catalog and that statement therefore never conflicts: the transaction
writes through a stale catalog and commits. Result: an acknowledged insert into a dropped table
vanishes, and rows inserted past a concurrently created unique index are missing from it (a
corrupt index and a violated unique constraint).

The last: READ COMMITTED reads merge the transaction's overlay over the latest commit key by
key (lsmdb/engine/txn.py ``Transaction.scan``; scan.py ``rows_for_entries`` fetches each
entry's row from the overlay). When a concurrent commit rewrote a row this transaction also
wrote (it will lose at commit), the committed index entry and the transaction's own entry both
lead to the transaction's version of the row: an index scan returns the row twice and an
equality filter returns a row that does not satisfy it. PostgreSQL cannot get there (the
second writer waits on the row lock); lsmdb has no row locks yet (docs/engine.md), but its
reads should still be consistent until the commit fails.
"""

from lsmdb import StorageEngine
from lsmdb.errors import ConstraintError, SchemaError, SerializationError


def _engine(memory_limit=None):
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
    e = _engine()
    tid = e.insert(0, "t", (1, 0))
    a = e.transaction("read_committed")
    sp = a.savepoint()
    a.update("t", tid, (1, 1))
    sp.rollback()
    e.update(0, "t", tid, (1, 2))  # commits after A's undone write
    a.update("t", tid, (1, 3))  # reads the committed (1, 2)
    a.commit()  # raises SerializationError: wts kept the undone write's snapshot
    assert e.fetch(0, "t", tid) == (1, 3)
    e.close()


def test_ddl_rolled_back_to_savepoint_does_not_conflict_with_concurrent_dml():
    e = _engine()
    e.insert(0, "t", (1, 0))
    a = e.transaction("snapshot")
    sp = a.savepoint()
    a.create_index("t", ["v"], name="t_v")
    sp.rollback()  # the index is gone from A's view
    a.insert("u", (5, "x"))
    e.insert(0, "t", (2, 2))  # concurrent DML on t
    a.commit()  # raises SerializationError: the undone DDL's dependency on t stayed
    assert [i.name for i in e.indexes("t")] == ["t_pkey"]
    assert e.visible_row_count(0, "u") == 1
    e.close()


def test_dml_rolled_back_to_savepoint_does_not_conflict_with_concurrent_ddl():
    e = _engine()
    b = e.transaction("snapshot")
    b.create_index("t", ["v"], name="t_v")
    a = e.transaction("snapshot")
    sp = a.savepoint()
    a.insert("t", (7, 7))
    sp.rollback()  # A wrote nothing to t after all
    a.insert("u", (5, "x"))
    a.commit()
    b.commit()  # raises SerializationError: A's undone insert still published t's marker
    assert "t_v" in [i.name for i in e.indexes("t")]
    e.close()


def test_inserts_rolled_back_to_savepoint_do_not_count_against_memory_limit():
    e = _engine(memory_limit=20_000)
    a = e.transaction()
    for i in range(20):  # 20 x 2 KB inserted and undone: never more than one row pending
        sp = a.savepoint()
        a.insert("u", (i, "x" * 2000))
        sp.rollback()
        sp.release()
    a.insert("u", (100, "y"))  # MemoryLimitError around the 10th iteration above
    a.commit()
    assert e.visible_row_count(0, "u") == 1
    e.close()


def _rc_after_own_ddl(e):
    a = e.transaction("read_committed")
    a.create_table("x", [("id", "INT", False)])  # A's catalog is now its own
    return a


def test_read_committed_after_own_ddl_cannot_write_into_a_table_dropped_before():
    e = _engine()
    a = _rc_after_own_ddl(e)
    e.drop_table_storage(0, "t")  # committed before A's next statement
    try:
        a.insert("t", (1, 1))  # accepted today (A's catalog still has t) ...
        a.commit()  # ... and committed: the acknowledged row is gone
    except (SchemaError, SerializationError):
        assert [t.name for t in e.tables()] == ["u"]
    else:
        raise AssertionError("an insert into a table dropped before the statement committed")
    e.close()


def test_read_committed_after_own_ddl_maintains_a_concurrently_created_index():
    e = _engine()
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
    assert e.verify_indexes("t") == []  # today: "index 't_v': entry for tuple 2 missing"
    assert refused, "two rows with v = 5 committed under a unique index on v"
    e.close()


def test_read_committed_index_reads_stay_consistent_after_a_concurrent_rewrite():
    e = _engine()
    e.create_index("t", ["v"], name="t_v")
    tid = e.insert(0, "t", (1, 5))
    a = e.transaction("read_committed")
    a.update("t", tid, (1, 6))
    e.update(0, "t", tid, (1, 7))  # A will lose at commit; until then it reads on
    got = [(r.tuple_id, r.row) for r in a.scan_index("t_v")]
    assert got == [(tid, (1, 6))]  # today: [(1, (1, 6)), (1, (1, 6))]
    assert [r.row for r in a.scan("t", where={"v": 7})] == []  # today: [(1, 6)]
    a.rollback()
    e.close()
