"""What one run measures: the result rows, read amplification from the engines' counters,
latency percentiles, the process's I/O counters and a run's headline summary."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

__all__ = ["WorkloadResult", "read_io", "percentiles", "read_amp_from", "summarize",
           "short_repr"]


@dataclass
class WorkloadResult:
    """One row of the result table."""

    name: str
    ops: int
    seconds: float
    ops_per_sec: float
    micros_per_op: float
    p50_us: float | None
    p99_us: float | None
    mb_per_sec: float
    bytes: int
    found: int | None = None
    verified: bool = True
    prefilled: bool = False
    errors: list[str] = field(default_factory=list)
    read_amp: dict[str, float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def read_io() -> dict[str, int]:
    """This process's kernel I/O counters (all threads); {} where /proc is unavailable."""
    try:
        with open("/proc/self/io") as fh:
            return {k: int(v) for k, v in (line.split(":") for line in fh if ":" in line)}
    except (OSError, ValueError):
        return {}


def percentiles(samples: list[int]) -> tuple[float | None, float | None]:
    """The median and 99th percentile of nanosecond ``samples``, in microseconds."""
    if not samples:
        return None, None
    ordered = sorted(samples)
    last = len(ordered) - 1
    return ordered[round(0.50 * last)] / 1000.0, ordered[round(0.99 * last)] / 1000.0




def read_amp_from(before: dict, after: dict, lookups: int) -> dict[str, float] | None:
    """Read amplification of ``lookups`` point lookups from two :meth:`read_counters`
    snapshots. Tables opened in between count from zero; tables closed in between (by a
    compaction) lose what they counted, so a busy compaction makes these figures low."""
    if not lookups:
        return None
    totals = [0, 0, 0, 0, 0]
    for number, counts in after.items():
        prev = before.get(number, (0, 0, 0, 0, 0))
        for i in range(5):
            totals[i] += counts[i] - prev[i]
    checks, negatives, false_pos, disk_blocks, cache_hits = totals
    absent_probes = negatives + false_pos
    return {
        "tables_probed_per_lookup": checks / lookups,
        "blocks_per_lookup": (disk_blocks + cache_hits) / lookups,
        "disk_blocks_per_lookup": disk_blocks / lookups,
        "bloom_fp_rate": (false_pos / absent_probes) if absent_probes else None,
    }


def summarize(rows: list[WorkloadResult], stats: dict[str, Any]) -> dict[str, Any]:
    """The headline figures of one run: amplifications, read amp, stalls, cache hits."""
    point = [r for r in rows if r.read_amp and r.name in ("readrandom", "readwhilewriting")]
    missing = [r for r in rows if r.read_amp and r.name == "readmissing"]
    spec_rows = [r for r in rows if r.read_amp and r.name not in (
        "readrandom", "readwhilewriting", "readmissing")]
    ref = (point or spec_rows or missing or [None])[0]
    stalls = stats.get("stalls") or {}
    return {
        "write_amp": stats.get("write_amp"),
        "space_amp": stats.get("space_amp"),
        "io_write_amp": stats.get("io_write_amp"),
        "read_amp": ref.read_amp["tables_probed_per_lookup"] if ref else None,
        "blocks_per_lookup": ref.read_amp["blocks_per_lookup"] if ref else None,
        "missing_blocks_per_lookup": (missing[0].read_amp["blocks_per_lookup"]
                                      if missing else None),
        "stalls": sum(stalls.values()) if isinstance(stalls, dict) else stalls,
        "cache_hit_rate": stats.get("block_cache_hit_rate"),
        "sst_bytes": stats.get("sst_bytes"),
        "verified": all(r.verified for r in rows),
    }


def short_repr(value: Any) -> str:
    """``repr(value)`` cut to 40 characters, for error messages."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
