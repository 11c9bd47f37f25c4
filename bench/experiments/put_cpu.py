"""CPU time of the writing thread per single-call put / delete (issue 15, "Write path").

Runs fillseq, fillrandom and deleterandom (on the fillrandom store) with the engine's
single-call ``put`` / ``delete`` in a loop (no fsync: lsmdb ``wal_sync="never"``, the
peers' default), 16-byte keys and 100-byte half-compressible values, each engine opened as
``bench/peers.py`` opens it for db_bench (same cache budget), and prints microseconds of
``time.thread_time()`` per operation: the writer's own CPU, which every engine spends in
the calling thread (encode, WAL ``write(2)``, memtable insert). Background flushes and
compactions run on other threads and are not in it; neither is waiting for a core, so on
a shared machine this moves far less than wall time. Rounds rotate the engine order; the
median of the rounds is printed per engine, with lsmdb's rate relative to each peer's
(peer CPU / lsmdb CPU).

    PYTHONPATH=. python bench/experiments/put_cpu.py --num 300000
    PYTHONPATH=. python bench/experiments/put_cpu.py --engines lsmdb,rocksdict,plyvel --rounds 3

Compare two lsmdb trees by running it alternately with each tree on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import peers  # noqa: E402  (bench/ is a directory of scripts, not a package)

FILLS = ("fillseq", "fillrandom")


def _value(i: int) -> bytes:
    return random.Random(i).randbytes(50) + b"x" * 50


def _run(engine_name: str, fills: list[str], keys: list[bytes], shuffled: list[bytes]
         ) -> dict[str, float]:
    value = _value(1)
    n = len(keys)
    out: dict[str, float] = {}
    for name in fills:
        eng = peers.make(engine_name)
        with tempfile.TemporaryDirectory() as d:
            eng.open(d, False)
            try:
                put = eng.put
                t0 = time.thread_time()
                for k in (keys if name == "fillseq" else shuffled):
                    put(k, value)
                out[name] = (time.thread_time() - t0) / n * 1e6
                if name == "fillrandom":
                    delete = eng.delete
                    t0 = time.thread_time()
                    for k in shuffled:
                        delete(k)
                    out["deleterandom"] = (time.thread_time() - t0) / n * 1e6
            finally:
                eng.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--num", type=int, default=300_000)
    ap.add_argument("--engines", default="lsmdb")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--fills", default=",".join(FILLS),
                    help="fills to run; deleterandom follows fillrandom")
    args = ap.parse_args()
    engines = args.engines.split(",")
    fills = [f for f in FILLS if f in args.fills.split(",")]
    keys = [b"%016d" % (2 * i) for i in range(args.num)]
    shuffled = keys[:]
    random.Random(7).shuffle(shuffled)
    rounds: dict[str, list[dict[str, float]]] = {e: [] for e in engines}
    for r in range(args.rounds):
        for e in engines[r % len(engines):] + engines[:r % len(engines)]:
            rounds[e].append(_run(e, fills, keys, shuffled))
            print(json.dumps({"round": r + 1, "engine": e,
                              **{k: round(v, 3) for k, v in rounds[e][-1].items()}}),
                  flush=True)
    median = {e: {w: statistics.median(x[w] for x in rs) for w in rs[0]}
              for e, rs in rounds.items()}
    summary: dict = {"median_us_per_op": {e: {w: round(v, 3) for w, v in m.items()}
                                          for e, m in median.items()}}
    if "lsmdb" in median:
        summary["lsmdb_rate_vs"] = {
            e: {w: round(m[w] / median["lsmdb"][w], 2) for w in m}
            for e, m in median.items() if e != "lsmdb"}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
