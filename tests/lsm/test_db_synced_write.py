"""The compiled synced path of DB.put / DB.delete (WriteFront.write_one_synced,
lsmdb/_core/writefront.pyx): single writes that must be fsynced (``sync=True``, or
``sync=None`` under ``wal_sync="always"``) are group-committed in C. It must leave the same
WAL and database as the general path, count the same statistics, keep every other writer,
barrier and close behind its pending writes, and on an fsync failure fail the group and stop
writes as the general path does."""

import os
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lsmdb
from lsmdb._core.walappend import WalTail
from lsmdb._core.walmap import MappedAppender
from lsmdb.errors import BackgroundError, ClosedError, StorageIOError
from lsmdb.testing.hookenv import GeneralPathEnv


def _wal_records(db) -> bytes:
    with open(db._wal.path, "rb") as f:
        data = f.read()
    return data[:db._wal.tail.log.offset]


def _synced_workload(db, sync):
    for i in range(200):
        db.put(b"k%04d" % (i * 37 % 200), b"v%d" % i, sync=sync)
        if i % 9 == 0:
            db.delete(b"k%04d" % (i // 3), sync=sync)
    db.put(b"big", b"x" * 70000, sync=sync)  # a record spanning log blocks
    db.put(b"", b"empty key", sync=sync)


@pytest.mark.parametrize("wal_sync, sync", [("always", None), ("never", True),
                                            ("every(4)", True)])
def test_synced_and_general_paths_write_the_same_wal_database_and_stats(tmp_path, wal_sync,
                                                                        sync):
    fast = lsmdb.open(tmp_path / "fast", wal_sync=wal_sync)
    general = lsmdb.open(tmp_path / "general", env=GeneralPathEnv(), wal_sync=wal_sync)
    for db in (fast, general):
        _synced_workload(db, sync)
    assert _wal_records(fast) == _wal_records(general)
    assert fast.last_sequence == general.last_sequence
    assert dict(fast.items()) == dict(general.items())
    stats = [(s.user_writes, s.user_bytes_written, s.wal_bytes, s.wal_syncs)
             for s in (fast.stats(), general.stats())]
    assert stats[0] == stats[1]
    assert stats[0][3] == 200 + 23 + 2  # one fsync per single-threaded write
    fast.close()
    general.close()
    with lsmdb.open(tmp_path / "fast", wal_recovery="absolute_consistency") as again:
        assert again.recovery_report["records_replayed"] == 225


def _threads(n, target):
    errors = []

    def run(t):
        try:
            target(t)
        except BaseException as exc:  # reported below
            errors.append(exc)

    ts = [threading.Thread(target=run, args=(t,)) for t in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return errors


# The ways a synced writer waits for its group (writefront.pyx, "Waiting without sleeping"):
# the machine's own choice, always polling, always sleeping at once.
WAITS = {"adaptive": None, "poll": (2**62, 0), "sleep": (-1, 2**63)}


@pytest.mark.parametrize("wait", sorted(WAITS))
def test_threads_group_their_fsyncs_and_every_write_is_applied(tmp_path, wait):
    db = lsmdb.open(tmp_path / "db", wal_sync="always")
    if WAITS[wait] is not None:
        db._front.set_poll_limits(*WAITS[wait])
    n = 300

    def writer(t):
        for i in range(n):
            db.put(b"t%d-%04d" % (t, i), b"%d" % i)
            if i % 10 == 0:
                db.delete(b"t%d-%04d" % (t, i // 2))

    assert _threads(4, writer) == []
    expected = {}
    for t in range(4):
        for i in range(n):
            expected[b"t%d-%04d" % (t, i)] = b"%d" % i
            if i % 10 == 0:
                expected.pop(b"t%d-%04d" % (t, i // 2), None)
    assert dict(db.items()) == expected
    s = db.stats()
    assert s.user_writes == 4 * (n + n // 10)
    assert 1 <= s.wal_syncs <= s.user_writes
    assert not db._writers and not db._front.take_synced_counts()[0]  # all folded in
    state = db._front.group_commit_state()
    assert state["sync_ns"] > 0 and 1 <= state["last_group"] <= 4
    if wait == "poll":
        assert state["poll_ns"] >= 50_000
    elif wait == "sleep":
        assert state["poll_ns"] == 0
    db.close()
    with lsmdb.open(tmp_path / "db") as again:
        assert dict(again.items()) == expected


def test_the_poll_follows_the_fsync_time_and_the_group_size(tmp_path):
    """Writers poll for at most twice the average fsync (at least 50 us), and only while
    fsyncs are fast and groups hold enough writers; else they sleep at once."""
    db = lsmdb.open(tmp_path / "db", wal_sync="always")
    db.put(b"k", b"v")  # one group of one write: its fsync time is measured
    front = db._front
    state = front.group_commit_state()
    assert state["last_group"] == 1 and state["sync_ns"] > 0
    assert state["poll_fsync_max_ns"] == 200_000 and state["poll_min_group"] == 3
    assert state["poll_ns"] == 0  # a group of one: nobody to wait for its fsync
    front.set_poll_limits(2**62, 1)
    assert front.group_commit_state()["poll_ns"] == max(2 * state["sync_ns"], 50_000)
    front.set_poll_limits(state["sync_ns"] - 1, 1)  # fsyncs slower than the limit
    assert front.group_commit_state()["poll_ns"] == 0
    db.close()


@pytest.mark.parametrize("wait", ["adaptive", "poll"])
def test_writers_that_go_on_with_other_work_hold_no_one_back(tmp_path, wait):
    """A synced writer that takes the GIL turn back and then goes on with other work (here
    a sleep, which lets the GIL go but not the turn) keeps the others waiting only for
    the turn's bounded wait: every write finishes, every one is applied."""
    import random
    import time

    db = lsmdb.open(tmp_path / "db", wal_sync="always")
    if WAITS[wait] is not None:
        db._front.set_poll_limits(*WAITS[wait])
    n = 150

    def writer(t):
        rnd = random.Random(t)
        for i in range(n):
            db.put(b"t%d-%04d" % (t, i), b"%d" % i)
            if rnd.random() < 0.1:
                time.sleep(rnd.random() / 500)
            elif rnd.random() < 0.1:
                sum(range(2000))  # Python work holding the GIL

    started = time.monotonic()
    assert _threads(5, writer) == []
    assert time.monotonic() - started < 120  # a hang guard, not a speed check
    expected = {b"t%d-%04d" % (t, i): b"%d" % i for t in range(5) for i in range(n)}
    assert dict(db.items()) == expected
    assert db.stats().user_writes == 5 * n
    db.close()


@pytest.mark.parametrize("wait", sorted(WAITS))
def test_synced_writes_interleave_with_every_other_kind_of_write(tmp_path, wait):
    """Synced puts beside unsynced puts, batches, range deletes, flushes and memtable
    switches (a small memtable): the sentinel keeps them ordered; nothing is lost. Polling
    writers outwaited by a flush fall back to sleeping."""
    db = lsmdb.open(tmp_path / "db", memtable_bytes=64 << 10, wal_sync="never")
    if WAITS[wait] is not None:
        db._front.set_poll_limits(*WAITS[wait])
    n = 400

    def writer(t):
        for i in range(n):
            k = b"t%d-%04d" % (t, i)
            if t == 0:
                db.put(k, b"s%d" % i, sync=True)
            elif t == 1:
                db.put(k, b"u%d" % i)
            elif t == 2:
                with db.write_batch() as wb:
                    wb.put(k, b"b%d" % i)
            else:
                db.put(k, b"s%d" % i, sync=True)
                if i % 50 == 49:
                    db.flush()
                    db.delete_range(b"t3-0000", b"t3-0010")

    assert _threads(4, writer) == []
    for t, tag in ((0, b"s"), (1, b"u"), (2, b"b"), (3, b"s")):
        for i in range(n):
            got = db.get(b"t%d-%04d" % (t, i))
            if t == 3 and i < 10:
                continue  # deleted by the range, maybe rewritten before it: either is right
            assert got == tag + b"%d" % i, (t, i, got)
    items = dict(db.items())
    db.close()
    with lsmdb.open(tmp_path / "db", wal_recovery="absolute_consistency") as again:
        assert dict(again.items()) == items


def _writes_stop_until_resume(db, tail):
    """Make ``tail`` (whose append or fsync fails) the WAL's: the synced put raises
    StorageIOError naming the segment and publishes nothing, later writes raise
    BackgroundError, the sentinel leaves the queue; then resume()."""
    wal = db._wal
    wal.tail = tail
    db._wal = wal  # the write front takes its tail from the assignment of _wal
    with pytest.raises(StorageIOError) as info:
        db.put(b"x", b"2")
    assert info.value.path == wal.path
    assert db._wal_failed
    with pytest.raises(BackgroundError):
        db.put(b"y", b"3")
    with pytest.raises(BackgroundError):
        db.delete(b"a", sync=True)
    assert db.get(b"x") is None  # never published
    assert db.last_sequence == 1
    assert not db._writers  # the sentinel left the queue
    db.resume()  # seals the segment, starts a new one with a working tail


def test_a_failed_fsync_fails_the_group_and_stops_writes_until_resume(tmp_path):
    db = lsmdb.open(tmp_path / "db", wal_sync="always")
    db.put(b"a", b"1")
    wal = db._wal
    r, w = os.pipe()  # fdatasync on a pipe fails (EINVAL)
    try:
        # Appends still go to the segment's mapping; only the fsync meets the pipe.
        _writes_stop_until_resume(db, WalTail(wal.tail.log, wal._file, r, wal.mapped))
    finally:
        os.close(r)
        os.close(w)
    db.put(b"y", b"3")
    assert db.get(b"y") == b"3"
    db.close()
    with lsmdb.open(tmp_path / "db") as again:
        assert again.get(b"a") == b"1" and again.get(b"y") == b"3"


def test_a_failed_synced_append_stops_writes_until_resume(tmp_path):
    """The synced path writes its record with pwrite(2) (walmap.pyx): a failed write leaves
    the segment's tail unknown, so it fails and stops writes like a failed mapped copy."""
    db = lsmdb.open(tmp_path / "db", wal_sync="always")
    db.put(b"a", b"1")
    wal = db._wal
    fd = os.open(wal.path, os.O_RDWR)
    broken = MappedAppender(fd, wal.path, wal.mapped.size)
    read_only = os.open(wal.path, os.O_RDONLY)
    os.dup2(read_only, fd)  # its pwrite(2) now fails with EBADF; the mapping still works
    try:
        _writes_stop_until_resume(db, WalTail(wal.tail.log, wal._file, wal.tail.fd, broken))
    finally:
        broken.close()
        os.close(fd)
        os.close(read_only)
    db.put(b"y", b"3")
    db.close()
    with lsmdb.open(tmp_path / "db", wal_recovery="absolute_consistency") as again:
        assert dict(again.items()) == {b"a": b"1", b"y": b"3"}


@pytest.mark.parametrize("wait", sorted(WAITS))
def test_close_waits_for_pending_synced_writes(tmp_path, wait):
    db = lsmdb.open(tmp_path / "db", wal_sync="always")
    if WAITS[wait] is not None:
        db._front.set_poll_limits(*WAITS[wait])
    acked: list[set] = [set() for _ in range(3)]
    start = threading.Barrier(4)

    def writer(t):
        start.wait()
        for i in range(10000):
            try:
                db.put(b"t%d-%05d" % (t, i), b"v")
            except ClosedError:
                return
            acked[t].add(b"t%d-%05d" % (t, i))

    ts = [threading.Thread(target=writer, args=(t,)) for t in range(3)]
    for t in ts:
        t.start()
    start.wait()
    while sum(map(len, acked)) < 300:
        threading.Event().wait(0.001)
    db.close()
    for t in ts:
        t.join(timeout=30)
        assert not t.is_alive()
    with lsmdb.open(tmp_path / "db") as again:
        keys = set(again.keys())
    assert set().union(*acked) <= keys  # every acknowledged write survived


def test_an_armed_kill_point_takes_the_general_path(tmp_path):
    from lsmdb import killpoint

    db = lsmdb.open(tmp_path / "db", wal_sync="always")
    seen = []
    killpoint.install_hook(seen.append)
    try:
        db.put(b"k", b"v")
    finally:
        killpoint.install_hook(None)
    assert "wal.sync:before" in seen and db.get(b"k") == b"v"
    db.close()


_ops = st.lists(st.tuples(st.sampled_from(["put", "sput", "del", "sdel", "batch", "flush",
                                            "range", "reopen"]),
                          st.integers(0, 40), st.binary(max_size=300)),
                max_size=60)


@settings(max_examples=40, deadline=None)
@given(ops=_ops)
def test_synced_writes_against_a_model(tmp_path_factory, ops):
    """Single synced writes (the compiled path) mixed with unsynced ones, batches, range
    deletes, flushes and reopens, on a memtable small enough to switch: the DB equals a dict
    after every step and after a final reopen in absolute_consistency."""
    path = tmp_path_factory.mktemp("db") / "db"
    opts = dict(memtable_bytes=8 << 10, wal_sync="never")
    db = lsmdb.open(path, **opts)
    model: dict[bytes, bytes] = {}
    try:
        for kind, k, v in ops:
            key = b"k%02d" % k
            if kind in ("put", "sput"):
                db.put(key, v, sync=kind == "sput")
                model[key] = v
            elif kind in ("del", "sdel"):
                db.delete(key, sync=kind == "sdel")
                model.pop(key, None)
            elif kind == "batch":
                with db.write_batch(sync=True) as wb:
                    wb.put(key, v)
                    wb.delete(b"k%02d" % ((k + 1) % 41))
                model[key] = v
                model.pop(b"k%02d" % ((k + 1) % 41), None)
            elif kind == "flush":
                db.flush()
            elif kind == "range":
                hi = b"k%02d" % min(k + 3, 41)
                db.delete_range(key, hi, sync=True)
                for x in [x for x in model if key <= x < hi]:
                    del model[x]
            else:
                db.close()
                db = lsmdb.open(path, **opts)
            assert db.get(key) == model.get(key)
        assert dict(db.items()) == model
    finally:
        db.close()
    with lsmdb.open(path, wal_recovery="absolute_consistency") as again:
        assert dict(again.items()) == model
        assert not again.recovery_report["torn_tail"]
