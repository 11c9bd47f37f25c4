"""Random point reads against the memory each engine actually uses (issue 15, readrandom).

db_bench gives every engine with a cache the same cache budget (64 MiB). LMDB has no cache:
it reads its B+tree pages through a memory map from the kernel's page cache, which holds its
whole file once read (1M keys: ~232 MB). This experiment puts the engines side by side at
equal *memory*, not equal cache setting: for each run it records the reads per second and
what the process held in memory after the reads: the growth of its resident set since just
before the open (the engine's caches, memtable and the mapped file pages it touched; the
dataset's own objects are excluded) and the page-cache pages of its store's files
(``fincore``; pages both mapped and cached count in both).

Every configuration runs in a fresh process: fill (db_bench's keys and values, batches of
1000), flush, full compaction, 100k untimed warm-up gets, then ``--reads`` timed gets in
db_bench's readrandom order, each value checked.

    python bench/experiments/readrandom_memory.py --num 1000000 --reads 300000 \
        --configs lsmdb:64,lsmdb:128,lsmdb:192,rocksdict:64,rocksdict:192,lmdb --rounds 2 \
        --out bench/results/readrandom_memory_1m.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # bench/


def _rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _cached_file_bytes(path: str) -> int | None:
    """Page-cache bytes of the files under ``path`` (util-linux fincore), or None."""
    files = [os.path.join(r, n) for r, _d, fs in os.walk(path) for n in fs]
    if not files or shutil.which("fincore") is None:
        return None
    out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", *files],
                         capture_output=True, text=True, check=True).stdout
    return sum(int(x) for x in out.split())


def run_one(engine: str, cache_mib: int, num: int, reads: int, db_dir: str,
            overrides: dict | None = None) -> dict:
    import db_bench
    import peers

    peers.BLOCK_CACHE_BYTES = cache_mib << 20  # read by the adapters at open
    peers.LSMDB_OVERRIDES = dict(overrides or {})
    cfg = db_bench.Config(num=num, reads=reads)
    data = db_bench.Dataset(cfg)
    path = tempfile.mkdtemp(prefix=f"rrmem-{engine}-", dir=db_dir)
    values = data.values(0)
    keys = data.keys
    order = data.order(1)
    warm = data.order(7, min(100_000, num))
    timed = data.order(2, reads)
    rss_before = _rss_bytes()  # the dataset's own Python objects, not the engine's
    eng = peers.make(engine)
    try:
        eng.open(path, False)
        for start in range(0, num, cfg.batch_size):
            idx = order[start:start + cfg.batch_size]
            eng.write_batch([(keys[i], values[i]) for i in idx])
        eng.flush()
        eng.compact()
        get = eng.get
        for i in warm:
            get(keys[i])
        t0, c0 = time.perf_counter(), time.process_time()
        bad = 0
        for i in timed:
            if get(keys[i]) != values[i]:
                bad += 1
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if bad:
            raise AssertionError(f"{engine}: {bad} reads returned a wrong value")
        result = {
            "engine": engine,
            "cache_mib": cache_mib if engine != "lmdb" else None,
            "overrides": dict(overrides or {}),
            "reads": reads,
            "ops_per_sec": reads / wall,
            "cpu_us_per_get": cpu / reads * 1e6,
            "rss_mb": _rss_bytes() / 1e6,
            "engine_rss_mb": (_rss_bytes() - rss_before) / 1e6,
            "file_cache_mb": (lambda b: None if b is None else b / 1e6)(_cached_file_bytes(path)),
            "disk_mb": peers.dir_bytes(path)[1] / 1e6,
        }
        if overrides:  # as the open store has them
            opts = eng.db.options.to_dict()
            result["options_in_effect"] = {p: _at_path(opts, p) for p in overrides}
        stats = getattr(eng, "stats", None)
        if engine == "lsmdb" and stats is not None:
            result["block_cache_hit_rate"] = stats().get("block_cache_hit_rate")
        return result
    finally:
        eng.close()
        shutil.rmtree(path, ignore_errors=True)


def _at_path(tree: dict, path: str):
    for part in path.split("."):
        tree = tree[part]
    return tree


def parse_config(text: str) -> tuple[str, int, dict]:
    """engine[:MiB[:path=value[+path=value...]]]: the overrides are lsmdb option paths
    (``lsmdb:128:bloom.format=standard``), values parsed as JSON when they parse."""
    name, _, rest = text.partition(":")
    mib, _, extra = rest.partition(":")
    overrides = {}
    for item in filter(None, extra.split("+")):
        path, eq, value = item.partition("=")
        if not eq:
            raise SystemExit(f"override {item!r} of {text!r} is not path=value")
        try:
            overrides[path] = json.loads(value)
        except ValueError:
            overrides[path] = value
    if overrides and name != "lsmdb":
        raise SystemExit(f"option overrides are for lsmdb, not {name} ({text!r})")
    return name, int(mib) if mib else 64, overrides


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--num", type=int, default=1_000_000)
    ap.add_argument("--reads", type=int, default=300_000)
    ap.add_argument("--configs", default="lsmdb:64,lsmdb:128,lsmdb:192,rocksdict:64,lmdb",
                    help="engine[:cache MiB[:path=value+...]],... (lmdb has no cache; "
                         "lsmdb option overrides as in lsmdb:128:bloom.format=standard)")
    ap.add_argument("--rounds", type=int, default=1, help="configs rotated each round")
    ap.add_argument("--db-dir", default=tempfile.gettempdir())
    ap.add_argument("--out", help="JSON report")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one config, print JSON
    args = ap.parse_args(argv)
    if args.one:
        engine, mib, overrides = parse_config(args.one)
        print(json.dumps(run_one(engine, mib, args.num, args.reads, args.db_dir, overrides)))
        return 0
    configs = args.configs.split(",")
    runs: list[dict] = []
    for r in range(args.rounds):
        rotated = configs[r % len(configs):] + configs[:r % len(configs)]
        for conf in rotated:
            out = subprocess.run([sys.executable, __file__, "--num", str(args.num), "--reads",
                                  str(args.reads), "--db-dir", args.db_dir, "--one", conf],
                                 capture_output=True, text=True, check=True).stdout
            res = json.loads(out.strip().splitlines()[-1])
            res["round"] = r
            res["loadavg"] = os.getloadavg()[0]
            runs.append(res)
            print(f"round {r} {conf:30s} {res['ops_per_sec']:>10,.0f}/s "
                  f"cpu {res['cpu_us_per_get']:5.2f} us  engine rss {res['engine_rss_mb']:6.0f} MB  "
                  f"file cache {res['file_cache_mb'] or 0:6.0f} MB  disk {res['disk_mb']:6.0f} MB"
                  f"  hit {res.get('block_cache_hit_rate') or '-'}  load {res['loadavg']:.1f}",
                  flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"num": args.num, "reads": args.reads, "configs": configs,
                       "runs": runs}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
