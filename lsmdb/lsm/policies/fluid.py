"""Run-capped levels: Dostoevsky's Fluid LSM-tree, with tiering and lazy leveling as presets.

Every level below L0 may hold several sorted runs (distinguished by ``FileMetaData.run``,
higher = newer). Level i (1 <= i < last) holds at most K_i runs, the last level at most Z:

    style            K_i (i < last)           Z (last level)
    tiered           T_i - 1                  T_last - 1      + space-amp full merge
    lazy_leveling    T_i - 1                  1
    fluid            runs_per_level[i - 1]    runs_per_level[-1]   (default: lazy leveling)

where T_i = ``compaction.ratio_for(i - 1)`` (the size ratio between level i and the level
above it, so ``size_ratio_per_level`` is honoured) and ``runs_per_level``, when set,
overrides K and Z for all three styles. Level targets are the leveled ones (dynamic or
static sizing, ``level_targets``), so the tree grows the same number of levels.

A *push* moves whole runs one level down: all of L0 (when it holds ``l0_trigger`` files) to
the base level, or every run of a level that is over its run cap or its byte target to the
next level. What the arriving data becomes at the destination d:

- d has fewer runs than its cap: a new, newest run (a plain MANIFEST move when the input is
  a single run);
- d is the last level at its cap Z: with Z = 1 the arrival merges into the overlapping files
  of that run (leveling); with Z > 1 it merges with every run there into one (tiering);
- d is an upper level at its cap K: if the arrival would fill d past its target, it still
  becomes a new run (d is then pushed down whole, as in tiering); otherwise it merges into
  the overlapping files of d's newest run (so K = 1 is leveling).

The last level merges its runs in place when it holds more than Z. ``tiered`` adds RocksDB
universal compaction's space-amplification trigger: once the tree holds ``l0_trigger`` or
more sorted runs and (total bytes - oldest run bytes) / oldest run bytes exceeds
``max_space_amp - 1``, every run is merged into one at the deepest level.

A job whose inputs or output touch levels [src, dst] is only picked when no running job
holds a file there, so two jobs never create runs in the same level at once.
"""

from __future__ import annotations

from lsmdb.errors import InvalidArgumentError
from lsmdb.lsm.compaction import (
    CompactionJob,
    VersionView,
    key_range,
    l0_output_level,
    level_targets,
    merge_level_in_place,
    next_run_id,
    tombstone_density,
    tombstones_droppable,
)
from lsmdb.lsm.version_edit import FileMetaData


def run_caps(options, num_levels: int, style: str,
             runs_per_level: tuple[int, ...] | None = None) -> list[int]:
    """Run cap per level (index = level; index 0 is unused and 0): K_i above the last
    level, Z at the last. ``runs_per_level`` (default: the options') overrides the style."""
    c = options.compaction
    last = num_levels - 1
    caps = [0] * num_levels
    vector = runs_per_level if runs_per_level is not None else c.runs_per_level
    for level in range(1, num_levels):
        t = c.ratio_for(level - 1)
        if vector:
            if level == last:
                caps[level] = vector[-1]
            elif len(vector) == 1:
                caps[level] = vector[0]
            else:
                caps[level] = vector[min(level - 1, len(vector) - 2)]
        elif level == last:
            caps[level] = t - 1 if style == "tiered" else 1
        else:
            caps[level] = t - 1
        caps[level] = max(1, caps[level])
    return caps


class FluidPolicy:
    """Fluid LSM-tree: at most K_i runs at level i < last, at most Z at the last level.

    ``runs_per_level`` given here overrides ``Compaction.runs_per_level`` (index 0 = L1,
    last entry = Z). Without either, K_i = T_i - 1 and Z = 1 (lazy leveling).
    """

    style = "fluid"
    space_amp_trigger = False

    def __init__(self, runs_per_level: tuple[int, ...] | list[int] | None = None):
        self.runs_per_level = tuple(runs_per_level) if runs_per_level is not None else None
        if self.runs_per_level is not None and (
                not self.runs_per_level or any(int(k) < 1 for k in self.runs_per_level)):
            raise InvalidArgumentError(
                f"runs_per_level must be a non-empty list of ints >= 1, got {runs_per_level!r}")

    def caps(self, view: VersionView) -> list[int]:
        return run_caps(view.options, view.num_levels, self.style, self.runs_per_level)

    # -- picking ----------------------------------------------------------------------------

    def pick(self, view: VersionView) -> CompactionJob | None:
        c = view.options.compaction
        n = view.num_levels
        last = n - 1
        caps = self.caps(view)
        base, targets = level_targets(view)
        if self.space_amp_trigger:
            job = self._space_amp(view)
            if job is not None:
                return job
        trigger = c.tombstone_density_trigger
        candidates: list[tuple[float, int]] = []
        l0 = view.files(0)
        if l0:
            score = len(l0) / c.l0_trigger
            if trigger is not None and any(tombstone_density(f) >= trigger for f in l0):
                score = max(score, 1.0)
            candidates.append((score, 0))
        for level in range(1, last):
            files = view.files(level)
            if not files:
                continue
            runs = view.num_runs(level)
            target = targets[level]
            score = float("inf") if target <= 0 else view.level_bytes(level) / target
            if runs > caps[level]:
                score = max(score, runs / caps[level])
            if trigger is not None and any(tombstone_density(f) >= trigger for f in files):
                score = max(score, 1.0)
            candidates.append((score, level))
        if view.num_runs(last) > caps[last]:
            candidates.append((view.num_runs(last) / caps[last], last))
        candidates.sort(key=lambda t: (-t[0], t[1]))
        for score, level in candidates:
            if score < 1.0:
                break
            if level == last:
                job = merge_level_in_place(view, last, "run_count", score)
            elif level == 0:
                job = self._push(view, 0, l0_output_level(view, base), caps, targets, score,
                                 "l0_trigger")
            else:
                job = self._push(view, level, level + 1, caps, targets, score, "level_full")
            if job is not None:
                return job
        if trigger is not None:
            return self._bottom_tombstones(view, last, trigger)
        return None

    def _push(self, view: VersionView, src: int, dst: int, caps: list[int],
              targets: list[float], score: float, reason: str) -> CompactionJob | None:
        """Every run of ``src`` moved into ``dst`` (see the module docstring)."""
        if view.levels_busy(src, dst):
            return None
        c = view.options.compaction
        inputs = list(view.files(src))
        single_run = len(inputs) == 1 if src == 0 else view.num_runs(src) == 1
        dst_runs = view.runs(dst)
        last = view.num_levels - 1
        cap = caps[dst]
        incoming = sum(f.size for f in inputs)

        def new_run() -> CompactionJob:
            return CompactionJob([(src, inputs)], dst, reason, output_run=next_run_id(view, dst),
                                 target_file_bytes=c.target_file_bytes,
                                 trivial_move=single_run, score=score)

        if len(dst_runs) < cap:
            return new_run()
        if dst == last:
            if cap > 1:
                return CompactionJob([(src, inputs), (dst, list(view.files(dst)))], dst,
                                     reason, output_run=next_run_id(view, dst),
                                     target_file_bytes=c.target_file_bytes, score=score)
        elif view.level_bytes(dst) + incoming >= targets[dst]:
            return new_run()
        newest = dst_runs[0]
        below = _overlapping_in_run(newest, *key_range(inputs))
        return CompactionJob([(src, inputs), (dst, below)], dst, reason,
                             output_run=newest[0].run,
                             target_file_bytes=c.target_file_bytes,
                             trivial_move=single_run and not below, score=score)

    def _space_amp(self, view: VersionView) -> CompactionJob | None:
        c = view.options.compaction
        deepest = view.last_nonempty_level()
        if deepest == 0:
            return None
        runs = view.num_runs(0) + sum(view.num_runs(lvl) for lvl in range(1, deepest + 1))
        if runs < max(2, c.l0_trigger):
            return None
        oldest = sum(f.size for f in view.runs(deepest)[-1])
        total = view.total_bytes()
        if oldest <= 0 or (total - oldest) / oldest <= c.max_space_amp - 1.0:
            return None
        inputs = [(lvl, list(view.files(lvl))) for lvl in range(deepest + 1) if view.files(lvl)]
        if any(view.any_busy(fs) for _, fs in inputs):
            return None
        return CompactionJob(inputs, deepest, "space_amp", output_run=next_run_id(view, deepest),
                             target_file_bytes=c.target_file_bytes,
                             score=(total - oldest) / oldest)

    def _bottom_tombstones(self, view: VersionView, last: int,
                           trigger: float) -> CompactionJob | None:
        """A last-level file dense in tombstones that no snapshot needs: rewrite it (its
        whole level when the level holds several runs, so the rewrite is bottommost)."""
        files = view.files(last)
        dense = [f for f in files if tombstone_density(f) >= trigger
                 and tombstones_droppable(view, f) and not view.is_busy(f)]
        if not dense:
            return None
        if view.num_runs(last) > 1:
            return merge_level_in_place(view, last, "tombstone_density")
        f = max(dense, key=lambda g: (tombstone_density(g), -g.number))
        inputs = _overlapping_in_run(list(files), f.smallest_user_key, f.largest_user_key)
        if view.any_busy(inputs):
            return None
        return CompactionJob([(last, inputs)], last, "tombstone_density", output_run=f.run,
                             target_file_bytes=view.options.compaction.target_file_bytes,
                             score=tombstone_density(f))


def _overlapping_in_run(run: list[FileMetaData], lo: bytes, hi: bytes) -> list[FileMetaData]:
    """Files of one sorted run touching [lo, hi], grown until no user key is split between a
    chosen file and a neighbour left behind."""
    chosen: dict[int, FileMetaData] = {}
    while True:
        grew = False
        for f in run:
            if f.number not in chosen and f.smallest_user_key <= hi and f.largest_user_key >= lo:
                chosen[f.number] = f
                grew = True
        if not grew or not chosen:
            break
        lo, hi = key_range(list(chosen.values()))
    return sorted(chosen.values(), key=lambda f: f.smallest)


class TieredPolicy(FluidPolicy):
    """Tiering (K = Z = T - 1) plus RocksDB universal's space-amplification full merge."""

    style = "tiered"
    space_amp_trigger = True


class LazyLevelingPolicy(FluidPolicy):
    """Dostoevsky's lazy leveling: tiering (T - 1 runs) above the last level, one run there."""

    style = "lazy_leveling"
