"""The durable backend: the key space is an lsmdb.DB (WAL + LSM tree)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from lsmdb._core.batch import WriteBatch
from lsmdb.lsm.db import DB
from lsmdb.options import Options

__all__ = ["LsmKeySpace"]


@dataclass
class _Stats:
    wal_bytes: int
    wal_syncs: int


class _Snap:
    __slots__ = ("inner", "seqno")

    def __init__(self, inner):
        self.inner = inner
        self.seqno = inner.seqno

    def release(self) -> None:
        self.inner.close()


class LsmKeySpace:
    durable = True

    def __init__(self, path: str, options: Options | None = None):
        # The engine decides each commit's fsync itself (WalCommitPolicy), so the DB's own
        # default policy is "never" and every write passes ``sync`` explicitly.
        if options is None:
            options = Options(wal_sync="never")
        self.db = DB(path, options)
        self.max_value_bytes = self.db.options.max_value_bytes
        self.max_key_bytes = self.db.options.max_key_bytes

    def get(self, key: bytes, snapshot: _Snap | None = None) -> bytes | None:
        # The engine's hot point read: its keys are bytes and its snapshots stay live while
        # it reads at them, so the DB's unchecked read at a sequence number serves.
        return self.db.get_at(key, None if snapshot is None else snapshot.seqno)

    def get_many(self, keys: list[bytes], snapshot: _Snap | None = None) -> list[bytes | None]:
        return self.db.multi_get(keys, snapshot=None if snapshot is None else snapshot.inner)

    def scan(self, start: bytes, stop: bytes | None, reverse: bool = False,
             snapshot: _Snap | None = None) -> Iterator[tuple[bytes, bytes]]:
        return self.db.items(start, stop, reverse=reverse,
                             snapshot=None if snapshot is None else snapshot.inner)

    def write(self, batch: WriteBatch, sync: bool) -> None:
        # The engine encodes and checks its batches itself (and merged its commit group).
        self.db.write_raw(batch, sync=sync)

    def snapshot(self) -> _Snap:
        return _Snap(self.db.snapshot())

    def last_sequence(self) -> int:
        return self.db.last_sequence

    def flush(self) -> int:
        """Flush the memtables, then drop the WAL segments they covered at once (beyond
        ``Options.wal_keep_segments``), not later in the background thread: a checkpoint
        returns with the WAL trimmed."""
        n = self.db.memtable_entries()
        self.db.flush()
        self.db.delete_obsolete_files()
        return n

    def compact_range(self, start: bytes, stop: bytes) -> None:
        self.db.compact_range(start, stop)

    def approximate_memory(self) -> int:
        return self.db.memtable_bytes()

    def stats(self) -> _Stats:
        return _Stats(*self.db.wal_counters())

    def recovery_info(self) -> dict:
        return dict(self.db.recovery_report)

    def close(self) -> None:
        self.db.close()
