"""lsmdb/engine/ddl.py: create / alter / drop of tables and indexes, backfill, and the
combinations refused at create time."""

import pytest

from lsmdb import (
    DataType,
    HnswStorageOptions,
    IndexKeyColumn,
    IndexStorageDescriptor,
    IvfFlatStorageOptions,
    KeyRange,
    StorageColumn,
    StorageEngine,
    StorageShardConfig,
    TableStorageDescriptor,
)
from lsmdb.errors import (
    ConstraintError,
    FeatureNotSupportedError,
    InvalidArgumentError,
    MemoryLimitError,
    SchemaError,
    SerializationError,
)
from lsmdb.storage_api import VectorElementType

T = TableStorageDescriptor(1, (StorageColumn(1, DataType.INT, False, "a"),
                               StorageColumn(2, DataType.TEXT, True, "b")), name="t")


def test_create_index_backfills_in_the_same_transaction(engine):
    engine.create_table_storage(0, T)
    engine.insert_batch(0, 1, [(i, f"v{i % 3}") for i in range(9)])
    with engine.transaction() as tx:
        tx.insert("t", (100, "v1"))
        ix = tx.create_index("t", ["b"], name="t_b")
        assert len(list(tx.scan_index("t_b", ("v1",), ("v1",)))) == 4
    assert engine.visible_index_row_count(0, ix, KeyRange.point(["v1"])) == 4
    assert engine.verify_indexes("t") == []


def test_unique_index_on_duplicates_fails_whole(engine):
    engine.create_table_storage(0, T)
    engine.insert_batch(0, 1, [(1, "x"), (2, "x")])
    with pytest.raises(ConstraintError, match="duplicate"):
        engine.create_index("t", ["b"], unique=True, name="t_b")
    assert engine.indexes("t") == []
    engine.create_index("t", ["a"], unique=True, name="t_a")


@pytest.mark.parametrize("desc, err", [
    (IndexStorageDescriptor(5, 1, (IndexKeyColumn(1),), hnsw_options=HnswStorageOptions()),
     FeatureNotSupportedError),
    (IndexStorageDescriptor(5, 1, (IndexKeyColumn(1),),
                            ivf_flat_options=IvfFlatStorageOptions()), FeatureNotSupportedError),
    (IndexStorageDescriptor(5, 1, (IndexKeyColumn(2),), gin=True), FeatureNotSupportedError),
    (IndexStorageDescriptor(5, 2, (IndexKeyColumn(1),)), SchemaError),
    (IndexStorageDescriptor(5, 1, (IndexKeyColumn(9),)), SchemaError),
    (IndexStorageDescriptor(1 << 63, 1, (IndexKeyColumn(1),)), InvalidArgumentError),
    ("not a descriptor", InvalidArgumentError),
])
def test_create_index_refused_at_create_time(engine, desc, err):
    engine.create_table_storage(0, T)
    with pytest.raises(err):
        engine.create_index_storage(0, desc)
    assert engine.indexes() == []


@pytest.mark.parametrize("desc, err", [
    (TableStorageDescriptor(2, (StorageColumn(1, DataType.INT),),
                            shard_config=StorageShardConfig((1,), 4)), FeatureNotSupportedError),
    (TableStorageDescriptor(2, (StorageColumn(1, DataType.vector(3, VectorElementType.UINT8)),)),
     FeatureNotSupportedError),
    (TableStorageDescriptor(1, (StorageColumn(1, DataType.INT),), name="other"), SchemaError),
    (TableStorageDescriptor(2, (StorageColumn(1, DataType.INT),), name="t"), SchemaError),
    (TableStorageDescriptor(1 << 63, (StorageColumn(1, DataType.INT),)), InvalidArgumentError),
])
def test_create_table_refused(engine, desc, err):
    engine.create_table_storage(0, T)
    with pytest.raises(err):
        engine.create_table_storage(0, desc)
    assert len(engine.tables()) == 1


def test_drop_index_and_table(engine):
    engine.create_table("p", [("id", "INT", False)], primary_key="id")
    ix = engine.create_index("p", ["id DESC"], name="p_desc")
    engine.insert_batch(0, "p", [(1,), (2,)])
    with pytest.raises(SchemaError, match="primary key"):
        engine.drop_index_storage(0, "p_pkey")
    engine.drop_index_storage(0, ix)
    assert [i.name for i in engine.indexes("p")] == ["p_pkey"]
    with pytest.raises(SchemaError):
        engine.drop_index_storage(0, ix)
    engine.drop_table_storage(0, "p")
    assert engine.tables() == [] and engine.indexes() == []
    with pytest.raises(SchemaError):
        engine.drop_table_storage(0, "p")
    # the name and the key ranges are free again
    engine.create_table("p", [("id", "INT", False)], primary_key="id")
    engine.insert(0, "p", (1,))
    assert [r.row for r in engine.scan_table(0, "p")] == [(1,)]
    assert engine.verify_indexes("p") == []


def test_alter_table_add_drop_rename_nullability(engine):
    engine.create_table_storage(0, T)
    engine.create_index_storage(0, IndexStorageDescriptor(3, 1, (IndexKeyColumn(2),),
                                                          name="t_b"))
    engine.insert_batch(0, 1, [(1, "x"), (2, None)])
    added = TableStorageDescriptor(1, T.columns + (StorageColumn(3, DataType.BIGINT, True,
                                                                 "c"),), name="t2")
    engine.alter_table_storage(0, added)
    assert [r.row for r in engine.scan_table(0, "t2")] == [(1, "x", None), (2, None, None)]
    engine.insert(0, "t2", (3, "y", 7))
    with pytest.raises(SchemaError, match="used by an index"):
        engine.alter_table_storage(0, TableStorageDescriptor(
            1, (T.columns[0], added.columns[2]), name="t2"))
    with pytest.raises(SchemaError, match="NULL"):
        engine.alter_table_storage(0, TableStorageDescriptor(
            1, (T.columns[0], T.columns[1], StorageColumn(3, DataType.BIGINT, False, "c")),
            name="t2"))
    with pytest.raises(FeatureNotSupportedError, match="type"):
        engine.alter_table_storage(0, TableStorageDescriptor(
            1, (T.columns[0], StorageColumn(2, DataType.INT, True, "b")), name="t2"))
    with pytest.raises(FeatureNotSupportedError, match="primary key"):
        engine.alter_table_storage(0, TableStorageDescriptor(1, T.columns, (1,), name="t2"))
    engine.drop_index_storage(0, "t_b")
    dropped = TableStorageDescriptor(1, (T.columns[0], added.columns[2]), name="t2")
    engine.alter_table_storage(0, dropped)
    assert [r.row for r in engine.scan_table(0, "t2")] == [(1, None), (2, None), (3, 7)]
    assert engine.metrics().total_row_count == 3



def test_read_committed_after_own_ddl_cannot_create_a_name_created_meanwhile():
    """The name check ran on A's catalog (older than the statement): a table created under the
    same name since must abort A, not commit a second table of that name."""
    e = StorageEngine.new_without_wal()
    a = e.transaction("read_committed")
    a.create_table("x", [("id", "INT", False)])  # A's catalog is now its own
    e.create_table("y", [("id", "INT", False)])
    a.create_table("y", [("id", "INT", False)])
    with pytest.raises(SerializationError):
        a.commit()  # was committed: two tables named "y"
    assert sorted(t.name for t in e.tables()) == ["y"]
    e.close()


@pytest.mark.parametrize("where", ["table", "column", "index"])
def test_names_with_surrogates_are_refused(engine, where):
    # Found by fuzz/fuzz_catalog.py: a lone or paired surrogate made create_table raise
    # UnicodeEncodeError, and a column named so came back from the catalog record as another
    # name (JSON joins "\ud83d\ude00" into one character). Names must be valid Unicode.
    bad = "x\ud83d\ude00" if where == "column" else "\ud800"
    with pytest.raises(InvalidArgumentError, match="name"):
        if where == "index":
            engine.create_table("t", [("a", "INT")])
            engine.create_index("t", ["a"], name=bad)
        else:
            engine.create_table(bad if where == "table" else "t", [(bad if where == "column"
                                                                   else "a", "INT")])
    engine.create_table("ok", [("a", "INT")])  # still usable
    with engine.transaction() as tx:
        tx.insert("ok", (1,))
        assert [r.row for r in tx.scan("ok")] == [(1,)]


def test_a_failed_create_table_claims_no_name():
    """CREATE TABLE n fails on its primary key's index name (n_pkey is taken): the statement
    applied nothing, so another transaction creating table n does not abort this one."""
    e = StorageEngine.new_without_wal()
    e.create_table("other", [("id", "INT", False)])
    e.create_index("other", ["id"], name="n_pkey")
    a = e.transaction("snapshot")
    with pytest.raises(SchemaError, match="n_pkey"):
        a.create_table("n", [("id", "INT", False)], primary_key="id")
    a.insert("other", (1,))
    e.create_table("n", [("id", "INT", False)])
    a.commit()  # was a SerializationError: the failed statement's claim of "n" stayed
    assert e.visible_row_count(0, "other") == 1
    e.close()


def test_a_failed_rename_claims_no_name():
    """ALTER TABLE renaming t to n and changing a column type fails (type changes are not
    supported): the name n stays free for others."""
    e = StorageEngine.new_without_wal()
    e.create_table_storage(0, T)
    e.create_table("other", [("id", "INT", False)])
    a = e.transaction("snapshot")
    bad = TableStorageDescriptor(1, (T.columns[0], StorageColumn(2, DataType.INT, True, "b")),
                                 name="n")
    with pytest.raises(FeatureNotSupportedError, match="type"):
        e.alter_table_storage(a.txn_id, bad)
    a.insert("other", (1,))
    e.create_table("n", [("id", "INT", False)])
    a.commit()  # was a SerializationError
    assert sorted(t.name for t in e.tables()) == ["n", "other", "t"]
    e.close()


def test_index_backfill_respects_the_memory_limit():
    """CREATE INDEX on a populated table writes an entry per row: a write the memory limit
    refuses whole (it passed the limit: the entries were not counted)."""
    limit = 48 << 10
    e = StorageEngine.new_without_wal_with_memory_limit(limit)
    e.create_table("t", [("id", "INT", False), ("v", "TEXT")], primary_key="id")
    with e.transaction() as tx:
        tx.insert_many("t", [(i, "x" * 1000 + str(i)) for i in range(30)])
    used = e._backend.live_bytes
    with pytest.raises(MemoryLimitError):
        e.create_index("t", ["v"], name="t_v")  # another ~30 KB of keys
    assert e._backend.live_bytes == used and [i.name for i in e.indexes("t")] == ["t_pkey"]
    e.create_index("t", ["id"], name="t_id")  # small entries: fits
    assert e._backend.live_bytes <= limit and e.verify_indexes("t") == []
    e.close()


def test_a_row_rewrite_under_the_memory_limit_counts_only_the_growth():
    """ALTER TABLE reordering columns rewrites every row at the same size: near the limit it
    still fits (the rewrite replaces values, it does not add them)."""
    e = StorageEngine.new_without_wal_with_memory_limit(32 << 10)
    e.create_table_storage(0, T)
    e.insert_batch(0, 1, [(i, "b" * 1000) for i in range(25)])
    swapped = TableStorageDescriptor(1, (T.columns[1], T.columns[0]), name="t")
    e.alter_table_storage(0, swapped)
    assert e.fetch(0, "t", 1) == ("b" * 1000, 0)
    e.close()
