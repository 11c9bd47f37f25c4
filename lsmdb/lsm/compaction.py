"""Compaction policies: pure functions of a read-only view of the tree (no I/O inside).

``CompactionPolicy`` is the public protocol (``lsmdb.CompactionPolicy``): ``pick(view)``
returns a :class:`CompactionJob` or None. The built-in styles implement it; experimenters
plug in their own through ``Options(compaction=Compaction(policy=obj))``.

Leveled with dynamic level sizing (the default) follows RocksDB's
``level_compaction_dynamic_level_bytes``: the last level's target is its actual size, each
level above is ``size_ratio`` times smaller, and L0 compacts straight into the first level
whose target reaches ``base_level_bytes`` (the *base level*); levels above it stay empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from lsmdb.lsm.version import Version
from lsmdb.lsm.version_edit import FileMetaData


@dataclass
class CompactionJob:
    """What to merge: ``inputs`` is [(level, files)], the output goes to ``output_level``.

    ``trivial_move``: a single input file with nothing to merge against is re-linked to the
    output level by a MANIFEST edit alone. ``delete_only``: the inputs are dropped (FIFO).
    """

    inputs: list[tuple[int, list[FileMetaData]]]
    output_level: int
    reason: str = "manual"
    output_run: int = 0
    target_file_bytes: int = 64 << 20
    trivial_move: bool = False
    delete_only: bool = False
    score: float = 0.0

    def input_files(self) -> list[FileMetaData]:
        return [f for _, files in self.inputs for f in files]

    def input_bytes(self) -> int:
        return sum(f.size for f in self.input_files())


@runtime_checkable
class CompactionPolicy(Protocol):
    """Decides the next compaction. Must not mutate the view or do I/O."""

    def pick(self, view: VersionView) -> CompactionJob | None: ...


@dataclass
class VersionView:
    """A read-only snapshot of the tree's shape handed to policies."""

    version: Version
    options: object  # lsmdb.options.Options
    busy: frozenset[int] = field(default_factory=frozenset)  # file numbers being compacted

    @property
    def num_levels(self) -> int:
        return self.version.num_levels

    def files(self, level: int) -> tuple[FileMetaData, ...]:
        return tuple(self.version.levels[level])

    def runs(self, level: int) -> list[list[FileMetaData]]:
        return self.version.runs(level)

    def level_bytes(self, level: int) -> int:
        return self.version.level_bytes(level)

    def is_busy(self, f: FileMetaData) -> bool:
        return f.number in self.busy

    def overlapping(self, level: int, lo: bytes, hi: bytes) -> list[FileMetaData]:
        return self.version.overlapping_files(level, lo, hi)

    def last_nonempty_level(self) -> int:
        for level in range(self.num_levels - 1, -1, -1):
            if self.version.levels[level]:
                return level
        return 0


def key_range(files: list[FileMetaData]) -> tuple[bytes, bytes]:
    return (min(f.smallest_user_key for f in files), max(f.largest_user_key for f in files))


def level_targets(view: VersionView) -> tuple[int, list[float]]:
    """(base_level, per-level target bytes) under dynamic or static level sizing."""
    c = view.options.compaction
    n = view.num_levels
    ratios = list(c.size_ratio_per_level or [])
    targets = [0.0] * n

    def ratio(level: int) -> float:
        return float(ratios[level]) if level < len(ratios) else float(c.size_ratio)

    if not c.dynamic_level_bytes:
        targets[1] = float(c.base_level_bytes)
        for level in range(2, n):
            targets[level] = targets[level - 1] * ratio(level - 1)
        return 1, targets
    last = n - 1
    cur = max(float(view.level_bytes(last)), float(c.base_level_bytes))
    targets[last] = cur
    base = last
    level = last
    while level > 1 and cur > c.base_level_bytes:
        cur = cur / ratio(level - 1)
        level -= 1
        targets[level] = max(cur, 1.0)
        base = level
    # A level above the base level that still holds data (e.g. after the style changed or
    # the tree shrank) drains into the level below it.
    for lvl in range(1, base):
        targets[lvl] = 0.0
    return base, targets


class LeveledPolicy:
    """RocksDB-style leveled compaction (score = size / target; L0 by file count)."""

    def pick(self, view: VersionView) -> CompactionJob | None:
        c = view.options.compaction
        base, targets = level_targets(view)
        candidates: list[tuple[float, int]] = []
        l0 = [f for f in view.files(0)]
        if l0 and not any(view.is_busy(f) for f in l0):
            candidates.append((len(l0) / c.l0_trigger, 0))
        for level in range(1, view.num_levels - 1):
            size = sum(f.size for f in view.files(level) if not view.is_busy(f))
            if size == 0:
                continue
            target = targets[level]
            score = float("inf") if target <= 0 else size / target
            candidates.append((score, level))
        candidates.sort(reverse=True)
        for score, level in candidates:
            if score < 1.0:
                break
            job = self._pick_level(view, level, base, score)
            if job is not None:
                return job
        return None

    def _pick_level(self, view: VersionView, level: int, base: int,
                    score: float) -> CompactionJob | None:
        c = view.options.compaction
        if level == 0:
            out_level = max(base, 1)
            inputs = list(view.files(0))
            lo, hi = key_range(inputs)
            below = view.overlapping(out_level, lo, hi)
            if any(view.is_busy(f) for f in below):
                return None
            return CompactionJob([(0, inputs), (out_level, below)], out_level, "l0_trigger",
                                 target_file_bytes=c.target_file_bytes, score=score)
        out_level = level + 1
        chosen = pick_file(view, level, c.file_pick)
        if chosen is None:
            return None
        inputs = expand_clean_cut(view, level, [chosen])
        if inputs is None:
            return None
        lo, hi = key_range(inputs)
        below = view.overlapping(out_level, lo, hi)
        if any(view.is_busy(f) for f in below):
            return None
        trivial = len(inputs) == 1 and not below
        return CompactionJob([(level, inputs), (out_level, below)], out_level, "level_size",
                             target_file_bytes=c.target_file_bytes, trivial_move=trivial,
                             score=score)


def expand_clean_cut(view: VersionView, level: int,
                     files: list[FileMetaData]) -> list[FileMetaData] | None:
    """Grow ``files`` with neighbours sharing a boundary user key (so no user key is split
    between a compacted file and one left behind). None if a needed file is busy."""
    chosen = {f.number: f for f in files}
    changed = True
    while changed:
        changed = False
        lo, hi = key_range(list(chosen.values()))
        for f in view.overlapping(level, lo, hi):
            if f.number not in chosen:
                if view.is_busy(f):
                    return None
                chosen[f.number] = f
                changed = True
    return sorted(chosen.values(), key=lambda f: f.smallest)


def pick_file(view: VersionView, level: int, how: str) -> FileMetaData | None:
    files = [f for f in view.files(level) if not view.is_busy(f)]
    if not files:
        return None
    if how == "oldest":
        return min(files, key=lambda f: (f.max_seqno, f.number))
    if how == "tombstone_density":
        return max(files, key=lambda f: ((f.deletions + f.range_deletions) / max(1, f.entries),
                                          -f.number))
    if how == "round_robin":
        pointer = view.version.compact_pointers.get(level)
        if pointer is not None:
            for f in files:
                if f.largest_user_key > pointer:
                    return f
        return files[0]
    # min_overlap: least next-level bytes per byte moved (RocksDB kMinOverlappingRatio).
    nxt = level + 1

    def overlap_ratio(f: FileMetaData) -> tuple[float, int]:
        ob = sum(g.size for g in view.overlapping(nxt, f.smallest_user_key, f.largest_user_key))
        return (ob / max(1, f.size), f.number)

    return min(files, key=overlap_ratio)


def policy_for(options) -> CompactionPolicy:
    """The policy object the options ask for."""
    c = options.compaction
    if c.policy is not None:
        return c.policy
    if c.style == "leveled":
        return LeveledPolicy()
    from lsmdb.errors import FeatureNotSupportedError

    raise FeatureNotSupportedError(
        f"compaction style {c.style!r} is not implemented yet (only 'leveled'); "
        "pass a CompactionPolicy object to plug in your own")
