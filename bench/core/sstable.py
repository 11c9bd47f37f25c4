"""SSTable: build MB/s (zstd and none), warm point gets (get and get_many), iteration MB/s.

Entries: 16-byte user keys (+8-byte trailer), 100-byte values half random / half
compressible. Targets: build >= 100 MB/s of uncompressed input, >= 300k warm gets/s.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time

from lsmdb._core.cache import BlockCache
from lsmdb._core.ikey import PUT, make_internal_key
from lsmdb._core.sstable_builder import SSTableBuilder
from lsmdb._core.sstable_reader import SSTableReader
from lsmdb.env import default_env


def _entries(n: int):
    rnd = random.Random(42)
    keys = [make_internal_key(b"%016d" % i, i + 1, PUT) for i in range(n)]
    values = [rnd.randbytes(50) + b"x" * 50 for _ in range(n)]
    return keys, values


def run(quick: bool) -> list[dict]:
    n = 100_000 if quick else 1_000_000
    gets = 100_000 if quick else 300_000
    keys, values = _entries(n)
    raw_bytes = sum(map(len, keys)) + sum(map(len, values))
    env = default_env()
    tmp = tempfile.mkdtemp(prefix="lsmdb-bench-sst-")
    rows = []
    try:
        for label, level in (("zstd-3", 3), ("none", None)):
            path = os.path.join(tmp, f"{label}.sst")
            file = env.open_writable(path)
            t0 = time.perf_counter()
            builder = SSTableBuilder(file, compression_level=level)
            for k, v in zip(keys, values, strict=True):
                builder.add(k, v)
            props = builder.finish()
            build_s = time.perf_counter() - t0
            file.close()
            file = env.open_writable(path + ".many")
            t0 = time.perf_counter()
            builder = SSTableBuilder(file, compression_level=level)
            builder.add_many(keys, values)
            builder.finish()
            many_s = time.perf_counter() - t0
            file.close()
            rows += [
                {"component": "sstable", "metric": f"build add() {label}",
                 "value": raw_bytes / build_s / 1e6, "unit": "MB/s", "target": 100.0},
                {"component": "sstable", "metric": f"build add_many() {label}",
                 "value": raw_bytes / many_s / 1e6, "unit": "MB/s", "target": 100.0},
                {"component": "sstable", "metric": f"file size / input {label}",
                 "value": props["file_size"] / raw_bytes, "unit": "ratio",
                 "higher_is_better": False},
            ]
            reader = SSTableReader(env.open_random_access(path), file_number=1,
                                   cache=BlockCache(1 << 30))
            rnd = random.Random(7)
            probe = [b"%016d" % rnd.randrange(n) for _ in range(gets)]
            reader.get_many(probe)                     # warm the cache
            t0 = time.perf_counter()
            for uk in probe:
                reader.get(uk)
            get_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            reader.get_many(probe)
            many_get_s = time.perf_counter() - t0
            it = reader.iterator()
            t0 = time.perf_counter()
            it.seek_to_first()
            scanned = sum(len(k) + len(v) for k, v in it.entries())
            iter_s = time.perf_counter() - t0
            reader.close()
            rows += [
                {"component": "sstable", "metric": f"warm get() {label}",
                 "value": gets / get_s, "unit": "ops/s", "target": 300_000.0},
                {"component": "sstable", "metric": f"warm get_many() {label}",
                 "value": gets / many_get_s, "unit": "ops/s", "target": 300_000.0},
                {"component": "sstable", "metric": f"iterate (Python entries()) {label}",
                 "value": scanned / iter_s / 1e6, "unit": "MB/s"},
            ]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


if __name__ == "__main__":
    for row in run(quick=True):
        print(row)
