"""The direct one-op write path of DB.put / DB.delete (issue 15): one C call
(lsmdb/_core/writefront.pyx) checks the write, encodes the one-op batch, write(2)s its WAL
record, inserts it into the memtable and publishes it. It must leave the same WAL and the
same database as the general path (a WriteBatch through DB._write), raise the same errors
and stop writes on an I/O failure like that path. It runs no Python step, so an interrupt
cannot strike inside it; the general path's interrupt rules are tested in
test_db_interrupt.py."""

import os
import threading

import pytest

import lsmdb
from lsmdb import killpoint
from lsmdb._core.ikey import MAX_SEQNO
from lsmdb._core.logformat import LogWriter
from lsmdb._core.walappend import WalTail
from lsmdb.errors import (
    BackgroundError,
    ClosedError,
    FeatureNotSupportedError,
    InvalidArgumentError,
    StorageIOError,
)
from lsmdb.options import Options
from lsmdb.testing.hookenv import GeneralPathEnv


def _workload(db):
    db.put(b"a", b"1")
    db.put(b"b", b"x" * 70000)  # a record spanning three log blocks
    db.delete(b"a")
    db.delete(b"never-there")
    with db.write_batch() as wb:  # the general path in between: one log either way
        wb.put(b"c", b"3")
        wb.delete(b"b")
    db.put(bytearray(b"d"), memoryview(b"4"))  # buffers are checked, then go direct
    db.delete_range(b"c", b"d")
    for i in range(300):
        db.put(b"k%05d" % (i * 7919 % 300), b"v%d" % i)
        if i % 5 == 0:
            db.delete(b"k%05d" % i)
    db.put(b"", b"empty key")


def _wal_bytes(db) -> bytes:
    """The open segment's records: a mapped segment (walmap.pyx) is preallocated, zeros
    after its logical end."""
    with open(db._wal.path, "rb") as f:
        data = f.read()
    end = db._wal.tail.log.offset
    assert not any(data[end:])
    return data[:end]


@pytest.mark.parametrize("wal_sync", ["never", "every(4)"])
def test_direct_and_general_paths_write_the_same_wal_and_database(tmp_path, wal_sync):
    direct = lsmdb.open(tmp_path / "direct", wal_sync=wal_sync)
    general = lsmdb.open(tmp_path / "general", env=GeneralPathEnv(), wal_sync=wal_sync)
    assert direct._wal.direct and not general._wal.direct
    for db in (direct, general):
        _workload(db)
    assert _wal_bytes(direct) == _wal_bytes(general)
    assert direct.last_sequence == general.last_sequence
    expected = dict(general.items())
    assert dict(direct.items()) == expected
    stats = [(s.user_writes, s.user_bytes_written, s.wal_bytes)
             for s in (direct.stats(), general.stats())]
    assert stats[0] == stats[1]
    direct.close()
    general.close()
    with lsmdb.open(tmp_path / "direct", wal_recovery="absolute_consistency") as again:
        assert dict(again.items()) == expected


def test_a_failed_direct_append_stops_writes_until_resume(tmp_path):
    db = lsmdb.open(tmp_path / "db", wal_sync="never")
    db.put(b"a", b"1")
    wal = db._wal
    read_only_fd = os.open(wal.path, os.O_RDONLY)  # write(2) on it fails with EBADF
    try:
        wal.tail = WalTail(LogWriter(wal._file, wal.tail.log.offset), wal._file, read_only_fd)
        db._wal = wal  # the write front takes its tail from the assignment of _wal
        with pytest.raises(StorageIOError):
            db.put(b"x", b"2")
        assert db._wal_failed
        with pytest.raises(BackgroundError):
            db.put(b"y", b"3")
        with pytest.raises(BackgroundError):
            db.delete(b"a")
        assert db.get(b"x") is None
        assert db.last_sequence == 1
        db.resume()  # seals the segment, starts a new one with a working tail
    finally:
        os.close(read_only_fd)
    db.put(b"y", b"3")
    db.close()
    with lsmdb.open(tmp_path / "db") as again:
        assert dict(again.items()) == {b"a": b"1", b"y": b"3"}


def test_a_refused_direct_append_is_only_that_calls_error(tmp_path):
    """An append refused before any byte is written (here: the sequence space is used up)
    fails that call only; the general path refuses the same write the same way."""
    for env in (None, GeneralPathEnv()):
        db = lsmdb.open(tmp_path / ("direct" if env is None else "general"), env=env)
        db.put(b"a", b"1")
        db._last_seq = MAX_SEQNO
        with pytest.raises(InvalidArgumentError):
            db.put(b"x", b"1")
        assert db._bg_error is None and not db._wal_failed
        db._last_seq = 1
        db.put(b"y", b"2")
        assert dict(db.items()) == {b"a": b"1", b"y": b"2"}
        db.close()


def test_a_detached_tail_sends_writes_to_the_general_path(tmp_path):
    db = lsmdb.open(tmp_path / "db", wal_sync="never")
    db._wal.tail.detach()  # as WalWriter.close() does: the direct append is off
    db.put(b"y", b"2")
    db.delete(b"z")
    assert db._wal.tail.take_direct_counts()[0] == 0
    assert dict(db.items()) == {b"y": b"2"}
    db.close()
    with lsmdb.open(tmp_path / "db", wal_recovery="absolute_consistency") as again:
        assert dict(again.items()) == {b"y": b"2"}


def _count_cv_waits(db, monkeypatch) -> list:
    waits = []
    real_wait = db._cv.wait

    def counting_wait(timeout=None):
        waits.append(timeout)
        return real_wait(timeout)

    monkeypatch.setattr(db._cv, "wait", counting_wait)
    return waits


# The general path's group commit of synced writes (a wrapped WAL file: single synced writes
# on a plain one take the compiled synced path, test_db_synced_write.py).

def test_a_single_synced_writer_never_waits_for_a_group(tmp_path, monkeypatch):
    db = lsmdb.open(tmp_path / "db", env=GeneralPathEnv(), wal_sync="always")
    db.put(b"first", b"1")  # now the last synced group is this thread's
    waits = _count_cv_waits(db, monkeypatch)
    for i in range(20):
        db.put(b"k%02d" % i, b"v")
    assert waits == []
    assert db.stats().wal_syncs == 21
    db.close()


def test_a_leader_gathering_for_a_thread_that_never_returns_goes_on(tmp_path, monkeypatch):
    db = lsmdb.open(tmp_path / "db", env=GeneralPathEnv(), wal_sync="always")
    db.put(b"first", b"1")
    # The last synced group had another thread too, which writes no more.
    db._last_sync_threads = db._last_sync_threads | {-1}
    db._sync_seconds = 3600.0  # the wait is still bounded (_GATHER_MAX_SECONDS)
    waits = _count_cv_waits(db, monkeypatch)
    db.put(b"x", b"2")
    assert waits and all(0 < t <= 0.001 for t in waits)
    assert db.get(b"x") == b"2"
    assert db._last_sync_threads == frozenset({threading.get_ident()})
    assert not db._gathering
    db.close()


# The compiled write front against the general path: every case runs on "direct" (a plain
# WAL file: one C call in the common case) and "general" (a wrapped WAL file: every write takes
# DB._write_one_general); both must raise the same errors and apply the same writes.

def _open(tmp_path, path_kind, **kw):
    env = GeneralPathEnv() if path_kind == "general" else None
    return lsmdb.open(tmp_path / path_kind, env=env, **kw)


def _direct_ops(db) -> int:
    """Writes the direct path appended since the last call (the DB's statistics miss them)."""
    return db._wal.tail.take_direct_counts()[0]


@pytest.fixture(params=["direct", "general"])
def db(request, tmp_path):
    d = _open(tmp_path, request.param, wal_sync="never", max_key_bytes=8, max_value_bytes=16)
    d.path_kind = request.param
    yield d
    d.close()


def test_the_common_case_takes_the_direct_path_only_on_a_plain_file(db):
    _direct_ops(db)
    db.put(b"k", b"v")
    db.delete(b"k")
    db.put(bytearray(b"b"), memoryview(b"buffers"))
    assert _direct_ops(db) == (3 if db.path_kind == "direct" else 0)
    assert db.last_sequence == 3 == db._last_seq == db._sv[3]
    assert dict(db.items()) == {b"b": b"buffers"}


@pytest.mark.parametrize("call", [
    lambda db: db.put("str key", b"v"),
    lambda db: db.put(b"k", "str value"),
    lambda db: db.put(1, b"v"),
    lambda db: db.put(b"k", None),
    lambda db: db.delete("str key"),
    lambda db: db.delete(None),
    lambda db: db.put(b"k", b"v", sync="yes"),
    lambda db: db.delete(b"k", sync=1),
])
def test_wrong_types_raise_type_error_and_apply_nothing(db, call):
    with pytest.raises(TypeError):
        call(db)
    assert db.last_sequence == 0 and dict(db.items()) == {}
    db.put(b"after", b"ok")  # the error was only that call's
    assert db.get(b"after") == b"ok"


def test_type_error_messages_match_across_paths(tmp_path):
    messages = {}
    for kind in ("direct", "general"):
        with _open(tmp_path, kind) as d:
            got = []
            for call in (lambda: d.put("s", b"v"), lambda: d.put(b"k", 3),
                         lambda: d.delete(["x"]), lambda: d.put(b"k", b"v", sync="yes")):
                with pytest.raises(TypeError) as e:
                    call()
                got.append(str(e.value))
            messages[kind] = got
    assert messages["direct"] == messages["general"]
    assert messages["direct"][0] == "key must be bytes-like, not str"


def test_oversized_key_or_value_is_refused_with_nothing_applied(db):
    with pytest.raises(InvalidArgumentError, match="key of 9 bytes exceeds max_key_bytes=8"):
        db.put(b"k" * 9, b"v")
    with pytest.raises(InvalidArgumentError, match="value of 17 bytes exceeds"):
        db.put(b"k", b"v" * 17)
    with pytest.raises(InvalidArgumentError, match="key of 9 bytes"):
        db.delete(bytearray(b"k" * 9))
    # The key is checked first, as by the general path: an oversized key with a bad value.
    with pytest.raises(InvalidArgumentError, match="key of 9 bytes"):
        db.put(b"k" * 9, "not bytes")
    with pytest.raises(TypeError, match="value must be bytes-like"):
        db.put(b"k", "not bytes" * 5)
    assert db.last_sequence == 0
    db.put(b"k" * 8, b"v" * 16)  # the limits themselves are allowed
    assert db.get(b"k" * 8) == b"v" * 16


def test_a_closed_db_refuses_with_closed_error_before_checking_arguments(db):
    db.put(b"k", b"v")
    db.close()
    for call in (lambda: db.put(b"k", b"v"), lambda: db.put("bad", 1),
                 lambda: db.delete(b"k"), lambda: db.delete(None)):
        with pytest.raises(ClosedError):
            call()


def test_a_read_only_db_refuses_writes(tmp_path):
    for kind in ("direct", "general"):
        _open(tmp_path, kind).close()
        env = GeneralPathEnv() if kind == "general" else None
        with lsmdb.open(tmp_path / kind, env=env, read_only=True) as ro:
            for call in (lambda: ro.put(b"k", b"v"), lambda: ro.delete(b"k"),
                         lambda: ro.put("bad", 1)):
                with pytest.raises(FeatureNotSupportedError):
                    call()


def test_a_background_error_stops_both_kinds_of_write_until_resume(db):
    db.put(b"a", b"1")
    db._bg_error = StorageIOError("injected", db.path, 5)  # as a failed flush sets it
    with pytest.raises(BackgroundError):
        db.put(b"b", b"2")
    with pytest.raises(BackgroundError):
        db.delete(b"a")
    assert db.last_sequence == 1
    db.resume()
    _direct_ops(db)
    db.put(b"b", b"2")
    assert _direct_ops(db) == (1 if db.path_kind == "direct" else 0)
    assert dict(db.items()) == {b"a": b"1", b"b": b"2"}


def test_snapshots_and_iterators_do_not_see_a_later_put(db):
    db.put(b"k", b"old")
    db.put(b"gone", b"x")
    with db.snapshot() as snap:
        it = db.iterator()
        db.put(b"k", b"new")
        db.delete(b"gone")
        db.put(b"added", b"1")
        assert db.get(b"k", snapshot=snap) == b"old"
        assert db.get(b"gone", snapshot=snap) == b"x"
        assert db.get(b"added", snapshot=snap) is None
        assert dict(db.items(snapshot=snap)) == {b"k": b"old", b"gone": b"x"}
        assert dict(it) == {b"k": b"old", b"gone": b"x"}
        assert db.get(b"k") == b"new" and db.get(b"gone") is None
    with db.snapshot() as later:
        assert dict(db.items(snapshot=later)) == {b"k": b"new", b"added": b"1"}


def test_a_synced_put_takes_the_general_path_and_fsyncs(db):
    syncs = db.stats().wal_syncs
    _direct_ops(db)
    db.put(b"k", b"v", sync=True)
    db.delete(b"k", sync=True)
    assert _direct_ops(db) == 0
    assert db.stats().wal_syncs == syncs + 2
    db.put(b"k2", b"v", sync=False)
    assert _direct_ops(db) == (1 if db.path_kind == "direct" else 0)


def test_an_armed_kill_point_hook_sends_puts_through_the_wal_kill_points(tmp_path):
    db = _open(tmp_path, "direct", wal_sync="never")
    seen: list[str] = []
    killpoint.install_hook(seen.append)
    try:
        db.put(b"a", b"1")
        db.delete(b"a")
    finally:
        killpoint.install_hook(None)
    assert seen.count("wal.append:before") == 2 and seen.count("wal.append:after") == 2
    assert _direct_ops(db) == 0
    db.put(b"b", b"2")  # disarmed: direct again
    assert _direct_ops(db) == 1
    db.close()


def test_memtable_switches_under_direct_puts_keep_every_write(tmp_path):
    opts = Options(memtable_bytes=64 << 10, wal_sync="never")
    expected = {}
    with lsmdb.open(tmp_path / "db", opts) as d:
        for i in range(3000):
            key, value = b"k%05d" % (i * 7919 % 3000), b"v%d" % i
            d.put(key, value)
            expected[key] = value
            if i % 11 == 0:
                d.delete(key)
                expected.pop(key)
            assert d._front.state["mem"] is d._mem.mem  # the front follows every switch
        assert d.stats().flushes + len(d._imms) >= 2
        assert dict(d.items()) == expected
    with lsmdb.open(tmp_path / "db", wal_recovery="absolute_consistency") as again:
        assert dict(again.items()) == expected


@pytest.mark.parametrize("wal_sync", ["never", "every(4)"])
def test_concurrent_puts_deletes_and_batches_keep_every_write_once(tmp_path, wal_sync):
    """Threads mixing single puts, deletes, synced puts and batches: every write applied
    once, each with its own sequence numbers, the same after recovery."""
    db = lsmdb.open(tmp_path / "db", Options(memtable_bytes=256 << 10, wal_sync=wal_sync))
    n = 600
    errors: list[BaseException] = []

    def singles(t: int) -> None:
        for i in range(n):
            db.put(b"t%d-%04d" % (t, i), b"v%d" % i)
            if i % 3 == 0:
                db.delete(b"t%d-%04d" % (t, i))

    def synced(t: int) -> None:
        for i in range(n // 10):
            db.put(b"t%d-%04d" % (t, i), b"s%d" % i, sync=True)

    def batches(t: int) -> None:
        for i in range(0, n, 4):
            with db.write_batch() as wb:
                for j in range(i, i + 4):
                    wb.put(b"t%d-%04d" % (t, j), b"b%d" % j)

    def run(fn, t):
        try:
            fn(t)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(fn, t))
               for t, fn in enumerate((singles, singles, synced, batches))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    expected = {}
    for t in (0, 1):
        for i in range(n):
            if i % 3:
                expected[b"t%d-%04d" % (t, i)] = b"v%d" % i
    for i in range(n // 10):
        expected[b"t2-%04d" % i] = b"s%d" % i
    for j in range(n):
        expected[b"t3-%04d" % j] = b"b%d" % j
    writes = 2 * (n + n // 3) + n // 10 + n
    assert db.last_sequence == writes  # one sequence number per op, none reused or lost
    assert dict(db.items()) == expected
    db.close()
    with lsmdb.open(tmp_path / "db", wal_recovery="absolute_consistency") as again:
        assert dict(again.items()) == expected
        assert again.last_sequence == writes


def test_readers_beside_direct_puts_see_a_growing_prefix(tmp_path):
    """One thread puts k0, k1, ... on the direct path; another reads beside it: a snapshot
    that sees k_i sees every earlier key, and the visible sequence never goes back."""
    db = lsmdb.open(tmp_path / "db", Options(memtable_bytes=128 << 10, wal_sync="never"))
    n = 4000
    done = threading.Event()
    problems: list[str] = []

    def reader() -> None:
        last = 0
        while not done.is_set():
            with db.snapshot() as snap:
                seq = snap.seqno
                if seq < last:
                    problems.append(f"sequence went back: {last} -> {seq}")
                last = seq
                # The writer's i-th put has sequence i + 1: the snapshot holds exactly
                # k0 .. k(seq-1), whichever memtable or table they sit in by now.
                probe = [0, seq // 2, seq - 1] if seq else []
                for i in probe:
                    if db.get(b"k%05d" % i, snapshot=snap) != b"v%d" % i:
                        problems.append(f"seq {seq}: k{i} missing")
                if db.get(b"k%05d" % seq, snapshot=snap) is not None:
                    problems.append(f"seq {seq}: k{seq} visible too early")

    th = threading.Thread(target=reader)
    th.start()
    try:
        for i in range(n):
            db.put(b"k%05d" % i, b"v%d" % i)
    finally:
        done.set()
        th.join()
    assert problems == []
    assert db.last_sequence == n
    db.close()
