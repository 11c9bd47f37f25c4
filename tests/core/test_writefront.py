"""WriteFront and FrontField (lsmdb/_core/writefront.pyx): the DB attributes a single put
reads, mirrored into C fields on every assignment and never stale."""

import gc
import weakref

import pytest

import lsmdb
from lsmdb._core.writefront import FrontField, WriteFront
from lsmdb.errors import ClosedError, InvalidArgumentError, StorageIOError
from lsmdb.lsm.db import DB
from lsmdb.options import Options


class _Owner:
    _closing = FrontField("_closing")
    _last_seq = FrontField("_last_seq")
    _nonsense = FrontField("_nonsense")

    def __init__(self):
        self._front = WriteFront()


def test_an_assignment_stores_the_value_and_mirrors_it():
    o = _Owner()
    o._closing = True
    o._last_seq = 41
    assert o.__dict__["_closing"] is True and o._closing is True  # a plain attribute read
    assert o._front.state["closing"] is True and o._front.state["last_seq"] == 41
    o._closing = False
    assert o._front.state["closing"] is False


def test_a_field_the_front_does_not_know_is_refused():
    o = _Owner()
    with pytest.raises(InvalidArgumentError, match="_nonsense"):
        o._nonsense = 1


def test_an_assignment_before_the_front_exists_is_kept_for_the_dict():
    class Early:
        _closing = FrontField("_closing")

    e = Early()
    e._closing = True  # no _front yet: stored, nothing to mirror into
    assert e._closing is True


def _expected_state(db) -> dict:
    wal = db._wal
    mem = db.__dict__.get("_mem")
    return {
        "last_seq": db._last_seq, "failed": db._bg_error is not None, "closing": db._closing,
        "closed": db._closed, "read_only": db.read_only,
        "no_write_stall": bool(db.__dict__.get("_no_write_stall", False)),
        "tail": wal.tail if wal is not None and wal.direct else None,
        "mem": None if mem is None else mem.mem, "writers": db._writers,
        "never_syncs": db._commit_schedule.never_syncs,
        "always_syncs": db._commit_schedule.syncs_by_default,
        "sync_sentinel": db._sync_sentinel,
        "memtable_limit": db._memtable_limit, "max_key": db._max_key,
        "max_value": db._max_value, "sv": db.__dict__.get("_sv"),
    }


def _check(db) -> None:
    state, expected = db._front.state, _expected_state(db)
    for name, value in expected.items():
        if name in ("tail", "mem", "writers", "sv", "sync_sentinel"):
            assert state[name] is value, name
        else:
            assert state[name] == value, name


def test_every_mirrored_db_attribute_is_a_front_field():
    mirrored = {n for n, v in vars(DB).items() if isinstance(v, FrontField)}
    assert mirrored == {"_last_seq", "_bg_error", "_closing", "_closed", "read_only",
                        "_no_write_stall", "_wal", "_mem", "_writers", "_mutex",
                        "_commit_schedule", "_memtable_limit", "_max_key", "_max_value",
                        "_sv", "_sync_sentinel"}
    assert all(vars(DB)[n].name == n for n in mirrored)


def test_gets_are_the_fronts_methods_and_read_its_superversion(tmp_path):
    db = lsmdb.open(tmp_path / "db", Options(memtable_bytes=32 << 10))
    assert db.get == db._front.get and db.get_at == db._front.get_at
    assert DB.get.__name__ == "get" and "snapshot" in DB.get.__doc__
    db.put(b"a", b"1")
    snap = db.snapshot()
    db.put(b"a", b"2")
    db.put(bytearray(b"b"), b"3")  # the general path publishes through the FrontField
    with db.write_batch() as wb:
        wb.put(b"c", b"4")
    assert db.get(b"a") == b"2" and db.get(b"a", snapshot=snap) == b"1"
    assert db.get(memoryview(b"b")) == b"3" and db.get(b"c") == b"4"
    assert db.get_at(b"a") == b"2" and db.get_at(b"a", snap.seqno) == b"1"
    assert type(db).get(db, b"a") == b"2" and type(db).get_at(db, b"c") == b"4"
    with pytest.raises(TypeError, match="key must be bytes-like"):
        db.get("a")
    with pytest.raises(TypeError, match="key must be bytes-like"):
        db.get_at("a")
    snap.close()
    front_get = db.get
    db.close()
    with pytest.raises(ClosedError):
        db.get(b"a")
    with pytest.raises(ClosedError):
        db.get_at(b"a")
    # The front keeps no strong reference to its DB: a dropped DB is freed at once, and a
    # get through a front that outlived it reports a closed database.
    ref = weakref.ref(db)
    del db, snap, wb
    gc.disable()
    try:
        assert ref() is None
    finally:
        gc.enable()
    with pytest.raises(ClosedError):
        front_get(b"a")


def test_the_front_follows_a_db_through_its_life(tmp_path):
    db = lsmdb.open(tmp_path / "db", Options(memtable_bytes=32 << 10, wal_sync="never"))
    _check(db)
    for i in range(2000):  # several memtable switches and flushes
        db.put(b"k%05d" % i, b"v" * 20)
    _check(db)
    db.flush()
    _check(db)
    db._bg_error = StorageIOError("injected", db.path, 5)
    _check(db)
    db.resume()
    _check(db)
    db.put(b"x", b"1")
    db.close()
    _check(db)
    assert db._front.state["closed"]
    with lsmdb.open(tmp_path / "db", read_only=True) as ro:
        _check(ro)
        assert ro._front.state["read_only"]


def test_a_value_the_mirror_refuses_leaves_the_attribute_as_it_was():
    o = _Owner()
    o._last_seq = 5
    with pytest.raises(TypeError):
        o._last_seq = "six"
    assert o._last_seq == 5 and o._front.state["last_seq"] == 5


def test_a_dropped_db_is_freed_at_once_with_everything_it_holds(tmp_path):
    """The front holds nothing that leads back to its DB: no reference cycle keeps a DB's
    memtables and files alive until the next garbage collection."""
    gc.disable()
    try:
        db = lsmdb.open(tmp_path / "db")
        db.put(b"a", b"1")
        cv = weakref.ref(db._cv)
        db.close()
        del db
        assert cv() is None
    finally:
        gc.enable()
