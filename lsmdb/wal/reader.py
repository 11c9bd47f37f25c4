"""Reading a WAL segment back at open: its write batches, under one of the ``wal_recovery``
modes (what a torn tail or a corrupt record means: docs/reliability.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lsmdb._core.batch import WriteBatch
from lsmdb._core.logformat import LogReader
from lsmdb.env import Env
from lsmdb.errors import CorruptionError
from lsmdb.wal.segment import segment_path


@dataclass
class SegmentReplay:
    number: int
    records: int = 0
    batches: list = field(default_factory=list)  # (seqno, WriteBatch)
    torn_tail_offset: int | None = None
    corruptions: list = field(default_factory=list)  # (offset, reason)


RECOVERY_MODES = ("tolerate_corrupted_tail", "absolute_consistency", "point_in_time",
                  "skip_any_corrupted")


def read_segment(env: Env, dbdir: str, number: int, mode: str) -> tuple[SegmentReplay, bool]:
    """Decode one segment under a wal_recovery mode.

    Returns (replay, stop): ``stop`` is True when point_in_time recovery must not replay
    any later segment. Raises CorruptionError where the mode forbids going on.
    """
    path = segment_path(dbdir, number)
    data = env.read_file(path)
    replay = SegmentReplay(number)
    skip = mode == "skip_any_corrupted"
    reader = LogReader(data, file_name=path, skip_corrupted=skip)
    stop = False
    try:
        for offset, payload in reader:
            try:
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
            replay.records += 1
            replay.batches.append(batch)
    except CorruptionError as exc:
        if mode == "point_in_time":
            replay.corruptions.append((exc.offset, exc.reason))
            return replay, True
        raise
    replay.corruptions.extend(getattr(reader, "corruptions", []) or [])
    tail = getattr(reader, "torn_tail_offset", None)
    if tail is not None:
        replay.torn_tail_offset = tail
        if mode == "absolute_consistency":
            raise CorruptionError("WAL ends in a torn or corrupt record", path, tail)
        if mode == "point_in_time":
            stop = True
    return replay, stop
