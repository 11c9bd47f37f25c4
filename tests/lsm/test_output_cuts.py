"""Where flush/compaction output files are cut: at the size target, and at grandparent
boundaries once half full (tablecopy.copy_entries through TableOutput)."""

from __future__ import annotations

import itertools
import os

import lsmdb
from lsmdb._core.ikey import PUT, make_internal_key
from lsmdb.env import default_env
from lsmdb.lsm import table_writer
from lsmdb.lsm.compactor import grandparent_boundaries
from lsmdb.lsm.table_writer import TableOutput
from lsmdb.options import Compression, Options
from lsmdb.testing.list_iterator import ListIterator
from lsmdb.testing.presets import small_options


def _write(tmp_path, boundaries, n=1000, target=8000):
    os.makedirs(tmp_path / "sst", exist_ok=True)
    numbers = itertools.count(1)
    opts = Options(compression=Compression(kind="none"), block_bytes=512)
    out = TableOutput(default_env(), str(tmp_path), opts, 2, lambda: next(numbers),
                      target_file_bytes=target, boundaries=boundaries)
    entries = [(make_internal_key(b"k%04d" % i, 5, PUT), b"v" * 20) for i in range(n)]
    src = ListIterator(entries)
    src.seek_to_first()
    out.copy_from(src)
    return out.finish()


def test_without_boundaries_files_are_cut_by_size_only(tmp_path):
    files = _write(tmp_path, None)
    assert len(files) > 3
    assert all(f.size >= 8000 for f in files[:-1])


def test_files_end_at_grandparent_boundaries_once_half_full(tmp_path):
    bounds = [b"k%04d" % i for i in (150, 230, 400, 610, 800)]
    files = _write(tmp_path, bounds)
    firsts = [f.smallest_user_key for f in files]
    # Every cut after the first file's start is a boundary or a full-size cut.
    for f, nxt in zip(files, firsts[1:], strict=False):
        assert nxt in bounds or f.size >= 8000, (f.size, nxt)
    assert set(bounds) & set(firsts[1:])  # some files were cut at a boundary
    assert all(f.size >= 800 for f in files[:-1])  # never below ALIGNED_CUT_MIN_FRACTION
    # Keys stay in order and every key is written exactly once.
    assert sum(f.entries for f in files) == 1000
    assert all(a.largest_user_key < b.smallest_user_key for a, b in zip(files, files[1:], strict=False))


def test_a_file_ends_at_the_first_boundary_past_the_minimum_fraction(tmp_path):
    # ~30 B per entry, 8,000 B target: k0100 comes after ~3,000 B, past 1/10 of the target
    # but short of half of it. The file ends there, spanning one grandparent file, instead
    # of growing over the next one too (so its own later compaction rewrites one file below).
    assert table_writer.ALIGNED_CUT_MIN_FRACTION <= 0.25
    files = _write(tmp_path, [b"k0100", b"k0400", b"k0700"])
    assert files[0].largest_user_key == b"k0099"
    assert files[1].smallest_user_key == b"k0100"


def test_compactions_get_the_next_levels_file_starts(tmp_path):
    o = small_options(compression=Compression(kind="none"))
    db = lsmdb.open(tmp_path / "db", o, inline_background=True)
    for i in range(6000):
        db.put(b"key%06d" % (i * 7919 % 6000), b"x" * 40)
    v = db._versions.current
    seen = 0
    from lsmdb.lsm.compaction import CompactionJob

    for level in range(1, v.num_levels - 1):
        if v.levels[level] and v.num_runs(level + 1) == 1 and len(v.levels[level + 1]) > 1:
            f = v.levels[level][0]
            job = CompactionJob(inputs=[(level, [f])], output_level=level + 1)
            got = grandparent_boundaries(v, job)
            below = v.levels[level + 2] if level + 2 < v.num_levels else []
            expect = [g.smallest_user_key for g in below
                      if g.largest_user_key >= f.smallest_user_key
                      and g.smallest_user_key <= f.largest_user_key][1:] or None
            assert got == expect
            seen += 1
    assert grandparent_boundaries(v, CompactionJob(inputs=[(0, v.levels[0] or [])],
                                                   output_level=0)) is None
    assert seen
    db.close()
