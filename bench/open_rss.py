"""Open time and memory of a large store, the same measurement for every engine (issue 15).

For each engine: build a store of --num keys with db_bench's fillbatch (in its own process,
then the full compaction db_bench runs before its reads), optionally make the open cold, then
in a FRESH process measure

- ``open_seconds``: the engine's open call on the existing store,
- RSS (``/proc/self/status``: VmRSS, RssAnon, RssFile) before the open (interpreter, engine
  module and the key list imported), after the open and after --gets random gets, each get
  checked against the value db_bench wrote,
- the gets' own time (then that of as many gets of absent keys, between present ones, as
  db_bench's readmissing), their CPU time and page faults (``getrusage``: less sensitive to a
  loaded machine than wall time; a minor fault is a first touch of a mapped page that was
  already in the page cache, a major fault one that had to be read from disk), and lsmdb's
  ``stats()`` after them (block cache hit rate, levels).

RssFile counts page-cache pages the process has mapped (LMDB reads through mmap, so its
touched pages show there); RssAnon is the process's own heap (block caches, indexes, filters).

Cold opens: ``--cold`` syncs and evicts the store's own files from the page cache
(``posix_fadvise(POSIX_FADV_DONTNEED)`` per file; the pages left resident are counted with
``mincore`` through ``fincore(1)`` where it exists and reported), which leaves every other
process's cached pages alone, as a shared machine needs; ``--drop-caches`` drops the whole
page cache instead (``echo 1 > /proc/sys/vm/drop_caches``, root only).

Usage::

    python bench/open_rss.py --num 10000000 --gets 300000 --engines lsmdb,rocksdict,lmdb \\
        --db-dir /work/tmp_curves --cold --out bench/results/cost_curves_open_10m.json
    # measure (or profile) one existing store, e.g. one kept with --keep:
    py-spy record --native -f raw -o gets.txt -- \\
        python bench/open_rss.py --measure lsmdb --path STORE --num 10000000 --gets 300000
    # measure stores built (and kept) before, each made cold first:
    python bench/open_rss.py --num 10000000 --cold --stores lsmdb=DIR1,lmdb=DIR2
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import db_bench  # noqa: E402  (bench/ is a directory of scripts, not a package)
import peers  # noqa: E402

GET_SALT = 15  # permutation salt of the gets: not one db_bench's workloads use
DROP_CACHES = "/proc/sys/vm/drop_caches"


def rss() -> dict[str, int]:
    """This process's resident set in bytes: VmRSS, RssAnon, RssFile, VmHWM ({} without
    /proc)."""
    out: dict[str, int] = {}
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                name, _, rest = line.partition(":")
                if name in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                    out[name] = int(rest.split()[0]) * 1024  # the kernel reports kB
    except OSError:
        return {}
    return out


def usage() -> tuple[float, int, int]:
    """(CPU seconds, minor page faults, major page faults) of this process so far."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime, ru.ru_minflt, ru.ru_majflt


def _usage_delta(u0: tuple[float, int, int], ops: int) -> dict:
    cpu, minflt, majflt = (b - a for a, b in zip(u0, usage(), strict=True))
    return {"cpu_seconds": cpu, "cpu_micros_per_op": cpu * 1e6 / ops if ops else 0.0,
            "minor_faults": minflt, "major_faults": majflt}


def drop_caches() -> str:
    """Empty the kernel page cache (after a sync) so the next open reads from disk; returns
    how the cache was left, for the report."""
    os.sync()
    try:
        with open(DROP_CACHES, "w") as fh:
            fh.write("1\n")
    except OSError as exc:
        return f"warm (page cache not dropped: {exc.strerror or exc})"
    return "cold (page cache dropped)"


def evict(path: str) -> str:
    """Sync and evict the files of the store at ``path`` from the page cache; returns how the
    cache was left, for the report."""
    os.sync()
    files = [os.path.join(root, name) for root, _dirs, names in os.walk(path) for name in names]
    for name in files:
        fd = os.open(name, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    resident = resident_bytes(files)
    left = "unknown" if resident is None else f"{resident / 2**20:.1f} MiB"
    return f"cold (store's files evicted with posix_fadvise; still resident: {left})"


def resident_bytes(files: list[str]) -> int | None:
    """Bytes of ``files`` in the page cache (fincore(1), i.e. mincore); None without it."""
    if not files or shutil.which("fincore") is None:
        return None
    try:
        proc = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES",
                               *files], capture_output=True, text=True, timeout=60)
        return sum(int(line.split()[0]) for line in proc.stdout.splitlines() if line.strip())
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def measure(engine: str, path: str, cfg: db_bench.Config, gets: int) -> dict:
    """Open the store at ``path`` and read ``gets`` random keys of version 0 (the fill's
    values); meant to run in a fresh process (``--measure``) so RSS is this store's."""
    import numpy as np

    reason = peers.importable(engine)  # imports the engine's module before the baseline
    if reason is not None:
        raise SystemExit(f"open_rss: engine not usable: {reason}")
    order = np.random.default_rng([cfg.seed, GET_SALT]).integers(0, cfg.num, gets).tolist()
    keys = [db_bench.key_at(i) for i in order]
    missing = [b"%016d" % (2 * i + 1) for i in order]  # Dataset.missing[i]: absent
    buf = db_bench.value_buffer(cfg)
    eng = peers.make(engine)
    before = rss()
    u0 = usage()
    t0 = time.perf_counter()
    eng.open(path, False)
    open_seconds = time.perf_counter() - t0
    open_usage = _usage_delta(u0, 1)
    after_open = rss()
    try:
        get = eng.get
        u0 = usage()
        t0 = time.perf_counter()
        values = [get(k) for k in keys]
        get_seconds = time.perf_counter() - t0
        get_usage = _usage_delta(u0, gets)
        after_gets = rss()
        # Then as many gets of absent keys between the present ones (readmissing's keys).
        u0 = usage()
        t0 = time.perf_counter()
        found = sum(get(k) is not None for k in missing)
        missing_seconds = time.perf_counter() - t0
        missing_usage = _usage_delta(u0, gets)
        mismatched = sum(v != db_bench.value_at(buf, cfg.value_size, i, 0)
                         for i, v in zip(order, values, strict=True))
        out = {"engine": engine, "version": eng.version(), "open_seconds": open_seconds,
               "open_usage": open_usage, "gets": gets, "get_seconds": get_seconds,
               "micros_per_get": get_seconds * 1e6 / gets if gets else 0.0,
               "get_usage": get_usage, "missing_found": found,
               "micros_per_missing_get": missing_seconds * 1e6 / gets if gets else 0.0,
               "missing_get_usage": missing_usage,
               "verified": mismatched == 0 and found == 0, "mismatched": mismatched,
               "rss_before_open": before, "rss_after_open": after_open,
               "rss_after_gets": after_gets, "store_bytes": peers.dir_bytes(path)[1]}
        if hasattr(eng, "stats"):
            out["engine_stats"] = db_bench._stats_summary(eng.stats())
        return out
    finally:
        eng.close()


def build(engine: str, cfg: db_bench.Config) -> str:
    """Fill a new store with db_bench's fillbatch + settle (full compaction) and keep it;
    returns its path. Runs in its own process (the dataset is large)."""
    cfg = db_bench.Config(**{**asdict(cfg), "engines": [engine], "benchmarks": ["fillbatch"],
                             "keep": True})
    worker = db_bench.Worker(engine, cfg)
    result = worker.run()
    if not result["workloads"]["fillbatch"]["verified"]:
        raise SystemExit(f"open_rss: the {engine} fill did not verify")
    return worker.dbpath


def _child(mode: str, engine: str, cfg: db_bench.Config, extra: list[str]) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), mode, engine,
           "--config", json.dumps(asdict(cfg)), *extra]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(engines: list[str], cfg: db_bench.Config, gets: int, cold: str | None,
        stores: dict[str, str] | None = None) -> dict:
    """Build (or take from ``stores``, engine -> path, which are kept), (make cold:
    ``"evict"`` or ``"drop"``,) measure and delete each engine's store in turn."""
    stores = stores or {}
    report: dict = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    "config": {**asdict(cfg), "gets": gets, "cold": cold},
                    "loadavg_start": os.getloadavg(), "engines": {}}
    for engine in engines:
        reason = peers.importable(engine)
        if reason is not None:
            report["engines"][engine] = {"skipped": reason}
            continue
        build_seconds = None
        path = stores.get(engine)
        if path is None:
            print(f"--- {engine}: building {cfg.num:,} keys", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            path = _child("--build", engine, cfg, [])["path"]
            build_seconds = time.perf_counter() - t0
        try:
            cache = (evict(path) if cold == "evict" else drop_caches() if cold == "drop"
                     else "warm (page cache not dropped)")
            row = _child("--measure", engine, cfg, ["--path", path, "--gets", str(gets)])
            row.update(build_seconds=build_seconds, page_cache=cache)
            report["engines"][engine] = row
            print(f"[{engine}] open {row['open_seconds']:.3f} s, RSS "
                  f"{row['rss_after_open'].get('VmRSS', 0) / 2**20:.0f} MiB after open, "
                  f"{row['rss_after_gets'].get('VmRSS', 0) / 2**20:.0f} MiB after {gets:,} "
                  f"gets ({row['micros_per_get']:.2f} us/get), {cache}",
                  file=sys.stderr, flush=True)
        finally:
            if not cfg.keep and engine not in stores:
                shutil.rmtree(os.path.dirname(path), ignore_errors=True)
    report["loadavg_end"] = os.getloadavg()
    return report


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--num", type=int, default=10_000_000, help="keys in the store")
    ap.add_argument("--gets", type=int, default=300_000, help="random gets after the open")
    ap.add_argument("--engines", default="lsmdb,rocksdict,lmdb")
    ap.add_argument("--db-dir", default="/work/tmp_curves", help="where the stores are built")
    ap.add_argument("--cold", action="store_const", const="evict", dest="cold",
                    help="evict the store's files from the page cache before each open")
    ap.add_argument("--drop-caches", action="store_const", const="drop", dest="cold",
                    help="drop the whole page cache before each open instead (root only)")
    ap.add_argument("--keep", action="store_true", help="keep the stores")
    ap.add_argument("--out", default=None, help="JSON report")
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--compression-ratio", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=301)
    ap.add_argument("--measure", metavar="ENGINE",
                    help="measure one existing store (--path) in this process; JSON on stdout")
    ap.add_argument("--path", help="the store --measure opens")
    ap.add_argument("--stores", default="",
                    help="engine=path,...: measure these existing stores instead of building "
                         "(they are kept); the engines not named are built")
    ap.add_argument("--build", metavar="ENGINE", help=argparse.SUPPRESS)
    ap.add_argument("--config", help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.config:
        cfg = db_bench.Config(**json.loads(args.config))
    else:
        cfg = db_bench.Config(num=args.num, value_size=args.value_size,
                              compression_ratio=args.compression_ratio, seed=args.seed,
                              db_dir=os.path.abspath(args.db_dir), keep=args.keep)
    if min(cfg.num, cfg.value_size, args.gets) <= 0:
        print("open_rss: --num, --value-size and --gets must be positive", file=sys.stderr)
        return 2
    if args.build:
        print(json.dumps({"path": build(args.build, cfg)}))
        return 0
    if args.measure:
        if not args.path or not os.path.isdir(args.path):
            print(f"open_rss: --measure needs --path of an existing store, not {args.path!r}",
                  file=sys.stderr)
            return 2
        print(json.dumps(measure(args.measure, args.path, cfg, args.gets)))
        return 0
    os.makedirs(cfg.db_dir, exist_ok=True)
    engines = [e for e in args.engines.split(",") if e]
    unknown = [e for e in engines if e not in peers.ENGINES]
    if unknown:
        print(f"open_rss: unknown engines {unknown}; known: {', '.join(peers.ENGINES)}",
              file=sys.stderr)
        return 2
    try:
        stores = dict(item.split("=", 1) for item in args.stores.split(",") if item)
    except ValueError:
        stores = {"": ""}
    bad_stores = [e for e, p in stores.items() if e not in engines or not os.path.isdir(p)]
    if bad_stores:
        print(f"open_rss: --stores names engines not in --engines or paths that are not "
              f"directories: {bad_stores}", file=sys.stderr)
        return 2
    report = run(engines, cfg, args.gets, args.cold, stores)
    text = json.dumps(report, indent=1) + "\n"
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    bad = [e for e, r in report["engines"].items() if "verified" in r and not r["verified"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
