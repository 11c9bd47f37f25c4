"""Cost model: the Monkey / Dostoevsky / Endure figures for the current shape and options.

``predict(options, version)`` returns a :class:`CostPrediction`; ``db.stats().predicted`` is
its ``to_dict()``, beside the measured figures. Every formula, with its source, is in
docs/compaction.md ("Cost model"). Notation: N entries, E bytes per entry, B = block_bytes / E
entries per page, L levels below L0 holding data (base level .. last level), T_i the size
ratio into level i, K_i the run cap of level i < L and Z the cap of the last level (leveled:
K = Z = 1), r_i the sorted runs level i holds now, p_i = exp(-b_i ln^2 2) its filters' FPR.

- zero-result point lookup I/O   R  = sum_i r_i p_i                          (Monkey)
                                 R_reach = sum_i q_i p_i, q_i the runs a lookup's key falls
                                 in (fence pointers skip the others; bloom_alloc.lookup_probes)
- non-zero-result lookup I/O     V  = 1 + sum_i N_i/N (sum_{j<i} r_j p_j + (r_i - 1)/2 p_i)
                                                                             (Endure Z1)
- update (write) amplification   W  = 1 + sum_{i=1..L} (T_i - 1 + K_i) / (2 K_i)
                                      (1 for the flush; Endure's per-level merge cost)
- update I/O per entry           W_io = (1 + phi) / B * sum_i (T_i - 1 + K_i) / (2 K_i), phi=1
- space amplification (worst)    S  = Z + sum_{i<L} 1 / prod_{j=i+1..L} T_j  (tiered: <= the
                                      max_space_amp trigger)
- short range lookup I/O         Q  = sum_i r_i (one seek per sorted run)
- long range lookup I/O          Q(s) = Q + s * N * S / B
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from lsmdb.lsm.bloom_alloc import (
    allocate,
    false_positive_rate,
    lookup_probes,
    memory_bits_for,
    monkey_allocation,
    shape_of,
    uniform_allocation,
)
from lsmdb.lsm.compaction import VersionView, level_targets
from lsmdb.lsm.policies.fluid import run_caps

PHI = 1.0  # write/read cost asymmetry (Endure's phi): a merge reads and writes each page


@dataclass(frozen=True)
class CostPrediction:
    """Predicted costs for one shape; I/O figures count pages (blocks) per operation."""

    style: str
    entries: int
    entry_bytes: float
    entries_per_page: float
    levels: int
    levels_formula: int
    size_ratio: float
    sorted_runs: int
    run_caps: tuple[int, ...]
    bloom_bits_per_key: tuple[float, ...]
    zero_result_lookup_io: float
    zero_result_lookup_io_uniform: float
    zero_result_lookup_io_monkey: float
    zero_result_lookup_io_reach: float
    filter_probes: tuple[float, ...]
    nonzero_result_lookup_io: float
    short_range_lookup_io: float
    long_range_lookup_io_per_entry: float
    write_amp: float
    update_io_per_entry: float
    space_amp: float

    def range_lookup_io(self, selectivity: float) -> float:
        """Q(s) = one seek per sorted run + s * N * S / B pages scanned."""
        return (self.short_range_lookup_io
                + selectivity * self.entries * self.long_range_lookup_io_per_entry)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["run_caps"] = list(self.run_caps)
        d["bloom_bits_per_key"] = list(self.bloom_bits_per_key)
        d["filter_probes"] = list(self.filter_probes)
        return d


def style_run_caps(options, num_levels: int) -> list[int]:
    """K_i per level (index = level, index 0 unused) for the configured style."""
    style = options.compaction.style
    if style in ("leveled", "fifo"):
        return [0] + [1] * (num_levels - 1)
    return run_caps(options, num_levels, style)


def tree_levels(options, version) -> list[int]:
    """The levels below L0 that the data occupies: base level .. last level."""
    n = version.num_levels
    if n < 2:
        return []
    if options.compaction.dynamic_level_bytes:
        base, _ = level_targets(VersionView(version, options))
        return list(range(base, n))
    deepest = max((lvl for lvl in range(1, n) if version.levels[lvl]), default=1)
    return list(range(1, deepest + 1))


def levels_formula(entries: int, entry_bytes: float, buffer_bytes: int, ratio: float) -> int:
    """L = ceil(ln(N * E / M_buf + 1) / ln T) (Endure's calc_level)."""
    if entries <= 0 or ratio <= 1:
        return 0
    return max(1, math.ceil(math.log(entries * entry_bytes / buffer_bytes + 1) / math.log(ratio)))


def write_amp_formula(ratios: list[float], caps: list[int]) -> float:
    """W = 1 + sum_i (T_i - 1 + K_i) / (2 K_i): the flush plus each level's merges."""
    return 1.0 + sum((t - 1 + k) / (2.0 * k) for t, k in zip(ratios, caps, strict=True))


def space_amp_formula(ratios: list[float], last_cap: int) -> float:
    """S = Z + sum_{i<L} 1 / prod_{j>i} T_j: worst case, every byte but one copy of the
    live data (the last level's oldest run) is obsolete."""
    s = float(last_cap)
    scale = 1.0
    for t in reversed(ratios[1:]):
        scale /= t
        s += scale
    return s


def zero_result_io(shape, bits: list[float], probes: list[float] | None = None,
                   fmt: str = "standard") -> float:
    """R = sum_i r_i * p_i, or sum_i q_i * p_i with ``probes`` = q (filter probes per lookup);
    p_i by the filter layout ``fmt`` (``bloom_alloc.false_positive_rate``)."""
    q = [runs for _, runs in shape] if probes is None else probes
    return sum(qi * false_positive_rate(b, fmt)
               for (entries, _), qi, b in zip(shape, q, bits, strict=True) if entries > 0)


def nonzero_result_io(shape, bits: list[float], fmt: str = "standard") -> float:
    """V = 1 + sum_i (N_i / N) * (sum_{j<i} r_j p_j + (r_i - 1) / 2 * p_i)."""
    total = sum(entries for entries, _ in shape)
    if total <= 0:
        return 0.0
    cost = 1.0
    before = 0.0
    for (entries, runs), b in zip(shape, bits, strict=True):
        if entries <= 0:
            continue
        p = false_positive_rate(b, fmt)
        cost += entries / total * (before + (runs - 1) / 2.0 * p)
        before += runs * p
    return cost


def predict(options, version) -> CostPrediction:
    """The cost-model figures for ``version``'s shape under ``options``."""
    c = options.compaction
    shape = shape_of(version)
    entries = sum(e for e, _ in shape)
    raw = sum(f.raw_bytes for _, f in version.files())
    entry_bytes = raw / entries if entries else 0.0
    per_page = max(1.0, options.block_bytes / entry_bytes) if entry_bytes else 1.0
    caps_all = style_run_caps(options, version.num_levels)
    levels = tree_levels(options, version) if entries else []
    ratios = [float(c.ratio_for(lvl - 1)) for lvl in levels]
    caps = [caps_all[lvl] for lvl in levels]
    mean_ratio = math.exp(sum(map(math.log, ratios)) / len(ratios)) if ratios else float(
        c.size_ratio)
    memory = memory_bits_for(options.bloom, shape)
    probes = lookup_probes(version)
    bits = allocate(options, shape, probes)
    fmt = options.bloom.format
    runs = sum(r for _, r in shape)
    if c.style == "fifo":
        write_amp, merges, space_amp = 1.0, 0.0, 1.0
    else:
        write_amp = write_amp_formula(ratios, caps)
        merges = write_amp - 1.0
        space_amp = space_amp_formula(ratios, caps[-1]) if caps else 1.0
        if c.style == "tiered":
            space_amp = min(space_amp, c.max_space_amp)
    return CostPrediction(
        style=c.style if c.policy is None else f"policy:{type(c.policy).__name__}",
        entries=entries, entry_bytes=entry_bytes, entries_per_page=per_page,
        levels=len(levels),
        levels_formula=levels_formula(entries, entry_bytes, options.memtable_bytes, mean_ratio),
        size_ratio=mean_ratio, sorted_runs=runs, run_caps=tuple(caps),
        bloom_bits_per_key=tuple(bits),
        zero_result_lookup_io=zero_result_io(shape, bits, fmt=fmt),
        zero_result_lookup_io_uniform=zero_result_io(
            shape, uniform_allocation(shape, memory), fmt=fmt),
        zero_result_lookup_io_monkey=zero_result_io(
            shape, monkey_allocation(shape, memory), fmt=fmt),
        zero_result_lookup_io_reach=zero_result_io(shape, bits, probes, fmt=fmt),
        filter_probes=tuple(float(r) for _, r in shape) if probes is None else tuple(probes),
        nonzero_result_lookup_io=nonzero_result_io(shape, bits, fmt) if entries else 0.0,
        short_range_lookup_io=float(runs),
        long_range_lookup_io_per_entry=space_amp / per_page,
        write_amp=write_amp,
        update_io_per_entry=(1.0 + PHI) * merges / per_page,
        space_amp=space_amp)
