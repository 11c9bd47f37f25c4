"""The one key-space protocol the storage engine talks to (ARCHITECTURE.md: the backend seam).

A backend is an ordered byte-key space with multi-version snapshots and atomic write batches.
The engine never knows which backend it runs on; the five backends of SPEC §7 implement
exactly this protocol.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from lsmdb._core.batch import WriteBatch

__all__ = ["KeySnapshot", "KeySpace", "BackendStats"]


class KeySnapshot(Protocol):
    """A consistent read view; ``seqno`` orders snapshots (later commits have larger ones)."""

    seqno: int

    def release(self) -> None: ...


class BackendStats(Protocol):
    wal_bytes: int
    wal_syncs: int


@runtime_checkable
class KeySpace(Protocol):
    #: True when written batches survive a crash (a WAL-backed backend).
    durable: bool
    #: The most a single value may hold (rows and index entries larger are refused).
    max_value_bytes: int

    def get(self, key: bytes, snapshot: KeySnapshot | None = None) -> bytes | None:
        """The value at ``snapshot`` (None: latest), or None when absent."""

    def get_many(self, keys: list[bytes], snapshot: KeySnapshot | None = None
                 ) -> list[bytes | None]:
        """``[get(k, snapshot) for k in keys]`` in one call (all read at one point), so the
        backend can visit each of its files and blocks once for a batch of keys."""

    def scan(self, start: bytes, stop: bytes | None, reverse: bool = False,
             snapshot: KeySnapshot | None = None) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) for start <= key < stop, ascending or descending."""

    def write(self, batch: WriteBatch, sync: bool) -> None:
        """Apply the batch atomically (fsynced first when ``sync``); all or nothing."""

    def snapshot(self) -> KeySnapshot: ...

    def last_sequence(self) -> int: ...

    def flush(self) -> int:
        """Persist the memory part; returns the number of entries flushed."""

    def compact_range(self, start: bytes, stop: bytes) -> None: ...

    def approximate_memory(self) -> int: ...

    def stats(self) -> BackendStats: ...

    def recovery_info(self) -> dict: ...

    def close(self) -> None: ...
