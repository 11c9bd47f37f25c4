"""Issue 15 (write path): what a memtable flush in another thread costs a Python writer loop.

A 400k-entry memtable (16-byte keys, 100-byte values) is flushed through
``tablecopy.copy_entries`` into an in-memory sink while this thread keeps inserting into
another memtable. Printed: the writer's rate beside the flush over its rate alone, and how
the writer thread's wall time splits (Linux ``/proc/self/task/<tid>/schedstat``): on a CPU,
waiting in the run queue, and waiting otherwise, which here is the GIL. Run by hand, the
same script on two trees alternately:

    PYTHONPATH=. python bench/experiments/flush_beside_writer.py [--no-compression]
"""

from __future__ import annotations

import argparse
import random
import threading
import time

from lsmdb._core.ikey import PUT
from lsmdb._core.memtable import Memtable
from lsmdb._core.sstable_builder import SSTableBuilder
from lsmdb._core.tablecopy import copy_entries


class _Sink:
    def append(self, data: bytes) -> None:
        pass


def _sched() -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting) of the calling thread."""
    with open(f"/proc/self/task/{threading.get_native_id()}/schedstat") as f:
        run, delay, _ = f.read().split()
    return int(run) / 1e9, int(delay) / 1e9


class _Writer:
    def __init__(self) -> None:
        self.mt = Memtable()
        self.n = 0

    def step(self) -> None:
        mt, base = self.mt, self.n
        for i in range(base, base + 1000):
            mt.add(i + 1, PUT, b"w%015d" % i, b"x" * 100)
        self.n += 1000


def _split(t0: float, s0: tuple[float, float]) -> str:
    wall = time.perf_counter() - t0
    run, delay = (b - a for a, b in zip(s0, _sched(), strict=True))
    return (f"on cpu {run / wall:.0%}, run queue {delay / wall:.0%}, "
            f"other wait (GIL) {(wall - run - delay) / wall:.0%}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-compression", action="store_true")
    level = None if ap.parse_args().no_compression else 3
    rng = random.Random(1)
    src = Memtable()
    for seq in range(1, 400_001):
        src.add(seq, PUT, b"k%016d" % rng.randrange(10**9), rng.randbytes(50) + b"v" * 50)

    w = _Writer()
    t0, s0 = time.perf_counter(), _sched()
    while time.perf_counter() - t0 < 0.3:
        w.step()
    alone = w.n / (time.perf_counter() - t0)
    print("writer alone:            ", _split(t0, s0))

    flush: dict[str, float] = {}

    def run_flush() -> None:
        t, c = time.perf_counter(), time.thread_time()
        it = src.iterator()
        it.seek_to_first()
        builder = SSTableBuilder(_Sink(), compression_level=level)
        copy_entries(it, builder, 1 << 40)
        builder.finish()
        flush["wall"], flush["cpu"] = time.perf_counter() - t, time.thread_time() - c

    w = _Writer()
    th = threading.Thread(target=run_flush)
    t0, s0 = time.perf_counter(), _sched()
    th.start()
    while th.is_alive():
        w.step()
    beside = w.n / (time.perf_counter() - t0)
    print("writer beside the flush: ", _split(t0, s0))
    print(f"writer rate beside / alone {beside / alone:.2f}; "
          f"flush wall {flush['wall']:.3f} s, CPU {flush['cpu']:.3f} s")


if __name__ == "__main__":
    main()
