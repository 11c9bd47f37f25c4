"""CPU time of the writing thread per single-call put / delete (issue 15, "Write path").

Runs fillseq, fillrandom and deleterandom (on the filled store) with ``DB.put`` /
``DB.delete`` in a loop, ``wal_sync="never"``, 16-byte keys and 100-byte half-compressible
values, and prints microseconds of ``time.thread_time()`` per operation. The writer's CPU,
not wall time: the machine is shared, so compare trees by running this alternately
(``PYTHONPATH=<tree> python bench/experiments/put_cpu.py``).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time

import lsmdb
from lsmdb.options import Options


def _value(i: int) -> bytes:
    r = random.Random(i).randbytes(50)
    return r + b"x" * 50


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--num", type=int, default=300_000)
    ap.add_argument("--memtable-mib", type=int, default=64)
    ap.add_argument("--fills", default="fillseq,fillrandom",
                    help="fills to run; deleterandom follows fillrandom")
    args = ap.parse_args()
    n = args.num
    keys = [b"%016d" % (2 * i) for i in range(n)]
    value = _value(1)
    order = list(range(n))
    random.Random(7).shuffle(order)
    shuffled = [keys[i] for i in order]
    out = {}
    opts = Options(wal_sync="never", memtable_bytes=args.memtable_mib << 20)
    fills = [(name, fill) for name, fill in (("fillseq", keys), ("fillrandom", shuffled))
             if name in args.fills.split(",")]
    for name, fill in fills:
        with tempfile.TemporaryDirectory() as d:
            with lsmdb.open(d, opts) as db:
                put = db.put
                t0 = time.thread_time()
                for k in fill:
                    put(k, value)
                out[name] = (time.thread_time() - t0) / n * 1e6
                if name == "fillrandom":
                    delete = db.delete
                    t0 = time.thread_time()
                    for k in shuffled:
                        delete(k)
                    out["deleterandom"] = (time.thread_time() - t0) / n * 1e6
    print(json.dumps({k: round(v, 3) for k, v in out.items()}))


if __name__ == "__main__":
    main()
