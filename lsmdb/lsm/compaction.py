"""Compaction policies: pure functions of a read-only view of the tree (no I/O inside).

``CompactionPolicy`` is the public protocol (``lsmdb.CompactionPolicy``): ``pick(view)``
returns a :class:`CompactionJob` or None. The built-in styles implement it; experimenters
plug in their own through ``Options(compaction=Compaction(policy=obj))``. docs/compaction.md
describes every style, trigger and knob.

Leveled with dynamic level sizing (the default) follows RocksDB's
``level_compaction_dynamic_level_bytes``: the last level's target is its actual size, each
level above is ``size_ratio`` times smaller, and L0 compacts straight into the first level
whose target reaches ``base_level_bytes`` (the *base level*); levels above it stay empty.

Ordering invariant every policy keeps (reads depend on it): for any user key, data in L0 is
newer than data in L1, L1 newer than L2, ...; within a level, a run with a higher run id is
newer. So a job may only (a) move a level's *oldest* runs down, (b) merge a level's newest
runs in place, or (c) merge into the next level's newest run; its output gets a run id above
every run of the output level it does not consume. The tiered styles live in
``lsmdb.lsm.policies``; ``lsmdb.lsm.styles.policy_for`` maps ``compaction.style`` to a policy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from lsmdb.lsm.version import Version
from lsmdb.lsm.version_edit import FileMetaData


@dataclass
class CompactionJob:
    """What to merge: ``inputs`` is [(level, files)], the output goes to ``output_level``.

    ``trivial_move``: the input files, with nothing to merge against, are re-linked to the
    output level by a MANIFEST edit alone. ``delete_only``: the inputs are dropped (FIFO).
    ``output_run``: the run id the outputs get (see the ordering invariant above).
    ``compact_pointer``: (level, internal key) recorded in the MANIFEST for round-robin
    picking: the next pick in that level starts after this key's user key.
    """

    inputs: list[tuple[int, list[FileMetaData]]]
    output_level: int
    reason: str = "manual"
    output_run: int = 0
    target_file_bytes: int = 64 << 20
    trivial_move: bool = False
    delete_only: bool = False
    score: float = 0.0
    compact_pointer: tuple[int, bytes] | None = None

    def input_files(self) -> list[FileMetaData]:
        return [f for _, files in self.inputs for f in files]

    def input_bytes(self) -> int:
        return sum(f.size for f in self.input_files())


@runtime_checkable
class CompactionPolicy(Protocol):
    """Decides the next compaction. Must not mutate the view or do I/O.

    Optional attribute ``l0_stalls`` (default True): False tells the DB not to slow or stop
    writes on the L0 file count (FIFO keeps every file in L0 on purpose).
    """

    def pick(self, view: VersionView) -> CompactionJob | None: ...


@dataclass
class VersionView:
    """A read-only snapshot of the tree's shape handed to policies.

    ``busy``: file numbers that running jobs are compacting. ``smallest_snapshot``: the
    oldest live snapshot seqno (None: no snapshot), so a policy can tell whether a
    compaction at the bottom could drop tombstones. ``now``: wall-clock seconds (TTL).
    """

    version: Version
    options: object  # lsmdb.options.Options
    busy: frozenset[int] = field(default_factory=frozenset)
    smallest_snapshot: int | None = None
    now: float = field(default_factory=time.time)

    @property
    def num_levels(self) -> int:
        return self.version.num_levels

    def files(self, level: int) -> tuple[FileMetaData, ...]:
        return tuple(self.version.levels[level])

    def runs(self, level: int) -> list[list[FileMetaData]]:
        return self.version.runs(level)

    def num_runs(self, level: int) -> int:
        return self.version.num_runs(level)

    def level_bytes(self, level: int) -> int:
        return self.version.level_bytes(level)

    def total_bytes(self) -> int:
        return self.version.total_bytes()

    def is_busy(self, f: FileMetaData) -> bool:
        return f.number in self.busy

    def any_busy(self, files) -> bool:
        return any(f.number in self.busy for f in files)

    def levels_busy(self, lo: int, hi: int) -> bool:
        """True when a running job holds a file in any level of [lo, hi]."""
        return any(self.any_busy(self.version.levels[lvl]) for lvl in range(lo, hi + 1))

    def overlapping(self, level: int, lo: bytes, hi: bytes) -> list[FileMetaData]:
        return self.version.overlapping_files(level, lo, hi)

    def last_nonempty_level(self) -> int:
        for level in range(self.num_levels - 1, -1, -1):
            if self.version.levels[level]:
                return level
        return 0

    def run_ids(self, level: int) -> set[int]:
        return {f.run for f in self.version.levels[level]}


# -- helpers shared by the policies ----------------------------------------------------------


def key_range(files: list[FileMetaData]) -> tuple[bytes, bytes]:
    return (min(f.smallest_user_key for f in files), max(f.largest_user_key for f in files))


def level_run_id(view: VersionView, level: int) -> int:
    """Run id for output that joins ``level``'s (single) run: its newest run id, or 0."""
    return max(view.run_ids(level), default=0)


def next_run_id(view: VersionView, level: int) -> int:
    """Run id for a new run on top of ``level``: above every run id there."""
    return max(view.run_ids(level), default=-1) + 1


def tombstone_density(f: FileMetaData) -> float:
    """(point deletions + range deletions) / entries of one file."""
    return (f.deletions + f.range_deletions) / max(1, f.entries)


def tombstones_droppable(view: VersionView, f: FileMetaData) -> bool:
    """A bottommost compaction of ``f`` would drop its tombstones: no snapshot sees them."""
    return view.smallest_snapshot is None or f.max_seqno < view.smallest_snapshot


def level_targets(view: VersionView) -> tuple[int, list[float]]:
    """(base_level, per-level target bytes) under dynamic or static level sizing.

    Honours ``size_ratio_per_level`` (entry i: ratio between level i+1 and level i).
    """
    c = view.options.compaction
    n = view.num_levels
    targets = [0.0] * n
    if n < 2:
        return 0, targets
    ratio = c.ratio_for
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
        # Never below base_level_bytes (RocksDB's CalculateBaseBytes floor): a base level
        # smaller than what one L0 compaction brings would be over target after every one,
        # and the levels under it would be pushed into for data that has not settled.
        targets[level] = max(cur, float(c.base_level_bytes))
        base = level
    # A level above the base level that still holds data (e.g. after the style changed or
    # the tree shrank) drains into the level below it: target 0 gives it an infinite score.
    for lvl in range(1, base):
        targets[lvl] = 0.0
    return base, targets


def pending_compaction_bytes(view: VersionView) -> int:
    """Compaction debt of a leveled tree: the bytes compaction must read and write to bring
    every level back within its target, estimated as RocksDB's
    ``EstimateCompactionBytesNeeded``. L0, once at ``l0_trigger`` files, owes its bytes plus
    the base level's; a level over its target owes its excess (plus what flows into it from
    above) times (1 + next level bytes / level bytes), the rewrite of the overlapping part of
    the level below."""
    c = view.options.compaction
    n = view.num_levels
    if n < 2:
        return 0
    base, targets = level_targets(view)
    debt = 0.0
    incoming = 0.0
    l0 = view.files(0)
    if len(l0) >= c.l0_trigger:
        incoming = float(sum(f.size for f in l0))
        debt += incoming + view.level_bytes(base)
    for level in range(base, n - 1):
        size = view.level_bytes(level) + incoming
        target = targets[level]
        if size > target > 0:
            excess = size - target
            debt += excess * (1.0 + view.level_bytes(level + 1) / size)
            incoming = excess
        else:
            incoming = 0.0
    return int(debt)


def l0_output_level(view: VersionView, base: int) -> int:
    """Where L0 compacts to: the base level, or a level above it that still holds data
    (writing below such a level would put newer data under older data)."""
    for level in range(1, max(base, 1)):
        if view.version.levels[level]:
            return level
    return max(base, 1)


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


def max_compaction_bytes(view: VersionView) -> int:
    """Input bytes one leveled push-down may grow to by :func:`expand_inputs_free`: 25 target
    files, RocksDB's default ``max_compaction_bytes`` (25 x ``target_file_size_base``)."""
    return 25 * view.options.compaction.target_file_bytes


def expand_inputs_free(view: VersionView, level: int, inputs: list[FileMetaData],
                       below: list[FileMetaData]) -> list[FileMetaData]:
    """Grow the input files of ``level`` with the neighbours that lie within the key span of
    the inputs and their overlapping files ``below`` (next level) and that pull no further
    file of the next level in (RocksDB's ``SetupOtherInputs``). Those neighbours come at no
    extra rewrite of the next level: the same ``below`` files are rewritten once for more
    data from above, instead of once now and again when the neighbour is pushed later.

    First try every file of ``level`` overlapping the span (grown to a clean cut), then, if
    that pulls in a further next-level file, only the run of files around the inputs lying
    wholly inside the span. Either set is taken only when no file in it is busy and inputs
    plus ``below`` stay within :func:`max_compaction_bytes`. Returns ``inputs`` unchanged
    otherwise."""
    if not below:
        return inputs
    lo, hi = key_range(inputs + below)
    limit = max_compaction_bytes(view)
    below_bytes = sum(f.size for f in below)
    below_numbers = {f.number for f in below}

    def acceptable(files: list[FileMetaData] | None) -> bool:
        if files is None or len(files) <= len(inputs) or view.any_busy(files):
            return False
        if below_bytes + sum(f.size for f in files) >= limit:
            return False
        flo, fhi = key_range(files)
        return {f.number for f in view.overlapping(level + 1, flo, fhi)} == below_numbers

    grown = expand_clean_cut(view, level, view.overlapping(level, lo, hi))
    if acceptable(grown):
        return grown
    inside = _clean_files_within(view, level, inputs, lo, hi)
    return inside if acceptable(inside) else inputs


def _clean_files_within(view: VersionView, level: int, inputs: list[FileMetaData],
                        lo: bytes, hi: bytes) -> list[FileMetaData]:
    """``inputs`` (adjacent files of ``level``'s single run) plus their neighbours on each
    side, as long as a neighbour lies wholly inside [lo, hi], is not busy and shares no
    boundary user key with the next file out (a clean cut)."""
    files = list(view.files(level))
    index = {f.number: i for i, f in enumerate(files)}
    first = min(index[f.number] for f in inputs)
    last = max(index[f.number] for f in inputs)
    while first > 0 and files[first - 1].smallest_user_key >= lo:
        if view.is_busy(files[first - 1]) or (
                first > 1 and files[first - 2].largest_user_key == files[first - 1].smallest_user_key):
            break
        first -= 1
    while last + 1 < len(files) and files[last + 1].largest_user_key <= hi:
        if view.is_busy(files[last + 1]) or (
                last + 2 < len(files)
                and files[last + 2].smallest_user_key == files[last + 1].largest_user_key):
            break
        last += 1
    return files[first:last + 1]


def pick_file(view: VersionView, level: int, how: str) -> FileMetaData | None:
    """The file of ``level`` to compact next under file-pick policy ``how``."""
    files = [f for f in view.files(level) if not view.is_busy(f)]
    if not files:
        return None
    if how == "oldest":
        return min(files, key=lambda f: (f.max_seqno, f.number))
    if how == "tombstone_density":
        return max(files, key=lambda f: (tombstone_density(f), -f.number))
    if how == "round_robin":
        pointer = view.version.compact_pointers.get(level)  # an internal key (MANIFEST)
        if pointer is not None:
            for f in files:
                if f.largest_user_key > pointer[:-8]:
                    return f
        return files[0]
    # min_overlap: least next-level bytes per byte moved (RocksDB kMinOverlappingRatio).
    nxt = level + 1

    def overlap_ratio(f: FileMetaData) -> tuple[float, int]:
        ob = sum(g.size for g in view.overlapping(nxt, f.smallest_user_key, f.largest_user_key))
        return (ob / max(1, f.size), f.number)

    return min(files, key=overlap_ratio)


def merge_level_in_place(view: VersionView, level: int, reason: str,
                         score: float = 0.0) -> CompactionJob | None:
    """Merge every run of ``level`` into one run at the same level (None if busy)."""
    files = list(view.files(level))
    if not files or view.any_busy(files):
        return None
    return CompactionJob([(level, files)], level, reason, output_run=level_run_id(view, level),
                         target_file_bytes=view.options.compaction.target_file_bytes,
                         score=score)


def manual_jobs(view: VersionView, lo: bytes | None,
                hi: bytes | None) -> list[CompactionJob]:
    """What ``compact_range(lo, hi)`` runs: every file overlapping [lo, hi] goes to the last
    level in one pass, so each byte is written once (RocksDB's CompactRange to the bottommost
    level), not once per level on the way down.

    Inputs, level by level from the top: the files overlapping the range, a level of
    overlapping files (L0) or of several runs taken whole, a single run grown to clean cuts.
    The range grows with each level's inputs: data taken from above a file must not land
    below it, so every file below an input that overlaps it is an input too. The inputs fall
    into groups of overlapping files (:func:`_overlap_groups`). Returns the trivial moves
    first (a file overlapping no other input is re-linked to the last level by a MANIFEST
    edit, nothing rewritten; one already in the last level's single run stays), then one
    merge per group into the last level's newest run (the last level's other runs included,
    so it ends as one run). Empty when there is nothing to do: a one-level tree (FIFO), or
    the range lies in the last level's single run already.
    """
    bottom = view.num_levels - 1
    if bottom == 0:
        return []
    inputs: list[tuple[int, list[FileMetaData]]] = []
    for level in range(view.num_levels):
        files = view.version.overlapping_files(level, lo, hi)
        if not files:
            continue
        if level == 0 or view.num_runs(level) > 1:
            files = list(view.files(level))  # overlapping files or runs: take them all
        else:
            files = expand_clean_cut(view, level, files)
            if files is None:
                return []  # a running job holds a neighbour; the caller waited for none
        inputs.append((level, files))
        first, last = key_range(files)
        lo = None if lo is None else min(lo, first)
        hi = None if hi is None else max(hi, last)
    if not inputs or (len(inputs) == 1 and inputs[0][0] == bottom
                      and view.num_runs(bottom) < 2):
        return []
    run = level_run_id(view, bottom)
    target = view.options.compaction.target_file_bytes
    one_bottom_run = view.num_runs(bottom) < 2
    moves: dict[int, list[FileMetaData]] = {}
    merges = []
    for group in _overlap_groups(inputs):
        if len(group) == 1:
            level, f = group[0]
            if level < bottom:
                moves.setdefault(level, []).append(f)
                continue
            if one_bottom_run:
                continue  # in the last level's run already, overlapping nothing
        by_level: dict[int, list[FileMetaData]] = {}
        for level, f in group:
            by_level.setdefault(level, []).append(f)
        merges.append(CompactionJob(sorted(by_level.items()), bottom, "manual",
                                    output_run=run, target_file_bytes=target))
    jobs = [CompactionJob([(level, files)], bottom, "manual", output_run=run, trivial_move=True)
            for level, files in sorted(moves.items())]
    return jobs + merges


def _overlap_groups(inputs: list[tuple[int, list[FileMetaData]]]
                    ) -> list[list[tuple[int, FileMetaData]]]:
    """The input files split into groups of transitively overlapping user-key ranges, in key
    order. Each group's key span meets no file of another group, so a merge of one group
    writes no output overlapping a file moved or left in place beside it."""
    entries = sorted(((level, f) for level, fs in inputs for f in fs),
                     key=lambda e: e[1].smallest_user_key)
    groups: list[list[tuple[int, FileMetaData]]] = []
    reach = None  # the largest user key of the current group
    for level, f in entries:
        if reach is None or f.smallest_user_key > reach:
            groups.append([])
            reach = f.largest_user_key
        else:
            reach = max(reach, f.largest_user_key)
        groups[-1].append((level, f))
    return groups


# -- leveled --------------------------------------------------------------------------------


class LeveledPolicy:
    """RocksDB-style leveled compaction: one sorted run per level below L0.

    Triggers, in order: a level holding several runs (after a style change) is merged in
    place; then the highest score >= 1 wins, score = L0 files / ``l0_trigger`` for L0 and
    bytes / target for the others; then, when ``tombstone_density_trigger`` is set, the
    densest file over it is pushed down (or rewritten in place at the bottom, where its
    tombstones can be dropped). Within a level the file is chosen by ``file_pick``.
    """

    def pending_bytes(self, view: VersionView) -> int:
        """Compaction debt, for the pending-bytes write stalls (:func:`pending_compaction_bytes`)."""
        return pending_compaction_bytes(view)

    def pick(self, view: VersionView) -> CompactionJob | None:
        c = view.options.compaction
        for level in range(1, view.num_levels):
            if view.num_runs(level) > 1:
                job = merge_level_in_place(view, level, "merge_runs", float("inf"))
                if job is not None:
                    return job
        base, targets = level_targets(view)
        candidates: list[tuple[float, int]] = []
        l0 = view.files(0)
        if l0 and not view.any_busy(l0):
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
        if c.tombstone_density_trigger is not None:
            return self._pick_tombstones(view, base, c.tombstone_density_trigger)
        return None

    def _l0_job(self, view: VersionView, base: int, score: float,
                reason: str) -> CompactionJob | None:
        c = view.options.compaction
        out_level = l0_output_level(view, base)
        if view.num_runs(out_level) > 1:
            return None  # merged in place first
        inputs = list(view.files(0))
        lo, hi = key_range(inputs)
        below = view.overlapping(out_level, lo, hi)
        if view.any_busy(below):
            return None
        # L0 files with disjoint key ranges and nothing under them in the output level are
        # re-linked, not rewritten (RocksDB's trivial move out of L0): a sequential load then
        # writes each flushed byte once more only when it is merged further down.
        # (Disjoint: each file its own overlap group, so they sit side by side in one run.)
        trivial = not below and len(_overlap_groups([(0, inputs)])) == len(inputs)
        return CompactionJob([(0, inputs), (out_level, below)], out_level, reason,
                             output_run=level_run_id(view, out_level),
                             target_file_bytes=c.target_file_bytes, trivial_move=trivial,
                             score=score)

    def _pick_level(self, view: VersionView, level: int, base: int,
                    score: float) -> CompactionJob | None:
        if level == 0:
            return self._l0_job(view, base, score, "l0_trigger")
        chosen = pick_file(view, level, view.options.compaction.file_pick)
        if chosen is None:
            return None
        return self._push_down(view, level, chosen, score, "level_size")

    def _push_down(self, view: VersionView, level: int, chosen: FileMetaData, score: float,
                   reason: str) -> CompactionJob | None:
        c = view.options.compaction
        out_level = level + 1
        if view.num_runs(out_level) > 1:
            return None
        inputs = expand_clean_cut(view, level, [chosen])
        if inputs is None:
            return None
        lo, hi = key_range(inputs)
        below = view.overlapping(out_level, lo, hi)
        if view.any_busy(below):
            return None
        inputs = expand_inputs_free(view, level, inputs, below)
        trivial = len(inputs) == 1 and not below
        pointer = None
        if c.file_pick == "round_robin":
            pointer = (level, max(inputs, key=lambda f: f.largest_user_key).largest)
        return CompactionJob([(level, inputs), (out_level, below)], out_level, reason,
                             output_run=level_run_id(view, out_level),
                             target_file_bytes=c.target_file_bytes, trivial_move=trivial,
                             score=score, compact_pointer=pointer)

    def _pick_tombstones(self, view: VersionView, base: int,
                         trigger: float) -> CompactionJob | None:
        dense = [(tombstone_density(f), level, f)
                 for level in range(view.num_levels) for f in view.files(level)
                 if not view.is_busy(f) and tombstone_density(f) >= trigger]
        dense.sort(key=lambda t: (-t[0], t[1], t[2].number))
        for density, level, f in dense:
            if level == 0:
                job = self._l0_job(view, base, density, "tombstone_density")
            elif _nothing_below(view, level, f):
                if not tombstones_droppable(view, f):
                    continue  # a snapshot still sees them: rewriting would not help
                job = self._rewrite_in_place(view, level, f, density)
            else:
                job = self._push_down(view, level, f, density, "tombstone_density")
            if job is not None and job.trivial_move:
                job.trivial_move = False  # a move keeps the tombstones: merge instead
            if job is not None:
                return job
        return None

    def _rewrite_in_place(self, view: VersionView, level: int, f: FileMetaData,
                          density: float) -> CompactionJob | None:
        inputs = expand_clean_cut(view, level, [f])
        if inputs is None:
            return None
        return CompactionJob([(level, inputs)], level, "tombstone_density",
                             output_run=level_run_id(view, level),
                             target_file_bytes=view.options.compaction.target_file_bytes,
                             score=density)


def _nothing_below(view: VersionView, level: int, f: FileMetaData) -> bool:
    lo, hi = f.smallest_user_key, f.largest_user_key
    return not any(view.overlapping(lvl, lo, hi) for lvl in range(level + 1, view.num_levels))
