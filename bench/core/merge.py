"""Merging-iterator throughput: 8 sorted sources x 100k entries merged in internal order,
the user view (VisibleIterator) over the same merge, and a CompactionIterator pass.

Each figure is a full scan driven by ``scan_count`` (a C loop over the C vtable, no Python
per entry); sources are ListIterators over 16-byte user keys. Targets are this module's own
(>= 5 M entries/s for the merge, >= 3 M for the visible view and for compaction).
Run alone: ``python bench/core/merge.py [--quick]``.
"""

from __future__ import annotations

import random
import sys
import time

from lsmdb._core.compaction_iterator import CompactionIterator
from lsmdb._core.ikey import PUT, make_internal_key
from lsmdb._core.merging_iterator import MergingIterator
from lsmdb._core.visible_iterator import VisibleIterator, scan_count
from lsmdb.testing.list_iterator import ListIterator

SOURCES = 8


def _row(metric: str, value: float, unit: str, target: float | None = None) -> dict:
    row = {"component": "merge", "metric": metric, "value": value, "unit": unit}
    if target is not None:
        row["target"] = target
    return row


def _sources(per_source: int) -> list[ListIterator]:
    rnd = random.Random(3)
    seq = 1
    out = []
    for _ in range(SOURCES):
        keys = sorted(rnd.randbytes(16) for _ in range(per_source))
        entries = []
        for k in keys:
            entries.append((make_internal_key(k, seq, PUT), b"v" * 16))
            seq += 1
        out.append(ListIterator(entries))
    return out


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run(quick: bool) -> list[dict]:
    per_source = 20_000 if quick else 100_000
    repeat = 2 if quick else 3
    sources = _sources(per_source)
    total = SOURCES * per_source
    merged = MergingIterator(sources)
    assert scan_count(merged) == total
    t_merge = _best(lambda: scan_count(merged), repeat)
    visible = VisibleIterator(MergingIterator(sources))
    t_visible = _best(lambda: scan_count(visible), repeat)
    compaction = CompactionIterator(MergingIterator(sources), [total // 2])
    t_compact = _best(lambda: scan_count(compaction), repeat)
    return [
        _row(f"merge {SOURCES}x{per_source}", total / t_merge / 1e6, "M entries/s", 5.0),
        _row("visible full scan", total / t_visible / 1e6, "M entries/s", 3.0),
        _row("compaction pass", total / t_compact / 1e6, "M entries/s", 3.0),
    ]


if __name__ == "__main__":
    for r in run("--quick" in sys.argv):
        print(f"{r['metric']:<28} {r['value']:10.2f} {r['unit']}  (target {r.get('target')})")
