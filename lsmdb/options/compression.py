"""The ``compression`` group of :class:`~lsmdb.options.Options`: data-block compression."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from lsmdb.options.checks import _Check, _choice, _int, _optional, _vector
from lsmdb.options.node import _OptionsNode

COMPRESSION_KINDS = ("zstd", "none")

_ZSTD_MIN_LEVEL = -7  # zstd's "fast" levels; 0 means zstd's default level (3)
_ZSTD_MAX_LEVEL = 22


@dataclass(frozen=True)
class Compression(_OptionsNode):
    """Data-block compression."""

    kind: str = "zstd"
    """Default "zstd". "zstd" compresses data blocks (a block that does not shrink is stored
    raw); "none" stores every block raw."""

    level: int = 3
    """Default 3. zstd level, -7 (fastest) to 22 (smallest); 0 means zstd's default level."""

    per_level: tuple[int | None, ...] | None = None
    """Default None (every level uses ``level``). Per LSM level (index 0 = L0), the zstd level
    for that level's files, or None for no compression there; levels past the end use the last
    entry (RocksDB's compression_per_level). At most ``compaction.max_levels`` entries; only
    with ``kind="zstd"``."""

    _PATH: ClassVar[str] = "compression."
    _CHECKS: ClassVar[dict[str, _Check]] = {
        "kind": _choice(COMPRESSION_KINDS),
        "level": _int(_ZSTD_MIN_LEVEL, _ZSTD_MAX_LEVEL),
        "per_level": _optional(
            _vector(_int(_ZSTD_MIN_LEVEL, _ZSTD_MAX_LEVEL), allow_none_items=True)
        ),
    }

    def _cross_problems(self):
        if self.per_level is not None and self.kind == "none":
            return [("per_level", 'must be None when kind is "none"')]
        return []

    def level_for(self, level: int) -> int | None:
        """The zstd level used for files of LSM ``level``, or None when stored raw."""
        if self.kind == "none":
            return None
        if self.per_level is None:
            return self.level
        return self.per_level[min(level, len(self.per_level) - 1)]
