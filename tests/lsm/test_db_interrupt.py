"""Ctrl-C in the caller's thread (issue 12, item 5): an interrupt is not a background error,
the write it struck is applied whole or not at all, and the DB stays writable."""

import pytest

import lsmdb
from lsmdb.errors import BackgroundError, describe_error
from lsmdb.testing.hookenv import HookEnv
from lsmdb.testing.presets import small_options


def _is_wal(path: str) -> bool:
    return path.endswith(".log")


def _state(db) -> dict:
    return dict(db.items())


# wal_sync="never" takes the uncontended path (append under the mutex), "always" the
# queued one (a leader appends with the mutex released, then fsyncs).
@pytest.mark.parametrize("wal_sync", ["never", "always"])
@pytest.mark.parametrize("when", ["before", "partial", "after"])
def test_interrupt_inside_the_wal_append_leaves_the_db_writable(tmp_path, wal_sync, when):
    env = HookEnv()
    db = lsmdb.open(tmp_path / "db", env=env, wal_sync=wal_sync)
    db.put(b"a", b"1")
    env.interrupt(_is_wal, when)
    with pytest.raises(KeyboardInterrupt):
        db.put(b"x", b"2")
    # Whole or nothing: no byte reached the WAL -> not applied; some did -> completed.
    assert db.get(b"x") == (None if when == "before" else b"2")
    db.put(b"b", b"3")  # not "BackgroundError: a background error stopped writes: ;"
    db.delete(b"a")
    expected = _state(db)
    db.close()
    # The strictest recovery mode: the WAL holds no torn or half record.
    with lsmdb.open(tmp_path / "db", wal_recovery="absolute_consistency") as again:
        assert _state(again) == expected


def test_interrupt_in_the_wal_fsync_applies_the_written_record(tmp_path):
    env = HookEnv()
    db = lsmdb.open(tmp_path / "db", env=env, wal_sync="always")
    env.interrupt(_is_wal, "sync")
    with pytest.raises(KeyboardInterrupt):
        db.put(b"x", b"1")
    # The record is in the WAL, so it is in the memtable too (else it would appear only
    # after a reopen); the caller was not told it is durable.
    assert db.get(b"x") == b"1"
    db.put(b"y", b"2")
    db.close()
    with lsmdb.open(tmp_path / "db") as again:
        assert _state(again) == {b"x": b"1", b"y": b"2"}


def test_interrupt_in_a_batch_write_applies_all_of_it_or_none(tmp_path):
    env = HookEnv()
    db = lsmdb.open(tmp_path / "db", env=env)
    env.interrupt(_is_wal, "before")
    with pytest.raises(KeyboardInterrupt), db.write_batch() as wb:
        wb.put(b"p", b"1")
        wb.put(b"q", b"2")
    assert _state(db) == {}
    env.interrupt(_is_wal, "after")
    with pytest.raises(KeyboardInterrupt), db.write_batch() as wb:
        wb.put(b"p", b"1")
        wb.put(b"q", b"2")
    assert _state(db) == {b"p": b"1", b"q": b"2"}
    db.put(b"r", b"3")
    db.close()
    with lsmdb.open(tmp_path / "db") as again:
        assert _state(again) == {b"p": b"1", b"q": b"2", b"r": b"3"}


def test_interrupt_during_an_inline_flush_is_not_a_background_error(tmp_path):
    env = HookEnv()
    db = lsmdb.open(tmp_path / "db", small_options(), env=env, inline_background=True)
    for i in range(100):
        db.put(b"k%03d" % i, b"v")
    env.interrupt(lambda p: p.endswith(".sst"), "partial")
    with pytest.raises(KeyboardInterrupt):
        db.flush()
    db.put(b"after", b"1")  # still writable
    db.flush()  # the interrupted flush is redone
    assert db.count() == 101
    db.close()
    with lsmdb.open(tmp_path / "db") as again:
        assert again.count() == 101


def test_a_put_loop_interrupted_many_times_keeps_every_acknowledged_write(tmp_path):
    env = HookEnv()
    db = lsmdb.open(tmp_path / "db", small_options(), env=env)
    acked = {}
    for i in range(300):
        if i % 7 == 3:
            env.interrupt(_is_wal, ("before", "partial", "after")[i % 3])
        key = b"k%04d" % i
        try:
            db.put(key, b"v%d" % i)
        except KeyboardInterrupt:
            continue
        acked[key] = b"v%d" % i
    now = _state(db)
    assert all(now[k] == v for k, v in acked.items())
    db.close()
    with lsmdb.open(tmp_path / "db") as again:
        assert _state(again) == now


def test_error_messages_never_have_an_empty_reason(tmp_path):
    assert describe_error(KeyboardInterrupt()) == "KeyboardInterrupt"
    assert describe_error(OSError(5, "EIO")) == "OSError: [Errno 5] EIO"
    env = HookEnv()
    db = lsmdb.open(tmp_path / "db", env=env)
    env.interrupt(_is_wal, "before", exc=OSError())  # an I/O error whose str() is ""
    with pytest.raises(OSError):
        db.put(b"x", b"1")
    with pytest.raises(BackgroundError) as info:
        db.put(b"y", b"2")
    assert "stopped writes: OSError;" in str(info.value)
    db.resume()
    db.put(b"y", b"2")
    db.close()


@pytest.mark.timeout(60)  # the regression was a hang: the interrupted leader stayed queued
def test_interrupt_while_the_leader_publishes_leaves_no_stale_writer(tmp_path, monkeypatch):
    # The queued path (a hook Env's WAL file is not a plain one: no compiled path).
    db = lsmdb.open(tmp_path / "db", env=HookEnv(), wal_sync="always")
    publish = db._publish
    fired = []

    def interrupted_once():
        if not fired:
            fired.append(True)
            raise KeyboardInterrupt
        publish()

    monkeypatch.setattr(db, "_publish", interrupted_once)
    with pytest.raises(KeyboardInterrupt):
        db.put(b"x", b"1")
    assert db.get(b"x") == b"1"  # in the WAL and the memtable: applied, and visible
    db.put(b"y", b"2")  # the queue moved on
    db.close()
    with lsmdb.open(tmp_path / "db") as again:
        assert _state(again) == {b"x": b"1", b"y": b"2"}
