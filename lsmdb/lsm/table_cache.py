"""Open SSTable readers, one per live file, shared by every read and compaction.

Readers stay open while their file is live (listed by a live Version); the DB evicts a
reader when it deletes the obsolete file. Range tombstones of each file are fragmented once
and cached beside the reader.
"""

from __future__ import annotations

import errno
import os
import threading

from lsmdb._core.rangedel import FragmentedRangeTombstones
from lsmdb.env import Env
from lsmdb.errors import ClosedError, StorageIOError
from lsmdb.lsm.version_edit import FileMetaData


def table_path(dbdir: str, number: int) -> str:
    return os.path.join(dbdir, "sst", f"{number:06d}.sst")


class TableCache:
    def __init__(self, env: Env, dbdir: str, block_cache, verify_checksums: bool = True,
                 mmap_reads: bool = True):
        self.env = env
        self.dbdir = dbdir
        self.block_cache = block_cache
        self.verify_checksums = verify_checksums
        self.mmap_reads = mmap_reads
        self._readers: dict[int, object] = {}
        self._tombstones: dict[int, object] = {}
        self._lock = threading.Lock()
        self._closed = False

    def get(self, meta: FileMetaData):
        reader = self._readers.get(meta.number)
        if reader is not None:
            return reader
        return self._open(meta.number)

    def reader(self, number: int):
        reader = self._readers.get(number)
        return reader if reader is not None else self._open(number)

    def _open(self, number: int):
        # Imported on first open: the reader pulls in zstandard (~7 ms), which a process that
        # never reads a table (a fresh DB, a tool) need not pay for.
        from lsmdb._core.sstable_reader import SSTableReader

        with self._lock:
            reader = self._readers.get(number)
            if reader is not None:
                return reader
            if self._closed:
                # A read racing DB.close(): opening a file now would leak its descriptor.
                raise ClosedError("database is closed")
            f = self.env.open_random_access(table_path(self.dbdir, number))
            try:
                reader = SSTableReader(f, file_number=number, cache=self.block_cache,
                                       verify_checksums=self.verify_checksums,
                                       mmap=self.mmap_reads)
            except BaseException:
                f.close()
                raise
            self._readers[number] = reader
            return reader

    def tombstones(self, meta: FileMetaData):
        """FragmentedRangeTombstones of a file (None if it has none)."""
        if not meta.range_deletions:
            return None
        frag = self._tombstones.get(meta.number)
        if frag is None:
            frag = FragmentedRangeTombstones(self.get(meta).range_tombstones())
            self._tombstones[meta.number] = frag
        return frag

    def evict(self, number: int) -> None:
        with self._lock:
            reader = self._readers.pop(number, None)
            self._tombstones.pop(number, None)
        if reader is not None:
            reader.close()
        if self.block_cache is not None:
            self.block_cache.erase_file(number)

    def retain(self, files) -> list[tuple[int, int]]:
        """Open a reader for each ``(level, FileMetaData)`` of ``files`` and close every
        other: a read-only view pins exactly the tables of its Version. Returns the
        (level, number) of the files that do not exist."""
        files = list(files)
        keep = {meta.number for _, meta in files}
        for number in [n for n in self._readers if n not in keep]:
            self.evict(number)
        missing = []
        for level, meta in files:
            try:
                self.get(meta)
            except StorageIOError as exc:
                if exc.errno != errno.ENOENT:
                    raise
                missing.append((level, meta.number))
        return missing

    def readers(self) -> list:
        return list(self._readers.values())

    def close(self) -> None:
        with self._lock:
            self._closed = True
        for number in list(self._readers):
            self.evict(number)
