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

The *shape* is a list of (entries, runs) per level. The DB recomputes the allocation from
the current Version when a flush or compaction starts, counting the job's output where it
will land (``output_bits_per_key``); files keep the bits they were built with.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

LN2_SQUARED = math.log(2.0) ** 2
MAX_BITS_PER_KEY = 64.0  # the option's own bound; past it a filter is already ~exact

Shape = Sequence[tuple[int, int]]  # per level: (entries, sorted runs)


def false_positive_rate(bits_per_key: float) -> float:
    """p(b) = exp(-b * ln(2)^2), the optimal-probe bloom filter FPR (1.0 for no filter)."""
    if bits_per_key <= 0:
        return 1.0
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


def monkey_allocation(shape: Shape, memory_bits: float) -> list[float]:
    """Bits per key per level minimizing sum_i r_i * p_i subject to sum_i N_i * b_i = M.

    Levels with no entries get 0. Bits are capped at 64 per key (the memory then sums to
    less than ``memory_bits``, only when the budget would push every FPR below ~1e-13).
    """
    n = len(shape)
    bits = [0.0] * n
    if memory_bits <= 0:
        return bits
    active = [i for i, (entries, runs) in enumerate(shape) if entries > 0]
    run_size = {i: shape[i][0] / max(1, shape[i][1]) for i in active}
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


def allocate(options, shape: Shape) -> list[float]:
    """Bits per key per level for ``shape`` under ``options.bloom``."""
    bloom = options.bloom
    if bloom.allocation == "monkey":
        return monkey_allocation(shape, memory_bits_for(bloom, shape))
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


def output_bits_per_key(options, version, level: int, entries: int, *,
                        removed: Iterable[tuple[int, Iterable]] = (),
                        new_run: bool = True) -> float:
    """Bits per key for a file written to ``level`` by a job that consumes ``removed`` and
    writes about ``entries`` entries there (a flush: level 0, nothing removed)."""
    bloom = options.bloom
    if bloom.allocation == "uniform" and bloom.memory_budget_bytes is None:
        return float(bloom.bits_for(level))
    removed = [(lvl, list(files)) for lvl, files in removed]
    shape = shape_of(version, removed=removed, added=(level, max(1, entries)),
                     added_runs=1 if new_run else 0)
    return allocate(options, shape)[level]
