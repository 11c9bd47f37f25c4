"""Bloom filter memory allocation: uniform and Monkey, against hand-computed closed forms."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lsmdb.lsm.bloom_alloc import (
    LN2_SQUARED,
    allocate,
    bits_for_fpr,
    false_positive_rate,
    lookup_probes,
    monkey_allocation,
    output_bits_per_key,
    shape_of,
    uniform_allocation,
)
from lsmdb.lsm.version import Version
from lsmdb.lsm.version_edit import FileMetaData
from lsmdb.options import Bloom, Options


def memory(shape, bits):
    return sum(entries * b for (entries, _), b in zip(shape, bits, strict=True))


def zero_result(shape, bits):
    return sum(runs * false_positive_rate(b) for (entries, runs), b in zip(shape, bits, strict=True)
               if entries)


def test_fpr_formula_and_inverse():
    assert false_positive_rate(10) == pytest.approx(0.00819, abs=1e-5)  # RESEARCH.md §3.1
    assert false_positive_rate(0) == 1.0
    assert bits_for_fpr(false_positive_rate(7.5)) == pytest.approx(7.5)
    assert bits_for_fpr(1.0) == 0.0


def test_uniform_gives_the_same_bits_everywhere():
    shape = [(0, 0), (1000, 1), (10_000, 1), (100_000, 1)]
    assert uniform_allocation(shape, 10 * 111_000) == [0.0, 10.0, 10.0, 10.0]
    o = Options(bloom=Bloom(bits_per_key=7))
    assert allocate(o, shape) == [7.0] * 4
    budget = Options(bloom=Bloom(memory_budget_bytes=111_000))  # 8 bits per key
    assert allocate(budget, shape)[1:] == [8.0, 8.0, 8.0]


def test_monkey_matches_the_closed_form_for_leveling():
    # T = 10, three levels, 10 bits/key on average: b_i = b_L + (L - i) ln T / ln^2 2 with
    # b_L fixed by the memory: (1,110,000 - 10,000 * 4.7925 - 1,000 * 9.5851) / 111,000.
    shape = [(1000, 1), (10_000, 1), (100_000, 1)]
    bits = monkey_allocation(shape, 10 * 111_000)
    step = math.log(10) / LN2_SQUARED
    assert step == pytest.approx(4.79253, abs=1e-5)
    assert bits[2] == pytest.approx(9.481889, abs=1e-5)
    assert bits[1] == pytest.approx(bits[2] + step)
    assert bits[0] == pytest.approx(bits[2] + 2 * step)
    assert memory(shape, bits) == pytest.approx(1_110_000)
    # Each shallower level's FPR is T times smaller.
    assert false_positive_rate(bits[1]) / false_positive_rate(bits[2]) == pytest.approx(0.1)


@pytest.mark.parametrize("ratio", [4, 10])
def test_monkey_sum_of_fprs_tends_to_the_paper_formula(ratio):
    # R_monkey -> e^{-h ln^2 2} T^{T/(T-1)} / (T-1) for leveling, independent of L.
    h = 10.0
    expected = math.exp(-h * LN2_SQUARED) * ratio ** (ratio / (ratio - 1)) / (ratio - 1)
    shape = [(ratio ** i, 1) for i in range(1, 10)]
    total = sum(e for e, _ in shape)
    r = zero_result(shape, monkey_allocation(shape, h * total))
    assert r == pytest.approx(expected, rel=1e-4)
    assert r < 9 * false_positive_rate(h)  # uniform: L * p


def test_monkey_drops_filters_whose_optimal_fpr_reaches_one():
    # With 10 bits for 1010 keys, the 1000-key level's optimal FPR is >= 1: all 10 bits go
    # to the 10-key level (1 bit per key).
    bits = monkey_allocation([(10, 1), (1000, 1)], 10)
    assert bits == [pytest.approx(1.0), 0.0]
    assert monkey_allocation([(10, 1)], 0) == [0.0]


def test_monkey_counts_runs_per_level():
    # Tiering: a level of 4 runs of 250 keys has the same run size as a level of 250 keys.
    a = monkey_allocation([(250, 1), (1000, 4)], 8 * 1250)
    assert a[0] == pytest.approx(a[1])
    b = monkey_allocation([(250, 1), (1000, 1)], 8 * 1250)
    assert b[0] > b[1]


shapes = st.lists(st.tuples(st.integers(1, 10**6), st.integers(1, 8)), min_size=1, max_size=7)


@settings(max_examples=150, deadline=None)
@given(shape=shapes, avg_bits=st.floats(0.5, 20))
def test_monkey_properties(shape, avg_bits):
    total = sum(e for e, _ in shape)
    bits = monkey_allocation(shape, avg_bits * total)
    assert all(0.0 <= b <= 64.0 for b in bits)
    if max(bits) < 64.0:
        assert memory(shape, bits) == pytest.approx(avg_bits * total, rel=1e-9)
    # Larger runs never get more bits per key.
    sizes = [e / r for e, r in shape]
    for i in range(len(shape)):
        for j in range(len(shape)):
            if sizes[i] < sizes[j]:
                assert bits[i] >= bits[j] - 1e-9
    # Monkey never does worse than uniform with the same memory.
    assert zero_result(shape, bits) <= zero_result(
        shape, uniform_allocation(shape, avg_bits * total)) + 1e-12


def file(number, level_entries, run=0):
    return FileMetaData(number=number, size=100, smallest=b"a" + bytes(8),
                        largest=b"z" + bytes(8), entries=level_entries, run=run)


def test_shape_of_and_output_bits_for_a_job():
    v = Version(4)
    v.levels[0] = [file(1, 100), file(2, 100)]
    v.levels[3] = [file(3, 5000, run=1), file(4, 5000, run=2)]
    v.finalize()
    assert shape_of(v) == [(200, 2), (0, 0), (0, 0), (10_000, 2)]
    assert shape_of(v, removed=[(0, v.levels[0])], added=(3, 200), added_runs=1) == [
        (0, 0), (0, 0), (0, 0), (10_200, 3)]
    monkey = Options(bloom=Bloom(allocation="monkey"))
    flush = output_bits_per_key(monkey, v, 0, 100)
    deep = output_bits_per_key(monkey, v, 3, 200, removed=[(0, v.levels[0])])
    assert flush > 10.0  # a small L0 run among large ones gets more than the average
    assert deep == pytest.approx(10.0)  # everything in one level: the average itself
    assert output_bits_per_key(Options(), v, 3, 200) == 10.0  # uniform: the option itself
    assert output_bits_per_key(monkey, Version(2), 0, 50) == pytest.approx(10.0)


def test_monkey_with_probes_equal_to_runs_is_classic_monkey():
    shape = [(100, 2), (1000, 1), (10_000, 1)]
    assert monkey_allocation(shape, 8 * 11_100, [2.0, 1.0, 1.0]) == pytest.approx(
        monkey_allocation(shape, 8 * 11_100))


def test_monkey_weights_levels_by_the_lookups_that_reach_them():
    shape = [(1000, 1), (4000, 1), (16_000, 1)]
    mem = 5 * 21_000
    reach = [0.3, 0.5, 1.0]  # the upper levels cover part of the key space
    classic = monkey_allocation(shape, mem)
    weighted = monkey_allocation(shape, mem, reach)
    assert memory(shape, weighted) == pytest.approx(mem)
    # Rarely probed levels give up bits to the level every lookup reaches...
    assert weighted[0] < classic[0] and weighted[2] > classic[2]

    def cost(bits):
        return sum(q * false_positive_rate(b) for q, b in zip(reach, bits, strict=True))

    # ...which is the optimum of the reach-weighted cost, below classic Monkey and uniform.
    assert cost(weighted) < cost(classic)
    assert cost(weighted) < cost(uniform_allocation(shape, mem))
    for i in range(3):  # optimality: no small transfer of bits between two levels helps
        for j in range(3):
            if i != j:
                moved = list(weighted)
                moved[i] += 0.01 * shape[j][0] / shape[i][0]
                moved[j] -= 0.01
                assert cost(moved) >= cost(weighted) - 1e-12
    # A level no lookup reaches gets no filter.
    assert monkey_allocation(shape, mem, [0.0, 0.5, 1.0])[0] == 0.0


def ranged(number, lo, hi, entries, run=0):
    return FileMetaData(number=number, size=100, smallest=b"k%04d" % lo + bytes(8),
                        largest=b"k%04d" % hi + bytes(8), entries=entries, run=run)


def test_lookup_probes_measure_the_key_space_each_run_covers():
    v = Version(4)
    # Last level: 10 files tiling k0000..k0999 (the key-distribution sample).
    v.levels[3] = [ranged(10 + i, 100 * i, 100 * i + 99, 1000) for i in range(10)]
    v.levels[2] = [ranged(1, 0, 199, 500), ranged(2, 600, 799, 500)]  # 2/5 of the keys
    v.levels[0] = [ranged(3, 0, 999, 100), ranged(4, 500, 999, 100)]  # all, and half
    v.finalize()
    probes = lookup_probes(v)
    assert probes == pytest.approx([1.5, 0.0, 0.4, 1.0])
    # A compaction of L2's first file into L3 removes it; its output lands in L3's run.
    after = lookup_probes(v, removed=[(2, [v.levels[2][0]])], added=(3, b"k0000", b"k0199"),
                          new_run=False)
    assert after == pytest.approx([1.5, 0.0, 0.2, 1.0])
    # A new run (tiered) adds its own coverage.
    assert lookup_probes(v, added=(2, b"k0000", b"k0999"))[2] == pytest.approx(1.4)
    # Fewer files than the sample needs: no estimate (callers use the run counts).
    small = Version(2)
    small.levels[1] = [ranged(1, 0, 999, 1000)]
    small.finalize()
    assert lookup_probes(small) is None


def test_output_bits_correct_the_drift_of_built_filters_toward_the_budget():
    v = Version(2)
    v.levels[1] = [ranged(10 + i, 100 * i, 100 * i + 99, 1000) for i in range(10)]
    v.finalize()
    monkey = Options(bloom=Bloom(bits_per_key=5, allocation="monkey"))
    optimal = output_bits_per_key(monkey, v, 0, 1000)
    for f in v.levels[1]:
        f.filter_bits_per_key = 4.0  # built below what they would get now
    corrected = output_bits_per_key(monkey, v, 0, 1000)
    assert corrected > optimal  # the new file makes up part of the shortfall
    assert corrected <= 2 * optimal
    for f in v.levels[1]:
        f.filter_bits_per_key = 60.0  # far above: the correction is bounded
    assert output_bits_per_key(monkey, v, 0, 1000) == pytest.approx(optimal / 2)
