"""Statistics for compaction experiments (SPEC §5): counters and the ``db.stats()`` report.

Write amplification per level follows RocksDB's definition: bytes written into level n+1 by
compactions out of level n, divided by bytes read from level n. Total write amplification
is (WAL + flush + compaction bytes written) / user bytes written. Space amplification is
SSTable bytes on disk / live user bytes (exact with ``stats(exact=True)``, which scans the
DB; otherwise estimated from the last level, as RocksDB does for universal compaction).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from lsmdb.lsm.compaction import VersionView
from lsmdb.lsm.version import Version
from lsmdb.options import Options


@dataclass(frozen=True)
class StatsSources:
    """What ``DB.stats()`` reads from its DB, handed over by the DB (as ``VersionView`` is to
    policies) so that this module never reaches into the DB's private fields."""

    version: Version  # the current Version
    options: Options
    table_readers: Iterable[Any]  # the open SSTableReaders (bloom and block counters)
    block_cache: Any  # hits / misses / usage, or None without a cache
    policy: Any  # the compaction policy (its pending_bytes, when it has one)
    items: Callable[[], Iterator[tuple[bytes, bytes]]]  # a full scan, for exact=True


@dataclass
class LevelStats:
    level: int
    files: int = 0
    bytes: int = 0
    sorted_runs: int = 0
    entries: int = 0
    tombstones: int = 0
    range_tombstones: int = 0
    compaction_bytes_read: int = 0  # read from this level as a compaction input
    compaction_bytes_written: int = 0  # written into this level by compactions/flushes
    compactions: int = 0
    write_amp: float = 0.0
    bloom_bits_per_key: float = 0.0
    bloom_checks: int = 0
    bloom_negatives: int = 0
    bloom_false_positives: int = 0
    bloom_fp_rate: float | None = None
    data_blocks_read: int = 0  # by readers of this level's live files (cache misses)


@dataclass
class DBStats:
    levels: list[LevelStats]
    user_bytes_written: int
    user_writes: int
    wal_bytes: int
    wal_syncs: int
    write_groups: int
    flush_bytes: int
    flushes: int
    compaction_bytes_read: int
    compaction_bytes_written: int
    compactions: int
    trivial_moves: int
    write_amp: float
    sst_bytes: int
    live_user_bytes: int | None
    space_amp: float | None
    space_amp_exact: bool
    stalls: dict
    stall_seconds: dict
    block_cache_hits: int
    block_cache_misses: int
    block_cache_hit_rate: float | None
    block_cache_usage: int
    # Bytes of the block cache's capacity charged to the memtables
    # (Options.charge_memtables_to_cache); 0 otherwise.
    block_cache_reserved: int = 0
    point_lookups: int = 0
    runs_probed_per_lookup: float | None = None
    # Compaction debt (RocksDB's estimated-pending-compaction-bytes); 0 for styles that do
    # not estimate it. Writes slow/stop at compaction.soft/hard_pending_compaction_bytes.
    pending_compaction_bytes: int = 0
    extra: dict = field(default_factory=dict)
    # Cost-model figures for the current shape (lsmdb.lsm.costmodel, docs/compaction.md).
    predicted: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def table(self) -> str:
        """Per-level table, one row per non-empty level plus a total row."""
        cols = ("level", "files", "bytes", "sorted_runs", "compaction_bytes_read",
                "compaction_bytes_written", "write_amp")
        heads = ("Level", "Files", "Size", "Runs", "Read", "Written", "W-Amp")
        rows = [heads]
        for ls in self.levels:
            if ls.files or ls.compaction_bytes_written:
                rows.append(tuple(_fmt(getattr(ls, c)) for c in cols))
        rows.append(("Sum", str(sum(s.files for s in self.levels)), _fmt(self.sst_bytes), "",
                     _fmt(self.compaction_bytes_read),
                     _fmt(self.compaction_bytes_written + self.flush_bytes),
                     _fmt(self.write_amp)))
        widths = [max(len(r[i]) for r in rows) for i in range(len(heads))]
        return "\n".join("  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in rows)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


class StatsCollector:
    """Counters updated by the DB; thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self.user_bytes = 0
        self.user_writes = 0
        self.wal_bytes = 0
        self.wal_syncs = 0
        self.write_groups = 0
        self.flush_bytes = 0
        self.flushes = 0
        self.compactions = 0
        self.trivial_moves = 0
        self.level_read: dict[int, int] = {}
        self.level_read_into: dict[int, int] = {}  # per output level: bytes read from above
        self.level_written: dict[int, int] = {}
        self.level_compactions: dict[int, int] = {}
        self.stalls: dict[str, int] = {}
        self.stall_seconds: dict[str, float] = {}

    def wal_write(self, nbytes: int, synced: int, user_bytes: int, writers: int,
                  groups: int = 1) -> None:
        """``writers`` writes in ``groups`` write groups appended ``nbytes`` to the WAL and
        fsynced it ``synced`` times (a bool for one group)."""
        # No lock: called with the DB mutex held (one write group at a time).
        self.wal_bytes += nbytes
        self.wal_syncs += synced
        self.user_bytes += user_bytes
        self.user_writes += writers
        self.write_groups += groups

    def direct_writes(self, counts: tuple[int, int, int]) -> None:
        """Fold in WalTail.take_direct_counts(): (writes, user bytes, WAL bytes) of the direct
        one-op path, each write its own group. Called with the DB mutex held."""
        writes, user_bytes, nbytes = counts
        self.wal_write(nbytes, 0, user_bytes, writes, groups=writes)

    def synced_writes(self, counts: tuple[int, int, int, int]) -> None:
        """Fold in WriteFront.take_synced_counts(): (writes, user bytes, WAL bytes, fsyncs)
        of the compiled synced path, each fsync one write group. DB mutex held."""
        writes, user_bytes, nbytes, syncs = counts
        self.wal_write(nbytes, syncs, user_bytes, writes, groups=syncs)

    def flush(self, nbytes: int, files: int) -> None:
        with self._lock:
            self.flush_bytes += nbytes
            self.flushes += 1
            self.level_written[0] = self.level_written.get(0, 0) + nbytes

    def compaction(self, job, stats) -> None:
        with self._lock:
            if stats.trivial_move:
                self.trivial_moves += 1
                return
            self.compactions += 1
            for level, nbytes in (stats.bytes_read_per_level or {}).items():
                self.level_read[level] = self.level_read.get(level, 0) + nbytes
            out = job.output_level
            self.level_written[out] = self.level_written.get(out, 0) + stats.bytes_written
            # RocksDB's Rn: what a compaction into ``out`` read from the levels above it.
            from_above = sum(n for lvl, n in (stats.bytes_read_per_level or {}).items()
                             if lvl != out)
            self.level_read_into[out] = self.level_read_into.get(out, 0) + from_above
            src = min(level for level, fs in job.inputs) if job.inputs else out
            self.level_compactions[src] = self.level_compactions.get(src, 0) + 1

    def stall(self, kind: str, seconds: float) -> None:
        with self._lock:
            self.stalls[kind] = self.stalls.get(kind, 0) + 1
            self.stall_seconds[kind] = self.stall_seconds.get(kind, 0.0) + seconds

    def snapshot(self, db: StatsSources, exact: bool = False) -> DBStats:
        # The cost model (and the fluid policy it sizes runs with) loads on the first
        # stats() call: ~3 ms of start-up a DB that is never asked need not pay.
        from lsmdb.lsm.costmodel import predict

        version = db.version
        prediction = predict(db.options, version)
        bits = prediction.bloom_bits_per_key  # the allocation, as a flush/compaction gets it
        levels = []
        readers = {r.file_number: r for r in db.table_readers}
        with self._lock:
            for level in range(version.num_levels):
                files = version.levels[level]
                ls = LevelStats(level=level, files=len(files),
                                bytes=sum(f.size for f in files),
                                sorted_runs=version.num_runs(level),
                                entries=sum(f.entries for f in files),
                                tombstones=sum(f.deletions for f in files),
                                range_tombstones=sum(f.range_deletions for f in files),
                                compaction_bytes_read=self.level_read.get(level, 0),
                                compaction_bytes_written=self.level_written.get(level, 0),
                                compactions=self.level_compactions.get(level, 0))
                # RocksDB's per-level W-Amp: bytes written into the level by compactions /
                # bytes those compactions read from the levels above it (Rn; L0 feeds the
                # base level directly under dynamic sizing). L0 holds flushes only: 1.0.
                if level == 0:
                    ls.write_amp = 1.0 if ls.compaction_bytes_written else 0.0
                else:
                    read_from_above = self.level_read_into.get(level, 0)
                    if read_from_above:
                        ls.write_amp = ls.compaction_bytes_written / read_from_above
                ls.bloom_bits_per_key = bits[level]  # what the next file there gets
                for f in files:
                    r = readers.get(f.number)
                    if r is None:
                        continue
                    ls.bloom_checks += getattr(r, "bloom_checks", 0)
                    ls.bloom_negatives += getattr(r, "bloom_negatives", 0)
                    ls.bloom_false_positives += getattr(r, "bloom_false_positives", 0)
                    ls.data_blocks_read += getattr(r, "data_blocks_read", 0)
                # FPR = false positives / lookups of absent keys (= FP + true negatives).
                absent = ls.bloom_false_positives + ls.bloom_negatives
                if absent > 0:
                    ls.bloom_fp_rate = ls.bloom_false_positives / absent
                levels.append(ls)
            comp_read = sum(self.level_read.values())
            comp_written = sum(v for k, v in self.level_written.items()) - self.flush_bytes
            written = self.wal_bytes + self.flush_bytes + comp_written
            sst_bytes = version.total_bytes()
            user = self.user_bytes
            stalls = dict(self.stalls)
            stall_seconds = dict(self.stall_seconds)
            snapshot = dict(user_bytes_written=user, user_writes=self.user_writes,
                            wal_bytes=self.wal_bytes, wal_syncs=self.wal_syncs,
                            write_groups=self.write_groups, flush_bytes=self.flush_bytes,
                            flushes=self.flushes, compaction_bytes_read=comp_read,
                            compaction_bytes_written=comp_written, compactions=self.compactions,
                            trivial_moves=self.trivial_moves)
        live = None
        if exact:
            live = sum(len(k) + len(v) for k, v in db.items())
        else:
            last = max((lv for lv in range(version.num_levels) if version.levels[lv]),
                       default=None)
            if last is not None:
                live = sum(f.raw_bytes for f in version.levels[last])
        cache = db.block_cache
        hits, misses = getattr(cache, "hits", 0), getattr(cache, "misses", 0)
        debt_of = getattr(db.policy, "pending_bytes", None)
        if debt_of is not None:
            snapshot["pending_compaction_bytes"] = debt_of(VersionView(version, db.options))
        return DBStats(
            levels=levels, write_amp=(written / user) if user else 0.0, sst_bytes=sst_bytes,
            live_user_bytes=live, space_amp=(sst_bytes / live) if live else None,
            space_amp_exact=exact, stalls=stalls, stall_seconds=stall_seconds,
            block_cache_hits=hits, block_cache_misses=misses,
            block_cache_hit_rate=(hits / (hits + misses)) if hits + misses else None,
            block_cache_usage=getattr(cache, "usage", 0),
            block_cache_reserved=getattr(cache, "reserved", 0),
            predicted=prediction.to_dict(), **snapshot)
