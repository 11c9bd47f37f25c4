"""db_bench-style comparison of lsmdb with LevelDB (plyvel), RocksDB (rocksdict), LMDB and SQLite.

Workloads use RocksDB db_bench names: fillseq, fillrandom (single-call puts), fillbatch
(fillrandom in batches of --batch-size), overwrite (batched), readrandom, readmissing, readseq,
seekrandom (seek + --seek-nexts reads), deleterandom, fillsync (--sync-num single-call puts with
sync=True into a new store, by 1 thread and again by each --threads count: group commit).
Keys are 16 bytes (``%016d`` of even
numbers; readmissing asks for the odd numbers in between, so it needs the bloom filters), values
--value-size bytes, half random and half repeated (db_bench's compression ratio 0.5). Orders
are seeded permutations, identical for every engine.

Each engine runs in its own subprocess so that ``/proc/self/io`` counts only its bytes. After
the writes (fill + overwrite) every engine is flushed and ``os.sync()`` runs; then

- write amplification = kernel ``write_bytes`` since the DB was created / user bytes put,
- space amplification = bytes allocated on disk / live user bytes, as is and after a full
  manual compaction (LSM engines; LMDB and SQLite are measured as they are),
- lsmdb's own ``db.stats()`` figures are recorded beside the measured ones.

Every single-threaded workload also records ``cpu_seconds``, the process CPU time of its timed
loop (background flushes and compactions included): on a loaded machine it moves far less than
the wall time. Reads then run on the compacted store with a warm cache. Every read verifies what it got
(values, missing keys, scan counts, seek positions) outside the measured arithmetic's way.

Usage::

    python bench/db_bench.py --num 100000
    python bench/db_bench.py --num 1000000 --out bench/results/db_bench_1m.json
    python bench/db_bench.py --engines lsmdb,plyvel --benchmarks fillbatch,readrandom --sync
    python bench/db_bench.py --engines lsmdb,plyvel --benchmarks fillsync --threads 2,4
    python bench/db_bench.py --engines lsmdb,rocksdict --benchmarks readrandom --read-threads 1,2,4
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import peers  # noqa: E402  (bench/ is a directory of scripts, not a package)

WORKLOADS = ("fillseq", "fillrandom", "fillbatch", "overwrite", "readrandom", "readmissing",
             "readseq", "seekrandom", "deleterandom", "fillsync")
FILLS = ("fillseq", "fillrandom", "fillbatch")
WRITES = FILLS + ("overwrite", "deleterandom")
DEFAULT_ENGINES = ("lsmdb", "plyvel", "rocksdict", "lmdb", "sqlite3")
KEY_SIZE = 16
VERIFY_SAMPLE = 1000
WARMUP_READS = 100_000

# Issue-4 targets: (workload, peers whose best throughput is the yardstick, minimum ratio).
TARGETS = (
    ("fillbatch", ("plyvel", "rocksdict"), 1.0),
    ("overwrite", ("plyvel", "rocksdict"), 1.0),
    ("fillrandom", ("plyvel",), 1.0),
    ("readrandom", ("rocksdict",), 2.0),
    ("readrandom", ("lmdb",), 0.6),
    ("readmissing", ("rocksdict",), 1.0),
    ("readseq", ("lmdb",), 0.5),
    ("seekrandom", ("plyvel",), 1.0),
)


@dataclass
class Config:
    num: int = 1_000_000
    reads: int | None = None  # defaults to num, as in db_bench
    value_size: int = 100
    compression_ratio: float = 0.5
    batch_size: int = 1000
    seek_nexts: int = 10
    seed: int = 301
    sync: bool = False
    engines: list[str] = field(default_factory=lambda: list(DEFAULT_ENGINES))
    benchmarks: list[str] = field(default_factory=lambda: list(WORKLOADS))
    db_dir: str = field(default_factory=tempfile.gettempdir)
    keep: bool = False
    sync_num: int = 3000  # fillsync puts per thread count (each is an fsync: ~1-3 ms)
    threads: list[int] = field(default_factory=lambda: [4])  # fillsync's extra thread counts
    read_threads: list[int] = field(default_factory=lambda: [1])  # readrandom's thread counts
    # Each engine's cache + memtables <= this (bench/peers.py MEMORY_BUDGET_BYTES); 0: a
    # cache of cache_mib per engine with memtables on top (RocksDB db_bench's --cache_size).
    memory_budget_mib: int = 128
    cache_mib: int = 64

    @property
    def n_reads(self) -> int:
        return self.num if self.reads is None else self.reads


# ------------------------------------------------------------------------------ data


class Dataset:
    """Keys, values and orders for one run; a pure function of the config (same for every
    engine). Value ``(i, version)`` is a slice of a db_bench-style compressible buffer."""

    def __init__(self, cfg: Config):
        import numpy as np

        self.num = cfg.num
        self.value_size = cfg.value_size
        rng = np.random.default_rng(cfg.seed)
        self.keys = [b"%016d" % (2 * i) for i in range(cfg.num)]
        self.missing = [b"%016d" % (2 * i + 1) for i in range(cfg.num)]
        self._buf = _compressible_buffer(rng, cfg.value_size, cfg.compression_ratio)
        self._perm_seed = cfg.seed
        self._values: dict[int, list[bytes]] = {}

    def order(self, salt: int, n: int | None = None) -> list[int]:
        """A seeded permutation of range(num), cycled or cut to n entries."""
        import numpy as np

        perm = np.random.default_rng([self._perm_seed, salt]).permutation(self.num).tolist()
        if n is None or n == self.num:
            return perm
        reps = -(-n // self.num) if self.num else 0
        return (perm * reps)[:n]

    def values(self, version: int) -> list[bytes]:
        vals = self._values.get(version)
        if vals is None:
            buf, size = self._buf, self.value_size
            span = len(buf) - size
            mult = VALUE_MULT
            shift = version * VALUE_VERSION_SHIFT
            vals = [buf[o:o + size] for o in ((i * mult + shift) % span for i in range(self.num))]
            self._values[version] = vals
        return vals


# Value i of version v is buf[o:o + value_size], o = (i * VALUE_MULT + v * VALUE_VERSION_SHIFT)
# % (len(buf) - value_size): Dataset.values builds them all, value_at one of them.
VALUE_MULT = 2654435761
VALUE_VERSION_SHIFT = 97531


def value_buffer(cfg: Config) -> bytes:
    """The compressible buffer every value of a run is a slice of (Dataset's, without
    building the key lists: for a process that only needs a few values)."""
    import numpy as np

    return _compressible_buffer(np.random.default_rng(cfg.seed), cfg.value_size,
                                cfg.compression_ratio)


def value_at(buf: bytes, value_size: int, i: int, version: int) -> bytes:
    """Value ``i`` of ``version``, equal to ``Dataset.values(version)[i]``."""
    o = (i * VALUE_MULT + version * VALUE_VERSION_SHIFT) % (len(buf) - value_size)
    return buf[o:o + value_size]


def key_at(i: int) -> bytes:
    """Key ``i``, equal to ``Dataset.keys[i]``."""
    return b"%016d" % (2 * i)


def _compressible_buffer(rng, value_size: int, ratio: float) -> bytes:
    """About 1 MiB made of value-sized pieces, each ``ratio`` random bytes then repeats of
    them (db_bench's CompressibleString), so a slice compresses to about ``ratio``."""
    raw_len = max(1, round(value_size * ratio))
    pieces = []
    total = 0
    while total < (1 << 20) + value_size:
        raw = rng.bytes(raw_len)
        piece = (raw * (value_size // raw_len + 1))[:value_size]
        pieces.append(piece)
        total += len(piece)
    return b"".join(pieces)


# ------------------------------------------------------------------------------ worker


def _timed_threads(target, args: list[tuple], ready: threading.Barrier) -> float:
    """Start one thread per ``args`` entry running ``target``, release them together through
    ``ready`` (a barrier of len(args) + 1: this thread is the last party) and return the
    seconds from that moment until the last thread is done."""
    threads = [threading.Thread(target=target, args=a) for a in args]
    for t in threads:
        t.start()
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        pass  # a thread failed before the start: it recorded its error, the rest still end
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def read_io() -> dict[str, int]:
    """This process's kernel I/O counters (all threads); {} where /proc is unavailable."""
    try:
        with open("/proc/self/io") as fh:
            return {k: int(v) for k, v in (line.split(":") for line in fh if ":" in line)}
    except OSError:
        return {}


def _io_delta(before: dict, after: dict, name: str) -> int | None:
    if name not in before or name not in after:
        return None
    return after[name] - before[name]


class Worker:
    """Runs the workloads for one engine, in the order given, on one directory."""

    def __init__(self, engine: str, cfg: Config):
        self.cfg = cfg
        self.eng = peers.make(engine)
        self.data = Dataset(cfg)
        self.root = tempfile.mkdtemp(prefix=f"db_bench_{engine}_", dir=cfg.db_dir)
        self.dbpath = ""
        self.generation = 0
        self.open = False
        self.version = 0  # value version the live keys hold
        self.live = False  # every key present (False: none present)
        self.filled = False
        self.settled = False
        self.scope: list[str] = []  # workloads written since the DB was created
        self.user_bytes = 0
        self.io_at_create: dict[str, int] = {}
        self.results: dict[str, dict] = {}
        self.amplification: dict | None = None

    # -- lifecycle ----------------------------------------------------------------------
    def fresh_db(self, sync: bool | None = None) -> None:
        self.close()
        if self.dbpath:
            shutil.rmtree(self.dbpath, ignore_errors=True)
        self.generation += 1
        self.dbpath = os.path.join(self.root, f"db{self.generation}")
        os.sync()
        self.io_at_create = read_io()
        self.eng.open(self.dbpath, self.cfg.sync if sync is None else sync)
        self.open = True
        self.filled = self.live = self.settled = False
        self.scope = []
        self.user_bytes = 0

    def close(self) -> None:
        if self.open:
            self.eng.close()
            self.open = False

    def cleanup(self) -> None:
        self.close()
        if not self.cfg.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- helpers ------------------------------------------------------------------------
    def log(self, msg: str) -> None:
        print(f"[{self.eng.name}] {msg}", file=sys.stderr, flush=True)

    def expected(self, i: int) -> bytes | None:
        return self.data.values(self.version)[i] if self.live else None

    def verify_sample(self, salt: int) -> bool:
        """Untimed spot check of VERIFY_SAMPLE random keys against the model."""
        idx = self.data.order(salt)[:VERIFY_SAMPLE]
        get = self.eng.get
        keys = self.data.keys
        return all(get(keys[i]) == self.expected(i) for i in idx)

    def record(self, name: str, ops: int, seconds: float, io0: dict, verified: bool,
               **extra) -> None:
        io1 = read_io()
        row = {
            "ops": ops,
            "seconds": seconds,
            "ops_per_sec": ops / seconds if seconds > 0 else 0.0,
            "micros_per_op": seconds * 1e6 / ops if ops else 0.0,
            "verified": bool(verified),
            "write_bytes": _io_delta(io0, io1, "write_bytes"),
            **extra,
        }
        if name in WRITES or name == "readseq" or name.startswith("fillsync"):
            row["mb_per_sec"] = (row.get("bytes", 0) / seconds / 1e6) if seconds > 0 else 0.0
        self.results[name] = row
        self.log(f"{name:<13} {row['ops_per_sec']:>12,.0f} ops/s  "
                 f"{row['micros_per_op']:8.3f} us/op  verified={row['verified']}")

    # -- workloads ------------------------------------------------------------------------
    def run(self) -> dict:
        try:
            for name in self.cfg.benchmarks:
                getattr(self, "_" + name)()
            if self.filled and not self.settled:
                self.settle()
            return {"version": self.eng.version(), "settings": self.eng.settings(),
                    "workloads": self.results, "amplification": self.amplification}
        finally:
            self.cleanup()

    def _fill(self, name: str, order: list[int], batch: int) -> None:
        self.fresh_db()
        keys = self.data.keys
        vals = self.data.values(0)
        ks = [keys[i] for i in order]
        vs = [vals[i] for i in order]
        io0 = read_io()
        # CPU of the whole process (background flushes included) and of the writing thread.
        if batch > 1:
            pairs = list(zip(ks, vs, strict=True))
            wb = self.eng.write_batch
            cpu0, wcpu0 = time.process_time(), time.thread_time()
            t0 = time.perf_counter()
            for j in range(0, len(pairs), batch):
                wb(pairs[j:j + batch])
            seconds = time.perf_counter() - t0
        else:
            put = self.eng.put
            cpu0, wcpu0 = time.process_time(), time.thread_time()
            t0 = time.perf_counter()
            for k, v in zip(ks, vs, strict=True):
                put(k, v)
            seconds = time.perf_counter() - t0
        cpu = {"cpu_seconds": time.process_time() - cpu0,
               "writer_cpu_seconds": time.thread_time() - wcpu0}
        nbytes = len(ks) * (KEY_SIZE + self.cfg.value_size)
        self.user_bytes += nbytes
        self.scope.append(name)
        self.filled = self.live = True
        self.version = 0
        self.record(name, len(ks), seconds, io0, self.verify_sample(11), bytes=nbytes, **cpu)

    def _fillseq(self) -> None:
        self._fill("fillseq", list(range(self.cfg.num)), 1)

    def _fillrandom(self) -> None:
        self._fill("fillrandom", self.data.order(1), 1)

    def _fillbatch(self) -> None:
        self._fill("fillbatch", self.data.order(1), self.cfg.batch_size)

    def ensure_filled(self) -> None:
        if not self.filled:
            self.log("no fill benchmark ran yet: untimed batched fill first")
            saved = self.results.get("fillbatch")
            self._fillbatch()
            self.scope[-1] = "prefill(fillbatch)"
            if saved is None:
                self.results.pop("fillbatch")
            else:
                self.results["fillbatch"] = saved

    def _overwrite(self) -> None:
        self.ensure_filled()
        order = self.data.order(2)
        keys = self.data.keys
        vals = self.data.values(1)
        pairs = [(keys[i], vals[i]) for i in order]
        batch = self.cfg.batch_size
        wb = self.eng.write_batch
        io0 = read_io()
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        for j in range(0, len(pairs), batch):
            wb(pairs[j:j + batch])
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        nbytes = len(pairs) * (KEY_SIZE + self.cfg.value_size)
        self.user_bytes += nbytes
        self.scope.append("overwrite")
        self.version, self.live, self.settled = 1, True, False
        self.record("overwrite", len(pairs), seconds, io0, self.verify_sample(12), bytes=nbytes,
                    cpu_seconds=cpu)

    def settle(self) -> None:
        """Measure amplification at the end of the write phase, then compact for the reads."""
        eng = self.eng
        t0 = time.perf_counter()
        eng.flush()
        os.sync()
        io1 = read_io()
        logical_as_is, disk_as_is = peers.dir_bytes(self.dbpath)
        amp: dict = {
            "scope": list(self.scope),
            "user_bytes": self.user_bytes,
            "live_user_bytes": self.cfg.num * (KEY_SIZE + self.cfg.value_size) if self.live else 0,
            "write_bytes": _io_delta(self.io_at_create, io1, "write_bytes"),
            "cancelled_write_bytes": _io_delta(self.io_at_create, io1, "cancelled_write_bytes"),
            "disk_bytes_as_is": disk_as_is,
            "logical_bytes_as_is": logical_as_is,
        }
        if hasattr(eng, "stats"):
            amp["engine_stats_as_is"] = _stats_summary(eng.stats(exact=True))
        eng.compact()
        eng.flush()
        os.sync()
        io2 = read_io()
        logical_c, disk_c = peers.dir_bytes(self.dbpath)
        amp["write_bytes_with_compaction"] = _io_delta(self.io_at_create, io2, "write_bytes")
        amp["disk_bytes_compacted"] = disk_c
        amp["logical_bytes_compacted"] = logical_c
        if hasattr(eng, "stats"):
            amp["engine_stats_compacted"] = _stats_summary(eng.stats(exact=True))
        user, live = amp["user_bytes"], amp["live_user_bytes"]
        wb = amp["write_bytes"]
        cancelled = amp["cancelled_write_bytes"] or 0
        amp["write_amp"] = wb / user if (wb is not None and user) else None
        amp["write_amp_net"] = (wb - cancelled) / user if (wb is not None and user) else None
        amp["space_amp_as_is"] = disk_as_is / live if live else None
        amp["space_amp_compacted"] = disk_c / live if live else None
        amp["settle_seconds"] = time.perf_counter() - t0
        self.amplification = amp
        self.settled = True
        self.log(f"amplification: write {_f(amp['write_amp'])} (net {_f(amp['write_amp_net'])}),"
                 f" space as is {_f(amp['space_amp_as_is'])},"
                 f" compacted {_f(amp['space_amp_compacted'])}")
        self.warm_up()

    def warm_up(self) -> None:
        """Untimed random reads so the timed ones see a warm block cache and page cache."""
        keys = self.data.keys
        n = min(self.cfg.num, WARMUP_READS)
        with self.eng.read_phase():
            get = self.eng.get
            for i in self.data.order(9)[:n]:
                get(keys[i])

    def before_reads(self) -> None:
        self.ensure_filled()
        if not self.settled:
            self.settle()

    def _readrandom(self) -> None:
        self.before_reads()
        order = self.data.order(3, self.cfg.n_reads)
        keys = self.data.keys
        ks = [keys[i] for i in order]
        vals = self.data.values(self.version)
        evs = [vals[i] for i in order] if self.live else [None] * len(order)
        io0 = read_io()
        hits = 0
        with self.eng.read_phase():
            get = self.eng.get
            cpu0 = time.process_time()
            t0 = time.perf_counter()
            for k, ev in zip(ks, evs, strict=True):
                if get(k) == ev:
                    hits += 1
            seconds = time.perf_counter() - t0
            cpu = time.process_time() - cpu0
        self.record("readrandom", len(ks), seconds, io0, hits == len(ks), matched=hits,
                    cpu_seconds=cpu,
                    expected_found=len(ks) if self.live else 0)
        for n in self.cfg.read_threads:
            if n > 1:
                self._readrandom_threads(n, ks, evs)

    def _readrandom_threads(self, n: int, ks: list[bytes], evs: list) -> None:
        """The same gets split over n threads (thread i takes every n-th key), timed from
        the moment all of them are ready until the last one is done."""
        name = f"readrandom_{n}t"
        if not self.eng.threaded_reads:
            self.log(f"{name}: skipped (get is not thread-safe in this adapter)")
            return
        hits = [0] * n
        errors: list[BaseException] = []
        ready = threading.Barrier(n + 1)

        def run(i: int) -> None:
            try:
                with self.eng.thread_reads() as get:
                    ready.wait()
                    h = 0
                    for k, ev in zip(ks[i::n], evs[i::n], strict=True):
                        if get(k) == ev:
                            h += 1
                    hits[i] = h
            except BaseException as exc:  # reported below as a failed verification
                errors.append(exc)
                ready.abort()

        io0 = read_io()
        seconds = _timed_threads(run, [(i,) for i in range(n)], ready)
        if errors:
            self.log(f"{name}: {errors[0]!r}")
        self.record(name, len(ks), seconds, io0, not errors and sum(hits) == len(ks),
                    threads=n, matched=sum(hits))

    def _readmissing(self) -> None:
        self.before_reads()
        missing = self.data.missing
        ks = [missing[i] for i in self.data.order(4, self.cfg.n_reads)]
        io0 = read_io()
        found = 0
        with self.eng.read_phase():
            get = self.eng.get
            cpu0 = time.process_time()
            t0 = time.perf_counter()
            for k in ks:
                if get(k) is not None:
                    found += 1
            seconds = time.perf_counter() - t0
            cpu = time.process_time() - cpu0
        self.record("readmissing", len(ks), seconds, io0, found == 0, found=found,
                    cpu_seconds=cpu)

    def _readseq(self) -> None:
        self.before_reads()
        io0 = read_io()
        n = 0
        with self.eng.read_phase():
            cpu0 = time.process_time()
            t0 = time.perf_counter()
            for _kv in self.eng.scan():
                n += 1
            seconds = time.perf_counter() - t0
            cpu = time.process_time() - cpu0
        expect = self.cfg.num if self.live else 0
        self.record("readseq", n, seconds, io0, n == expect, expected=expect, cpu_seconds=cpu,
                    bytes=n * (KEY_SIZE + self.cfg.value_size))

    def _seekrandom(self) -> None:
        self.before_reads()
        keys = self.data.keys
        ks = [keys[i] for i in self.data.order(5, self.cfg.n_reads)]
        nexts = self.cfg.seek_nexts
        io0 = read_io()
        landed = entries = 0
        with self.eng.read_phase():
            seek_read = self.eng.seek_read
            cpu0 = time.process_time()
            t0 = time.perf_counter()
            for k in ks:
                count, first = seek_read(k, nexts)
                entries += count
                if first == k:
                    landed += 1
            seconds = time.perf_counter() - t0
            cpu = time.process_time() - cpu0
        ok = landed == len(ks) if self.live else entries == 0
        self.record("seekrandom", len(ks), seconds, io0, ok, landed=landed, entries_read=entries,
                    cpu_seconds=cpu)

    def _fillsync(self) -> None:
        """sync=True single-call puts into a new store: by one thread ("fillsync"), then by
        each --threads count T ("fillsync_Tt", each thread a slice of the same order), so
        group commit shows as the T-thread rate over the 1-thread rate."""
        n = min(self.cfg.sync_num, self.cfg.num)
        order = self.data.order(7)[:n]
        for threads in [1, *(t for t in self.cfg.threads if t > 1)]:
            name = "fillsync" if threads == 1 else f"fillsync_{threads}t"
            self.fresh_db(sync=True)
            keys, vals = self.data.keys, self.data.values(0)
            slices = [[(keys[i], vals[i]) for i in order[t::threads]] for t in range(threads)]
            errors: list[BaseException] = []
            put = self.eng.put
            start = threading.Barrier(threads + 1)

            def writer(pairs, put=put, start=start, errors=errors):
                start.wait()
                try:
                    for k, v in pairs:
                        put(k, v)
                except BaseException as exc:  # reported as a failed verification
                    errors.append(exc)

            io0 = read_io()
            seconds = _timed_threads(writer, [(sl,) for sl in slices], start)
            if errors:
                self.log(f"{name}: {len(errors)} writer threads failed: {errors[0]!r}")
            get = self.eng.get
            ok = not errors and all(get(keys[i]) == vals[i] for i in order[:VERIFY_SAMPLE])
            self.record(name, n, seconds, io0, ok, threads=threads,
                        bytes=n * (KEY_SIZE + self.cfg.value_size))
        # The store holds only n keys: later workloads start from a fresh fill.
        self.close()
        self.filled = self.live = False
        self.settled = True

    def _deleterandom(self) -> None:
        self.before_reads()  # the reads before it (if any) already settled; keep one path
        keys = self.data.keys
        ks = [keys[i] for i in self.data.order(6)]
        io0 = read_io()
        delete = self.eng.delete
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        for k in ks:
            delete(k)
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        self.live = False
        self.scope.append("deleterandom")
        self.record("deleterandom", len(ks), seconds, io0, self.verify_sample(13), cpu_seconds=cpu,
                    bytes=len(ks) * KEY_SIZE)


def _stats_summary(stats: dict) -> dict:
    keep = ("user_bytes_written", "wal_bytes", "flush_bytes", "compaction_bytes_read",
            "compaction_bytes_written", "write_amp", "sst_bytes", "live_user_bytes", "space_amp",
            "space_amp_exact", "compactions", "trivial_moves", "flushes", "stalls",
            "stall_seconds", "block_cache_hit_rate")
    out = {k: stats.get(k) for k in keep}
    out["levels"] = [{k: lv[k] for k in ("level", "files", "bytes", "write_amp")}
                     for lv in stats.get("levels", []) if lv.get("files")]
    return out


def _f(x) -> str:
    return "-" if x is None else f"{x:.2f}"


def worker_main(engine: str, cfg_json: str, out: str) -> int:
    cfg = Config(**json.loads(cfg_json))
    peers.BLOCK_CACHE_BYTES = cfg.cache_mib << 20
    peers.MEMORY_BUDGET_BYTES = (cfg.memory_budget_mib << 20) or None
    result = Worker(engine, cfg).run()
    result["loadavg_end"] = os.getloadavg()
    Path(out).write_text(json.dumps(result, indent=1))
    return 0


# ------------------------------------------------------------------------------ driver


def machine_facts() -> dict:
    """lsmdb.bench's machine facts, plus the Python build and the load at the start."""
    from lsmdb.bench.report import machine_facts as facts

    out = facts()
    out["python"] = f"{platform.python_implementation()} {platform.python_version()}"
    out["loadavg_start"] = out.pop("loadavg")
    return out


def source_state() -> dict:
    """The lsmdb commit measured and whether its working tree had uncommitted changes."""
    root = HERE.parent

    def git(*argv: str) -> str:
        try:
            return subprocess.run(["git", "-C", str(root), *argv], capture_output=True,
                                  text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    dirty = [line[3:] for line in git("status", "--porcelain", "--", "lsmdb").splitlines()]
    return {"commit": git("rev-parse", "HEAD") or None, "uncommitted_lsmdb_files": dirty}


def fs_type(path: str) -> str:
    best, kind = "", "?"
    with contextlib.suppress(OSError), open("/proc/mounts") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) > 2 and path.startswith(parts[1]) and len(parts[1]) > len(best):
                best, kind = parts[1], f"{parts[2]} on {parts[0]} ({parts[1]})"
    return kind


def run_engine(engine: str, cfg: Config) -> dict:
    """Run one engine's workloads in a fresh interpreter; {'error': ...} if it failed."""
    reason = peers.importable(engine)
    if reason is not None:
        return {"skipped": reason}
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        out = tmp.name
    try:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", engine,
               "--worker-config", json.dumps(asdict(cfg)), "--worker-out", out]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=None, text=True)
        if proc.returncode != 0:
            return {"error": f"worker exited with {proc.returncode} (its traceback is on stderr)"}
        result = json.loads(Path(out).read_text())
        result["wall_seconds"] = time.perf_counter() - t0
        return result
    finally:
        with contextlib.suppress(OSError):
            os.unlink(out)


def combine_rounds(results: list[dict]) -> dict:
    """One engine's rounds as one result: best throughput per workload (the run least
    disturbed by other load), each round's figure kept beside it; amplification and versions
    from the first round (they do not depend on timing)."""
    good = [r for r in results if "workloads" in r]
    if not good:
        return results[0]
    out = dict(good[0])
    out["rounds"] = len(good)
    workloads = {}
    for name in good[0]["workloads"]:
        rows = [r["workloads"][name] for r in good if name in r["workloads"]]
        best = dict(max(rows, key=lambda row: row["ops_per_sec"]))
        best["ops_per_sec_rounds"] = [row["ops_per_sec"] for row in rows]
        best["verified"] = all(row["verified"] for row in rows)
        workloads[name] = best
    out["workloads"] = workloads
    if len(good) < len(results):
        out["error"] = f"{len(results) - len(good)} of {len(results)} rounds failed"
    return out


def ops(report: dict, engine: str, workload: str) -> float | None:
    row = report["engines"].get(engine, {}).get("workloads", {}).get(workload)
    return None if row is None else row["ops_per_sec"]


def evaluate_targets(report: dict) -> list[dict]:
    out = []
    for workload, against, minimum in TARGETS:
        mine = ops(report, "lsmdb", workload)
        theirs = {p: ops(report, p, workload) for p in against}
        present = {p: v for p, v in theirs.items() if v}
        row = {"workload": workload, "against": list(against), "target_ratio": minimum}
        if mine is None or not present:
            row.update(status="not run", ratio=None)
        else:
            best = max(present, key=present.get)
            ratio = mine / present[best]
            row.update(yardstick=best, lsmdb_ops_per_sec=mine, peer_ops_per_sec=present[best],
                       ratio=ratio, met=ratio >= minimum,
                       status="met" if ratio >= minimum else "missed",
                       shortfall=max(0.0, 1 - ratio / minimum))
        out.append(row)
    return out


def rows(report: dict) -> list[str]:
    """The workloads to show, in run order; the thread-count runs of fillsync and readrandom
    follow them."""
    out = []
    for w in report["config"]["benchmarks"]:
        out.append(w)
        if w == "fillsync":
            out += [f"fillsync_{t}t" for t in report["config"].get("threads", []) if t > 1]
        if w == "readrandom":
            out += [f"readrandom_{t}t" for t in report["config"].get("read_threads", [])
                    if t > 1]
    return out


# Issue-15 write targets: (workload, yardstick peers, minimum ratio); "fillsync_4t" is
# measured against lsmdb's own 1-thread fillsync (group commit).
WRITE_TARGETS = (
    ("fillrandom", ("plyvel",), 1.2),
    ("fillseq", ("plyvel", "rocksdict", "lmdb", "sqlite3"), 1.0),
    ("deleterandom", ("plyvel",), 1.0),
    ("fillbatch", ("plyvel", "rocksdict"), 1.5),
    ("overwrite", ("plyvel", "rocksdict"), 1.5),
    ("fillsync", ("plyvel", "rocksdict", "lmdb", "sqlite3"), 1.0),
)


def evaluate_write_targets(report: dict) -> list[str]:
    lines = []
    for workload, against, minimum in WRITE_TARGETS:
        mine = ops(report, "lsmdb", workload)
        present = {p: v for p in against if (v := ops(report, p, workload))}
        if mine is None or not present:
            continue
        best = max(present, key=present.get)
        ratio = mine / present[best]
        how = "met" if ratio >= minimum else f"MISSED by {(1 - ratio / minimum) * 100:.0f}%"
        lines.append(f"  {workload:<12} >= {minimum:.1f}x best of {','.join(against):<28} "
                     f"{ratio:.2f}x vs {best:<9} {how}")
    one = ops(report, "lsmdb", "fillsync")
    for t in report["config"].get("threads", []):
        many = ops(report, "lsmdb", f"fillsync_{t}t")
        if one and many and t > 1:
            scale = many / one
            how = "met" if t != 4 or scale >= 3.0 else f"MISSED by {(1 - scale / 3) * 100:.0f}%"
            lines.append(f"  fillsync_{t}t  / lsmdb's 1-thread fillsync{'':<19} {scale:.2f}x "
                         f"{'(target >= 3.0x) ' + how if t == 4 else ''}")
    return lines


def ratios(report: dict) -> dict:
    out: dict = {}
    for w in rows(report):
        mine = ops(report, "lsmdb", w)
        for p in report["config"]["engines"]:
            theirs = ops(report, p, w)
            if p != "lsmdb" and mine and theirs:
                out.setdefault(w, {})[p] = mine / theirs
    return out


def format_report(report: dict) -> str:
    cfg = report["config"]
    engines = [e for e in cfg["engines"] if "workloads" in report["engines"].get(e, {})]
    peers_run = [e for e in engines if e != "lsmdb"]
    lines = []
    head = f"{'workload':<13}" + "".join(f"{e:>12}" for e in engines)
    if "lsmdb" in engines:
        head += "  " + "".join(f"{'/' + p:>11}" for p in peers_run)
    budget = cfg.get("memory_budget_mib")
    lines.append(f"memory: each engine's cache + memtables <= {budget} MiB (LMDB: page cache)"
                 if budget else f"memory: {cfg.get('cache_mib', 64)} MiB of block/page cache "
                 "per engine, memtables on top")
    lines.append("throughput, ops/s (ratio columns: lsmdb / peer)")
    lines.append(head)
    for w in rows(report):
        line = f"{w:<13}"
        for e in engines:
            v = ops(report, e, w)
            ok = report["engines"][e]["workloads"].get(w, {}).get("verified", True)
            line += f"{'-' if v is None else f'{v:,.0f}' + ('' if ok else '!'):>12}"
        if "lsmdb" in engines:
            line += "  " + "".join(
                f"{_f(report['ratios'].get(w, {}).get(p)) + 'x':>11}" for p in peers_run)
        lines.append(line)
    lines.append("")
    lines.append("amplification after the write phase (measured: /proc/self/io write_bytes, "
                 "allocated disk bytes)")
    lines.append(f"{'engine':<10}{'user MB':>9}{'written MB':>11}{'W-amp':>7}{'net':>7}"
                 f"{'stats W-amp':>12}{'disk MB':>9}{'S-amp':>7}{'compacted':>10}{'S-amp':>7}"
                 f"{'stats S-amp':>12}")
    for e in engines:
        a = report["engines"][e].get("amplification") or {}
        if not a:
            continue
        st = a.get("engine_stats_as_is") or {}
        stc = a.get("engine_stats_compacted") or {}
        lines.append(
            f"{e:<10}{a['user_bytes'] / 1e6:>9.1f}{(a['write_bytes'] or 0) / 1e6:>11.1f}"
            f"{_f(a['write_amp']):>7}{_f(a['write_amp_net']):>7}"
            f"{_f(st.get('write_amp')) if st else '':>12}"
            f"{a['disk_bytes_as_is'] / 1e6:>9.1f}{_f(a['space_amp_as_is']):>7}"
            f"{a['disk_bytes_compacted'] / 1e6:>10.1f}{_f(a['space_amp_compacted']):>7}"
            f"{(_f(st.get('space_amp')) + '/' + _f(stc.get('space_amp'))) if st else '':>12}")
    lines.append("")
    lines.append("issue-4 targets (lsmdb / best of the listed peers)")
    for t in report["targets"]:
        vs = "max(" + ", ".join(t["against"]) + ")" if len(t["against"]) > 1 else t["against"][0]
        if t["status"] == "not run":
            lines.append(f"  {t['workload']:<12} >= {t['target_ratio']:.1f}x {vs:<26} not run")
        else:
            how = "met" if t["met"] else f"MISSED by {t['shortfall'] * 100:.0f}%"
            lines.append(f"  {t['workload']:<12} >= {t['target_ratio']:.1f}x {vs:<26} "
                         f"{t['ratio']:.2f}x vs {t['yardstick']:<9} {how}")
    write_lines = evaluate_write_targets(report)
    if write_lines:
        lines.append("issue-15 write targets (lsmdb / best of the listed peers)")
        lines += write_lines
    bad = [(e, w) for e in engines for w, r in report["engines"][e]["workloads"].items()
           if not r["verified"]]
    for e in cfg["engines"]:
        r = report["engines"].get(e, {})
        if "error" in r or "skipped" in r:
            lines.append(f"{e}: not run: {r.get('error') or r.get('skipped')}")
    if bad:
        lines.append("VERIFICATION FAILED (marked !): " + ", ".join(f"{e}/{w}" for e, w in bad))
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--num", type=int, default=1_000_000, help="number of keys (default 1M)")
    ap.add_argument("--reads", type=int, default=None, help="reads and seeks (default --num)")
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--compression-ratio", type=float, default=0.5)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--seek-nexts", type=int, default=10)
    ap.add_argument("--seed", type=int, default=301)
    ap.add_argument("--engines", default=",".join(DEFAULT_ENGINES))
    ap.add_argument("--benchmarks", default=",".join(WORKLOADS))
    ap.add_argument("--rounds", type=int, default=1,
                    help="run everything N times, engines rotated; report the best of N")
    ap.add_argument("--sync", action="store_true", help="fsync every write, for every engine")
    ap.add_argument("--sync-num", type=int, default=3000,
                    help="fillsync: sync=True puts per thread count (default 3000)")
    ap.add_argument("--threads", default="4",
                    help="fillsync: writer thread counts run after the 1-thread run (e.g. 2,4)")
    ap.add_argument("--db-dir", default=tempfile.gettempdir(), help="where the stores live")
    ap.add_argument("--keep", action="store_true", help="keep the store directories")
    ap.add_argument("--out", default=None, help="JSON report (default bench/results/...)")
    ap.add_argument("--read-threads", default="1",
                    help="readrandom: reader thread counts, e.g. 1,2,4 (each > 1 is reported "
                         "as readrandom_<N>t)")
    ap.add_argument("--memory-budget-mib", type=int, default=128,
                    help="each engine's block/page cache plus memtables stay within this "
                         "(default 128: lsmdb and RocksDB charge memtables to a cache of this "
                         "size; 0: a --cache-mib cache per engine, memtables on top)")
    ap.add_argument("--cache-mib", type=int, default=64,
                    help="block/page cache per engine when --memory-budget-mib is 0")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--worker-config", help=argparse.SUPPRESS)
    ap.add_argument("--worker-out", help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker_main(args.worker, args.worker_config, args.worker_out)
    engines = [e for e in args.engines.split(",") if e]
    benchmarks = [b for b in args.benchmarks.split(",") if b]
    unknown = [b for b in benchmarks if b not in WORKLOADS] + [
        e for e in engines if e not in peers.ENGINES]
    try:
        threads = [int(t) for t in args.threads.split(",") if t]
        read_threads = sorted({int(t) for t in args.read_threads.split(",") if t})
    except ValueError:
        threads = read_threads = [0]
    if unknown or min(args.num, args.batch_size, args.value_size, args.rounds, args.sync_num,
                      *threads, *read_threads) <= 0:
        print(f"db_bench: bad arguments: {unknown or 'sizes must be positive'}; workloads: "
              f"{', '.join(WORKLOADS)}; engines: {', '.join(peers.ENGINES)}", file=sys.stderr)
        return 2
    if args.cache_mib < 0 or args.memory_budget_mib < 0 or 0 < args.memory_budget_mib <= 8:
        print("db_bench: --cache-mib must be >= 0 and --memory-budget-mib 0 or above 8 (it "
              "holds LevelDB's two 4 MiB write buffers)", file=sys.stderr)
        return 2
    cfg = Config(num=args.num, reads=args.reads, value_size=args.value_size,
                 compression_ratio=args.compression_ratio, batch_size=args.batch_size,
                 seek_nexts=args.seek_nexts, seed=args.seed, sync=args.sync, engines=engines,
                 benchmarks=benchmarks, db_dir=os.path.abspath(args.db_dir), keep=args.keep,
                 sync_num=args.sync_num, threads=threads, read_threads=read_threads,
                 memory_budget_mib=args.memory_budget_mib, cache_mib=args.cache_mib)
    report: dict = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": shlex.join([sys.executable, *sys.argv] if argv is None
                              else ["bench/db_bench.py", *argv]),
        "config": {**asdict(cfg), "rounds": args.rounds},
        "machine": {**machine_facts(), "db_filesystem": fs_type(cfg.db_dir)},
        "lsmdb_source": source_state(),
        "engines": {},
    }
    runs: dict[str, list[dict]] = {e: [] for e in engines}
    for r in range(args.rounds):
        # Rotate the engine order so no engine always runs in the same slot of a noisy machine.
        for engine in engines[r % len(engines):] + engines[:r % len(engines)]:
            print(f"--- {engine} (round {r + 1}/{args.rounds})", file=sys.stderr, flush=True)
            runs[engine].append(run_engine(engine, cfg))
    for engine in engines:
        report["engines"][engine] = combine_rounds(runs[engine])
    report["machine"]["loadavg_end"] = os.getloadavg()
    report["ratios"] = ratios(report)
    report["targets"] = evaluate_targets(report)
    print(format_report(report))
    out = Path(args.out) if args.out else HERE / "results" / (
        "db_bench_1m.json" if cfg.num >= 1_000_000 else f"db_bench_{cfg.num}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}", file=sys.stderr)
    failed = any("error" in r for r in report["engines"].values()) or any(
        not row["verified"] for r in report["engines"].values()
        for row in r.get("workloads", {}).values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
