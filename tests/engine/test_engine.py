"""lsmdb/engine/engine.py: constructors, close / ClosedError, durability across reopen and
crash, checkpoint, memory limit, vacuum, metrics, capabilities and recovery report."""

import os
import subprocess
import sys
import textwrap

import pytest

from lsmdb import (
    IsolationLevel,
    KeyRange,
    StorageEngine,
    StorageOptions,
    WalCommitPolicy,
    WalConfig,
)
from lsmdb.errors import (
    ClosedError,
    FeatureNotSupportedError,
    InvalidArgumentError,
    MemoryLimitError,
    SchemaError,
)
from lsmdb.storage_api import (
    StorageCapabilities,
    StorageDDL,
    StorageDML,
    StorageTxnParticipant,
)


def _make(e):
    e.create_table("t", [("id", "INT", False), ("v", "TEXT")], primary_key="id")
    e.create_index("t", ["v"], name="t_v")


def test_implements_the_protocols(mem):
    for proto in (StorageDDL, StorageDML, StorageTxnParticipant, StorageCapabilities):
        assert isinstance(mem, proto)


def test_constructors_and_bad_options(tmp_path):
    with StorageEngine.new_without_wal_with_memory_limit(1 << 20) as e:
        assert e.options.memory_limit_bytes == 1 << 20
        assert not e.supports_durability()
    with pytest.raises(InvalidArgumentError):
        StorageEngine.new_without_wal_with_memory_limit(0)
    with pytest.raises(InvalidArgumentError):
        StorageEngine("path")
    with StorageEngine(StorageOptions.durable(WalConfig(dir=str(tmp_path / "d")))) as e:
        assert e.supports_durability() and e.supports_savepoints() and e.supports_vacuum()
        assert not e.supports_vector_search() and not e.supports_gin_search()
        assert not e.supports_adjacency_lookup()


def test_close_then_closed_error(engine):
    _make(engine)
    tx = engine.transaction()
    tx.insert("t", (1, "a"))
    engine.close()
    engine.close()  # idempotent
    assert engine.closed
    for call in (lambda: engine.transaction(), lambda: engine.metrics(),
                 lambda: engine.insert(0, "t", (2, "b")), lambda: tx.insert("t", (3, "c")),
                 lambda: engine.scan_table(0, "t"), lambda: engine.begin_txn(9, "snapshot")):
        with pytest.raises(ClosedError):
            call()


def test_close_reopen_keeps_commits_drops_open_transactions(tmp_path, reopen):
    e = reopen(tmp_path / "db")
    _make(e)
    with e.transaction() as tx:
        for i in range(200):
            tx.insert("t", (i, f"v{i % 7}"))
    open_tx = e.transaction()
    open_tx.insert("t", (1000, "lost"))
    e.close()
    e = reopen(tmp_path / "db")
    with e.transaction() as tx:
        assert tx.count("t") == 200
        assert tx.lookup("t", 1000) is None
        tid = tx.insert("t", (500, "new"))
        assert tid == 201  # tuple ids continue after the largest stored one
    assert e.verify_indexes("t") == []
    assert e.recovery_report.recovered_transactions == 0  # clean close checkpointed
    stats = {s.table_id: s for s in e.recovery_report.recovered_statistics}
    assert stats[e.table("t").table_id].row_count == 200
    e.close()


CRASH = textwrap.dedent("""
    import os, sys
    from lsmdb import StorageEngine, StorageOptions, WalCommitPolicy, WalConfig
    e = StorageEngine(StorageOptions(wal_config=WalConfig(dir=sys.argv[1]),
                                     wal_commit_policy=WalCommitPolicy.ALWAYS))
    e.create_table("t", [("id", "INT", False), ("v", "TEXT")], primary_key="id")
    e.create_index("t", ["v"], name="t_v")
    for i in range(50):
        with e.transaction() as tx:
            tx.insert("t", (i, str(i)))
            tx.insert("t", (1000 + i, "x"))
    with e.transaction() as tx:
        tx.insert("t", (77777, "kept"))
        sp = tx.savepoint()
        tx.insert("t", (88888, "rolled back"))
        tx.update("t", tx.lookup("t", 77777).tuple_id, {"v": "changed, rolled back"})
        sp.rollback()
    tx = e.transaction()
    tx.insert("t", (99999, "uncommitted"))
    print("acked", flush=True)
    os._exit(0)
""")


def test_crash_after_acknowledged_commits_loses_nothing(tmp_path, reopen):
    path = str(tmp_path / "db")
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    out = subprocess.run([sys.executable, "-c", CRASH, path], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.strip() == "acked", out.stderr
    e = reopen(path)
    try:
        with e.transaction() as tx:
            ids = sorted(r.row[0] for r in tx.scan("t"))
        assert ids == sorted(list(range(50)) + [1000 + i for i in range(50)] + [77777])
        with e.transaction() as tx:
            assert tx.lookup("t", 77777).row == (77777, "kept")
        assert e.verify_indexes("t") == []
        r = e.recovery_report
        assert r.recovered_transactions == 53  # 2 DDL + 51 row transactions
        assert r.records_replayed >= 1 and r.last_lsn > 0
    finally:
        e.close()


def test_checkpoint(tmp_path, reopen, mem):
    with pytest.raises(FeatureNotSupportedError, match="WAL-backed"):
        mem.checkpoint()
    e = reopen(tmp_path / "db")
    _make(e)
    with e.transaction() as tx:
        tx.insert_many("t", [(i, "x") for i in range(20)])
    info = e.checkpoint()
    assert info.checkpoint_lsn > 0 and info.dirty_pages_flushed > 0
    assert e.checkpoint().dirty_pages_flushed <= 1  # nothing new but the checkpoint mark
    assert e.metrics().checkpoints_total == 2
    e.close()
    e = reopen(tmp_path / "db")
    with e.transaction() as tx:
        assert tx.count("t") == 20
    e.close()


def test_memory_limit_rejects_writes_allows_deletes():
    e = StorageEngine.new_without_wal_with_memory_limit(64 << 10)
    _make(e)
    tids = []
    with pytest.raises(MemoryLimitError, match="memory limit"):
        for i in range(10_000):
            with e.transaction() as tx:
                tids.append(tx.insert("t", (i, "x" * 100)))
    with e.transaction() as tx:
        n = tx.count("t")
        assert n == len(tids)  # the failing statement applied nothing
        with pytest.raises(MemoryLimitError):
            tx.insert_many("t", [(100_000 + i, "y" * 100) for i in range(50)])
        assert tx.count("t") == n
    with e.transaction() as tx:  # deletes are always allowed
        for tid in tids[:10]:
            tx.delete("t", tid)
    with e.transaction() as tx:
        assert tx.count("t") == n - 10
        tx.insert("t", (-1, "fits again"))
    assert e.verify_indexes("t") == []
    e.close()


def _indexed_text_table(limit: int) -> StorageEngine:
    e = StorageEngine.new_without_wal_with_memory_limit(limit)
    e.create_table("t", [("id", "INT", False), ("v", "TEXT")], primary_key="id")
    e.create_index("t", ["v"], name="t_v")  # every row's text a second time, in the index
    return e


def test_memory_limit_counts_index_entries_and_keys():
    """One transaction of 60 rows, ~1 KB of text each, indexed: ~125 KB of live entries. It
    was committed under a 64 KiB limit (only the rows' encoded bytes were counted)."""
    limit = 64 << 10
    e = _indexed_text_table(limit)
    with pytest.raises(MemoryLimitError):
        with e.transaction() as tx:
            for i in range(60):
                tx.insert("t", (i, "x" * 1000 + str(i)))
    assert e._backend.live_bytes <= limit and e.visible_row_count(0, "t") == 0
    with e.transaction() as tx:  # updates: a longer indexed value grows the index entry too
        tids = tx.insert_many("t", [(i, f"s{i}") for i in range(40)])
    with pytest.raises(MemoryLimitError):
        with e.transaction() as tx:
            for tid in tids:
                tx.update("t", tid, {"v": "y" * 1000 + str(tid)})
    assert e._backend.live_bytes <= limit
    with e.transaction() as tx:  # what fits still goes in
        tx.insert("t", (1000, "fits"))
    assert e.verify_indexes("t") == []
    e.close()


def test_memory_limit_counts_commits_queued_behind_a_group_write():
    """B validates while A's batch is being written: the key space does not show A's bytes
    yet, but they are committed, so B must not fit in them as well."""
    import threading

    limit = 48 << 10
    e = _indexed_text_table(limit)
    backend = e._backend
    b = e.transaction()  # ~28 KB staged: fits alone
    b.insert_many("t", [(100 + i, "b" * 900 + str(i)) for i in range(15)])
    entered, release = threading.Event(), threading.Event()
    real_write = backend.write

    def slow_write(batch, sync):
        entered.set()
        release.wait()
        real_write(batch, sync)

    def commit_a():  # ~28 KB too
        with e.transaction() as tx:
            tx.insert_many("t", [(i, "a" * 900 + str(i)) for i in range(15)])

    backend.write = slow_write
    a = threading.Thread(target=commit_a)
    a.start()
    try:
        entered.wait()
        with pytest.raises(MemoryLimitError):
            # commit's own validation, without queueing behind A (which holds the queue)
            e.validate_commit_txn(b.txn_id)  # passed: A's unwritten ~28 KB not counted
    finally:
        release.set()
        a.join()
        backend.write = real_write
    with pytest.raises(MemoryLimitError):
        b.commit()
    assert backend.live_bytes <= limit
    assert e.visible_row_count(0, "t") == 15
    e.close()


def test_vacuum_reclaims_dead_versions(engine):
    _make(engine)
    with engine.transaction() as tx:
        tids = tx.insert_many("t", [(i, "a") for i in range(10)])
    for tid in tids[:4]:
        with engine.transaction() as tx:
            tx.update("t", tid, {"v": "b"})
    with engine.transaction() as tx:
        tx.delete("t", tids[9])
    old = engine.transaction()  # a live snapshot holds later versions
    with engine.transaction() as tx:
        tx.delete("t", tids[8])
    assert engine.metrics().total_dead_row_count == 6
    assert engine.vacuum_table("t") == 5
    old.rollback()
    assert engine.vacuum_table("t") == 1
    assert engine.vacuum_table("t") == 0
    assert engine.metrics().total_dead_row_count == 0
    with engine.transaction() as tx:
        assert tx.count("t") == 8
    with pytest.raises(SchemaError):
        engine.vacuum_table("nope")


def test_metrics_count_real_work(engine):
    _make(engine)
    with engine.transaction() as tx:
        tx.insert_many("t", [(i, "a") for i in range(5)])
        list(tx.scan("t"))
    tx = engine.transaction()
    m = engine.metrics()
    assert m.table_count == 1 and m.index_count == 2
    assert m.total_row_count == 5 and m.rows_written_total == 5 and m.rows_read_total >= 5
    assert m.active_transaction_count == 1 and m.transactions_committed_total == 3
    assert m.estimated_memory_bytes > 0
    tx.rollback()
    assert engine.metrics().transactions_aborted_total >= 1


def test_wal_commit_policy_syncs(tmp_path, reopen):
    for policy, expect in ((WalCommitPolicy.ALWAYS, 10), (WalCommitPolicy.every(5), 2),
                           (WalCommitPolicy.NEVER, 0)):
        e = reopen(tmp_path / repr(policy), policy)
        e.create_table("t", [("a", "INT")])
        before = e._queue.syncs
        for i in range(10):
            e.insert(0, "t", (i,))
        assert e._queue.syncs - before == expect
        e.close()


def test_not_built_features_raise(mem):
    _make(mem)
    for call in (lambda: mem.vector_search(0, 1, [1.0], 1),
                 lambda: mem.gin_containment_search(0, 1, {}),
                 lambda: mem.register_edge_table(1, 0, 1),
                 lambda: mem.adjacency_lookup(0, 1, 1, True),
                 lambda: mem.scan_table_shard(0, "t", 0),
                 lambda: mem.reindex_vector_index_storage(0, 1),
                 lambda: mem.apply_replicated_wal_entry(b"")):
        with pytest.raises(FeatureNotSupportedError):
            call()
    assert mem.adjacency_index_available(0, 1) is False


def test_log_analyze_stats_reported_after_reopen(tmp_path, reopen):
    e = reopen(tmp_path / "db")
    _make(e)
    e.log_analyze_stats("t", 10, 200, 1, [(1, 0.5, 2.0, 3)])
    with pytest.raises(SchemaError):
        e.log_analyze_stats("t", 1, 1, 1, [(99, 0.0, 0.0, 0)])
    with pytest.raises(InvalidArgumentError):
        e.log_analyze_stats("t", -1, 1, 1, [])
    e.close()
    e = reopen(tmp_path / "db")
    (s,) = e.recovery_report.recovered_statistics
    assert (s.row_count, s.total_bytes, s.dead_row_count) == (10, 200, 1)
    assert s.column_stats == ((1, 0.5, 2.0, 3),)
    e.close()


def test_graph_projection_cache_and_generation(mem):
    g = mem.cache_generation()
    mem.graph_projection_cache_put("ns", "k", g, b"payload")
    assert mem.graph_projection_cache_get("ns", "k", g) == b"payload"
    _make(mem)
    assert mem.cache_generation() > g
    assert mem.graph_projection_cache_get("ns", "k", mem.cache_generation()) is None


def test_autocommit_scans_release_their_snapshot(mem):
    _make(mem)
    mem.insert_batch(0, "t", [(i, "a") for i in range(3)])
    it = mem.scan_table(0, "t")
    assert next(it).row == (0, "a")
    it.close()
    assert [r.row[0] for r in mem.scan_index(0, "t_v", KeyRange.full())] == [0, 1, 2]
    assert mem._horizons == {}


def test_isolation_levels_accepted(mem):
    for level in IsolationLevel:
        mem.begin_txn(100 + len(mem._txns), level)


def _stored_versions(db, start: bytes, stop: bytes) -> int:
    """Every version (puts and tombstones) the LSM still stores for user keys in [start, stop)."""
    from lsmdb._core.ikey import parse_internal_key, seek_key

    children, _, _ = db._internal_sources(db._sv[3])
    n = 0
    for it in children:
        it.seek(seek_key(start))
        while it.valid() and parse_internal_key(it.key())[0] < stop:
            n += 1
            it.next()
    return n


def test_vacuum_compacts_away_the_versions_it_reclaims(tmp_path, reopen):
    """vacuum_table's count is physical: the LSM keeps one version per live row afterwards."""
    e = reopen(tmp_path / "db")
    e.create_table("t", [("id", "INT", False), ("v", "TEXT")], primary_key="id")
    with e.transaction() as tx:
        tids = tx.insert_many("t", [(i, "a") for i in range(50)])
    held = e.transaction()  # a live snapshot: the LSM must keep every version it can see
    held.count("t")
    for r in range(3):
        with e.transaction() as tx:
            for tid in tids:
                tx.update("t", tid, {"v": f"r{r}"})
    with e.transaction() as tx:
        for tid in tids[:10]:
            tx.delete("t", tid)
    db = e._backend.db
    info = e._catalog_latest.table("t")
    assert _stored_versions(db, info.prefix, info.end) == 50 * 4 + 10
    held.rollback()
    assert e.vacuum_table("t") == 160
    assert _stored_versions(db, info.prefix, info.end) == 40
    with e.transaction() as tx:
        assert tx.count("t") == 40 and {r.row[1] for r in tx.scan("t")} == {"r2"}
    e.close()


# ---------------------------------------------------------------- WAL retention (min_wal_keep_segments)


def _wal_segments(path) -> list[str]:
    return sorted(n for n in os.listdir(os.path.join(str(path), "wal")) if n.endswith(".log"))


def _retaining(path, keep: int) -> StorageEngine:
    from lsmdb.testing.presets import small_options

    return StorageEngine(StorageOptions(
        wal_config=WalConfig(dir=str(path)), wal_commit_policy=WalCommitPolicy.NEVER,
        lsm_options=small_options(), min_wal_keep_segments=keep))


@pytest.mark.parametrize("keep", [0, 1, 3])
def test_checkpoint_trims_the_wal_to_min_wal_keep_segments(tmp_path, keep):
    path = tmp_path / "db"
    e = _retaining(path, keep)
    assert e._backend.db.options.wal_keep_segments == keep
    _make(e)
    e.checkpoint()
    base = _wal_segments(path)  # the live segment, and what the first checkpoint kept
    assert len(base) == 1 + min(keep, 1)
    for i in range(5):
        with e.transaction() as tx:
            tx.insert("t", (i, "x"))
        e.checkpoint()  # each covers one more segment
        assert len(_wal_segments(path)) == 1 + min(keep, i + 2)
    e.close()
    e = _retaining(path, keep)  # open keeps them too
    assert len(_wal_segments(path)) == 1 + min(keep, 7)
    with e.transaction() as tx:
        assert sorted(r.row[0] for r in tx.scan("t")) == list(range(5))
    e.close()


RETAINING_CRASH = textwrap.dedent("""
    import os, signal, sys
    from lsmdb import StorageEngine, StorageOptions, WalCommitPolicy, WalConfig
    from lsmdb.testing.presets import small_options
    e = StorageEngine(StorageOptions(wal_config=WalConfig(dir=sys.argv[1]),
                                     wal_commit_policy=WalCommitPolicy.ALWAYS,
                                     lsm_options=small_options(), min_wal_keep_segments=3))
    e.create_table("t", [("id", "INT", False), ("v", "TEXT")], primary_key="id")
    e.create_index("t", ["v"], name="t_v")
    with e.transaction() as tx:
        tids = tx.insert_many("t", [(i, "first") for i in range(40)])
    e.checkpoint()
    with e.transaction() as tx:
        for tid in tids[:10]:
            tx.delete("t", tid)
        for tid in tids[10:20]:
            tx.update("t", tid, {"v": "second"})
    e.checkpoint()
    e.vacuum_table("t")  # the deleted rows' versions are compacted away
    e.checkpoint()
    for i in range(3):
        with e.transaction() as tx:
            tx.insert("t", (100 + i, "after"))
            tx.delete("t", tids[20 + i])
    print("acked", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
""")


def test_kill_with_kept_wal_segments_recovers_exactly(tmp_path):
    path = tmp_path / "db"
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    out = subprocess.run([sys.executable, "-c", RETAINING_CRASH, str(path)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "acked", out.stderr
    kept = _wal_segments(path)[:-1]
    assert len(kept) == 3
    e = _retaining(path, 3)
    try:
        with e.transaction() as tx:
            rows = {r.row[0]: r.row[1] for r in tx.scan("t")}
        want = {i: "second" for i in range(10, 20)}
        want.update({i: "first" for i in range(23, 40)})
        want.update({100 + i: "after" for i in range(3)})
        assert rows == want  # the deletes stay deleted, nothing comes back twice
        assert e.verify_indexes("t") == []
        assert e.recovery_report.recovered_transactions == 3
        # The open flushed the replayed tail: its segment is kept now, the oldest went.
        after = _wal_segments(path)
        assert len(after) == 4 and after[:2] == kept[1:]
    finally:
        e.close()


def test_wal_dump_reads_a_kept_engine_segment(tmp_path):
    import io

    from lsmdb.wal.dump import dump_log

    path = tmp_path / "db"
    with _retaining(path, 2) as e:
        _make(e)
        with e.transaction() as tx:
            tx.insert("t", (1, "dumped"))
        e.checkpoint()
        kept = _wal_segments(path)[:-1]
    out = io.StringIO()
    assert kept and dump_log(os.path.join(str(path), "wal", kept[-1]), out, kind="wal") == 0
    assert "PUT" in out.getvalue()


FLUSHED_CRASH = textwrap.dedent("""
    import os, signal, sys
    from lsmdb import StorageEngine, StorageOptions, WalCommitPolicy, WalConfig
    e = StorageEngine(StorageOptions(wal_config=WalConfig(dir=sys.argv[1]),
                                     wal_commit_policy=WalCommitPolicy.ALWAYS))
    e.create_table("t", [("id", "INT", False)], primary_key="id")
    e.checkpoint()
    for i in range(5):
        e.insert(0, "t", (i,))
    e._backend.db.flush()  # as the LSM does by itself when the memtable fills up
    print("acked", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
""")


def test_recovered_transactions_counts_commits_a_background_flush_covered(tmp_path, reopen):
    """The five commits after the checkpoint are in SSTables, none in the WAL: they still
    count (the report was 0 here, and 6 had a sixth commit reached the WAL)."""
    path = str(tmp_path / "db")
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    out = subprocess.run([sys.executable, "-c", FLUSHED_CRASH, path], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "acked", out.stderr
    e = reopen(path)
    try:
        assert e.recovery_report.records_replayed == 0
        assert e.recovery_report.recovered_transactions == 5
        assert e.visible_row_count(0, "t") == 5
    finally:
        e.close()
