"""Group commit of synced single puts (issue 15, "Write path"): writes per fsync and the
4-thread / 1-thread rate ratio, measured in alternating pairs.

An fsync's time moves 10x within minutes on a shared machine, so rates of different moments
cannot be divided (docs/benchmarks.md). Here each round runs the 1-thread fill and the
T-thread fill back to back into fresh stores and records their ratio; the median of the
rounds' ratios is the figure, with writes per fsync (``user_writes / wal_syncs``) beside it.

    PYTHONPATH=. python bench/experiments/fillsync_groups.py --rounds 5 --num 2000 --threads 4
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time

import lsmdb
from lsmdb.options import Options


def _fill(n: int, threads: int) -> tuple[float, float]:
    """(puts per second, writes per fsync) of n synced puts by ``threads`` threads."""
    value = b"v" * 100
    with tempfile.TemporaryDirectory() as d:
        db = lsmdb.open(d, Options(wal_sync="always"))
        start = threading.Barrier(threads + 1)

        def writer(t: int) -> None:
            start.wait()
            for i in range(t, n, threads):
                db.put(b"%016d" % i, value)

        ths = [threading.Thread(target=writer, args=(t,)) for t in range(threads)]
        for th in ths:
            th.start()
        start.wait()
        t0 = time.perf_counter()
        for th in ths:
            th.join()
        seconds = time.perf_counter() - t0
        s = db.stats()
        db.close()
    return n / seconds, s.user_writes / max(1, s.wal_syncs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--num", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=4)
    args = ap.parse_args()
    rows = []
    for _ in range(args.rounds):
        one, _ = _fill(args.num, 1)
        many, per_sync = _fill(args.num, args.threads)
        rows.append({"rate_1t": round(one), f"rate_{args.threads}t": round(many),
                     "ratio": round(many / one, 2), "writes_per_fsync": round(per_sync, 2)})
        print(json.dumps(rows[-1]), flush=True)
    print(json.dumps({"median_ratio": statistics.median(r["ratio"] for r in rows),
                      "median_writes_per_fsync":
                          statistics.median(r["writes_per_fsync"] for r in rows)}))


if __name__ == "__main__":
    main()
