"""compact_range() write amplification (issue 12): bytes written by compaction during one
full compact_range() on a flushed, settled DB / live SST bytes after it. Run by hand:

    PYTHONPATH=. python bench/experiments/compact_range_wamp.py leveled 110000 [--static]

``--static`` turns dynamic level sizing off, which keeps data in every level (the case where
the old level-by-level compact_range rewrote everything once per level).
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time

import lsmdb
from lsmdb.options import Compaction, Compression, Options


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("style", nargs="?", default="leveled")
    ap.add_argument("num", type=int, nargs="?", default=110_000)
    ap.add_argument("--static", action="store_true")
    args = ap.parse_args()
    d = tempfile.mkdtemp(prefix="lsmdb-wamp-")
    c = Compaction(style=args.style, dynamic_level_bytes=not args.static,
                   base_level_bytes=1 << 20, target_file_bytes=256 << 10)
    opts = Options(memtable_bytes=256 << 10, compaction=c, compression=Compression(kind="none"))
    db = lsmdb.open(d, opts, inline_background=True)  # settled: nothing pending afterwards
    rng = random.Random(7)
    for i in range(args.num):
        db.put(b"key%08d" % rng.randrange(args.num), rng.randbytes(8) * 19)
        if i % 5000 == 4999:
            lo = rng.randrange(args.num - 500)
            db.delete_range(b"key%08d" % lo, b"key%08d" % (lo + 300))
    db.flush()
    before = db.stats()
    t0 = time.perf_counter()
    db.compact_range()
    seconds = time.perf_counter() - t0
    after = db.stats()
    written = after.compaction_bytes_written - before.compaction_bytes_written
    print(f"{args.style}{' static' if args.static else ''}: live {after.sst_bytes / 1e6:.2f} MB,"
          f" compact_range wrote {written / 1e6:.2f} MB in "
          f"{after.compactions - before.compactions} compactions "
          f"({after.trivial_moves - before.trivial_moves} trivial moves), "
          f"W-amp {written / after.sst_bytes:.2f}, {seconds:.1f} s")
    db.close()
    shutil.rmtree(d)


if __name__ == "__main__":
    main()
