"""Bloom filter memory across levels: uniform or Monkey (Dayan et al., SIGMOD 2017).

A bloom filter with b bits per key and the optimal number of probes has false-positive
rate p(b) = exp(-b * ln(2)^2). A zero-result point lookup probes one filter per sorted run,
so its expected I/O is R = sum over runs of p. Monkey minimizes R for a fixed filter memory
M = sum over levels of N_i * b_i (N_i entries at level i, r_i runs of N_i / r_i entries).
The Lagrange condition gives p_i proportional to the run size n_i = N_i / r_i:

    p_i = min(1, c * n_i)          b_i = ln(1 / p_i) / ln(2)^2
    ln c = -(M * ln(2)^2 + sum_{i in S} N_i * ln n_i) / sum_{i in S} N_i

where S is the set of levels that get a filter; a level whose optimal p_i reaches 1 gets no
filter (b_i = 0) and leaves S, and c is recomputed (water-filling). With size ratio T this
is b_i = b_L + (L - i) * ln T / ln(2)^2: each level up gets ~4.8 more bits per key at T=10.

**Reach.** Monkey's formula assumes a zero-result lookup probes every run's filter. A run
is only probed when the key falls inside one of its files' key ranges (the fence pointers
skip it otherwise), and in a leveled tree the small upper levels often cover a fraction of
the key space: measured, 31-64 % of zero-result lookups reached L4/L5 of a 1M-key tree.
The cost is then R = sum_i q_i p_i, with q_i the expected filter probes per lookup at level
i (q_i = r_i when every run covers every key), and the same Lagrange condition gives
p_i proportional to N_i / q_i: replace the run size n_i = N_i / r_i by N_i / q_i above. A
level no lookup reaches (q_i = 0) gets no filter. ``lookup_probes`` estimates q_i from the
Version: the share of the data's keys inside each run's files, with the keys of the
largest run (its files' first and last keys, weighted by entries) as the sample of the key
distribution (lookups are assumed to follow the data). With fewer than
``MIN_REFERENCE_FILES`` files in that run the sample is too coarse and q_i = r_i (classic
Monkey).

**Budget.** The DB recomputes the allocation from the current Version when a flush or
compaction starts, counting the job's output where it will land (``output_bits_per_key``);
files keep the bits they were built with, so as the tree grows the filters actually built
drift from the budget (measured: 4.4-5.8 bits/key against 5). Each job's output therefore
gets its level's optimal bits minus the drift per key: the memory the files that stay hold
beyond their optimal bits (``filter_bits_per_key`` of files this process wrote; files found
at open count as optimal), divided by all the tree's keys, kept within [1/2, 2] x optimal.
Each job corrects its share of the drift, and the total converges to the budget as the
files are rewritten.

The *shape* is a list of (entries, runs) per level.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence

from lsmdb._core.bloom import expected_fpr

LN2_SQUARED = math.log(2.0) ** 2
MAX_BITS_PER_KEY = 64.0  # the option's own bound; past it a filter is already ~exact

MIN_REFERENCE_FILES = 8  # files the key-distribution sample run needs (2 keys each)
CORRECTION_RANGE = (0.5, 2.0)  # budget correction: output bits within this x optimal

Shape = Sequence[tuple[int, int]]  # per level: (entries, sorted runs)


def false_positive_rate(bits_per_key: float, fmt: str = "standard") -> float:
    """p(b) = exp(-b * ln(2)^2), the optimal-probe bloom filter FPR (1.0 for no filter), for
    the standard layout; for the blocked layout (``Options.bloom.format="blocked"``) the rate
    its lines give (``_core.bloom.expected_fpr``: 0.96% at 10 bits/key against 0.82%).
    The allocations below optimize the standard formula in closed form (Monkey); the cost
    model's predictions use the layout's own rate."""
    if bits_per_key <= 0:
        return 1.0
    if fmt == "blocked":
        return expected_fpr(bits_per_key, "blocked")
    return math.exp(-bits_per_key * LN2_SQUARED)


def bits_for_fpr(fpr: float) -> float:
    """Inverse of :func:`false_positive_rate`: ln(1/p) / ln(2)^2 (0 for p >= 1)."""
    if fpr >= 1.0:
        return 0.0
    return math.log(1.0 / fpr) / LN2_SQUARED


def uniform_allocation(shape: Shape, memory_bits: float) -> list[float]:
    """The same bits per key everywhere: memory / total entries (capped at 64)."""
    total = sum(entries for entries, _ in shape)
    if total <= 0 or memory_bits <= 0:
        return [0.0] * len(shape)
    bits = min(MAX_BITS_PER_KEY, memory_bits / total)
    return [bits if entries > 0 else 0.0 for entries, _ in shape]


def monkey_allocation(shape: Shape, memory_bits: float,
                      probes: Sequence[float] | None = None) -> list[float]:
    """Bits per key per level minimizing sum_i q_i * p_i subject to sum_i N_i * b_i = M,
    where q_i = ``probes[i]`` (expected filter probes per zero-result lookup at level i;
    default r_i, the classic Monkey assumption that every lookup reaches every run).

    Levels with no entries, or that no lookup reaches (q_i = 0), get 0. Bits are capped at 64
    per key (the memory then sums to less than ``memory_bits``, only when the budget would
    push every FPR below ~1e-13).
    """
    n = len(shape)
    bits = [0.0] * n
    if memory_bits <= 0:
        return bits
    q = [float(max(1, runs)) for _, runs in shape] if probes is None else list(probes)
    active = [i for i, (entries, _) in enumerate(shape) if entries > 0 and q[i] > 0]
    # The optimal FPR of level i is proportional to N_i / q_i ("effective run size").
    run_size = {i: shape[i][0] / q[i] for i in active}
    while active:
        total = sum(shape[i][0] for i in active)
        ln_c = -(memory_bits * LN2_SQUARED
                 + sum(shape[i][0] * math.log(run_size[i]) for i in active)) / total
        # Largest runs first: they have the highest optimal FPR.
        worst = max(active, key=lambda i: run_size[i])
        if ln_c + math.log(run_size[worst]) >= 0.0:
            active.remove(worst)  # optimal p >= 1: no filter for this level
            continue
        for i in active:
            bits[i] = min(MAX_BITS_PER_KEY, -(ln_c + math.log(run_size[i])) / LN2_SQUARED)
        break
    return bits


def memory_bits_for(bloom, shape: Shape) -> float:
    """Total filter memory in bits: the explicit budget, or bits_per_key x entries."""
    if bloom.memory_budget_bytes is not None:
        return 8.0 * bloom.memory_budget_bytes
    return float(bloom.bits_per_key) * sum(entries for entries, _ in shape)


def allocate(options, shape: Shape, probes: Sequence[float] | None = None) -> list[float]:
    """Bits per key per level for ``shape`` under ``options.bloom`` (``probes``: see
    :func:`monkey_allocation`; only Monkey uses them)."""
    bloom = options.bloom
    if bloom.allocation == "monkey":
        return monkey_allocation(shape, memory_bits_for(bloom, shape), probes)
    if bloom.memory_budget_bytes is not None:
        return uniform_allocation(shape, memory_bits_for(bloom, shape))
    return [float(bloom.bits_for(level)) for level in range(len(shape))]


def shape_of(version, *, removed: Iterable[tuple[int, Iterable]] = (),
             added: tuple[int, int] | None = None, added_runs: int = 1) -> list[tuple[int, int]]:
    """(entries, runs) per level of ``version``, without the files in ``removed``
    ([(level, files)]) and with ``added`` = (level, entries) landing as ``added_runs`` new
    runs (0: joining an existing run)."""
    gone = {f.number for _, files in removed for f in files}
    shape = []
    for level in range(version.num_levels):
        files = [f for f in version.levels[level] if f.number not in gone]
        entries = sum(f.entries for f in files)
        runs = len(files) if level == 0 else len({f.run for f in files})
        shape.append((entries, runs))
    if added is not None:
        level, entries = added
        old_entries, old_runs = shape[level]
        shape[level] = (old_entries + entries, max(1, old_runs + added_runs))
    return shape


def _key_sample(runs: Sequence[Sequence]) -> list[tuple[bytes, float]] | None:
    """Sorted (user key, weight) pairs standing for the data's key distribution: the first
    and last key of every file of the largest run, each weighted by half its file's entries.
    None when that run has too few files to say anything finer than "everywhere"."""
    if not runs:
        return None
    ref = max(runs, key=lambda run: sum(f.entries for f in run))
    if len(ref) < MIN_REFERENCE_FILES:
        return None
    sample = []
    for f in ref:
        half = max(1, f.entries) / 2.0
        sample.append((f.smallest_user_key, half))
        sample.append((f.largest_user_key, half))
    sample.sort()
    return sample


def _coverage(intervals: Sequence[tuple[bytes, bytes]], sample, total: float) -> float:
    """Share of the sample's weight inside the union of ``intervals`` ([lo, hi] user keys)."""
    if not intervals:
        return 0.0
    spans = sorted(intervals)
    starts = [lo for lo, _ in spans]
    # Running maximum of the ends, so overlapping intervals (an L0 run beside a job's range)
    # are handled: key k is covered iff some interval starting at or before k ends at/after k.
    reach = []
    best = b""
    for _, hi in spans:
        best = max(best, hi)
        reach.append(best)
    inside = 0.0
    for key, weight in sample:
        i = bisect.bisect_right(starts, key) - 1
        if i >= 0 and reach[i] >= key:
            inside += weight
    return min(1.0, inside / total) if total > 0 else 1.0


def lookup_probes(version, *, removed: Iterable[tuple[int, Iterable]] = (),
                  added: tuple[int, bytes, bytes] | None = None,
                  new_run: bool = True) -> list[float] | None:
    """q_i per level: the expected number of level-i runs whose files' key ranges contain a
    zero-result lookup key drawn from the data's key distribution (see the module doc).

    ``removed`` files leave; ``added`` = (level, lo, hi) is a job's output key range, a new
    run there (``new_run``) or part of the level's existing run. None when the tree has too
    few files for the estimate (callers then use r_i)."""
    gone = {f.number for _, files in removed for f in files}
    runs_per_level = []
    for level in range(version.num_levels):
        runs = [[f for f in run if f.number not in gone] for run in version.runs(level)]
        runs_per_level.append([run for run in runs if run])
    sample = _key_sample([run for runs in runs_per_level for run in runs])
    if sample is None:
        return None
    total = sum(w for _, w in sample)
    spans_per_level = [[[(f.smallest_user_key, f.largest_user_key) for f in run] for run in runs]
                       for runs in runs_per_level]
    if added is not None:
        level, lo, hi = added
        if new_run or not spans_per_level[level]:
            spans_per_level[level].append([(lo, hi)])
        else:
            spans_per_level[level][0].append((lo, hi))
    return [sum(_coverage(spans, sample, total) for spans in runs)
            for runs in spans_per_level]


def output_bits_per_key(options, version, level: int, entries: int, *,
                        removed: Iterable[tuple[int, Iterable]] = (),
                        new_run: bool = True,
                        key_range: tuple[bytes, bytes] | None = None) -> float:
    """Bits per key for a file written to ``level`` by a job that consumes ``removed`` and
    writes about ``entries`` entries there (a flush: level 0, nothing removed) covering the
    user keys ``key_range`` (None: unknown, taken as the whole key space).

    Under Monkey or a memory budget this is the level's share of the optimal allocation,
    corrected so the filters actually built stay at the budget (module doc, "Budget")."""
    bloom = options.bloom
    if bloom.allocation == "uniform" and bloom.memory_budget_bytes is None:
        return float(bloom.bits_for(level))
    removed = [(lvl, list(files)) for lvl, files in removed]
    entries = max(1, entries)
    shape = shape_of(version, removed=removed, added=(level, entries),
                     added_runs=1 if new_run else 0)
    probes = None
    if bloom.allocation == "monkey":
        added = None if key_range is None else (level, key_range[0], key_range[1])
        probes = lookup_probes(version, removed=removed, added=added, new_run=new_run)
        if probes is not None and key_range is None:
            probes[level] += 1.0 if new_run else 0.0  # an unknown range covers everything
    target = allocate(options, shape, probes)
    optimal = target[level]
    if optimal <= 0.0:
        return 0.0
    # Memory the files that stay hold beyond (or short of) their optimal bits, spread over
    # every key: each job corrects its share of the drift, so the total converges to the
    # budget as files are rewritten without any one file straying from the optimal shape.
    gone = {f.number for _, files in removed for f in files}
    drift = 0.0
    for lvl, f in version.files():
        if f.number not in gone and f.filter_bits_per_key is not None:
            drift += f.entries * (f.filter_bits_per_key - target[lvl])
    corrected = optimal - drift / max(1, sum(n for n, _ in shape))
    lo, hi = CORRECTION_RANGE
    return max(optimal * lo, min(optimal * hi, MAX_BITS_PER_KEY, corrected))
