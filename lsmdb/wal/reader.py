"""Reading a WAL segment back at open: its write batches, under one of the ``wal_recovery``
modes (what a torn tail or a corrupt record means: docs/reliability.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lsmdb._core.batch import WriteBatch
from lsmdb._core.crc32 import crc32
from lsmdb._core.logformat import LogReader
from lsmdb.env import Env
from lsmdb.errors import CorruptionError
from lsmdb.wal.segment import segment_path


@dataclass(frozen=True)
class WalRecoveryInfo:
    """What the WAL replay of the last open found (``DB.recovery_info``).

    ``records_replayed``: WAL records (write batches) applied to the memtable;
    ``bytes_replayed``: their payload bytes (encoded write batches, log framing excluded);
    ``last_sequence``: the last sequence number after recovery, i.e. the MANIFEST's,
    raised by the replayed records (0 for a new database);
    ``torn_tail``: a segment ended in an incomplete or damaged record that was dropped.
    """

    records_replayed: int = 0
    bytes_replayed: int = 0
    last_sequence: int = 0
    torn_tail: bool = False


class ReplayedSequences:
    """The sequence numbers a WAL replay applied, as sorted, merged closed intervals."""

    __slots__ = ("_spans",)

    def __init__(self) -> None:
        self._spans: list[list[int]] = []

    def add(self, first: int, count: int) -> None:
        if count <= 0:
            return
        last = first + count - 1
        spans = self._spans
        if spans and spans[-1][0] <= first <= spans[-1][1] + 1:  # the usual case: in order
            spans[-1][1] = max(spans[-1][1], last)
            return
        spans.append([first, last])
        spans.sort()
        merged = [spans[0]]
        for lo, hi in spans[1:]:
            if lo <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        self._spans = merged

    def covers(self, lo: int, hi: int) -> bool:
        """True if every sequence number in [lo, hi] was replayed (an empty range is)."""
        if lo > hi:
            return True
        return any(a <= lo and hi <= b for a, b in self._spans)

    def __contains__(self, seq: int) -> bool:
        return self.covers(seq, seq)

    def spans(self) -> list[tuple[int, int]]:
        return [(a, b) for a, b in self._spans]


@dataclass
class SegmentReplay:
    number: int
    records: int = 0
    bytes: int = 0  # payload bytes of the replayed records
    # WriteBatches in log order; records with consecutive sequence numbers (one per single
    # put, say) are merged into one batch of up to RUN_BYTES, so replay inserts many keys per
    # memtable call and makes one object per run, not per record.
    batches: list = field(default_factory=list)
    torn_tail_offset: int | None = None
    corruptions: list = field(default_factory=list)  # (offset, reason)


RUN_BYTES = 4 << 20
BATCH_HEADER_BYTES = WriteBatch().byte_size  # an empty batch is its header

RECOVERY_MODES = ("tolerate_corrupted_tail", "absolute_consistency", "point_in_time",
                  "skip_any_corrupted")


def segment_fingerprint(data: bytes) -> tuple[int, int]:
    """(size, crc32) of a segment's bytes. Not the size alone: a mapped append (walmap.pyx)
    writes into preallocated zeros and leaves the size as it was."""
    return len(data), crc32(data)


def read_segment(env: Env, dbdir: str, number: int, mode: str,
                 fingerprints: dict[int, tuple[int, int]] | None = None,
                 ) -> tuple[SegmentReplay, bool]:
    """Decode one segment under a wal_recovery mode.

    Returns (replay, stop): ``stop`` is True when point_in_time recovery must not replay
    any later segment. Raises CorruptionError where the mode forbids going on.
    ``fingerprints`` (a read-only open): gets ``number -> segment_fingerprint`` of the bytes
    decoded, taken before decoding, so a failure can be checked for a writer's append.
    """
    path = segment_path(dbdir, number)
    data = env.read_file(path)
    if fingerprints is not None:
        fingerprints[number] = segment_fingerprint(data)
    replay = SegmentReplay(number)
    skip = mode == "skip_any_corrupted"
    reader = LogReader(data, file_name=path, skip_corrupted=skip, zero_tail_is_end=True)
    stop = False
    append = None  # the last batch's append_encoded: later records may continue it
    records = 0
    try:
        for offset, payload in reader:
            try:
                if append is not None and append(payload, path, offset, RUN_BYTES):
                    records += 1
                    continue
                batch = WriteBatch.from_bytes(payload, path, offset)
            except CorruptionError as exc:
                # A record with a valid crc but an undecodable batch is mid-log corruption.
                if mode == "skip_any_corrupted":
                    replay.corruptions.append((offset, str(exc)))
                    continue
                if mode == "point_in_time":
                    replay.corruptions.append((offset, str(exc)))
                    return replay, True
                raise
            records += 1
            replay.batches.append(batch)
            append = batch.append_encoded
    except CorruptionError as exc:
        if mode == "point_in_time":
            replay.corruptions.append((exc.offset, exc.reason))
            return replay, True
        raise
    finally:
        # Counted once, not per record: a merged run's header stands for each record's.
        replay.records = records
        replay.bytes = (sum(b.byte_size for b in replay.batches)
                        + BATCH_HEADER_BYTES * (records - len(replay.batches)))
    replay.corruptions.extend(getattr(reader, "corruptions", []) or [])
    tail = getattr(reader, "torn_tail_offset", None)
    if tail is not None:
        replay.torn_tail_offset = tail
        if mode == "absolute_consistency":
            raise CorruptionError("WAL ends in a torn or corrupt record", path, tail)
        if mode == "point_in_time":
            stop = True
    return replay, stop
