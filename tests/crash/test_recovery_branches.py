"""Recovery branches the crash loops rarely reach: damaged WAL records whose checksum is
valid, mid-log damage per recovery mode, and a CURRENT / MANIFEST that cannot be trusted.
Each must end in the documented outcome (replay, stop, skip, or CorruptionError naming the
file), never in a wrong answer.
"""

from __future__ import annotations

import os

import pytest

import lsmdb
from lsmdb import wal as walmod
from lsmdb._core.batch import WriteBatch
from lsmdb._core.logformat import LogWriter
from lsmdb.env import default_env
from lsmdb.errors import CorruptionError, FormatVersionError
from lsmdb.lsm.version import VersionSet, manifest_name
from lsmdb.lsm.version_edit import FileMetaData, VersionEdit
from lsmdb.testing.presets import small_options

ENV = default_env()


def _batch(seq: int, key: bytes, value: bytes) -> bytes:
    b = WriteBatch()
    b.put(key, value)
    b.sequence = seq
    return b.data()


def _db_with_wal(path: str, payloads: list[bytes]) -> None:
    """A DB whose newest WAL segment holds k1 and then ``payloads`` as raw records."""
    with lsmdb.open(path, small_options(memtable_bytes=1 << 20)) as db:
        db.put(b"k1", b"v1", sync=True)
    seg = walmod.segment_path(path, walmod.list_segments(ENV, path)[-1])
    f = ENV.open_appendable(seg)
    try:
        writer = LogWriter(f, f.size)
        for p in payloads:
            writer.add_record(p)
        f.sync()
    finally:
        f.close()


def _open_state(path: str, mode: str):
    with lsmdb.open(path, small_options(memtable_bytes=1 << 20), wal_recovery=mode) as db:
        return dict(db.items()), db.recovery_report


@pytest.mark.parametrize("mode", walmod.RECOVERY_MODES)
def test_record_with_valid_crc_but_garbage_batch(tmp_path, mode):
    path = str(tmp_path / "db")
    _db_with_wal(path, [b"not a write batch", _batch(100, b"k3", b"v3")])
    if mode in ("tolerate_corrupted_tail", "absolute_consistency"):
        with pytest.raises(CorruptionError, match=r"wal/\d+\.log"):
            _open_state(path, mode)
        return
    state, report = _open_state(path, mode)
    assert state[b"k1"] == b"v1"
    assert len(report["corruptions"]) == 1
    if mode == "point_in_time":  # stops at the damage: k3 comes after it
        assert b"k3" not in state
    else:  # skip_any_corrupted
        assert state[b"k3"] == b"v3"


def test_mid_log_checksum_damage_point_in_time_stops(tmp_path):
    path = str(tmp_path / "db")
    _db_with_wal(path, [_batch(100, b"k2", b"v2" * 20), _batch(101, b"k3", b"v3")])
    seg = walmod.segment_path(path, walmod.list_segments(ENV, path)[-1])
    data = bytearray(ENV.read_file(seg))
    data[data.index(b"v2v2") + 3] ^= 0x40  # inside the k2 record's payload
    with open(seg, "wb") as f:
        f.write(bytes(data))
    state, report = _open_state(path, "point_in_time")
    assert state == {b"k1": b"v1"}
    assert report["corruptions"] or report["torn_tail"]


def test_mid_log_checksum_damage_is_corruption_not_a_torn_tail(tmp_path):
    path = str(tmp_path / "db")
    _db_with_wal(path, [_batch(100, b"k2", b"v2" * 20), _batch(101, b"k3", b"v3")])
    seg = walmod.segment_path(path, walmod.list_segments(ENV, path)[-1])
    data = bytearray(ENV.read_file(seg))
    data[data.index(b"v2v2") + 3] ^= 0x40
    with open(seg, "wb") as f:
        f.write(bytes(data))
    with pytest.raises(CorruptionError):
        _open_state(path, "tolerate_corrupted_tail")


def test_stray_files_in_wal_dir_and_no_wal_dir(tmp_path):
    path = str(tmp_path / "db")
    with lsmdb.open(path, small_options()) as db:
        db.put(b"a", b"1", sync=True)
    with open(os.path.join(path, "wal", "notes.txt"), "w") as f:
        f.write("not a segment")
    assert all(isinstance(n, int) for n in walmod.list_segments(ENV, path))
    assert walmod.list_segments(ENV, str(tmp_path / "nowhere")) == []
    with lsmdb.open(path, small_options()) as db:
        assert db.get(b"a") == b"1"


def _manifest_path(path: str) -> str:
    return os.path.join(path, ENV.read_file(os.path.join(path, "CURRENT")).decode().strip())


@pytest.mark.parametrize("damage", ["current_garbage", "current_missing_manifest",
                                    "newer_format", "level_beyond_max", "no_snapshot",
                                    "missing_table"])
def test_untrustworthy_current_or_manifest(tmp_path, damage):
    path = str(tmp_path / "db")
    with lsmdb.open(path, small_options()) as db:
        for i in range(300):
            db.put(b"k%04d" % i, b"v" * 40)
        db.flush()
    current = os.path.join(path, "CURRENT")
    manifest = _manifest_path(path)
    expect = CorruptionError
    if damage == "current_garbage":
        ENV.write_file_atomic(current, b"../../etc/passwd\n")
    elif damage == "current_missing_manifest":
        ENV.write_file_atomic(current, (manifest_name(999999) + "\n").encode())
    elif damage in ("newer_format", "level_beyond_max", "no_snapshot"):
        edit = VersionEdit(log_number=1)
        if damage == "newer_format":
            edit.format_version = 99
            expect = FormatVersionError
        elif damage == "level_beyond_max":
            edit.add_file(6, FileMetaData(77, 10, b"a" + bytes(8), b"b" + bytes(8), 1, 1, 1))
        f = ENV.open_writable(manifest) if damage == "no_snapshot" else \
            ENV.open_appendable(manifest)
        try:
            LogWriter(f, f.size).add_record(edit.encode())
            f.sync()
        finally:
            f.close()
    else:
        sst = sorted(n for n in os.listdir(os.path.join(path, "sst")) if n.endswith(".sst"))
        os.remove(os.path.join(path, "sst", sst[0]))
    with pytest.raises(expect) as info:
        lsmdb.open(path, small_options(compaction=small_options().compaction.replace(
            max_levels=5)))
    if damage != "newer_format":
        assert "CURRENT" in str(info.value) or "MANIFEST" in str(info.value)


def test_manifest_rolls_over_to_a_snapshot(tmp_path):
    """Past max_manifest_bytes the MANIFEST is rewritten as one snapshot record, CURRENT
    switched and the old one deleted; recovery reads the new one."""
    path = str(tmp_path)
    os.makedirs(os.path.join(path, "sst"))
    vs = VersionSet(path, ENV, 4)
    vs.create_new("leveled")
    first = vs.manifest_number
    meta = FileMetaData(vs.new_file_number(), 100, b"a" + bytes(8), b"z" + bytes(8), 1, 5, 3)
    with open(os.path.join(path, "sst", f"{meta.number:06d}.sst"), "wb") as f:
        f.write(b"x" * 100)
    edit = VersionEdit(log_number=3, last_sequence=5)
    edit.add_file(1, meta)
    vs.log_and_apply(edit, max_manifest_bytes=1)
    assert vs.manifest_number != first
    assert not os.path.exists(os.path.join(path, manifest_name(first)))
    vs.close()
    again = VersionSet(path, ENV, 4)
    again.recover(write_manifest=False)
    assert [f.number for f in again.current.levels[1]] == [meta.number]
    assert again.log_number == 3 and again.last_sequence == 5
