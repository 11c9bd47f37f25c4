"""Typed row/key codec throughput on the issue-14 benchmark row: 5 columns
(INT, TEXT, DOUBLE, TIMESTAMP, BIGINT), one Python call per row.

Run alone: ``python bench/core/rowcodec.py [--quick]``.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time

from lsmdb._core.rowcodec import (
    T_BIGINT,
    T_DOUBLE,
    T_INT,
    T_TEXT,
    T_TIMESTAMP,
    decode_key,
    decode_row,
    encode_key,
    encode_row,
)

SPECS = ((T_INT,), (T_TEXT,), (T_DOUBLE,), (T_TIMESTAMP,), (T_BIGINT,))
FLAGS = (0, 0, 0, 0, 0)


def _row(metric: str, value: float, unit: str) -> dict:
    return {"component": "rowcodec", "metric": metric, "value": value, "unit": unit}


def _rate(fn, items) -> float:
    t0 = time.perf_counter()
    for x in items:
        fn(x)
    return len(items) / (time.perf_counter() - t0) / 1e6


def run(quick: bool) -> list[dict]:
    n = 100_000 if quick else 1_000_000
    rnd = random.Random(5)
    base = dt.datetime(2024, 1, 1)
    rows = [(i, f"user{rnd.randrange(10**6):06d}", rnd.random() * 1000,
             base + dt.timedelta(seconds=rnd.randrange(10**8)), rnd.randrange(-(2**63), 2**63))
            for i in range(n)]
    encoded = [encode_row(SPECS, r) for r in rows]
    keys = [encode_key(SPECS, r, FLAGS) for r in rows]
    return [
        _row("encode_row (5 columns)", _rate(lambda r: encode_row(SPECS, r), rows), "M rows/s"),
        _row("decode_row (5 columns)", _rate(lambda b: decode_row(SPECS, b), encoded), "M rows/s"),
        _row("encode_key (5 columns)", _rate(lambda r: encode_key(SPECS, r, FLAGS), rows),
             "M keys/s"),
        _row("decode_key (5 columns)", _rate(lambda b: decode_key(SPECS, FLAGS, b, 5), keys),
             "M keys/s"),
    ]


if __name__ == "__main__":
    for r in run("--quick" in sys.argv):
        print(f"{r['metric']:<28} {r['value']:10.2f} {r['unit']}")
