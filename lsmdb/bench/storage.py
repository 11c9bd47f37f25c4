"""``lsmdb bench --engine storage``: the storage engine (``lsmdb.StorageEngine``) beside sqlite3.

Both engines get the same schema, the same rows and the same transaction sizes, one after the
other in this process (sqlite3 first):

    t(id BIGINT PRIMARY KEY, a BIGINT NOT NULL, b DOUBLE, c TEXT, d BLOB), index t_a ON t(a)

Row ``i`` (ids 1..num) is ``(i, a(i), i / 2, "name-<i>", 40 bytes)`` where ``a`` is a
permutation of 0..num-1 (``a(i) = i * P mod num``), so a range ``lo <= a < lo + 100`` holds
exactly 100 rows scattered over the table.

Workloads, in this order (each timed alone):

    insert       num rows in transactions of ``batch`` (executemany / tx.insert_many)
    fetch        ``reads`` primary-key point reads of random ids, each its own (autocommit)
                 statement (SELECT ... WHERE id=? / engine.lookup)
    range        reads/10 index range scans of 100 rows on ``a`` (autocommit)
    scan         one full table scan
    update       reads rows (random ids) rewritten in transactions of ``batch``; each update
                 addresses its row by primary key (UPDATE ... WHERE id=? / tx.lookup +
                 tx.update of b and c)
    delete       reads/5 rows (random ids) deleted in transactions of ``batch`` by primary key
    autoinsert   reads/5 new rows, one autocommit transaction each

Throughput is operations per second of wall time; the report also gives operations per second
of process CPU time (lsmdb's background flush/compaction thread included), the steadier figure
on a loaded machine, and the lsmdb / sqlite3 ratio of both.

Durability is the same for both: sqlite3 runs WAL mode with ``synchronous=NORMAL`` (a commit
is written to the WAL file without fsync; the WAL is fsynced at checkpoints), lsmdb runs
``WalCommitPolicy.NEVER`` (a commit is written to its WAL segment with one write() and not
fsynced; the memtable flush at a checkpoint fsyncs the SSTables before the LSM drops that
WAL). Both survive a process crash with every acknowledged commit and may lose the last
commits on a power failure. Both caches are 64 MiB (sqlite3 ``cache_size=-65536``; lsmdb's
block cache default). Every workload is checked (rows found, counts); a failed check marks
the result unverified.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["WORKLOADS", "TARGETS", "run_storage_bench", "format_table", "run_command"]

WORKLOADS = ("insert", "fetch", "range", "scan", "update", "delete", "autoinsert")
#: The issue 14 targets: lsmdb ops/s divided by sqlite3 ops/s.
TARGETS = {"insert": 2.0, "fetch": 1.5, "range": 1.0, "scan": 1.0, "update": 2.0,
           "delete": 2.0, "autoinsert": 2.0}
RANGE_ROWS = 100


class _Rows:
    """The deterministic rows of a run (see the module doc)."""

    def __init__(self, num: int):
        self.num = num
        p = 1_000_003
        while math.gcd(p, num) != 1:
            p += 2
        self.p = p

    def a(self, i: int) -> int:
        return (i * self.p) % self.num

    def row(self, i: int) -> tuple:
        return (i, self.a(i), i / 2, f"name-{i:010d}", i.to_bytes(8, "little") * 5)


class _Plan:
    def __init__(self, num: int, reads: int, batch: int, seed: int):
        rnd = random.Random(seed)
        self.num, self.batch = num, batch
        self.fetch_ids = [rnd.randint(1, num) for _ in range(reads)]
        self.range_los = [rnd.randrange(0, max(1, num - RANGE_ROWS)) for _ in
                          range(max(1, reads // 10))]
        self.update_ids = [rnd.randint(1, num) for _ in range(reads)]
        self.delete_ids = rnd.sample(range(1, num + 1), min(num, max(1, reads // 5)))
        self.auto_ids = list(range(num + 1, num + 1 + max(1, reads // 5)))


def _chunks(seq: list, n: int):
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


# ---------------------------------------------------------------------------- engines


class _Sqlite:
    name = "sqlite3"

    def __init__(self, path: str):
        self.conn = sqlite3.connect(os.path.join(path, "bench.sqlite"), isolation_level=None)
        c = self.conn
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA synchronous=NORMAL")
        c.execute("PRAGMA cache_size=-65536")
        c.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER NOT NULL, b REAL, c TEXT, "
                  "d BLOB)")
        c.execute("CREATE INDEX t_a ON t(a)")
        self.version = sqlite3.sqlite_version
        self.settings = {"journal_mode": "WAL", "synchronous": "NORMAL",
                         "cache_size": "-65536 (64 MiB)", "isolation_level": None}

    def insert(self, rows: list[tuple]) -> None:
        c = self.conn
        c.execute("BEGIN")
        c.executemany("INSERT INTO t VALUES (?,?,?,?,?)", rows)
        c.execute("COMMIT")

    def fetch(self, key: int):
        return self.conn.execute("SELECT * FROM t WHERE id=?", (key,)).fetchone()

    def range(self, lo: int, hi: int) -> list:
        return self.conn.execute("SELECT * FROM t WHERE a>=? AND a<?", (lo, hi)).fetchall()

    def scan(self) -> int:
        n = 0
        for _ in self.conn.execute("SELECT * FROM t"):
            n += 1
        return n

    def update(self, changes: list[tuple]) -> None:
        c = self.conn
        c.execute("BEGIN")
        c.executemany("UPDATE t SET b=?, c=? WHERE id=?", [(b, s, k) for k, b, s in changes])
        c.execute("COMMIT")

    def delete(self, keys: list[int]) -> None:
        c = self.conn
        c.execute("BEGIN")
        c.executemany("DELETE FROM t WHERE id=?", [(k,) for k in keys])
        c.execute("COMMIT")

    def autoinsert(self, row: tuple) -> None:
        self.conn.execute("INSERT INTO t VALUES (?,?,?,?,?)", row)

    def close(self) -> None:
        self.conn.close()


class _Storage:
    name = "lsmdb"

    def __init__(self, path: str):
        import lsmdb
        from lsmdb import StorageEngine, StorageOptions, WalCommitPolicy, WalConfig
        from lsmdb.storage_api import Excluded, Included

        self._inc, self._exc = Included, Excluded
        self.engine = e = StorageEngine(StorageOptions(
            wal_config=WalConfig(dir=os.path.join(path, "lsmdb")),
            wal_commit_policy=WalCommitPolicy.NEVER))
        e.create_table("t", [("id", "BIGINT", False), ("a", "BIGINT", False),
                             ("b", "DOUBLE"), ("c", "TEXT"), ("d", "BLOB")], primary_key="id")
        e.create_index("t", ["a"], name="t_a")
        self.version = lsmdb.__version__
        self.settings = {"wal_commit_policy": repr(WalCommitPolicy.NEVER),
                         "lsm_options": "Options() defaults (64 MiB memtable, 64 MiB block "
                                        "cache, zstd, 10-bit bloom filters)"}

    def insert(self, rows: list[tuple]) -> None:
        with self.engine.transaction() as tx:
            tx.insert_many("t", rows)

    def fetch(self, key: int):
        rec = self.engine.lookup("t", key)
        return None if rec is None else rec.row

    def range(self, lo: int, hi: int) -> list:
        return list(self.engine.scan_table_range_filter(0, "t", "a", self._inc(lo),
                                                        self._exc(hi)))

    def scan(self) -> int:
        n = 0
        for _ in self.engine.scan_table(0, "t"):
            n += 1
        return n

    def update(self, changes: list[tuple]) -> None:
        with self.engine.transaction() as tx:
            for k, b, s in changes:
                rec = tx.lookup("t", k)
                row = rec.row
                tx.update("t", rec.tuple_id, (row[0], row[1], b, s, row[4]))

    def delete(self, keys: list[int]) -> None:
        with self.engine.transaction() as tx:
            for k in keys:
                tx.delete("t", tx.lookup("t", k).tuple_id)

    def autoinsert(self, row: tuple) -> None:
        self.engine.insert(0, "t", row)

    def close(self) -> None:
        self.engine.close()


ENGINES: dict[str, Callable[[str], Any]] = {"sqlite3": _Sqlite, "lsmdb": _Storage}


# ---------------------------------------------------------------------------- runs


def _timed(results: dict, name: str, ops: int, fn: Callable[[], list[str]]) -> None:
    c0, t0 = time.process_time(), time.perf_counter()
    errors = fn()
    secs = time.perf_counter() - t0
    cpu = time.process_time() - c0
    results[name] = {"ops": ops, "seconds": round(secs, 4),
                     "ops_per_sec": round(ops / secs, 1) if secs > 0 else None,
                     "cpu_seconds": round(cpu, 4),
                     "ops_per_cpu_sec": round(ops / cpu, 1) if cpu > 0 else None,
                     "verified": not errors, "errors": errors[:3]}


def run_engine(name: str, path: str, plan: _Plan, rows: _Rows) -> dict[str, Any]:
    """Run every workload on one engine; returns its results and settings."""
    eng = ENGINES[name](path)
    res: dict[str, Any] = {}
    num, batch = plan.num, plan.batch
    try:
        def insert():
            for ids in _chunks(list(range(1, num + 1)), batch):
                eng.insert([rows.row(i) for i in ids])
            return []
        _timed(res, "insert", num, insert)

        def fetch():
            bad = []
            for k in plan.fetch_ids:
                r = eng.fetch(k)
                if r is None or r[0] != k:
                    bad.append(f"fetch {k}: {r!r}")
            return bad
        _timed(res, "fetch", len(plan.fetch_ids), fetch)

        def range_():
            bad = []
            for lo in plan.range_los:
                got = eng.range(lo, lo + RANGE_ROWS)
                if len(got) != min(RANGE_ROWS, num - lo):
                    bad.append(f"range {lo}: {len(got)} rows")
            return bad
        _timed(res, "range", len(plan.range_los), range_)

        def scan():
            n = eng.scan()
            return [] if n == num else [f"scan: {n} rows, expected {num}"]
        _timed(res, "scan", num, scan)

        def update():
            for ids in _chunks(plan.update_ids, batch):
                eng.update([(k, k * 0.25, f"upd-{k:010d}") for k in ids])
            return []
        _timed(res, "update", len(plan.update_ids), update)

        def delete():
            for ids in _chunks(plan.delete_ids, batch):
                eng.delete(ids)
            return []
        _timed(res, "delete", len(plan.delete_ids), delete)

        def autoinsert():
            for i in plan.auto_ids:
                eng.autoinsert(rows.row(i))
            n = eng.scan()
            want = num - len(plan.delete_ids) + len(plan.auto_ids)
            return [] if n == want else [f"count after: {n} rows, expected {want}"]
        _timed(res, "autoinsert", len(plan.auto_ids), autoinsert)
        # the count check above is part of autoinsert's time for both engines alike
    finally:
        eng.close()
    return {"engine": name, "version": eng.version, "settings": eng.settings, "results": res}


def run_storage_bench(num: int = 200_000, reads: int | None = None, batch: int = 1000,
                      seed: int = 301, db: str | None = None,
                      engines: tuple[str, ...] = ("sqlite3", "lsmdb"),
                      progress: TextIO | None = None) -> dict[str, Any]:
    """Run both engines on the same plan; returns the report (see ``format_table``)."""
    from lsmdb.errors import InvalidArgumentError

    if num < RANGE_ROWS + 1:
        raise InvalidArgumentError(f"--num must be > {RANGE_ROWS} for the storage bench, "
                                   f"got {num}")
    reads = min(num, 100_000) if reads is None else reads
    plan = _Plan(num, reads, batch, seed)
    rows = _Rows(num)
    root = db if db is not None else tempfile.mkdtemp(prefix="lsmdb-storage-bench-")
    runs = []
    try:
        for name in engines:
            path = os.path.join(root, name)
            os.makedirs(path, exist_ok=True)
            if progress is not None:
                print(f"running {name} ...", file=progress, flush=True)
            runs.append(run_engine(name, path, plan, rows))
            shutil.rmtree(path, ignore_errors=True)
    finally:
        if db is None:
            shutil.rmtree(root, ignore_errors=True)
    by = {r["engine"]: r["results"] for r in runs}
    ratios = {}
    if "sqlite3" in by and "lsmdb" in by:
        for w in WORKLOADS:
            a, b = by["lsmdb"][w]["ops_per_sec"], by["sqlite3"][w]["ops_per_sec"]
            ca, cb = by["lsmdb"][w]["ops_per_cpu_sec"], by["sqlite3"][w]["ops_per_cpu_sec"]
            ratios[w] = {"ratio": round(a / b, 2) if a and b else None,
                         "cpu_ratio": round(ca / cb, 2) if ca and cb else None,
                         "target": TARGETS[w],
                         "met": bool(a and b and a / b >= TARGETS[w])}
    return {"params": {"num": num, "reads": reads, "batch": batch, "seed": seed,
                       "range_rows": RANGE_ROWS, "update_rows": len(plan.update_ids),
                       "delete_rows": len(plan.delete_ids),
                       "autoinsert_rows": len(plan.auto_ids)},
            "runs": runs, "ratios": ratios}


def format_table(report: dict[str, Any]) -> str:
    by = {r["engine"]: r["results"] for r in report["runs"]}
    names = [r["engine"] for r in report["runs"]]
    head = f"{'workload':<11} {'ops':>8} " + " ".join(f"{n + ' ops/s':>14}" for n in names)
    ratios = report.get("ratios") or {}
    if ratios:
        head += f" {'ratio':>7} {'cpu':>7} {'target':>7}  met"
    lines = [head, "-" * len(head)]
    for w in WORKLOADS:
        first = by[names[0]][w]
        cells = []
        for n in names:
            r = by[n][w]
            cells.append(f"{r['ops_per_sec']:>14,.0f}" + ("" if r["verified"] else "!"))
        line = f"{w:<11} {first['ops']:>8} " + " ".join(cells)
        if w in ratios:
            q = ratios[w]
            line += (f" {q['ratio']:>6.2f}x {q['cpu_ratio']:>6.2f}x {q['target']:>6.1f}x  "
                     f"{'yes' if q['met'] else 'NO'}")
        lines.append(line)
    return "\n".join(lines)


def _all_verified(report: dict[str, Any]) -> list[str]:
    bad = []
    for r in report["runs"]:
        for w, res in r["results"].items():
            if not res["verified"]:
                bad.append(f"{r['engine']}/{w}: " + "; ".join(res["errors"]))
    return bad


def run_command(args, out: TextIO) -> int:
    """``lsmdb bench --engine storage``: --num, --reads, --batch-size, --seed, --db, --json."""
    import sys

    from lsmdb.bench import report as rep
    from lsmdb.cliargs import EXIT_ERROR, require_writable

    if args.json:
        require_writable(args.json, "--json")
    db = None
    if args.db is not None:
        from lsmdb.bench.run_state import check_db_root

        db = check_db_root(args.db)
        os.makedirs(db, exist_ok=True)
    batch = 1000 if args.batch_size is None else args.batch_size
    doc = run_storage_bench(num=args.num, reads=args.reads, batch=batch, seed=args.seed, db=db,
                            progress=None if args.quiet else sys.stderr)
    doc["machine"] = rep.machine_facts()
    print(format_table(doc), file=out)
    if args.json:
        rep.write_json(args.json, doc)
    bad = _all_verified(doc)
    if bad:
        print(f"lsmdb: bench: {bad[0]}", file=sys.stderr)
        return EXIT_ERROR
    return 0
