"""FIFO compaction: nothing is ever merged; whole old files are dropped (RocksDB FIFO).

Flushed files stay in L0 (each its own sorted run). A file is dropped when
``Options.ttl_seconds`` is set and the file was written more than that long ago
(``creation_time``, set when the file is built, bounds the age of its newest entry), or,
oldest data first, while the total table bytes exceed ``compaction.base_level_bytes``.
Dropping is a MANIFEST edit (a ``delete_only`` job). Data is lost by design: use FIFO for
caches and logs whose old entries may expire. Files that ``compact_range`` pushed into
deeper levels are dropped by the same rules.
"""

from __future__ import annotations

from lsmdb.lsm.compaction import CompactionJob, VersionView
from lsmdb.lsm.version_edit import FileMetaData


class FIFOPolicy:
    """Drop expired files, then the oldest files while the tree is over its size budget."""

    l0_stalls = False  # files pile up in L0 on purpose; the size budget bounds them

    def pick(self, view: VersionView) -> CompactionJob | None:
        ttl = getattr(view.options, "ttl_seconds", None)
        files = [(level, f) for level in range(view.num_levels) for f in view.files(level)]
        idle = [(level, f) for level, f in files if not view.is_busy(f)]
        if ttl is not None:
            expired = [(level, f) for level, f in idle
                       if f.creation_time and f.creation_time + ttl <= view.now]
            if expired:
                return _drop(expired, "fifo_ttl")
        budget = view.options.compaction.base_level_bytes
        total = sum(f.size for _, f in files)
        if total <= budget:
            return None
        chosen = []
        for level, f in sorted(idle, key=lambda t: (t[1].max_seqno, t[1].number)):
            if total <= budget:
                break
            chosen.append((level, f))
            total -= f.size
        return _drop(chosen, "fifo_size") if chosen else None


def _drop(files: list[tuple[int, FileMetaData]], reason: str) -> CompactionJob:
    by_level: dict[int, list[FileMetaData]] = {}
    for level, f in files:
        by_level.setdefault(level, []).append(f)
    return CompactionJob(sorted(by_level.items()), 0, reason, delete_only=True)
