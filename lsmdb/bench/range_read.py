"""The short range read both benchmark targets run (lsmdb's and RocksDB's iterators share
the seek / valid / key / value / next protocol). A leaf: the runner and the RocksDB target
both use it without importing each other."""

from __future__ import annotations

from typing import Any


def seek_read(it: Any, key: bytes, n: int) -> tuple[int, bytes | None]:
    """Seek ``it`` to ``key`` and read up to ``n`` entries: (count, first key)."""
    it.seek(key)
    count = 0
    first = None
    while count < n and it.valid():
        if first is None:
            first = it.key()
        it.value()
        count += 1
        it.next()
    return count, first
