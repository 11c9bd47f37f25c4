"""Write-ahead log segments: ``<dir>/wal/<number>.log``, one write batch per log record.

A segment is the log format of docs/format/log.md; each record's payload is a write batch
(docs/format/write_batch.md), whose header carries its first sequence number. Each memtable
owns one segment; once the memtable is flushed to an SSTable and the MANIFEST records the
next segment's number as ``log_number``, the segment is obsolete and deleted.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from lsmdb.env import Env
from lsmdb.errors import CorruptionError
from lsmdb.testing.killpoints import kill_point

_SEGMENT_RE = re.compile(r"^(\d+)\.log$")


def segment_path(dbdir: str, number: int) -> str:
    return os.path.join(dbdir, "wal", f"{number:06d}.log")


def list_segments(env: Env, dbdir: str) -> list[int]:
    waldir = os.path.join(dbdir, "wal")
    if not env.exists(waldir):
        return []
    out = []
    for name in env.listdir(waldir):
        m = _SEGMENT_RE.match(name)
        if m:
            out.append(int(m.group(1)))
    return sorted(out)


class WalWriter:
    """Appends batches to one segment. Not thread-safe: the DB's write leader calls it."""

    def __init__(self, env: Env, dbdir: str, number: int):
        from lsmdb._core.logformat import LogWriter

        self.number = number
        self.path = segment_path(dbdir, number)
        self._env = env
        self._file = env.open_writable(self.path)
        kill_point("wal.segment:created")
        # Make the segment's name durable now, or synced records in it could vanish with it.
        env.fsync_dir(os.path.dirname(self.path))
        self._writer = LogWriter(self._file)
        self.bytes_written = 0
        self.syncs = 0
        self.unsynced_records = 0
        # An interrupt (KeyboardInterrupt, SystemExit: not an Exception) that struck once the
        # record had reached the file: add() completed the record and left the interrupt
        # here, for the caller to raise once the write is applied everywhere.
        self.deferred_interrupt: BaseException | None = None

    def add(self, payload: bytes) -> int:
        """Append one record. An interrupt in the caller's thread leaves the segment with the
        whole record or none of it: before any byte reached the file it propagates (nothing
        appended); after, the record is completed and the interrupt deferred (see above).
        Any other exception is an I/O failure and the segment's tail is unknown."""
        start = self._writer.offset
        try:
            kill_point("wal.append:before")
            n = self._writer.add_record(payload)
            kill_point("wal.append:after")
        except Exception:
            raise
        except BaseException as exc:
            n = self._settle_interrupted_append(payload, start)
            if n == 0:
                raise
            self.deferred_interrupt = exc
        self.bytes_written += n
        self.unsynced_records += 1
        return n

    def _settle_interrupted_append(self, payload: bytes, start: int) -> int:
        """After an interrupt in add(): complete a record of which some bytes reached the
        file (or leave the file at ``start`` if none did) and resynchronise the writer's
        offset. Returns the record's length, 0 when nothing was appended."""
        from lsmdb._core.logformat import BLOCK_BYTES, LogWriter, encode_records

        record = encode_records([payload], start % BLOCK_BYTES)
        reached = self._env.file_size(self.path) - start
        if reached > 0 and reached < len(record):
            self._file.append(record[reached:])  # the file position is at start + reached
        end = start + (len(record) if reached > 0 else 0)
        self._file.size = end
        self._writer = LogWriter(self._file, end)
        return end - start

    def sync(self) -> None:
        kill_point("wal.sync:before")
        self._file.sync()
        kill_point("wal.sync:after")
        self.syncs += 1
        self.unsynced_records = 0

    def close(self) -> None:
        self._file.close()


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
    from lsmdb._core.batch import WriteBatch
    from lsmdb._core.logformat import LogReader

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
