"""DB.close() against work in other threads (issue 12, item 3).

Each race is made deterministic with a HookEnv gate: a write (or a compaction output) is
stopped inside its append until close() has started, then let go.
"""

import threading

import pytest

import lsmdb
from lsmdb.errors import ClosedError
from lsmdb.options import every
from lsmdb.testing.hookenv import HookEnv
from lsmdb.testing.presets import small_options

pytestmark = pytest.mark.timeout(120)  # a regression here is a hang


def _is_wal(path: str) -> bool:
    return path.endswith(".log")


def _is_sst(path: str) -> bool:
    return path.endswith(".sst")


class _Run(threading.Thread):
    """A thread that keeps the outcome of its call (value or exception)."""

    def __init__(self, fn, *args):
        super().__init__(daemon=True)
        self.fn, self.args = fn, args
        self.result = self.error = None

    def run(self):
        try:
            self.result = self.fn(*self.args)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            self.error = exc


def _wait_until(db, predicate) -> None:
    """Until ``predicate`` holds over the DB's state, read under its mutex. Polled: not every
    state change notifies (a stalled writer re-checks on a timeout)."""
    with db._cv:
        while not predicate():
            db._cv.wait(0.01)


def _wait_closing(db) -> None:
    """Until close() has raised its fence."""
    _wait_until(db, lambda: db._closing)


def _start_close(db) -> _Run:
    closer = _Run(db.close)
    closer.start()
    _wait_closing(db)
    return closer


# The queued path (a write leader appends with the mutex released). The uncontended
# wal_sync="never" path appends under the mutex, which close() takes first.
@pytest.mark.parametrize("wal_sync", ["always", every(3)])
def test_close_waits_for_a_write_inside_its_wal_append(tmp_path, wal_sync):
    env = HookEnv()
    db = lsmdb.open(tmp_path / "db", env=env, wal_sync=wal_sync)
    db.put(b"before", b"1")
    gate = env.gate(_is_wal)
    writer = _Run(db.put, b"in-flight", b"2")
    writer.start()
    gate.entered.wait()
    closer = _start_close(db)
    second = _Run(db.close)  # close() from a second thread while the first one waits
    second.start()
    # Fenced: new writes and operations are refused while the in-flight one finishes.
    with pytest.raises(ClosedError):
        db.put(b"late", b"3")
    with pytest.raises(ClosedError):
        db.flush()
    with pytest.raises(ClosedError):
        db.compact_range()
    gate.release.set()
    for t in (writer, closer, second):
        t.join()
    assert writer.error is None  # acknowledged, not "Bad file descriptor"
    assert closer.error is None and second.error is None
    assert db.closed
    db.close()  # a third close is a no-op
    with lsmdb.open(tmp_path / "db") as again:
        assert again.get(b"before") == b"1"
        assert again.get(b"in-flight") == b"2"
        assert again.get(b"late") is None


def test_writers_queued_behind_the_leader_get_closed_error_or_are_applied(tmp_path):
    env = HookEnv()
    db = lsmdb.open(tmp_path / "db", env=env, wal_sync="always")
    gate = env.gate(_is_wal)
    leader = _Run(db.put, b"leader", b"1")
    leader.start()
    gate.entered.wait()
    followers = [_Run(db.put, b"f%d" % i, b"x") for i in range(3)]
    for t in followers:
        t.start()
    _wait_until(db, lambda: len(db._writers) == 4)  # followers queued behind the leader
    closer = _start_close(db)
    gate.release.set()
    for t in (leader, *followers, closer):
        t.join()
    assert leader.error is None and closer.error is None
    for t in followers:
        assert t.error is None or isinstance(t.error, ClosedError), t.error
    with lsmdb.open(tmp_path / "db") as again:
        assert again.get(b"leader") == b"1"
        for i, t in enumerate(followers):
            if t.error is None:
                assert again.get(b"f%d" % i) == b"x"


def test_a_writer_stalled_on_a_full_memtable_gets_closed_error(tmp_path):
    env = HookEnv()
    opts = small_options().replace(memtable_bytes=4096, max_immutable_memtables=1)
    db = lsmdb.open(tmp_path / "db", opts, env=env)
    gate = env.gate(_is_sst)  # the first flush stops: the memtables fill up
    acked = []

    def write_until_refused():
        i = 0
        while True:
            key = b"k%06d" % i
            db.put(key, b"v" * 100)
            acked.append(key)
            i += 1

    writer = _Run(write_until_refused)
    writer.start()
    gate.entered.wait()
    # The writer is queued, stalled until the flush ends.
    _wait_until(db, lambda: db._writers and len(db._imms) >= 1
                and db._mem.mem.approximate_bytes >= 4096)
    closer = _Run(db.close)
    closer.start()
    # The stalled writer saw the fence and left the queue.
    _wait_until(db, lambda: db._closing and not db._writers)
    gate.release.set()  # let the background flush finish so close() can join its thread
    writer.join()
    closer.join()
    assert isinstance(writer.error, ClosedError), writer.error
    assert closer.error is None
    with lsmdb.open(tmp_path / "db") as again:
        assert [k for k in acked if again.get(k) is None] == []


def test_close_waits_for_a_running_compact_range(tmp_path):
    env = HookEnv()
    db = lsmdb.open(tmp_path / "db", small_options(), env=env)
    for i in range(2000):
        db.put(b"k%05d" % i, b"v%d" % i)
    db.flush()
    db.delete_range(b"k00100", b"k00200")
    gate = env.gate(_is_sst)
    compactor = _Run(db.compact_range)
    compactor.start()
    gate.entered.wait()  # the manual compaction (or its flush) is writing a table
    closer = _start_close(db)
    with pytest.raises(ClosedError):
        db.compact_range()
    gate.release.set()
    compactor.join()
    closer.join()
    assert compactor.error is None or isinstance(compactor.error, ClosedError)
    assert closer.error is None
    with lsmdb.open(tmp_path / "db") as again:
        assert again.get(b"k00150") is None
        assert again.get(b"k00099") == b"v99"
        assert again.count() == 1900


def test_iterators_and_snapshots_alive_at_close_raise_closed_error(tmp_path):
    db = lsmdb.open(tmp_path / "db", small_options())
    for i in range(500):
        db.put(b"k%04d" % i, b"v")
    db.flush()
    it = db.iterator()
    it.seek_to_first()
    snap = db.snapshot()
    db.close()
    with pytest.raises(ClosedError):
        it.next()
    with pytest.raises(ClosedError):
        snap.get(b"k0001")
    with pytest.raises(ClosedError):
        db.get(b"k0001")
    it.close()
    snap.close()
    # Nothing still holds the directory: it opens again at once.
    with lsmdb.open(tmp_path / "db") as again:
        assert again.count() == 500


def test_a_read_racing_close_cannot_reopen_table_files(tmp_path):
    db = lsmdb.open(tmp_path / "db", small_options())
    for i in range(500):
        db.put(b"k%04d" % i, b"v")
    db.flush()
    tables = db._tables
    meta = next(f for _, f in db._versions.current.files())
    db.close()
    with pytest.raises(ClosedError):
        tables.get(meta)  # a late reader must not open (and leak) a descriptor
