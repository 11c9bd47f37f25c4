"""Writes a sorted stream of internal entries (flush or compaction output) as SSTables.

Output is split into files of about ``target_file_bytes``, only between two different user
keys, so no user key spans two files of one level. Range tombstones are clipped to each
file's share of the key space; a file whose range ends in a tombstone ends with a *sentinel*
largest key ``(end, MAX_SEQNO, RANGE_DELETE)``, which marks an exclusive upper bound
(RocksDB's convention), so neighbouring files never overlap.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from lsmdb._core.ikey import MAX_SEQNO, RANGE_DELETE
from lsmdb.killpoint import kill_point
from lsmdb.lsm.table_cache import table_path
from lsmdb.lsm.version_edit import FileMetaData

SENTINEL_TRAILER = ((MAX_SEQNO << 8) | RANGE_DELETE).to_bytes(8, "little")


def is_sentinel(internal_key: bytes) -> bool:
    return internal_key[-8:] == SENTINEL_TRAILER


def sentinel_key(user_key: bytes) -> bytes:
    return user_key + SENTINEL_TRAILER


# A compaction output file ends at the first next-level file start (grandparent boundary)
# once it holds this fraction of its target. Small, so each file spans as few grandparent
# files as it can. The steady-state workload of docs/compaction.md 7.1.1 at 500k keys
# (T = 4) measured leveled W 7.66 at 3/4, 7.18 at 1/2 (RocksDB's lowest), 6.96 at 1/4,
# 6.95 at 1/10 and 6.94 at 0; 1/10 keeps files from getting tiny where grandparents are
# dense.
ALIGNED_CUT_MIN_FRACTION = 0.1


class TableOutput:
    """Builds the output files of one flush or compaction job."""

    def __init__(self, env, dbdir: str, options, level: int, new_file_number: Callable[[], int],
                 *, target_file_bytes: int, run: int = 0,
                 tombstones: list[tuple[bytes, bytes, int]] | None = None,
                 on_new_file: Callable[[int], None] | None = None,
                 bits_per_key: float | None = None,
                 boundaries: list[bytes] | None = None,
                 zero_seqnos_upto: int | None = None, max_seqno_at_least: int = 0):
        self.env = env
        self.dbdir = dbdir
        self.options = options
        self.level = level
        self.new_file_number = new_file_number
        self.target = max(1, target_file_bytes)
        self.run = run
        # An empty range [s, e) with s >= e deletes nothing: never let it open a file.
        self.tombstones = sorted(t for t in tombstones or () if t[0] < t[1])
        self.on_new_file = on_new_file
        # Monkey/budgeted allocations are computed per job (lsmdb.lsm.bloom_alloc).
        self.bits_per_key = bits_per_key
        # First user keys of the next level's files: once a file holds
        # ALIGNED_CUT_MIN_FRACTION of its target, it ends where one of them starts
        # (grandparent-aligned cut; see _core/tablecopy.pyx).
        self.boundaries = sorted(boundaries) if boundaries else None
        # A bottommost compaction's PUTs with seqnos <= this are written with seqno 0
        # (SSTableBuilder zero_seqnos_upto); None: never.
        self.zero_seqnos_upto = zero_seqnos_upto
        self.max_seqno_at_least = max_seqno_at_least
        self.files: list[FileMetaData] = []
        self.bytes_written = 0
        self._builder = None
        self._file = None
        self._number = 0
        self._lower: bytes | None = None  # user key where the current file's share starts

    # -- per-level table settings ---------------------------------------------------------

    def _compression_level(self):
        c = self.options.compression
        return None if c.kind == "none" else c.level_for(self.level)

    def _bits_per_key(self) -> float:
        if self.bits_per_key is not None:
            return float(self.bits_per_key)
        return float(self.options.bloom.bits_for(self.level))

    def _open(self) -> None:
        # Imported on first use, like the reader in table_cache: the builder pulls in
        # zstandard (~7 ms), which a process that never writes a table need not pay for.
        from lsmdb._core.sstable_builder import SSTableBuilder

        self._number = self.new_file_number()
        if self.on_new_file is not None:
            self.on_new_file(self._number)
        path = table_path(self.dbdir, self._number)
        self._file = self.env.open_writable(path)
        self._builder = SSTableBuilder(
            self._file, block_bytes=self.options.block_bytes,
            restart_interval=self.options.block_restart_interval,
            compression_level=self._compression_level(), bits_per_key=self._bits_per_key(),
            level=self.level, file_name=path, bloom_format=self.options.bloom.format,
            zero_seqnos_upto=self.zero_seqnos_upto, max_seqno_at_least=self.max_seqno_at_least)

    # -- feeding --------------------------------------------------------------------------

    def copy_from(self, src) -> None:
        """Write every entry of the positioned InternalIterator ``src`` (C loop)."""
        from lsmdb._core.tablecopy import copy_entries  # cimports the builder: see _open

        while src.valid():
            if self._builder is None:
                self._open()
            _, exhausted = copy_entries(src, self._builder, self.target, self.boundaries,
                                        int(self.target * ALIGNED_CUT_MIN_FRACTION))
            if exhausted:
                break
            boundary = src.key()[:-8]
            self._finish_current(upper=boundary)
            self._lower = boundary

    def finish(self) -> list[FileMetaData]:
        if self._builder is None and self.tombstones:
            self._open()
        if self._builder is not None:
            self._finish_current(upper=None)
        if self.files:
            # The new names must be durable before a MANIFEST edit refers to them.
            kill_point("sst.dir_fsync:before")
            self.env.fsync_dir(os.path.join(self.dbdir, "sst"))
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
        kill_point("sst.write:mid")
        props = builder.finish()
        kill_point("sst.finish:before_sync")
        f.sync()
        kill_point("sst.finish:after_sync")
        f.close()
        self._builder = self._file = None
        # The builder widens smallest/largest by the tombstones, with the sentinel convention.
        smallest, largest = props["smallest_key"], props["largest_key"]
        min_seq, max_seq = props.get("min_seqno", 0), props.get("max_seqno", 0)
        size = props.get("file_size") or self.env.file_size(table_path(self.dbdir, self._number))
        meta = FileMetaData(
            number=self._number, size=size, smallest=smallest, largest=largest,
            min_seqno=min_seq, max_seqno=max_seq, entries=props.get("entries", 0),
            deletions=props.get("deletions", 0), range_deletions=len(clipped),
            raw_bytes=props.get("raw_key_bytes", 0) + props.get("raw_value_bytes", 0),
            run=self.run, creation_time=int(time.time()),
            filter_bits_per_key=self._bits_per_key())
        self.bytes_written += size
        self.files.append(meta)
