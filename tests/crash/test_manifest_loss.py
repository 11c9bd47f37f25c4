"""A MANIFEST that lost durable records (truncated or cut by damage) never opens with
acknowledged writes missing, and no open deletes a table it cannot prove obsolete
(issue 12, item 1; lsmdb/lsm/unlisted_tables.py).

Reference database of the issue: 6,000 flushed keys and 300 keys only in the WAL, closed,
then opened and closed once, so the WAL is replayed into a new table, the WAL segment that
held the 300 keys is deleted and the new MANIFEST's last record installs that table. Cut
anywhere inside that record, the table is the only copy of the 300 keys.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

import lsmdb
from lsmdb import Options
from lsmdb._core.logformat import LogReader
from lsmdb.errors import CorruptionError
from lsmdb.wal import RECOVERY_MODES, list_segments, segment_path

STRICT = ("tolerate_corrupted_tail", "absolute_consistency")
FLUSHED, IN_WAL = 6000, 300


def _flushed(i: int) -> tuple[bytes, bytes]:
    return b"k%05d" % i, b"v%05d" % i * 4


def _logged(i: int) -> tuple[bytes, bytes]:
    return b"w%04d" % i, b"x%04d" % i


def _model() -> dict[bytes, bytes]:
    return dict([_flushed(i) for i in range(FLUSHED)] + [_logged(i) for i in range(IN_WAL)])


def _manifest(path: str) -> tuple[str, bytes]:
    name = open(os.path.join(path, "CURRENT")).read().strip()
    with open(os.path.join(path, name), "rb") as f:
        return name, f.read()


def _last_record_offset(data: bytes) -> int:
    offsets = [offset for offset, _ in LogReader(data)]
    assert len(offsets) >= 2, offsets
    return offsets[-1]


def _tables(path: str) -> set[str]:
    return set(os.listdir(os.path.join(path, "sst")))


def _state(db) -> dict[bytes, bytes]:
    return dict(db.items())


def _cut_copy(src: str, dst: str, name: str, size: int) -> None:
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    os.truncate(os.path.join(dst, name), size)


@pytest.fixture(scope="module")
def reopened_db():
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    root = tempfile.mkdtemp(prefix="lsmdb-manifest-loss-", dir=shm)
    path = os.path.join(root, "db")
    with lsmdb.open(path) as db:
        for i in range(FLUSHED):
            db.put(*_flushed(i))
        db.flush()
        for i in range(IN_WAL):
            db.put(*_logged(i))
    with lsmdb.open(path):
        pass
    assert not any(os.path.getsize(segment_path(path, n)) for n in list_segments(
        lsmdb.env.default_env(), path))
    yield root, path
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("mode", RECOVERY_MODES)
def test_manifest_cut_inside_its_last_record_never_loses_the_wal_replay(reopened_db, mode):
    """Every cut inside the last record, every wal_recovery mode: the strict modes refuse
    (naming the MANIFEST and where its records end) and delete nothing; the lossy modes
    recover the 300 keys from the unlisted table and keep them across a reopen."""
    root, path = reopened_db
    name, data = _manifest(path)
    last = _last_record_offset(data)
    tables = _tables(path)
    model = _model()
    case = os.path.join(root, f"case-{mode}")
    options = Options(wal_recovery=mode)
    for cut in range(last, len(data)):
        _cut_copy(path, case, name, cut)
        where = f"cut at {cut} of {len(data)} (last record at {last}), {mode}"
        if mode in STRICT:
            with pytest.raises(CorruptionError, match="MANIFEST lost records") as info:
                lsmdb.open(case, options)
            assert info.value.file == os.path.join(case, name), where
            assert info.value.offset == last, where
            assert _tables(case) == tables, where
            continue
        with lsmdb.open(case, options) as db:
            assert db.recovery_report["salvaged_tables"], where
            assert _state(db) == model, where
        with lsmdb.open(case) as db:  # the salvage is durable: the default mode opens
            assert _state(db) == model, where
    shutil.rmtree(case, ignore_errors=True)


def _runtime_flush_db(path: str, keep_wal_copy: str | None = None) -> None:
    """6,000 keys flushed, then 300 more flushed by a flush() while the DB runs: the last
    MANIFEST record installs a table numbered past the previous record's next file
    number. ``keep_wal_copy``: save the WAL segment the 300 keys were in before it is
    deleted (to model a crash before the flush's edit was durable)."""
    with lsmdb.open(path) as db:
        for i in range(FLUSHED):
            db.put(*_flushed(i))
        db.flush()
        for i in range(IN_WAL):
            db.put(*_logged(i), sync=True)
        if keep_wal_copy is not None:
            segment = segment_path(path, db._mem.wal_number)
            shutil.copy(segment, os.path.join(keep_wal_copy, os.path.basename(segment)))
        db.flush()


def test_table_numbered_past_the_manifest_is_not_deleted_at_open(scratch):
    path = os.path.join(scratch, "db")
    _runtime_flush_db(path)
    name, data = _manifest(path)
    os.truncate(os.path.join(path, name), _last_record_offset(data) + 9)
    tables = _tables(path)
    with pytest.raises(CorruptionError, match="MANIFEST lost records"):
        lsmdb.open(path)
    assert _tables(path) == tables
    with lsmdb.open(path, wal_recovery="point_in_time") as db:
        assert _state(db) == _model()
        db.put(b"after", b"1")
        db.flush()  # background deletions after the open keep it too
        assert tables <= _tables(path)
    with lsmdb.open(path) as db:  # its writes are in a listed table now: obsolete
        assert _state(db) == {**_model(), b"after": b"1"}
    assert not tables <= _tables(path)


@pytest.mark.parametrize("wal_kept", ["all", "half"])
@pytest.mark.parametrize("mode", RECOVERY_MODES)
def test_torn_edit_of_a_flush_whose_wal_survives_opens_cleanly(scratch, mode, wal_kept):
    """A power cut tearing a flush's MANIFEST edit leaves the same unlisted table, but its
    WAL segment is still there (deleted only after the edit is durable), whole or, with
    unsynced records lost, a prefix: the open recovers the state the WAL holds, reports
    no CorruptionError and keeps the table (it is not provably obsolete)."""
    path = os.path.join(scratch, "db")
    saved = os.path.join(scratch, "wal-copy")
    os.mkdir(saved)
    _runtime_flush_db(path, keep_wal_copy=saved)
    name, data = _manifest(path)
    os.truncate(os.path.join(path, name), _last_record_offset(data) + 9)
    (segment,) = os.listdir(saved)
    target = os.path.join(path, "wal", segment)
    shutil.copy(os.path.join(saved, segment), target)
    kept = IN_WAL
    if wal_kept == "half":
        with open(target, "rb") as f:
            offsets = [offset for offset, _ in LogReader(f.read())]
        kept = IN_WAL // 2
        os.truncate(target, offsets[kept])  # at a record boundary: no torn record
    tables = _tables(path)
    with lsmdb.open(path, wal_recovery=mode) as db:
        assert _state(db) == dict([_flushed(i) for i in range(FLUSHED)]
                                  + [_logged(i) for i in range(kept)])
        assert "salvaged_tables" not in db.recovery_report
        assert tables <= _tables(path)


@pytest.mark.parametrize("mode", RECOVERY_MODES)
def test_lost_compaction_of_listed_and_lost_writes_is_corruption_in_every_mode(scratch, mode):
    """A table that merges listed writes with writes only it holds cannot be placed in the
    tree without risking a stale answer: CorruptionError even in the lossy modes."""
    path = os.path.join(scratch, "db")
    with lsmdb.open(path) as db:
        for i in range(FLUSHED):
            db.put(*_flushed(i))
        db.flush()
        listed = _tables(path)
        name, data = _manifest(path)
        saved = {t: open(os.path.join(path, "sst", t), "rb").read() for t in listed}
        cut = len(data)  # the MANIFEST as it is now: it lists only the first table
        for i in range(IN_WAL):
            db.put(*_logged(i))
        # A key of the first table's range: compact_range merges the two tables (it moves a
        # table that overlaps no other one without rewriting it).
        db.put(*_flushed(FLUSHED - 1))
        db.flush()
        db.compact_range()
    for t, content in saved.items():  # the compaction's listed input is still there
        with open(os.path.join(path, "sst", t), "wb") as f:
            f.write(content)
    os.truncate(os.path.join(path, name if os.path.exists(os.path.join(path, name))
                             else _manifest(path)[0]), cut)
    tables = _tables(path)
    with pytest.raises(CorruptionError, match="cannot be salvaged"):
        lsmdb.open(path, wal_recovery=mode)
    assert _tables(path) == tables
