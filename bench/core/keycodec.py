"""Key codec throughput on index-like keys ``(index_id:int, name:str, tuple_id:int)`` and
row keys ``(table_id, tuple_id)``.

Targets are this module's own: encode and decode >= 1 M keys/s for the 3-element key
(one Python call per key). Run alone: ``python bench/core/keycodec.py [--quick]``.
"""

from __future__ import annotations

import random
import sys
import time

from lsmdb._core.keycodec import decode_key, encode_key


def _row(metric: str, value: float, unit: str, target: float | None = None) -> dict:
    row = {"component": "keycodec", "metric": metric, "value": value, "unit": unit}
    if target is not None:
        row["target"] = target
    return row


def _rate(fn, items) -> float:
    t0 = time.perf_counter()
    for x in items:
        fn(x)
    return len(items) / (time.perf_counter() - t0) / 1e6


def run(quick: bool) -> list[dict]:
    n = 100_000 if quick else 1_000_000
    rnd = random.Random(5)
    names = [f"user{rnd.randrange(10**6):06d}" for _ in range(1000)]
    index_keys = [(7, names[i % 1000], i) for i in range(n)]
    row_keys = [(3, i) for i in range(n)]
    encoded = [encode_key(k) for k in index_keys]
    assert sorted(encoded) == [encode_key(k) for k in sorted(index_keys)]
    return [
        _row("encode (int, str, int)", _rate(encode_key, index_keys), "M keys/s", 1.0),
        _row("decode (int, str, int)", _rate(decode_key, encoded), "M keys/s", 1.0),
        _row("encode (int, int)", _rate(encode_key, row_keys), "M keys/s"),
    ]


if __name__ == "__main__":
    for r in run("--quick" in sys.argv):
        print(f"{r['metric']:<28} {r['value']:10.2f} {r['unit']}  (target {r.get('target')})")
