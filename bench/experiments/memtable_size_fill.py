"""fillrandom, one put per call, at several memtable sizes: the writer's CPU per put against
the write amplification it buys (issue 15, fillrandom >= 1.2x plyvel).

A random insert walks the memtable's skiplist from the top level down; in a 64 MiB memtable
most of those hops miss the CPU caches, in LevelDB's 4 MiB write buffer they mostly hit. A
smaller memtable makes each put cheaper for the writing thread and flushes more, smaller L0
files, so compaction rewrites more. This script puts numbers on both sides: for each size,
in a fresh store, db_bench's 1M keys and values (``--num``) put one call each in db_bench's
random order; it records the wall clock, the process CPU, the writing thread's CPU
(``time.thread_time``) per put, and the store's write amplification at the end.

    python bench/experiments/memtable_size_fill.py --num 1000000 --sizes 4,16,32,64 \\
        --rounds 2 --out bench/results/memtable_size_fill_1m.json

``--fronts`` (KiB, comma-separated; default: the option's default) crosses the sizes with
``Options.memtable_front_bytes``, the small skip list single puts go to first (0 = none):

    python bench/experiments/memtable_size_fill.py --sizes 64 --fronts 0,1024,4096 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # bench/


def run_one(mib: int, front_kib: int | None, keys, values, order, db_dir: str) -> dict:
    import peers

    peers.LSMDB_OVERRIDES = {"memtable_bytes": mib << 20}
    if front_kib is not None:
        peers.LSMDB_OVERRIDES["memtable_front_bytes"] = front_kib << 10
    path = tempfile.mkdtemp(prefix=f"memfill-{mib}-", dir=db_dir)
    eng = peers.make("lsmdb")
    try:
        eng.open(path, False)
        put = eng.put
        t0, c0, w0 = time.perf_counter(), time.process_time(), time.thread_time()
        for i in order:
            put(keys[i], values[i])
        wall = time.perf_counter() - t0
        cpu, wcpu = time.process_time() - c0, time.thread_time() - w0
        stats = eng.db.stats()
        bad = sum(1 for i in order[::97] if eng.get(keys[i]) != values[i])
        if bad:
            raise AssertionError(f"{bad} reads returned a wrong value")
        n = len(order)
        return {"memtable_mib": mib, "front_kib": front_kib, "puts": n, "wall_us_per_put": 1e6 * wall / n,
                "process_cpu_us_per_put": 1e6 * cpu / n,
                "writer_cpu_us_per_put": 1e6 * wcpu / n, "write_amp": stats.write_amp,
                "loadavg": os.getloadavg()[0]}
    finally:
        eng.close()
        shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--num", type=int, default=1_000_000)
    ap.add_argument("--sizes", default="4,16,32,64", help="memtable sizes in MiB")
    ap.add_argument("--fronts", default=None,
                    help="memtable_front_bytes values in KiB (default: the option's default)")
    ap.add_argument("--rounds", type=int, default=1, help="configurations rotated each round")
    ap.add_argument("--db-dir", default=tempfile.gettempdir())
    ap.add_argument("--out", help="JSON report")
    args = ap.parse_args(argv)
    import db_bench

    cfg = db_bench.Config(num=args.num, reads=1)
    data = db_bench.Dataset(cfg)
    keys, values, order = data.keys, data.values(0), data.order(1)
    sizes = [int(s) for s in args.sizes.split(",")]
    fronts = [None] if args.fronts is None else [int(f) for f in args.fronts.split(",")]
    configs = [(mib, front) for mib in sizes for front in fronts]
    runs = []
    for r in range(args.rounds):
        for mib, front in configs[r % len(configs):] + configs[:r % len(configs)]:
            res = run_one(mib, front, keys, values, order, args.db_dir)
            res["round"] = r
            runs.append(res)
            shown = "default" if front is None else f"{front} KiB"
            print(f"round {r} memtable {mib:4d} MiB front {shown:>9}  writer cpu "
                  f"{res['writer_cpu_us_per_put']:5.2f} us/put  process cpu {res['process_cpu_us_per_put']:5.2f}  wall "
                  f"{res['wall_us_per_put']:6.2f}  W {res['write_amp']:.2f}  load "
                  f"{res['loadavg']:.1f}", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"num": args.num, "sizes": sizes, "fronts": fronts, "runs": runs}, f,
                      indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
