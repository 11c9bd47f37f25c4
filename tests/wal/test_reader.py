"""lsmdb/wal/reader.py read_segment: records with consecutive sequence numbers come back
merged into one WriteBatch per run (replay inserts them with one memtable call); a gap,
an empty batch or the run size limit starts a new one; records and bytes count records."""

from __future__ import annotations

from lsmdb._core.batch import WriteBatch
from lsmdb._core.logformat import LogWriter
from lsmdb.env import default_env
from lsmdb.wal import read_segment, segment_path
from lsmdb.wal.reader import RUN_BYTES


def _batch(seq: int, *keys: bytes, value: bytes = b"v") -> WriteBatch:
    b = WriteBatch()
    b.sequence = seq
    for k in keys:
        b.put(k, value)
    return b


def _write_segment(dbdir: str, batches: list[WriteBatch]) -> None:
    env = default_env()
    env.mkdirs(f"{dbdir}/wal")
    f = env.open_writable(segment_path(dbdir, 1))
    w = LogWriter(f)
    for b in batches:
        w.add_record(b.data())
    f.close()


def test_consecutive_records_replay_as_merged_runs(tmp_path):
    batches = [_batch(5, b"a"), _batch(6, b"b", b"c"), _batch(8, b"d"),  # one run: 5..8
               _batch(20, b"e"), _batch(21, b"f"),                        # a gap: 20..21
               _batch(22), _batch(22, b"g")]                              # empty batch apart
    _write_segment(str(tmp_path), batches)
    replay, stop = read_segment(default_env(), str(tmp_path), 1, "absolute_consistency")
    assert not stop
    assert replay.records == len(batches)
    assert replay.bytes == sum(b.byte_size for b in batches)
    assert [(b.sequence, b.count) for b in replay.batches] == [(5, 4), (20, 2), (22, 1)]
    assert [k for _, k, _ in replay.batches[0].ops()] == [b"a", b"b", b"c", b"d"]


def test_a_run_stops_growing_at_run_bytes(tmp_path):
    value = b"x" * (RUN_BYTES // 3)
    batches = [_batch(1 + i, b"k%d" % i, value=value) for i in range(5)]
    _write_segment(str(tmp_path), batches)
    replay, _ = read_segment(default_env(), str(tmp_path), 1, "tolerate_corrupted_tail")
    # A run takes records while it is under RUN_BYTES: three of a third each reach it.
    assert [(b.sequence, b.count) for b in replay.batches] == [(1, 3), (4, 2)]
