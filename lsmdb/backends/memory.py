"""The memory-only backend (``StorageEngine.new_without_wal``): no files at all.

One Cython Memtable holds every version, tagged with sequence numbers, so snapshots work as in
the LSM. Range deletes are expanded into point deletes at write time (reads then need no
tombstone fragments). ``live_bytes`` counts the bytes of live keys and values: the figure the
engine's memory limit is checked against. ``compact_range`` rebuilds the memtable keeping only
what live snapshots can see, which is how vacuum returns memory here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

from lsmdb._core.batch import WriteBatch
from lsmdb._core.dbiter import DBIterator
from lsmdb._core.ikey import DELETE, PUT, RANGE_DELETE
from lsmdb._core.memtable import Memtable
from lsmdb.errors import ClosedError

__all__ = ["MemoryKeySpace"]

_MAX_VALUE = 64 << 20


@dataclass
class _Stats:
    wal_bytes: int = 0
    wal_syncs: int = 0


class _Snap:
    __slots__ = ("space", "seqno", "_live")

    def __init__(self, space: MemoryKeySpace, seqno: int):
        self.space = space
        self.seqno = seqno
        self._live = True

    def release(self) -> None:
        if self._live:
            self._live = False
            self.space._release(self.seqno)


class MemoryKeySpace:
    durable = False
    max_value_bytes = _MAX_VALUE
    max_key_bytes = 64 << 10

    def __init__(self) -> None:
        self._mem = Memtable()
        self._seq = 0
        self._lock = threading.Lock()
        self._snapshots: dict[int, int] = {}
        self._closed = False  # read by DBIterator
        self.live_bytes = 0

    def _check(self) -> None:
        if self._closed:
            raise ClosedError("storage is closed")

    def get(self, key: bytes, snapshot: _Snap | None = None) -> bytes | None:
        seq = self._seq if snapshot is None else snapshot.seqno
        found, value, _ = self._mem.get(key, seq)
        return value if found else None

    def get_many(self, keys: list[bytes], snapshot: _Snap | None = None) -> list[bytes | None]:
        seq = self._seq if snapshot is None else snapshot.seqno
        # A DELETE's entry carries None as its value, like a missing key.
        return [r[1] for r in self._mem.get_many(keys, seq)]

    def scan(self, start: bytes, stop: bytes | None, reverse: bool = False,
             snapshot: _Snap | None = None) -> Iterator[tuple[bytes, bytes]]:
        self._check()
        seq = self._seq if snapshot is None else snapshot.seqno
        it = DBIterator(self, [self._mem.iterator()], seq, None, None, start, stop, reverse)
        return it.items()

    def write(self, batch: WriteBatch, sync: bool) -> None:
        self._check()
        with self._lock:
            out = WriteBatch()
            delta = 0
            get = self._mem.get
            for op, key, value in batch.ops():
                if op == RANGE_DELETE:
                    for k, v in self.scan(key, value):
                        out.delete(k)
                        delta -= len(k) + len(v)
                    continue
                found, old, _ = get(key)
                if found and old is not None:
                    delta -= len(key) + len(old)
                if op == PUT:
                    out.put(key, value)
                    delta += len(key) + len(value)
                elif op == DELETE:
                    out.delete(key)
            out.sequence = self._seq + 1
            self._mem.add_batch(out)
            self.live_bytes += delta
            self._seq += out.count

    def snapshot(self) -> _Snap:
        with self._lock:
            seq = self._seq
            self._snapshots[seq] = self._snapshots.get(seq, 0) + 1
        return _Snap(self, seq)

    def _release(self, seq: int) -> None:
        with self._lock:
            n = self._snapshots.get(seq, 0) - 1
            if n <= 0:
                self._snapshots.pop(seq, None)
            else:
                self._snapshots[seq] = n

    def last_sequence(self) -> int:
        return self._seq

    def flush(self) -> int:
        return 0

    def compact_range(self, start: bytes, stop: bytes) -> None:
        """Rebuild the memtable with the latest live versions, when no snapshot is older."""
        with self._lock:
            if any(s < self._seq for s in self._snapshots):
                return  # an older snapshot still needs the old versions
            fresh = Memtable()
            batch = WriteBatch()
            for k, v in DBIterator(self, [self._mem.iterator()], self._seq, None, None,
                                   None, None, False).items():
                batch.put(k, v)
            if batch.count:
                batch.sequence = self._seq - batch.count + 1 if self._seq >= batch.count else 1
                fresh.add_batch(batch)
                self._seq = max(self._seq, batch.sequence + batch.count - 1)
            self._mem = fresh

    def approximate_memory(self) -> int:
        return self._mem.approximate_bytes

    def stats(self) -> _Stats:
        return _Stats()

    def recovery_info(self) -> dict:
        return {}

    def close(self) -> None:
        self._closed = True
