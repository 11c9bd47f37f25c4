"""Cost model: each formula against hand-computed values, then predict() on shapes and a DB."""

from __future__ import annotations

import math

import pytest

import lsmdb
from lsmdb._core.bloom import expected_fpr
from lsmdb.lsm.costmodel import (
    levels_formula,
    nonzero_result_io,
    predict,
    space_amp_formula,
    write_amp_formula,
    zero_result_io,
)
from lsmdb.lsm.version import Version
from lsmdb.lsm.version_edit import FileMetaData
from lsmdb.options import Bloom, Compaction, Options
from lsmdb.testing.presets import small_options

P10 = math.exp(-10 * math.log(2) ** 2)  # 0.0081905
P5 = math.exp(-5 * math.log(2) ** 2)  # 0.0905049
P10_BLOCKED = expected_fpr(10, "blocked")  # 0.009576: the default (blocked) filter layout


def test_write_amp_per_style():
    # Endure: (T - 1 + K) / (2K) per level, plus 1 for the flush. T = 10, L = 3.
    assert write_amp_formula([10, 10, 10], [1, 1, 1]) == pytest.approx(16.0)  # leveling
    assert write_amp_formula([10, 10, 10], [9, 9, 9]) == pytest.approx(4.0)  # tiering
    assert write_amp_formula([10, 10, 10], [9, 9, 1]) == pytest.approx(8.0)  # lazy leveling
    assert write_amp_formula([10, 10, 10], [3, 3, 2]) == pytest.approx(
        1 + 2 * 12 / 6 + 11 / 4)  # fluid K=3, Z=2
    assert write_amp_formula([], []) == 1.0


def test_space_amp_per_style():
    assert space_amp_formula([10, 10, 10], 1) == pytest.approx(1.11)  # leveling / lazy
    assert space_amp_formula([10, 10, 10], 9) == pytest.approx(9.11)  # tiering, Z = T - 1
    assert space_amp_formula([4, 4], 1) == pytest.approx(1.25)
    assert space_amp_formula([10], 1) == 1.0


def test_lookup_costs():
    shape = [(100, 1), (1000, 2)]
    bits = [10.0, 5.0]
    assert zero_result_io(shape, bits) == pytest.approx(P10 + 2 * P5)
    # 1 + N_1/N * (r_0 p_0 + (r_1 - 1)/2 p_1); the first level pays no false positive.
    assert nonzero_result_io(shape, bits) == pytest.approx(
        1 + 1000 / 1100 * (P10 + 0.5 * P5))
    assert zero_result_io([(0, 0), (10, 1)], [0.0, 0.0]) == 1.0  # no filter: one probe/run


def test_levels_formula():
    # ceil(ln(N E / M_buf + 1) / ln T): 1e6 entries of 100 B, 1 MB buffer, T = 10.
    assert levels_formula(10**6, 100, 10**6, 10) == 3
    assert levels_formula(0, 100, 10**6, 10) == 0


def meta(number, level_entries, run=0):
    return FileMetaData(number=number, size=level_entries * 50, smallest=b"a" + bytes(8),
                        largest=b"z" + bytes(8), entries=level_entries,
                        raw_bytes=level_entries * 50, run=run)


def shaped_version(levels):
    v = Version(4)
    for level, files in levels.items():
        v.levels[level] = files
    v.finalize()
    return v


def static(style="leveled", **kw):
    return Options(compaction=Compaction(style=style, size_ratio=10, dynamic_level_bytes=False,
                                         max_levels=4, **kw), **{})


def test_predict_leveled_shape_by_hand():
    v = shaped_version({1: [meta(1, 100)], 2: [meta(2, 1000)], 3: [meta(3, 10_000)]})
    p = predict(static(), v)
    b = 4096 / 50  # entries per page
    assert (p.levels, p.sorted_runs, p.entries) == (3, 3, 11_100)
    assert p.entries_per_page == pytest.approx(b)
    assert p.write_amp == pytest.approx(16.0)
    assert p.update_io_per_entry == pytest.approx(2 * 15 / b)
    assert p.space_amp == pytest.approx(1.11)
    assert p.zero_result_lookup_io == pytest.approx(3 * P10_BLOCKED)
    assert p.zero_result_lookup_io_uniform == pytest.approx(3 * P10_BLOCKED)
    assert p.zero_result_lookup_io_monkey < p.zero_result_lookup_io_uniform
    assert p.nonzero_result_lookup_io == pytest.approx(
        1 + (1000 * P10_BLOCKED + 10_000 * 2 * P10_BLOCKED) / 11_100)
    standard = predict(static().replace(bloom=Bloom(format="standard")), v)
    assert standard.zero_result_lookup_io == pytest.approx(3 * P10)
    assert standard.zero_result_lookup_io_uniform == pytest.approx(3 * P10)
    assert standard.nonzero_result_lookup_io == pytest.approx(
        1 + (1000 * P10 + 10_000 * 2 * P10) / 11_100)
    assert p.short_range_lookup_io == 3.0
    assert p.range_lookup_io(0.01) == pytest.approx(3 + 0.01 * 11_100 * 1.11 / b)
    assert p.to_dict()["run_caps"] == [1, 1, 1]


def test_predict_tiered_and_lazy_leveling_shapes():
    runs = {1: [meta(1, 100, run=0), meta(2, 100, run=1)],
            2: [meta(3, 1000, run=0), meta(4, 1000, run=1)], 3: [meta(5, 10_000)]}
    v = shaped_version(runs)
    tiered = predict(static("tiered", max_space_amp=3.0), v)
    assert tiered.run_caps == (9, 9, 9)
    assert tiered.write_amp == pytest.approx(4.0)
    assert tiered.space_amp == 3.0  # the space-amp trigger caps 9.11
    assert tiered.sorted_runs == 5
    assert tiered.zero_result_lookup_io == pytest.approx(5 * P10_BLOCKED)
    lazy = predict(static("lazy_leveling"), v)
    assert lazy.run_caps == (9, 9, 1)
    assert lazy.write_amp == pytest.approx(8.0) and lazy.space_amp == pytest.approx(1.11)
    monkey = predict(static("lazy_leveling").replace(bloom=Bloom(allocation="monkey")), v)
    assert monkey.zero_result_lookup_io == pytest.approx(monkey.zero_result_lookup_io_monkey)
    assert monkey.bloom_bits_per_key[1] > monkey.bloom_bits_per_key[3]


def test_predict_empty_and_fifo():
    p = predict(Options(), Version(7))
    assert (p.entries, p.levels, p.zero_result_lookup_io, p.sorted_runs) == (0, 0, 0.0, 0)
    fifo = Options(compaction=Compaction(style="fifo", max_levels=1))
    v = Version(1)
    v.levels[0] = [meta(1, 100), meta(2, 100)]
    v.finalize()
    f = predict(fifo, v)
    assert (f.write_amp, f.space_amp, f.sorted_runs) == (1.0, 1.0, 2)


def test_stats_predicted_beside_measured(tmp_path):
    db = lsmdb.open(tmp_path / "db", small_options(), inline_background=True)
    for i in range(3000):
        db.put(b"k%05d" % (i * 7 % 3000), b"v" * 30)
    s = db.stats()
    pred = s.predicted
    assert pred["style"] == "leveled" and pred["entries"] > 0
    assert pred["sorted_runs"] == sum(ls.sorted_runs for ls in s.levels)
    assert pred["write_amp"] > 1.0 and s.write_amp > 1.0
    assert pred["zero_result_lookup_io"] == pytest.approx(
        pred["sorted_runs"] * P10_BLOCKED, rel=1e-9)
    assert "predicted" in s.to_dict() and '"zero_result_lookup_io"' in s.to_json()
    db.close()
