"""The direct one-op write path of DB.put / DB.delete (issue 15): one C call encodes the
one-op batch, write(2)s its WAL record and inserts it into the memtable. It must leave the
same WAL and the same database as the general path (a WriteBatch through DB._write), stay
whole-or-nothing under an interrupt and stop writes on an I/O failure like that path."""

import os
import threading

import pytest

import lsmdb
from lsmdb._core.logformat import LogWriter
from lsmdb._core.walappend import WalTail
from lsmdb.env import Env, WritableFile
from lsmdb.errors import BackgroundError, StorageIOError


class _WrappedFile(WritableFile):
    """Not exactly a WritableFile: the WAL writer takes the general path for it."""


class GeneralPathEnv(Env):
    def open_writable(self, path):
        f = super().open_writable(path)
        return _WrappedFile(f.path, f._fd, f.size)


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
    with open(db._wal.path, "rb") as f:
        return f.read()


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


class _Interrupting:
    """A WAL tail that raises KeyboardInterrupt just before or just after the real call,
    where the interpreter raises a Ctrl-C that arrived during it."""

    def __init__(self, tail, when):
        self._tail, self._when = tail, when

    def __getattr__(self, name):
        return getattr(self._tail, name)

    def append_op(self, *args):
        if self._when == "before":
            raise KeyboardInterrupt
        self._tail.append_op(*args)
        raise KeyboardInterrupt


@pytest.mark.parametrize("when", ["before", "after"])
def test_an_interrupt_around_the_direct_append_applies_all_or_nothing(tmp_path, when):
    db = lsmdb.open(tmp_path / "db", wal_sync="never")
    db.put(b"a", b"1")
    wal = db._wal
    real = wal.tail
    wal.tail = _Interrupting(real, when)
    with pytest.raises(KeyboardInterrupt):
        db.put(b"x", b"2")
    wal.tail = real
    applied = when == "after"
    assert db.get(b"x") == (b"2" if applied else None)  # published when applied
    assert db.last_sequence == (2 if applied else 1)
    db.put(b"y", b"3")  # the next write takes the next sequence number: no reuse
    assert db.last_sequence == (3 if applied else 2)
    expected = dict(db.items())
    db.close()
    with lsmdb.open(tmp_path / "db", wal_recovery="absolute_consistency") as again:
        assert dict(again.items()) == expected


def test_a_failed_direct_append_stops_writes_until_resume(tmp_path):
    db = lsmdb.open(tmp_path / "db", wal_sync="never")
    db.put(b"a", b"1")
    wal = db._wal
    read_only_fd = os.open(wal.path, os.O_RDONLY)  # write(2) on it fails with EBADF
    try:
        wal.tail = WalTail(LogWriter(wal._file, wal.tail.log.offset), wal._file, read_only_fd)
        with pytest.raises(StorageIOError):
            db.put(b"x", b"2")
        with pytest.raises(BackgroundError):
            db.put(b"y", b"3")
        assert db.get(b"x") is None
        db.resume()  # seals the segment, starts a new one with a working tail
    finally:
        os.close(read_only_fd)
    db.put(b"y", b"3")
    db.close()
    with lsmdb.open(tmp_path / "db") as again:
        assert dict(again.items()) == {b"a": b"1", b"y": b"3"}


def test_a_refused_direct_append_is_only_that_calls_error(tmp_path):
    db = lsmdb.open(tmp_path / "db", wal_sync="never")
    db._wal.tail.detach()  # append_op refuses before writing anything
    with pytest.raises(lsmdb.errors.ClosedError):
        db.put(b"x", b"1")
    db._wal.direct = False  # the general path still writes to the segment
    db.put(b"y", b"2")
    assert dict(db.items()) == {b"y": b"2"}
    db.close()


def _count_cv_waits(db, monkeypatch) -> list:
    waits = []
    real_wait = db._cv.wait

    def counting_wait(timeout=None):
        waits.append(timeout)
        return real_wait(timeout)

    monkeypatch.setattr(db._cv, "wait", counting_wait)
    return waits


def test_a_single_synced_writer_never_waits_for_a_group(tmp_path, monkeypatch):
    db = lsmdb.open(tmp_path / "db", wal_sync="always")
    db.put(b"first", b"1")  # now the last synced group is this thread's
    waits = _count_cv_waits(db, monkeypatch)
    for i in range(20):
        db.put(b"k%02d" % i, b"v")
    assert waits == []
    assert db.stats().wal_syncs == 21
    db.close()


def test_a_leader_gathering_for_a_thread_that_never_returns_goes_on(tmp_path, monkeypatch):
    db = lsmdb.open(tmp_path / "db", wal_sync="always")
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
