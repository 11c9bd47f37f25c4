"""Compaction policies: pure picks on hand-made Versions, then whole DBs per style."""

from __future__ import annotations

import importlib.util
import random
import time
import types
from pathlib import Path

import pytest

import lsmdb
from lsmdb._core.ikey import PUT, make_internal_key
from lsmdb.lsm import table_writer
from lsmdb.lsm.compaction import (
    CompactionJob,
    LeveledPolicy,
    VersionView,
    key_range,
    l0_output_level,
    level_targets,
    manual_jobs,
    next_run_id,
)
from lsmdb.lsm.policies import (
    FIFOPolicy,
    FluidPolicy,
    LazyLevelingPolicy,
    TieredPolicy,
    run_caps,
)
from lsmdb.lsm.styles import policy_for
from lsmdb.lsm.version import Version
from lsmdb.lsm.version_edit import FileMetaData
from lsmdb.options import Compaction, Options
from lsmdb.testing.presets import small_options

# -- hand-made versions ---------------------------------------------------------------------

_numbers = iter(range(100, 1_000_000))


def meta(lo: bytes, hi: bytes, size: int = 1000, *, run: int = 0, seq: int = 10,
         entries: int = 100, deletions: int = 0, created: int = 0) -> FileMetaData:
    return FileMetaData(number=next(_numbers), size=size,
                        smallest=make_internal_key(lo, seq, PUT),
                        largest=make_internal_key(hi, seq, PUT), min_seqno=seq, max_seqno=seq,
                        entries=entries, deletions=deletions, run=run, creation_time=created)


def version(levels: dict[int, list[FileMetaData]], n: int = 5) -> Version:
    v = Version(n)
    for level, files in levels.items():
        v.levels[level] = list(files)
    v.finalize()
    return v


def opts(**compaction) -> Options:
    base = dict(l0_trigger=2, l0_slowdown=8, l0_stop=12, base_level_bytes=4096,
                target_file_bytes=2048, size_ratio=4, max_levels=5)
    base.update(compaction)
    return Options(compaction=Compaction(**base))


def view(levels, options=None, **kw) -> VersionView:
    return VersionView(version(levels), options or opts(), **kw)


def numbers(job: CompactionJob, level: int) -> set[int]:
    return {f.number for lvl, fs in job.inputs if lvl == level for f in fs}


# -- policy_for / defaults -------------------------------------------------------------------


def test_default_style_is_leveled_and_policy_for_maps_every_style():
    assert Options().compaction.style == "leveled"
    assert type(policy_for(Options())) is LeveledPolicy
    expected = {"leveled": LeveledPolicy, "tiered": TieredPolicy,
                "lazy_leveling": LazyLevelingPolicy, "fluid": FluidPolicy, "fifo": FIFOPolicy}
    for style, cls in expected.items():
        assert type(policy_for(opts(style=style))) is cls
    custom = FluidPolicy(runs_per_level=[2, 1])
    assert policy_for(opts(policy=custom)) is custom
    assert isinstance(custom, lsmdb.CompactionPolicy)


# -- leveled ---------------------------------------------------------------------------------


def test_leveled_l0_trigger_goes_to_base_level_and_joins_its_run():
    deep = [meta(b"a", b"m", 60_000, run=7)]
    v = view({0: [meta(b"b", b"c"), meta(b"c", b"d")], 4: deep})
    base, _ = level_targets(v)
    job = LeveledPolicy().pick(v)
    assert job.reason == "l0_trigger" and job.output_level == base
    assert numbers(job, 0) == {f.number for f in v.files(0)}
    if base == 4:
        assert job.output_run == 7 and numbers(job, 4) == {deep[0].number}


def test_leveled_moves_disjoint_l0_files_with_nothing_below_without_rewriting():
    # A sequential load: flushed files side by side, the base level's data elsewhere.
    deep = [meta(b"a", b"c", 60_000, run=7)]
    l0 = [meta(b"m", b"p"), meta(b"d", b"f"), meta(b"g", b"k")]
    v = view({0: l0, 4: deep})
    base, _ = level_targets(v)
    job = LeveledPolicy().pick(v)
    assert job.reason == "l0_trigger" and job.trivial_move
    assert numbers(job, 0) == {f.number for f in l0} and numbers(job, base) == set()
    # Two L0 files sharing a user key (bounds included) are merged, not moved.
    touching = view({0: [meta(b"d", b"g"), meta(b"g", b"k")], 4: deep})
    assert not LeveledPolicy().pick(touching).trivial_move
    # Disjoint L0 files over data in the output level are merged with it.
    mid = meta(b"e", b"h", 1000, run=2)
    over = view({0: [meta(b"b", b"b"), meta(b"d", b"f")], base: [mid], 4: deep})
    job = LeveledPolicy().pick(over)
    assert job.output_level == base and not job.trivial_move
    assert numbers(job, base) == {mid.number}
    # Tombstone-dense L0 files are merged even when they could move: a move keeps them.
    o = opts(tombstone_density_trigger=0.5, l0_trigger=8)
    dense = view({0: [meta(b"d", b"f", deletions=60), meta(b"g", b"k")], 4: deep}, o)
    job = LeveledPolicy().pick(dense)
    assert job.reason == "tombstone_density" and not job.trivial_move


def test_sequential_load_moves_flushed_files_and_reads_back(tmp_path):
    db = lsmdb.open(tmp_path / "db", small_options(), inline_background=True)
    value = bytes(range(100))
    n = 3000
    for i in range(n):
        db.put(b"%08d" % i, value)
    db.flush()
    stats = db.stats()
    # Every flushed file lands beside the others: moved down, never merged.
    assert stats.flushes >= 10 and stats.trivial_moves >= 1 and stats.compactions == 0
    assert [k for k, _ in db.items()] == [b"%08d" % i for i in range(n)]
    assert all(v == value for _, v in db.items())
    db.close()
    db = lsmdb.open(tmp_path / "db", small_options())
    assert db.get(b"%08d" % 0) == value and db.get(b"%08d" % (n - 1)) == value
    assert sum(1 for _ in db.items()) == n
    db.close()


def test_leveled_merges_a_level_holding_several_runs_first():
    v = view({4: [meta(b"a", b"f", run=1), meta(b"g", b"k", run=1), meta(b"b", b"h", run=3)]})
    job = LeveledPolicy().pick(v)
    assert job.reason == "merge_runs" and job.output_level == 4
    assert numbers(job, 4) == {f.number for f in v.files(4)}
    assert job.output_run == 3


def test_leveled_drains_data_above_the_base_level():
    # A small last level makes the base level deep; data left in L1 must move down.
    v = view({1: [meta(b"a", b"c", 500)], 4: [meta(b"a", b"z", 10_000)]})
    base, targets = level_targets(v)
    assert base == 3 and targets[1] == targets[2] == 0.0
    job = LeveledPolicy().pick(v)
    assert job.output_level == 2 and job.trivial_move
    # L0 never jumps over a level that still holds data.
    v2 = view({0: [meta(b"a", b"b"), meta(b"a", b"b")], 2: [meta(b"a", b"c", 10)],
               4: [meta(b"a", b"z", 10_000)]})
    assert l0_output_level(v2, 3) == 2
    assert l0_output_level(view({4: [meta(b"a", b"z", 10_000)]}), 3) == 3


def test_file_pick_policies_choose_their_file():
    files = [meta(b"a", b"c", 3000, seq=50), meta(b"d", b"f", 3000, seq=5, deletions=10),
             meta(b"g", b"i", 3000, seq=30, deletions=80)]
    below = [meta(b"a", b"c", 9000), meta(b"g", b"i", 1)]
    levels = {1: files, 2: below, 4: [meta(b"a", b"z", 10_000)]}
    picked = {}
    for how in ("min_overlap", "oldest", "tombstone_density", "round_robin"):
        o = opts(file_pick=how, dynamic_level_bytes=False, base_level_bytes=1024)
        job = LeveledPolicy().pick(view(levels, o))
        assert job is not None and job.output_level == 2
        picked[how] = numbers(job, 1)
    assert picked["min_overlap"] == {files[1].number}  # overlaps nothing below
    assert picked["oldest"] == {files[1].number}
    assert picked["tombstone_density"] == {files[2].number}
    assert picked["round_robin"] == {files[0].number}


def test_round_robin_follows_and_wraps_the_compact_pointer():
    files = [meta(b"a", b"c"), meta(b"d", b"f"), meta(b"g", b"i")]
    o = opts(file_pick="round_robin", dynamic_level_bytes=False, base_level_bytes=1024)
    v = version({1: files, 4: [meta(b"a", b"z", 10_000)]})
    seen = []
    for _ in range(4):
        job = LeveledPolicy().pick(VersionView(v, o))
        assert job.compact_pointer == (1, max(f.largest for f in job.inputs[0][1]))
        seen.append(job.inputs[0][1][0].smallest_user_key)
        v.compact_pointers[1] = job.compact_pointer[1]
    assert seen == [b"a", b"d", b"g", b"a"]


def test_tombstone_trigger_pushes_down_then_rewrites_bottom_unless_a_snapshot_sees_it():
    o = opts(tombstone_density_trigger=0.5)
    dense_mid = meta(b"a", b"c", 100, deletions=60)
    v = view({3: [dense_mid], 4: [meta(b"a", b"z", 100_000)]}, o)
    job = LeveledPolicy().pick(v)
    assert job.reason == "tombstone_density" and job.output_level == 4
    assert not job.trivial_move
    dense_bottom = meta(b"a", b"c", 100, seq=40, deletions=60)
    levels = {4: [dense_bottom, meta(b"d", b"z", 100_000)]}
    job = LeveledPolicy().pick(view(levels, o))
    assert job.output_level == 4 and numbers(job, 4) == {dense_bottom.number}
    assert LeveledPolicy().pick(view(levels, o, smallest_snapshot=30)) is None
    assert LeveledPolicy().pick(view(levels, o, smallest_snapshot=41)) is not None
    assert LeveledPolicy().pick(view(levels, opts())) is None  # trigger off


def test_busy_files_are_not_picked():
    l0 = [meta(b"a", b"b"), meta(b"a", b"b")]
    v = view({0: l0}, busy=frozenset({l0[0].number}))
    assert LeveledPolicy().pick(v) is None


def test_dynamic_level_targets_never_go_below_base_level_bytes():
    # Last level 60,000 B, T = 4: L3 15,000, L2 3,750. L2 is the base level (its target is
    # the first at or under base_level_bytes = 4,096), but its target is raised to 4,096:
    # RocksDB's CalculateBaseBytes floor, which keeps the base level from being smaller
    # than one L0 compaction's worth of data.
    v = view({4: [meta(b"a", b"z", 60_000)]})
    base, targets = level_targets(v)
    assert base == 2
    assert targets[2] == 4096 and targets[3] == 15_000 and targets[4] == 60_000


def _push_tree(busy=(), overlap_bytes=1000):
    """L1 (static targets, over its 1 KiB target; L2 within its 100 KiB): a cheap file [a, b] whose one L2 file
    [a, h] also spans the L1 files [c, d] and [e, f]; [g, k] reaches past it into L2's
    [i, m]. min_overlap picks [a, b] (least L2 bytes per byte)."""
    l1 = [meta(b"a", b"b", 900), meta(b"c", b"d", 300), meta(b"e", b"f", 300),
          meta(b"g", b"k", 300)]
    l2 = [meta(b"a", b"h", overlap_bytes), meta(b"i", b"m", 5000)]
    o = opts(dynamic_level_bytes=False, base_level_bytes=1024, size_ratio=100)
    busy_numbers = frozenset(l1[i].number for i in busy)
    return l1, l2, view({1: l1, 2: l2, 4: [meta(b"a", b"z", 100_000)]}, o, busy=busy_numbers)


def test_push_down_takes_the_neighbours_that_add_no_next_level_file():
    l1, l2, v = _push_tree()
    job = LeveledPolicy().pick(v)
    assert job.output_level == 2 and not job.trivial_move
    # [c, d] and [e, f] lie inside L2's [a, h]: merging them now rewrites [a, h] once
    # instead of three times. [g, k] would pull L2's [i, m] in as well, so it stays.
    assert numbers(job, 1) == {l1[0].number, l1[1].number, l1[2].number}
    assert numbers(job, 2) == {l2[0].number}


def test_push_down_expansion_skips_busy_neighbours_and_respects_the_byte_limit():
    l1, l2, v = _push_tree(busy=(2,))
    job = LeveledPolicy().pick(v)
    # [e, f] is busy: the whole-overlap set is refused; the clean run around the pick
    # stops at the busy file, so only [c, d] joins.
    assert numbers(job, 1) == {l1[0].number, l1[1].number}
    # Inputs plus their overlap must stay below 25 target files (RocksDB's
    # max_compaction_bytes): 25 x 2048 B here, which a 50 KB L2 file alone nearly fills.
    l1, _, v = _push_tree(overlap_bytes=50_000)
    job = LeveledPolicy().pick(v)
    assert numbers(job, 1) == {l1[0].number}


# -- run caps and the fluid family -------------------------------------------------------------


def test_run_caps_per_style_and_vector():
    o = opts(size_ratio=5, size_ratio_per_level=(3, 6, 8, 10))
    assert run_caps(o, 5, "tiered") == [0, 2, 5, 7, 9]
    assert run_caps(o, 5, "lazy_leveling") == [0, 2, 5, 7, 1]
    assert run_caps(o, 5, "fluid") == [0, 2, 5, 7, 1]
    assert run_caps(opts(style="fluid", runs_per_level=(4, 2)), 5, "fluid") == [0, 4, 4, 4, 2]
    assert run_caps(opts(style="fluid", runs_per_level=(3,)), 5, "fluid") == [0, 3, 3, 3, 3]
    assert run_caps(opts(style="fluid", runs_per_level=(5, 4, 3, 2)), 5, "fluid") == [
        0, 5, 4, 3, 2]
    assert FluidPolicy(runs_per_level=[2, 2]).caps(view({}, o)) == [0, 2, 2, 2, 2]
    with pytest.raises(lsmdb.InvalidArgumentError):
        FluidPolicy(runs_per_level=[0])


def test_per_level_size_ratio_shapes_targets():
    o = opts(dynamic_level_bytes=False, base_level_bytes=1024, size_ratio_per_level=(2, 3, 7))
    _, targets = level_targets(view({}, o))
    assert targets[1:] == [1024.0, 3072.0, 21504.0, 86016.0]  # entry 1: L2/L1, 2: L3/L2


def test_fluid_push_makes_a_new_run_until_the_cap_then_merges_into_the_newest():
    o = opts(style="fluid", runs_per_level=(2, 1), dynamic_level_bytes=False,
             base_level_bytes=1 << 20)
    l0 = [meta(b"a", b"c"), meta(b"b", b"d")]
    job = FluidPolicy().pick(view({0: l0}, o))
    assert job.output_level == 1 and job.output_run == 0 and not job.trivial_move
    run0 = [meta(b"a", b"k", run=0)]
    job = FluidPolicy().pick(view({0: l0, 1: run0}, o))
    assert job.output_run == 1 and numbers(job, 1) == set()  # second run at L1
    runs = [meta(b"a", b"c", run=0), meta(b"x", b"z", run=1), meta(b"b", b"d", run=1)]
    job = FluidPolicy().pick(view({0: l0, 1: runs}, o))
    # At the cap: merges into the overlapping files of the newest run (id 1), keeps run 0.
    assert job.output_run == 1 and numbers(job, 1) == {runs[2].number}


def test_fluid_over_full_level_moves_whole_level_and_single_run_is_a_move():
    o = opts(style="fluid", runs_per_level=(3, 3), dynamic_level_bytes=False,
             base_level_bytes=1024)
    lvl1 = [meta(b"a", b"c", 800, run=0), meta(b"d", b"f", 800, run=0)]
    v = view({1: lvl1, 2: [meta(b"a", b"z", 10, run=4)]}, o)
    job = FluidPolicy().pick(v)
    assert job.output_level == 2 and job.trivial_move and job.output_run == next_run_id(v, 2)
    assert job.output_run == 5


def test_last_level_over_z_merges_in_place_and_lazy_leveling_merges_arrivals():
    o = opts(style="lazy_leveling", dynamic_level_bytes=False, base_level_bytes=1024)
    last = [meta(b"a", b"m", 10, run=1), meta(b"b", b"n", 10, run=2)]
    job = LazyLevelingPolicy().pick(view({4: last}, o))
    assert job.output_level == 4 and job.reason == "run_count"
    assert numbers(job, 4) == {f.number for f in last}
    lvl3 = [meta(b"a", b"c", 20_000, run=0), meta(b"b", b"d", 20_000, run=1)]
    job = LazyLevelingPolicy().pick(view({3: lvl3, 4: [meta(b"c", b"z", 50, run=3)]}, o))
    assert job.output_level == 4 and job.output_run == 3
    assert numbers(job, 4) == {f.number for f in view({4: []}, o).files(4)} | {
        f.number for f in job.inputs[1][1]}


def test_tiered_space_amp_trigger_merges_everything_into_the_deepest_level():
    o = opts(style="tiered", max_space_amp=1.5, base_level_bytes=1 << 20)
    levels = {0: [meta(b"a", b"b", 10)], 4: [meta(b"a", b"z", 1000, run=0),
                                             meta(b"a", b"z", 900, run=1)]}
    job = TieredPolicy().pick(view(levels, o))
    assert job.reason == "space_amp" and job.output_level == 4
    assert len(job.input_files()) == 3
    # Lazy leveling has no such trigger.
    assert LazyLevelingPolicy().pick(view(levels, o)).reason == "run_count"


def test_fluid_jobs_wait_for_busy_levels():
    o = opts(style="tiered", dynamic_level_bytes=False, base_level_bytes=1024)
    lvl1 = [meta(b"a", b"c", 2000)]
    lvl2 = [meta(b"a", b"c", 5, run=0)]
    v = view({1: lvl1, 2: lvl2}, o, busy=frozenset({lvl2[0].number}))
    assert TieredPolicy().pick(v) is None


# -- fifo ------------------------------------------------------------------------------------


def test_fifo_drops_expired_then_oldest_over_budget():
    o = Options(ttl_seconds=60.0, compaction=Compaction(style="fifo", max_levels=1,
                                                        base_level_bytes=2500))
    old = meta(b"a", b"z", 1000, seq=1, created=1000)
    mid = meta(b"a", b"z", 1000, seq=2, created=1100)
    new = meta(b"a", b"z", 1000, seq=3, created=1150)
    v = Version(1)
    v.levels[0] = [old, mid, new]
    v.finalize()
    job = FIFOPolicy().pick(VersionView(v, o, now=1070.0))
    assert job.delete_only and job.reason == "fifo_ttl" and numbers(job, 0) == {old.number}
    job = FIFOPolicy().pick(VersionView(v, o, now=1065.0 - 70))
    assert job.reason == "fifo_size" and numbers(job, 0) == {old.number}
    small = o.replace(compaction=o.compaction.replace(base_level_bytes=1500))
    job = FIFOPolicy().pick(VersionView(v, small, now=0.0))
    assert numbers(job, 0) == {old.number, mid.number}
    big = o.replace(compaction=o.compaction.replace(base_level_bytes=1 << 20))
    assert FIFOPolicy().pick(VersionView(v, big, now=0.0)) is None


# -- manual compaction -----------------------------------------------------------------------


def test_manual_jobs_merge_multi_run_levels_whole_into_the_last_level():
    lvl2 = [meta(b"a", b"c", run=0), meta(b"x", b"z", run=1)]
    lvl3 = [meta(b"a", b"m", run=2), meta(b"n", b"z", run=5)]
    jobs = manual_jobs(view({2: lvl2, 3: lvl3}), b"a", b"b")
    assert all(j.output_level == 4 and not j.trivial_move for j in jobs)
    assert {n for j in jobs for n in numbers(j, 2)} == {f.number for f in lvl2}
    assert {n for j in jobs for n in numbers(j, 3)} == {f.number for f in lvl3}
    # A range no file meets; the last level's single run: nothing to do.
    assert manual_jobs(view({2: lvl2}), b"d", b"e") == []
    assert manual_jobs(view({4: [lvl3[0]]}), None, None) == []
    # The last level's several runs merge in place into its newest run.
    last = lvl3 + [meta(b"c", b"d", run=1)]
    jobs = manual_jobs(view({4: last}), None, None)
    assert all(j.output_level == 4 and j.output_run == 5 for j in jobs)
    assert {n for j in jobs for n in numbers(j, 4)} == {f.number for f in last}
    # One level only (FIFO): nowhere to go.
    assert manual_jobs(VersionView(version({0: [meta(b"a", b"b")]}, n=1), opts()),
                       None, None) == []


def test_manual_jobs_move_files_that_overlap_nothing_and_merge_the_rest_once():
    l0 = [meta(b"c", b"e", seq=30)]
    l1 = [meta(b"a", b"b", seq=20), meta(b"d", b"f", seq=20)]
    l2 = [meta(b"p", b"q", seq=10, run=3)]
    l4 = [meta(b"e", b"g", seq=5, run=7), meta(b"x", b"y", seq=5, run=7)]
    jobs = manual_jobs(view({0: l0, 1: l1, 2: l2, 4: l4}), None, None)
    moves = [j for j in jobs if j.trivial_move]
    merges = [j for j in jobs if not j.trivial_move]
    assert all(j.output_level == 4 and j.output_run == 7 for j in jobs)
    assert {f.number for j in moves for f in j.input_files()} == {l1[0].number, l2[0].number}
    [merge] = merges  # one pass: everything that overlaps is merged once, into the last level
    assert {f.number for f in merge.input_files()} == {l0[0].number, l1[1].number,
                                                      l4[0].number}
    assert jobs[-1] is merge


def test_manual_jobs_merge_each_group_of_overlapping_files_apart():
    # Two clusters around a file that overlaps nothing: one merge spanning both could write
    # an output file reaching over the moved file (two files of one run overlapping).
    l1 = [meta(b"a", b"c", seq=20), meta(b"m", b"n", seq=20), meta(b"x", b"z", seq=20)]
    l4 = [meta(b"b", b"d", seq=5), meta(b"w", b"y", seq=5)]
    jobs = manual_jobs(view({1: l1, 4: l4}), None, None)
    [move] = [j for j in jobs if j.trivial_move]
    assert [f.number for f in move.input_files()] == [l1[1].number]
    spans = sorted(key_range(j.input_files()) for j in jobs if not j.trivial_move)
    assert spans == [(b"a", b"d"), (b"w", b"z")]


def test_manual_jobs_grow_the_range_with_each_level():
    # L1's file reaches past the range to "m": L3's file at "k" is older data for keys L1
    # sends to the last level, so it must go too (else older data would sit above newer).
    l1 = [meta(b"a", b"m", seq=20)]
    l2 = [meta(b"t", b"u", seq=15)]
    l3 = [meta(b"k", b"l", seq=10)]
    jobs = manual_jobs(view({1: l1, 2: l2, 3: l3}), b"a", b"b")
    taken = {f.number for j in jobs for f in j.input_files()}
    assert l3[0].number in taken and l2[0].number not in taken


# -- whole DBs -------------------------------------------------------------------------------

STYLES = [("leveled", {}), ("leveled", {"file_pick": "round_robin"}),
          ("leveled", {"file_pick": "oldest"}), ("leveled", {"file_pick": "tombstone_density"}),
          ("tiered", {}), ("lazy_leveling", {}), ("fluid", {"runs_per_level": (2, 2, 2, 1)}),
          ("fluid", {"runs_per_level": (3, 2)})]


def style_options(style: str, **extra) -> Options:
    o = small_options()
    return o.replace(compaction=o.compaction.replace(style=style, **extra))


def heavy_writes(db, n: int, seed: int = 7, keyspace: int = 3000,
                 model: dict[bytes, bytes] | None = None) -> dict[bytes, bytes]:
    """Random puts and deletes; returns ``model`` (or a new dict) updated to match."""
    rnd = random.Random(seed)
    model = {} if model is None else model
    for i in range(n):
        k = b"k%05d" % rnd.randrange(keyspace)
        if i % 11 == 0:
            db.delete(k)
            model.pop(k, None)
        else:
            v = rnd.randbytes(rnd.randrange(8, 64))
            db.put(k, v)
            model[k] = v
    return model


def check_reads(db, model) -> None:
    assert list(db.items()) == sorted(model.items())
    for k in list(model)[:200]:
        assert db.get(k) == model[k]


def check_shape(db, style: str, extra: dict) -> None:
    v = db._versions.current
    n = v.num_levels
    caps = run_caps(db.options, n, style)
    for level in range(1, n):
        runs = v.num_runs(level)
        if style == "leveled":
            assert runs <= 1, (level, runs)
        else:
            assert runs <= caps[level], (level, runs, caps)
    assert len(v.levels[0]) < db.options.compaction.l0_trigger


@pytest.mark.parametrize("style,extra", STYLES,
                         ids=[f"{s}-{'-'.join(map(str, e.values())) or 'default'}"
                              for s, e in STYLES])
def test_style_shape_after_heavy_writes(tmp_path, style, extra):
    db = lsmdb.open(tmp_path / "db", style_options(style, **extra), inline_background=True)
    model = heavy_writes(db, 6000)
    check_shape(db, style, extra)
    check_reads(db, model)
    s = db.stats()
    assert s.compactions > 0
    assert sum(ls.sorted_runs for ls in s.levels[1:]) >= 1
    db.close()
    db = lsmdb.open(tmp_path / "db", style_options(style, **extra), inline_background=True)
    check_reads(db, model)
    db.close()


def test_lazy_leveling_keeps_one_run_at_the_last_level_and_tiers_above(tmp_path):
    o = style_options("lazy_leveling")
    db = lsmdb.open(tmp_path / "db", o, inline_background=True)
    caps = run_caps(o, o.compaction.max_levels, "lazy_leveling")
    most_upper_runs = 0
    rnd = random.Random(7)
    for i in range(8000):
        db.put(b"k%05d" % rnd.randrange(20_000), rnd.randbytes(rnd.randrange(8, 64)))
        if i % 25 == 0:
            v = db._versions.current
            last = v.num_levels - 1
            assert v.num_runs(last) <= 1
            for lvl in range(1, last):
                assert v.num_runs(lvl) <= caps[lvl]
                most_upper_runs = max(most_upper_runs, v.num_runs(lvl))
    assert most_upper_runs > 1  # the upper levels really are tiered
    db.close()


def test_tiered_run_count_is_bounded_and_space_amp_trigger_fires(tmp_path):
    o = style_options("tiered", max_space_amp=1.5)
    db = lsmdb.open(tmp_path / "db", o, inline_background=True)
    heavy_writes(db, 8000)
    v = db._versions.current
    total_runs = sum(v.num_runs(lvl) for lvl in range(v.num_levels))
    caps = run_caps(o, v.num_levels, "tiered")
    assert total_runs <= o.compaction.l0_trigger + sum(caps)
    oldest = sum(f.size for f in v.runs(v.num_levels - 1)[-1])
    # The trigger is checked after every job, so the shape ends within the bound.
    assert (v.total_bytes() - oldest) / oldest <= 1.5 - 1.0 or total_runs < 2
    db.close()


def test_fifo_total_size_bounded_and_ttl_expires_files(tmp_path, monkeypatch):
    o = small_options().replace(
        compaction=small_options().compaction.replace(style="fifo", max_levels=1,
                                                      base_level_bytes=40 << 10))
    # The first tables are written by a clock two hours behind, so under a one-hour TTL they
    # are expired and a table written now is not, however slowly the test runs (it used to
    # sleep past a one-second TTL and compare creation times with the wall clock).
    hours_ago = types.SimpleNamespace(time=lambda: time.time() - 7200)
    monkeypatch.setattr(table_writer, "time", hours_ago)
    db = lsmdb.open(tmp_path / "db", o, inline_background=True)
    for i in range(6000):
        db.put(b"k%06d" % i, b"v" * 40)
        assert db._versions.current.total_bytes() <= (40 << 10)
    assert db.get(b"k005999") == b"v" * 40
    assert db.get(b"k000000") is None  # the oldest data is gone, by design
    db.close()
    db = lsmdb.open(tmp_path / "db", o, inline_background=True)  # tables of the WAL too
    old = {f.number for f in db._versions.current.levels[0]}
    assert old  # without a TTL nothing expires
    db.close()
    monkeypatch.setattr(table_writer, "time", time)
    db = lsmdb.open(tmp_path / "db", o.replace(ttl_seconds=3600.0), inline_background=True)
    db.put(b"fresh", b"x")
    db.flush()
    left = list(db._versions.current.levels[0])
    assert left and not old & {f.number for f in left}
    assert db.get(b"fresh") == b"x" and db.get(b"k005999") is None
    db.close()


def test_round_robin_pointer_persists_across_reopen(tmp_path):
    o = style_options("leveled", file_pick="round_robin")
    db = lsmdb.open(tmp_path / "db", o, inline_background=True)
    heavy_writes(db, 4000)
    pointers = dict(db._versions.current.compact_pointers)
    assert pointers
    db.close()
    db = lsmdb.open(tmp_path / "db", o, inline_background=True)
    assert db._versions.current.compact_pointers == pointers
    db.close()


@pytest.mark.parametrize("first,second", [("tiered", "leveled"), ("leveled", "tiered"),
                                          ("lazy_leveling", "leveled"), ("fluid", "tiered")])
def test_style_change_at_open_converges(tmp_path, first, second):
    db = lsmdb.open(tmp_path / "db", style_options(first), inline_background=True)
    model = heavy_writes(db, 4000, seed=1)
    db.close()
    db = lsmdb.open(tmp_path / "db", style_options(second), inline_background=True)
    assert db._versions.current.style == second
    check_reads(db, model)
    heavy_writes(db, 1500, seed=2, keyspace=100, model=model)
    check_reads(db, model)
    check_shape(db, second, {})
    db.close()
    db = lsmdb.open(tmp_path / "db", style_options(second), inline_background=True)
    assert db._versions.current.style == second
    db.close()


def test_tombstone_density_trigger_drops_tombstones_unless_snapshot(tmp_path):
    o = style_options("leveled", tombstone_density_trigger=0.3)
    db = lsmdb.open(tmp_path / "db", o, inline_background=True)
    for i in range(3000):
        db.put(b"k%05d" % i, b"v" * 30)
    db.compact_range()
    snap = db.snapshot()
    for i in range(0, 3000, 2):
        db.delete(b"k%05d" % i)
    db.flush()
    deletions = sum(f.deletions for _, f in db._versions.current.files())
    assert deletions > 0  # the snapshot keeps them
    assert snap.get(b"k00000") == b"v" * 30
    snap.close()
    db.put(b"z", b"1")
    db.flush()  # the next pick may now drop them
    v = db._versions.current
    assert sum(f.deletions for _, f in v.files()) == 0
    assert db.count() == 1501
    db.close()


def test_tombstone_trigger_in_tiered_styles(tmp_path):
    o = style_options("lazy_leveling", tombstone_density_trigger=0.3)
    db = lsmdb.open(tmp_path / "db", o, inline_background=True)
    for i in range(3000):
        db.put(b"k%05d" % i, b"v" * 30)
    for i in range(0, 3000, 2):
        db.delete(b"k%05d" % i)
    db.flush()
    db.put(b"z", b"1")
    db.flush()
    v = db._versions.current
    assert not [f for _, f in v.files()
                if (f.deletions + f.range_deletions) / max(1, f.entries) >= 0.3]
    assert sum(f.deletions for _, f in v.files()) == 0
    assert db.count() == 1501
    db.close()


def test_compact_range_under_every_style_leaves_one_run(tmp_path):
    for style in ("tiered", "lazy_leveling", "fluid"):
        db = lsmdb.open(tmp_path / style, style_options(style), inline_background=True)
        model = heavy_writes(db, 3000)
        db.compact_range()
        v = db._versions.current
        assert sum(v.num_runs(lvl) for lvl in range(v.num_levels)) == 1
        check_reads(db, model)
        db.close()


def test_monkey_bits_reach_the_files(tmp_path):
    o = small_options()
    o = o.replace(bloom=o.bloom.replace(allocation="monkey"))
    db = lsmdb.open(tmp_path / "db", o, inline_background=True)
    model = heavy_writes(db, 6000, keyspace=50_000)
    v = db._versions.current
    by_level: dict[int, set[float]] = {}
    for level, f in v.files():
        bits = db._tables.get(f).properties["bloom_bits_per_key"]
        by_level.setdefault(level, set()).add(round(bits, 6))
    levels = sorted(by_level)
    assert len(levels) >= 2
    # Deeper (larger) levels were written with fewer bits per key than shallower ones.
    assert max(by_level[levels[-1]]) < max(by_level[levels[0]])
    assert len({b for s in by_level.values() for b in s}) > 1
    check_reads(db, model)
    stats = db.stats()
    assert stats.levels[levels[-1]].bloom_bits_per_key < stats.levels[levels[0]].bloom_bits_per_key
    db.close()


# -- the example policy ----------------------------------------------------------------------


def load_example():
    path = Path(__file__).resolve().parents[2] / "examples" / "custom_policy.py"
    spec = importlib.util.spec_from_file_location("custom_policy_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_custom_policy_example_runs_a_correct_db(tmp_path):
    example = load_example()
    policy = example.DensestLevelFirst(threshold=0.2)
    o = small_options()
    o = o.replace(compaction=o.compaction.replace(policy=policy))
    db = lsmdb.open(tmp_path / "db", o, inline_background=True)
    model = heavy_writes(db, 3000)
    for k in sorted(model)[::3]:
        db.delete(k)
        del model[k]
    heavy_writes(db, 1500, seed=3, keyspace=500, model=model)
    check_reads(db, model)
    s = db.stats()
    assert s.compactions > 0
    db.close()
    reopened = lsmdb.open(tmp_path / "db", o, inline_background=True)
    check_reads(reopened, model)
    reopened.close()


def test_custom_policy_example_picks_the_densest_level():
    example = load_example()
    o = opts(dynamic_level_bytes=False, base_level_bytes=1 << 20)
    light = [meta(b"a", b"m", entries=100, deletions=10)]
    heavy = [meta(b"a", b"m", entries=100, deletions=70)]
    below = [meta(b"c", b"d", run=3), meta(b"x", b"z", run=3)]
    job = example.DensestLevelFirst(0.2).pick(view({1: light, 2: heavy, 3: below}, o))
    assert job.reason == "densest_level" and job.output_level == 3
    assert numbers(job, 3) == {below[0].number} and job.output_run == 3
    assert example.DensestLevelFirst(0.9).pick(view({1: light, 2: heavy}, o)) is None


# -- compact_range: one pass to the last level ----------------------------------------------

ONE_PASS_STYLES = ["leveled", "tiered", "lazy_leveling", "fluid"]


def _spread_tree(path, style: str, seed: int = 3):
    """A flushed DB with data in several levels (static level sizes keep the upper levels
    full), overwrites, point deletes and range deletes; and the model of its contents."""
    c = small_options().compaction.replace(style=style, dynamic_level_bytes=False,
                                           max_levels=6)
    db = lsmdb.open(path, small_options(compaction=c), inline_background=True)
    rng = random.Random(seed)
    model: dict[bytes, bytes] = {}
    for i in range(6000):
        key = b"k%05d" % rng.randrange(3000)
        if i % 50 == 49:
            lo = rng.randrange(2900)
            db.delete_range(b"k%05d" % lo, b"k%05d" % (lo + 40))
            for k in [k for k in model if b"k%05d" % lo <= k < b"k%05d" % (lo + 40)]:
                del model[k]
        elif i % 10 == 9:
            db.delete(key)
            model.pop(key, None)
        else:
            value = b"%d-" % i + b"v" * 60
            db.put(key, value)
            model[key] = value
    db.flush()
    return db, model


@pytest.mark.parametrize("style", ONE_PASS_STYLES)
def test_compact_range_writes_each_byte_once(tmp_path, style):
    db, model = _spread_tree(tmp_path / "db", style)
    levels = [lvl for lvl, files in enumerate(db._versions.current.levels) if files]
    assert len(levels) >= 2  # the data is spread: a per-level pass would rewrite it often
    before = db.stats().compaction_bytes_written
    db.compact_range()
    written = db.stats().compaction_bytes_written - before
    v = db._versions.current
    live = v.total_bytes()
    assert written <= 1.2 * live, (written, live)
    bottom = v.num_levels - 1
    assert all(not v.levels[lvl] for lvl in range(bottom)) and v.num_runs(bottom) == 1
    assert dict(db.items()) == model
    db.close()
    with lsmdb.open(tmp_path / "db") as again:
        assert dict(again.items()) == model


@pytest.mark.parametrize("style", ONE_PASS_STYLES)
def test_compact_range_of_a_key_range_honours_deletes_and_older_data(tmp_path, style):
    db, model = _spread_tree(tmp_path / "db", style, seed=11)
    snap = db.snapshot()
    seen = dict(db.items())
    db.delete_range(b"k01000", b"k01200")
    db.delete(b"k02500")
    db.put(b"k00100", b"new")
    for k in [k for k in model if b"k01000" <= k < b"k01200"]:
        del model[k]
    model.pop(b"k02500", None)
    model[b"k00100"] = b"new"
    db.compact_range(b"k00900", b"k01300")
    assert dict(db.items()) == model
    assert dict(snap.items()) == seen  # older versions a snapshot sees survive
    snap.close()
    db.compact_range(b"k02400", None)
    db.compact_range(None, b"k00200")
    assert dict(db.items()) == model
    db.close()
    with lsmdb.open(tmp_path / "db") as again:
        assert dict(again.items()) == model
        again.compact_range()
        assert dict(again.items()) == model
        v = again._versions.current
        assert v.num_runs(v.num_levels - 1) == 1
