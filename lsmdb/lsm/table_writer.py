"""Writes a sorted stream of internal entries (flush or compaction output) as SSTables.

Output is split into files of about ``target_file_bytes``, only between two different user
keys, so no user key spans two files of one level. Range tombstones are clipped to each
file's share of the key space; a file whose range ends in a tombstone ends with a *sentinel*
largest key ``(end, MAX_SEQNO, RANGE_DELETE)``, which marks an exclusive upper bound
(RocksDB's convention), so neighbouring files never overlap.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from lsmdb._core.ikey import MAX_SEQNO, RANGE_DELETE, compare_internal_keys, make_internal_key
from lsmdb.lsm.table_cache import table_path
from lsmdb.lsm.version_edit import FileMetaData

SENTINEL_TRAILER = ((MAX_SEQNO << 8) | RANGE_DELETE).to_bytes(8, "little")


def is_sentinel(internal_key: bytes) -> bool:
    return internal_key[-8:] == SENTINEL_TRAILER


def sentinel_key(user_key: bytes) -> bytes:
    return user_key + SENTINEL_TRAILER


class TableOutput:
    """Builds the output files of one flush or compaction job."""

    def __init__(self, env, dbdir: str, options, level: int, new_file_number: Callable[[], int],
                 *, target_file_bytes: int, run: int = 0,
                 tombstones: list[tuple[bytes, bytes, int]] | None = None,
                 on_new_file: Callable[[int], None] | None = None):
        self.env = env
        self.dbdir = dbdir
        self.options = options
        self.level = level
        self.new_file_number = new_file_number
        self.target = max(1, target_file_bytes)
        self.run = run
        self.tombstones = sorted(tombstones or [])
        self.on_new_file = on_new_file
        self.files: list[FileMetaData] = []
        self.bytes_written = 0
        self._builder = None
        self._file = None
        self._number = 0
        self._lower: bytes | None = None  # user key where the current file's share starts
        self._last_user_key: bytes | None = None
        self._first_key: bytes | None = None
        self._last_key: bytes | None = None

    # -- per-level table settings ---------------------------------------------------------

    def _compression_level(self):
        c = self.options.compression
        return None if c.kind == "none" else c.level_for(self.level)

    def _bits_per_key(self) -> float:
        return float(self.options.bloom.bits_for(self.level))

    def _open(self) -> None:
        from lsmdb._core.sstable import SSTableBuilder

        self._number = self.new_file_number()
        if self.on_new_file is not None:
            self.on_new_file(self._number)
        path = table_path(self.dbdir, self._number)
        self._file = self.env.open_writable(path)
        self._builder = SSTableBuilder(
            self._file, block_bytes=self.options.block_bytes,
            restart_interval=self.options.block_restart_interval,
            compression_level=self._compression_level(), bits_per_key=self._bits_per_key(),
            level=self.level, file_name=path)
        self._first_key = self._last_key = None

    # -- feeding --------------------------------------------------------------------------

    def add(self, key: bytes, value: bytes) -> None:
        user_key = key[:-8]
        if self._builder is None:
            self._open()
        elif (self._builder.estimated_size >= self.target
              and user_key != self._last_user_key):
            self._finish_current(upper=user_key)
            self._lower = user_key
            self._open()
        self._builder.add(key, value)
        if self._first_key is None:
            self._first_key = key
        self._last_key = key
        self._last_user_key = user_key

    def add_all(self, entries) -> None:
        for key, value in entries:
            self.add(key, value)

    def finish(self) -> list[FileMetaData]:
        if self._builder is None and self.tombstones:
            self._open()
        if self._builder is not None:
            self._finish_current(upper=None)
        return self.files

    def abandon(self) -> list[int]:
        """Stop after an error; returns the file numbers that were started (to delete)."""
        numbers = [f.number for f in self.files]
        if self._builder is not None:
            try:
                self._builder.abandon()
            finally:
                self._file.close()
            numbers.append(self._number)
            self._builder = None
        return numbers

    def _finish_current(self, upper: bytes | None) -> None:
        builder, f = self._builder, self._file
        clipped = []
        for start, end, seq in self.tombstones:
            s = start if self._lower is None or start > self._lower else self._lower
            e = end if upper is None or end < upper else upper
            if s < e:
                clipped.append((s, e, seq))
        for s, e, seq in clipped:
            builder.add_range_tombstone(s, e, seq)
        props = builder.finish()
        f.sync()
        f.close()
        self._builder = self._file = None
        smallest, largest = self._first_key, self._last_key
        for s, e, seq in clipped:
            lo = make_internal_key(s, seq, RANGE_DELETE)
            hi = sentinel_key(e)
            if smallest is None or compare_internal_keys(lo, smallest) < 0:
                smallest = lo
            if largest is None or compare_internal_keys(hi, largest) > 0:
                largest = hi
        seqs = [seq for _, _, seq in clipped]
        min_seq = props.get("min_seqno", 0)
        max_seq = props.get("max_seqno", 0)
        if seqs:
            min_seq = min(seqs + ([min_seq] if props.get("entries") else []))
            max_seq = max(seqs + [max_seq])
        size = props.get("file_size") or self.env.file_size(table_path(self.dbdir, self._number))
        meta = FileMetaData(
            number=self._number, size=size, smallest=smallest, largest=largest,
            min_seqno=min_seq, max_seqno=max_seq, entries=props.get("entries", 0),
            deletions=props.get("deletions", 0), range_deletions=len(clipped),
            raw_bytes=props.get("raw_key_bytes", 0) + props.get("raw_value_bytes", 0),
            run=self.run, creation_time=int(time.time()))
        self.bytes_written += size
        self.files.append(meta)
