"""lsmdb/engine/engine.py ``vacuum_table``: its statistics record must not overwrite a
concurrent commit's. Found by reading the code while adding vacuum_table to the engine
crash harness (lsmdb/testing/engine_crash/ ``--vacuum``): its statistics check reports
this after a recovery, but the window is microseconds wide, so random kills rarely hit it;
this test hits it every time.

vacuum_table encodes the table's statistics under the validation lock, releases it, then
writes them with ``_write_meta``, which takes the lock again to enqueue. A commit that lands
in between enqueues its newer statistics first; vacuum's stale record is written after it
and is what recovery reads. The tests start that commit in another thread right after vacuum
releases the validation lock it held while encoding the statistics, and let vacuum go on only
once the commit has finished or is queued behind vacuum's own write (whichever the code
allows), so the outcome does not depend on thread timing.
"""

import threading
import time

from lsmdb.engine import engine as engine_module


class _HookedLock:
    """The validation lock, running ``after_release`` once after an armed release."""

    def __init__(self):
        self.lock = threading.Lock()
        self.armed = False
        self.after_release = None

    def __enter__(self):
        self.lock.acquire()
        return self

    def __exit__(self, *exc):
        self.lock.release()
        if self.armed:
            self.armed = False
            self.after_release()
        return False


def _commit_right_after_vacuum_encodes_stats(engine, monkeypatch, commit) -> list:
    hooked = _HookedLock()
    started: list[threading.Thread] = []

    def run_commit():
        t = threading.Thread(target=commit)
        t.start()
        started.append(t)
        while t.is_alive() and len(engine._queue._queue) < 2:  # done, or queued behind vacuum
            time.sleep(0.001)

    hooked.after_release = run_commit
    engine._validate_lock = hooked
    encode = engine_module.encode_stats
    in_vacuum = []

    def encode_stats(s):
        if in_vacuum and not in_vacuum[0]:
            in_vacuum[0] = True
            hooked.armed = True  # the next release of the lock is vacuum's
        return encode(s)

    monkeypatch.setattr(engine_module, "encode_stats", encode_stats)
    vacuum = engine.vacuum_table

    def vacuum_table(table):
        in_vacuum.append(False)
        return vacuum(table)

    engine.vacuum_table = vacuum_table
    return started


def test_vacuum_does_not_persist_stale_row_counts(tmp_path, reopen, monkeypatch):
    path = tmp_path / "db"
    engine = reopen(path)
    engine.create_table("t", [("id", "BIGINT", False)], primary_key="id")
    with engine.transaction() as tx:
        tx.insert("t", (1,))

    def insert_second():
        with engine.transaction() as tx:
            tx.insert("t", (2,))

    started = _commit_right_after_vacuum_encodes_stats(engine, monkeypatch, insert_second)
    engine.vacuum_table("t")
    started[0].join()
    assert engine.metrics().total_row_count == 2
    engine.close()
    engine = reopen(path)
    try:
        with engine.transaction() as tx:
            assert tx.count("t") == 2
        assert engine.metrics().total_row_count == 2  # the recovered statistics say 1
        assert engine.recovery_report.recovered_statistics[0].row_count == 2
    finally:
        engine.close()


def test_vacuum_does_not_resurrect_statistics_of_a_table_dropped_meanwhile(
        tmp_path, reopen, monkeypatch):
    path = tmp_path / "db"
    engine = reopen(path)
    engine.create_table("t", [("id", "BIGINT", False)], primary_key="id")
    with engine.transaction() as tx:
        tx.insert("t", (1,))

    def drop():
        with engine.transaction() as tx:
            tx.drop_table("t")

    started = _commit_right_after_vacuum_encodes_stats(engine, monkeypatch, drop)
    engine.vacuum_table("t")
    started[0].join()
    engine.close()
    engine = reopen(path)
    try:
        assert engine.recovery_report.recovered_statistics == ()  # t's record came back
    finally:
        engine.close()
