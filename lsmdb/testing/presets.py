"""Option presets for tests and fuzzing: tiny memtables and files, so that a few thousand
writes go through many flushes and compactions."""

from __future__ import annotations

from lsmdb.options import Compaction, Options


def small_options(**overrides) -> Options:
    """16 KiB memtables, 8 KiB files, 512-byte blocks, L0 trigger 2, five levels."""
    compaction = Compaction(l0_trigger=2, l0_slowdown=8, l0_stop=12, base_level_bytes=16 << 10,
                            target_file_bytes=8 << 10, size_ratio=4, max_levels=5)
    base = Options(memtable_bytes=16 << 10, block_bytes=512, compaction=compaction,
                   block_cache_bytes=1 << 20)
    return base.replace(**overrides) if overrides else base
