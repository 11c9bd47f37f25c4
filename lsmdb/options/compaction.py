"""The ``compaction`` group of :class:`~lsmdb.options.Options`: style, size ratios, L0
thresholds, write-stall debt, file sizes and an optional Python policy object."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from lsmdb.options.checks import (
    MAX_LEVELS_LIMIT,
    _bool,
    _Check,
    _choice,
    _int,
    _number,
    _optional,
    _policy,
    _vector,
)
from lsmdb.options.node import _OptionsNode
from lsmdb.options.units import KiB, MiB

if TYPE_CHECKING:
    from lsmdb.lsm.compaction import CompactionPolicy

COMPACTION_STYLES = ("leveled", "tiered", "lazy_leveling", "fluid", "fifo")
FILE_PICKS = ("min_overlap", "round_robin", "oldest", "tombstone_density")


@dataclass(frozen=True)
class Compaction(_OptionsNode):
    """Compaction style and shape of the tree."""

    style: str = "leveled"
    """Default "leveled" (one sorted run per level, RocksDB/LevelDB). "tiered": up to
    T-1 runs per level (T = ``size_ratio``), all moved down together when the level is full,
    plus universal compaction's space-amplification trigger (docs/compaction.md).
    "lazy_leveling": tiered upper levels, one run at the last level (Dostoevsky).
    "fluid": ``runs_per_level`` runs per level (Dostoevsky's K/Z). "fifo": one level, oldest
    files dropped past ``ttl_seconds`` or the size cap (``base_level_bytes``)."""

    size_ratio: int = 10
    """Default 10. Capacity ratio T between adjacent levels, 2 to 1000."""

    size_ratio_per_level: tuple[int, ...] | None = None
    """Default None (``size_ratio`` everywhere). Entry i is the ratio between level i+1 and
    level i (entry 0: L0 to L1); boundaries past the end use ``size_ratio``. At most
    ``max_levels - 1`` entries, each 2 to 1000."""

    runs_per_level: tuple[int, ...] | None = None
    """Default None (the style decides: 1 for leveled, T-1 for tiered upper levels). Fluid
    LSM's K vector: the most sorted runs each level may hold, index 0 = L1; the last entry is
    Z, the bound for the last level. At most ``max_levels`` entries, each 1 to 1000; not used
    by "leveled" or "fifo"."""

    l0_trigger: int = 4
    """Default 4. Number of L0 files that triggers an L0 compaction."""

    l0_slowdown: int = 20
    """Default 20. Number of L0 files at which writes are slowed (a stall, counted in stats).
    Must be >= ``l0_trigger``."""

    l0_stop: int = 36
    """Default 36. Number of L0 files at which writes stop until compaction catches up. Must be
    >= ``l0_slowdown``."""

    soft_pending_compaction_bytes: int | None = None
    """Default None (off). When the compaction debt (bytes compaction must rewrite to bring
    every level back to its target, estimated as RocksDB's
    ``estimated-pending-compaction-bytes``) reaches this, writes are slowed to
    ``delayed_write_bytes_per_sec`` (a "pending_slowdown" stall). Keeps a write-heavy tree at
    its level targets, as the cost model assumes. Leveled style only (other styles report a
    debt of 0). At least 1 KiB."""

    hard_pending_compaction_bytes: int | None = None
    """Default None (off). Compaction debt at which writes stop until compaction catches up
    (a "pending_stop" stall). Must be >= ``soft_pending_compaction_bytes`` when both are set.
    At least 1 KiB."""

    delayed_write_bytes_per_sec: int = 16 * MiB
    """Default 16 MiB/s (RocksDB's delayed_write_rate). The write rate while the compaction
    debt is over ``soft_pending_compaction_bytes``. At least 1 KiB."""

    base_level_bytes: int = 256 * MiB
    """Default 256 MiB. Target size of the first level below L0 (L1); later levels are larger
    by the size ratio. With ``dynamic_level_bytes``, the most the base level's target may be
    and the least any level's target is (RocksDB's max_bytes_for_level_base). For "fifo",
    the cap on total table bytes. At least 1 KiB."""

    dynamic_level_bytes: bool = True
    """Default True. Size levels from the last level upward (RocksDB's
    level_compaction_dynamic_level_bytes), which bounds space amplification to about
    1 + 1/T; False sizes them from ``base_level_bytes`` downward."""

    zero_bottom_seqnos: bool = True
    """Default True. A compaction into the bottommost level (nothing older below) writes the
    sequence number of each value no live snapshot predates as 0, as RocksDB does: every
    reader sees that version, so the number carries nothing, and eight bytes of zeros
    compress to almost nothing (bottom tables ~4.5% smaller for db_bench's keys and
    values). The tables' min/max sequence properties keep the original numbers. False
    keeps them."""

    target_file_bytes: int = 64 * MiB
    """Default 64 MiB. Compaction output is cut into SSTables of about this size. At least
    1 KiB."""

    max_levels: int = 7
    """Default 7. Number of levels including L0, 2 to 32 (1 is allowed only for "fifo")."""

    file_pick: str = "min_overlap"
    """Default "min_overlap": compact the file of a level that overlaps the fewest bytes of
    the next level (RocksDB kMinOverlappingRatio). "round_robin": continue after the last
    compacted key (LevelDB). "oldest": the file with the oldest data. "tombstone_density":
    the file with the largest fraction of deletions."""

    max_space_amp: float = 2.0
    """Default 2.0. Tiered styles only: when total bytes / last-level bytes exceeds this,
    every run is merged into the last level (RocksDB universal max_size_amplification_percent
    = (max_space_amp - 1) * 100). Must be > 1."""

    tombstone_density_trigger: float | None = None
    """Default None (off). When set, a file whose fraction of deletion entries reaches this
    value (0 < x <= 1) is compacted even if its level is within its size target."""

    policy: CompactionPolicy | None = None
    """Default None (the built-in policy of ``style``). A Python object with a
    ``pick(version_view) -> CompactionJob | None`` method (the ``lsmdb.CompactionPolicy``
    protocol) that decides compactions instead; the other fields stay available to it. JSON
    stores only its qualified class name; ``Options.from_json(text, policy=obj)`` puts the
    object back."""

    _PATH: ClassVar[str] = "compaction."
    _CHECKS: ClassVar[dict[str, _Check]] = {
        "style": _choice(COMPACTION_STYLES),
        "size_ratio": _int(2, 1000),
        "size_ratio_per_level": _optional(_vector(_int(2, 1000))),
        "runs_per_level": _optional(_vector(_int(1, 1000))),
        "l0_trigger": _int(1, 10_000),
        "l0_slowdown": _int(1, 10_000),
        "l0_stop": _int(1, 10_000),
        "soft_pending_compaction_bytes": _optional(_int(KiB)),
        "hard_pending_compaction_bytes": _optional(_int(KiB)),
        "delayed_write_bytes_per_sec": _int(KiB),
        "base_level_bytes": _int(KiB),
        "dynamic_level_bytes": _bool,
        "zero_bottom_seqnos": _bool,
        "target_file_bytes": _int(KiB),
        "max_levels": _int(1, MAX_LEVELS_LIMIT),
        "file_pick": _choice(FILE_PICKS),
        "max_space_amp": _number(1.0, lo_open=True),
        "tombstone_density_trigger": _optional(_number(0.0, 1.0, lo_open=True)),
        "policy": _policy,
    }

    def _cross_problems(self):
        problems = []
        if self.l0_slowdown < self.l0_trigger:
            problems.append((
                "l0_slowdown",
                f"must be >= l0_trigger ({self.l0_trigger}), got {self.l0_slowdown}",
            ))
        if self.l0_stop < self.l0_slowdown:
            problems.append((
                "l0_stop", f"must be >= l0_slowdown ({self.l0_slowdown}), got {self.l0_stop}"
            ))
        soft, hard = self.soft_pending_compaction_bytes, self.hard_pending_compaction_bytes
        if soft is not None and hard is not None and hard < soft:
            problems.append((
                "hard_pending_compaction_bytes",
                f"must be >= soft_pending_compaction_bytes ({soft}), got {hard}",
            ))
        if self.max_levels < 2 and self.style != "fifo":
            problems.append((
                "max_levels", f'must be >= 2 for style "{self.style}", got {self.max_levels}'
            ))
        if self.size_ratio_per_level is not None and (
            len(self.size_ratio_per_level) > self.max_levels - 1
        ):
            problems.append((
                "size_ratio_per_level",
                f"has {len(self.size_ratio_per_level)} entries, more than max_levels - 1 "
                f"({self.max_levels - 1})",
            ))
        if self.runs_per_level is not None:
            if self.style in ("leveled", "fifo"):
                problems.append((
                    "runs_per_level",
                    f'is not used by style "{self.style}"; use "tiered", "lazy_leveling" '
                    'or "fluid"',
                ))
            elif len(self.runs_per_level) > self.max_levels:
                problems.append((
                    "runs_per_level",
                    f"has {len(self.runs_per_level)} entries, more than max_levels "
                    f"({self.max_levels})",
                ))
        return problems

    def ratio_for(self, level: int) -> int:
        """Size ratio between level ``level + 1`` and level ``level``."""
        per = self.size_ratio_per_level
        if per is not None and 0 <= level < len(per):
            return per[level]
        return self.size_ratio
