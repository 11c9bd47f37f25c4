"""lsmdb/wal/reader.py: what WAL replay at open reports (DB.recovery_info) and the replayed
sequence-number set recovery checks unlisted tables against."""

from __future__ import annotations

import dataclasses
import os

import pytest

import lsmdb
from lsmdb._core.batch import WriteBatch
from lsmdb.env import default_env
from lsmdb.wal import ReplayedSequences, WalRecoveryInfo, list_segments, segment_path


def _payload_bytes(key: bytes, value: bytes) -> int:
    b = WriteBatch()
    b.put(key, value)
    return len(b.data())


def test_recovery_info_of_a_new_database_is_empty(tmp_path):
    with lsmdb.open(tmp_path / "db") as db:
        assert db.recovery_info == WalRecoveryInfo(0, 0, 0, False)


def test_recovery_info_counts_the_replayed_records(tmp_path):
    path = tmp_path / "db"
    writes = [(b"k%02d" % i, b"v" * i) for i in range(10)]
    with lsmdb.open(path) as db:
        for k, v in writes:
            db.put(k, v, sync=True)
    with lsmdb.open(path) as db:
        info = db.recovery_info
        assert info == WalRecoveryInfo(records_replayed=10,
                                       bytes_replayed=sum(_payload_bytes(k, v) for k, v in writes),
                                       last_sequence=10, torn_tail=False)
        with pytest.raises(dataclasses.FrozenInstanceError):
            info.records_replayed = 0  # type: ignore[misc]
    with lsmdb.open(path, read_only=True) as db:  # replayed into a table: nothing in the WAL
        assert db.recovery_info == WalRecoveryInfo(0, 0, 10, False)


def test_recovery_info_reports_a_torn_tail(tmp_path):
    path = str(tmp_path / "db")
    with lsmdb.open(path) as db:
        db.put(b"a", b"1", sync=True)
        db.put(b"b", b"2", sync=True)
    segment = segment_path(path, list_segments(default_env(), path)[-1])
    os.truncate(segment, os.path.getsize(segment) - 1)  # the last record loses a byte
    with lsmdb.open(path, read_only=True) as db:
        assert db.recovery_info == WalRecoveryInfo(1, _payload_bytes(b"a", b"1"), 1, True)
        assert db.get(b"b") is None


def test_replayed_sequences_merge_and_cover():
    r = ReplayedSequences()
    assert r.covers(5, 4)  # an empty range is covered
    assert not r.covers(1, 1)
    r.add(10, 5)  # 10..14
    r.add(15, 1)  # 15: adjacent, merged
    r.add(3, 2)  # 3..4: out of order
    r.add(7, 0)  # no sequence numbers
    assert r.spans() == [(3, 4), (10, 15)]
    assert r.covers(10, 15) and 12 in r and 4 in r
    assert not r.covers(4, 10) and 5 not in r and 16 not in r
    r.add(5, 5)  # 5..9 joins everything
    assert r.spans() == [(3, 15)]
