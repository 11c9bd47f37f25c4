"""Run one benchmark configuration: workloads in db_bench order on one engine, then stats.

Workloads (RocksDB ``db_bench`` names; keys are ``--key-size``-byte decimal numbers ``2*i``
for i < ``--num``, the odd numbers in between are the keys that are never written):

=================  ===================================================================
fillseq            fresh DB; put the keys in ascending order
fillrandom         fresh DB; put the keys in a seeded random order
fillsync           fresh DB; ``sync=True`` puts of ``sync_num`` random keys
overwrite          put every key again (random order), values of the next version
readrandom         ``reads`` gets of random keys (all found while the keys are live)
readmissing        ``reads`` gets of never-written keys (none found)
readseq            one forward scan of the whole DB
seekrandom         ``reads`` seeks to random keys, each followed by ``seek_nexts`` nexts
deleterandom       delete every key (random order)
readwhilewriting   ``threads`` reader threads doing readrandom while one writer thread
                   re-puts random keys until the readers finish (reads are reported)
mixed              fresh DB; the :class:`~lsmdb.bench.workload.WorkloadSpec` (YCSB-A by
                   default: 50% zipfian updates, 50% zipfian reads): a timed ``load``
                   row for the preload, then the spec's operation stream
=================  ===================================================================

Fill workloads start a fresh DB, as db_bench does, so the statistics gathered at the end
cover the DB since the last fill. A read workload on a DB that holds no keys loads them first
(batched, untimed; the row says ``prefilled``). Every read checks what it got: found/missing
counts exactly, values of a sample of keys byte for byte, scan and seek results; the row's
``verified`` is False and ``errors`` says why otherwise.

Per row: ops, seconds, ops/s, µs/op, p50/p99 latency of every 8th operation (sampling keeps
the clock calls off most operations), MB/s of keys and values moved, and for reads the read
amplification measured by the engine's counters (tables probed and blocks read per lookup).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from lsmdb.bench.limits import INT_BOUNDS
from lsmdb.bench.range_read import seek_read
from lsmdb.bench.rocks import RocksTarget
from lsmdb.bench.workload import (
    DELETE,
    INSERT,
    LOOKUP,
    OP_KINDS,
    PRESETS,
    RANGE_DELETE,
    UPDATE,
    WorkloadGenerator,
    WorkloadSpec,
    encode_key,
    value_buffer,
)
from lsmdb.cli import out_of_bounds
from lsmdb.errors import InvalidArgumentError
from lsmdb.options import MiB, Options

__all__ = [
    "WORKLOADS",
    "DEFAULT_BENCHMARKS",
    "BENCH_OPTION_DEFAULTS",
    "BenchConfig",
    "WorkloadResult",
    "Runner",
    "LsmdbTarget",
    "run_benchmark",
    "run_config_dict",
    "bench_options",
    "load_policy",
    "read_io",
    "check_db_root",
]

WORKLOADS = ("fillseq", "fillrandom", "fillsync", "overwrite", "readrandom", "readmissing",
             "readseq", "seekrandom", "deleterandom", "readwhilewriting", "mixed")
FILLS = ("fillseq", "fillrandom", "fillsync")
DEFAULT_BENCHMARKS = ("fillrandom", "overwrite", "readrandom", "readmissing", "readseq",
                      "seekrandom")

# The bench scales the tree to its data: with the library defaults (64 MiB memtables) a
# 200k-key run would never leave the memtable and show no LSM at all. Flags and --set win.
BENCH_OPTION_DEFAULTS: dict[str, Any] = {
    "memtable_bytes": 2 * MiB,
    "compaction.base_level_bytes": 8 * MiB,
    "compaction.target_file_bytes": 2 * MiB,
}

_SAMPLE_MASK = 7  # time one operation in 8
_CHUNK = 1024  # operations between progress updates
_VERIFY_SAMPLE = 1000


def bench_options(overrides: dict[str, Any] | None = None) -> Options:
    """The bench's base options (:data:`BENCH_OPTION_DEFAULTS`) with ``overrides`` applied."""
    changes = dict(BENCH_OPTION_DEFAULTS)
    changes.update(overrides or {})
    return Options().override(changes)


def load_policy(spec: str) -> Any:
    """A compaction policy object from ``"MODULE:CLASS"`` (an importable module, e.g.
    ``mypkg.policies:Mine``) or ``"PATH.py:CLASS"`` (a Python file, e.g.
    ``examples/custom_policy.py:DensestLevelFirst``): the class called with no arguments."""
    import importlib
    import importlib.util

    where, sep, name = spec.rpartition(":")
    if not sep or not where or not name.isidentifier():
        raise InvalidArgumentError(f"--policy: expected MODULE:CLASS or FILE.py:CLASS, "
                                   f"got {spec!r}")
    try:
        if where.endswith(".py") or os.sep in where:
            path = os.path.abspath(where)
            if not os.path.isfile(path):
                raise InvalidArgumentError(f"--policy: no such file: {where}")
            mod_name = "_lsmdb_bench_policy_" + os.path.splitext(os.path.basename(path))[0]
            module = sys.modules.get(mod_name)
            if module is None or getattr(module, "__file__", None) != path:
                loader_spec = importlib.util.spec_from_file_location(mod_name, path)
                if loader_spec is None or loader_spec.loader is None:
                    raise InvalidArgumentError(f"--policy: cannot import {where}")
                module = importlib.util.module_from_spec(loader_spec)
                # Registered before running it: dataclasses and pickling look modules up.
                sys.modules[mod_name] = module
                loader_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
    except InvalidArgumentError:
        raise
    except Exception as exc:  # an import error of the user's module, reported as the flag's
        raise InvalidArgumentError(f"--policy: importing {where}: "
                                   f"{type(exc).__name__}: {exc}") from None
    cls = getattr(module, name, None)
    if cls is None:
        raise InvalidArgumentError(f"--policy: {where} has no attribute {name!r}")
    try:
        policy = cls()
    except Exception as exc:
        raise InvalidArgumentError(f"--policy: {name}() failed: "
                                   f"{type(exc).__name__}: {exc}") from None
    if not callable(getattr(policy, "pick", None)):
        raise InvalidArgumentError(f"--policy: {name} objects have no pick(view) method "
                                   "(the CompactionPolicy protocol)")
    return policy


@dataclass
class BenchConfig:
    """Everything one run needs; JSON-ready through :meth:`to_dict` (for worker processes)."""

    num: int = 200_000
    reads: int | None = None  # default: num
    key_size: int = 16
    value_size: int = 100
    batch_size: int = 1
    seek_nexts: int = 10
    threads: int = 1
    sync_num: int | None = None  # default: num // 100, 10 to 1000
    compression_ratio: float = 0.5
    benchmarks: list[str] = field(default_factory=lambda: list(DEFAULT_BENCHMARKS))
    seed: int = 301
    db: str | None = None  # None: a temporary directory, removed after the run
    engine: str = "lsmdb"
    option_overrides: dict[str, Any] = field(default_factory=dict)
    workload: dict[str, Any] | None = None  # a WorkloadSpec dict for "mixed"
    preset: str = "ycsb-a"  # the mixed workload when ``workload`` is None
    mix: list[list[Any]] = field(default_factory=list)  # [field path, value] edits of it
    label: str = ""
    progress: bool = False
    params: dict[str, Any] = field(default_factory=dict)  # the sweep point, for reports
    policy: str | None = None  # "MODULE:CLASS" or "FILE.py:CLASS": compaction.policy
    # lsmdb only: flushes and compactions run inside the writing call (deterministic shapes:
    # two runs that differ only in, e.g., filter allocation build the same tree).
    inline: bool = False


    @property
    def n_reads(self) -> int:
        return self.num if self.reads is None else self.reads

    @property
    def n_sync(self) -> int:
        if self.sync_num is not None:
            return self.sync_num
        return max(10, min(1000, self.num // 100))

    def options(self) -> Options:
        options = bench_options(self.option_overrides)
        if self.policy:
            options = options.override({"compaction.policy": load_policy(self.policy)})
        return options

    def spec(self) -> WorkloadSpec:
        """The mixed workload: the ``workload`` spec as given, or the preset sized by
        num/reads/key_size/value_size/seed; then the ``mix`` edits."""
        if self.workload is not None:
            spec = WorkloadSpec.from_dict(self.workload)
        else:
            if self.preset not in PRESETS:
                raise InvalidArgumentError(f"--preset: unknown preset {self.preset!r}; "
                                           "choose from " + ", ".join(PRESETS))
            spec = dataclasses.replace(PRESETS[self.preset], name="mixed",
                                       operations=self.n_reads, preload=self.num,
                                       key_size=self.key_size, value_size=self.value_size,
                                       seed=self.seed)
        if self.mix:
            try:
                spec = spec.with_assignments([(path, value) for path, value in self.mix])
            except InvalidArgumentError as exc:
                raise InvalidArgumentError(f"--mix: {exc}") from None
        return spec

    def validate(self) -> None:
        def bad(flag: str, reason: str) -> InvalidArgumentError:
            return InvalidArgumentError(f"{flag}: {reason}")

        for dest, (lo, hi) in INT_BOUNDS.items():
            value = getattr(self, dest, None)
            problem = None if value is None else out_of_bounds(value, lo, hi)
            if problem is not None:
                raise bad("--" + dest.replace("_", "-"), problem)
        options = self.options()  # option errors surface before any work
        problem = out_of_bounds(self.value_size, 0, options.max_value_bytes)
        if problem is not None:
            raise bad("--value-size", f"{problem} (the max_value_bytes option)")
        if self.key_size > options.max_key_bytes:
            problem = out_of_bounds(self.key_size, 1, options.max_key_bytes)
            raise bad("--key-size", f"{problem} (the max_key_bytes option: the longest key "
                                    "lsmdb accepts)")
        digits = len(str(2 * self.num + 1))
        if self.key_size < digits:
            raise bad("--key-size", f"{self.key_size} bytes cannot hold {digits}-digit keys "
                                    f"for --num {self.num}; use at least {digits}")
        if not 0.0 < self.compression_ratio <= 1.0:
            raise bad("--compression-ratio", f"must be in (0, 1], got {self.compression_ratio}")
        if not self.benchmarks:
            raise bad("--benchmarks", "names no workload")
        unknown = [b for b in self.benchmarks if b not in WORKLOADS]
        if unknown:
            raise bad("--benchmarks", f"unknown workload {unknown[0]!r}; choose from "
                                      + ", ".join(WORKLOADS))
        if self.engine not in ("lsmdb", "rocksdb"):
            raise bad("--engine", f"must be lsmdb or rocksdb, got {self.engine!r}")
        if self.policy and self.engine != "lsmdb":
            raise bad("--policy", "a Python compaction policy runs on lsmdb only")
        if self.inline and self.engine != "lsmdb":
            raise bad("--inline", "inline (deterministic) background work is lsmdb's only")
        if self.inline and "readwhilewriting" in self.benchmarks:
            raise bad("--inline", "readwhilewriting needs background compaction")
        if "mixed" in self.benchmarks:
            self.spec()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchConfig:
        return cls(**data)


@dataclass
class WorkloadResult:
    """One row of the result table."""

    name: str
    ops: int
    seconds: float
    ops_per_sec: float
    micros_per_op: float
    p50_us: float | None
    p99_us: float | None
    mb_per_sec: float
    bytes: int
    found: int | None = None
    verified: bool = True
    prefilled: bool = False
    errors: list[str] = field(default_factory=list)
    read_amp: dict[str, float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def read_io() -> dict[str, int]:
    """This process's kernel I/O counters (all threads); {} where /proc is unavailable."""
    try:
        with open("/proc/self/io") as fh:
            return {k: int(v) for k, v in (line.split(":") for line in fh if ":" in line)}
    except (OSError, ValueError):
        return {}


def _percentiles(samples: list[int]) -> tuple[float | None, float | None]:
    if not samples:
        return None, None
    ordered = sorted(samples)
    last = len(ordered) - 1
    return ordered[round(0.50 * last)] / 1000.0, ordered[round(0.99 * last)] / 1000.0


# -- engines --------------------------------------------------------------------------------


class LsmdbTarget:
    """lsmdb behind the small interface the runner drives (rocks.RocksTarget mirrors it)."""

    engine = "lsmdb"

    def __init__(self, path: str, options: Options, inline: bool = False):
        import lsmdb

        self.path = path
        self.options = options
        self.db = lsmdb.open(path, options, inline_background=inline)
        self.put = self.db.put
        self.get = self.db.get
        self.delete = self.db.delete

    def put_sync(self, key: bytes, value: bytes) -> None:
        self.db.put(key, value, sync=True)

    def write_pairs(self, pairs: list[tuple[bytes, bytes]]) -> None:
        with self.db.write_batch() as wb:
            put = wb.put
            for k, v in pairs:
                put(k, v)

    def delete_range(self, start: bytes, end: bytes) -> None:
        self.db.delete_range(start, end)

    def scan(self) -> Iterator[tuple[bytes, bytes]]:
        return self.db.items()

    def new_iterator(self):
        return self.db.iterator()

    seek_read = staticmethod(seek_read)

    def flush(self) -> None:
        self.db.flush()

    def read_counters(self) -> dict[int, tuple[int, int, int, int, int]]:
        """Per table file: (bloom checks, bloom negatives, bloom false positives, data blocks
        read from disk, data block cache hits) since the table was opened."""
        tables = getattr(self.db, "_tables", None)
        readers = tables.readers() if tables is not None else []
        out = {}
        for r in readers:
            out[getattr(r, "file_number", id(r))] = (
                getattr(r, "bloom_checks", 0), getattr(r, "bloom_negatives", 0),
                getattr(r, "bloom_false_positives", 0), getattr(r, "data_blocks_read", 0),
                getattr(r, "cache_hits", 0))
        return out

    def final_stats(self) -> dict[str, Any]:
        stats = self.db.stats(exact=True)
        out = stats.to_dict()
        predicted = getattr(stats, "predicted", None)
        if predicted is not None:
            out["predicted"] = _plain(predicted)
        return out

    def settings(self) -> dict[str, Any]:
        return self.options.to_dict()

    def version(self) -> str:
        import lsmdb

        return lsmdb.__version__

    def close(self) -> None:
        self.db.close()


def _plain(obj: Any) -> Any:
    """A JSON-ready form of a stats object (dataclass, object with to_dict, or mapping)."""
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (int, float, str, bool)) or obj is None:
        return obj
    return repr(obj)


def read_amp_from(before: dict, after: dict, lookups: int) -> dict[str, float] | None:
    """Read amplification of ``lookups`` point lookups from two :meth:`read_counters`
    snapshots. Tables opened in between count from zero; tables closed in between (by a
    compaction) lose what they counted, so a busy compaction makes these figures low."""
    if not lookups:
        return None
    totals = [0, 0, 0, 0, 0]
    for number, counts in after.items():
        prev = before.get(number, (0, 0, 0, 0, 0))
        for i in range(5):
            totals[i] += counts[i] - prev[i]
    checks, negatives, false_pos, disk_blocks, cache_hits = totals
    absent_probes = negatives + false_pos
    return {
        "tables_probed_per_lookup": checks / lookups,
        "blocks_per_lookup": (disk_blocks + cache_hits) / lookups,
        "disk_blocks_per_lookup": disk_blocks / lookups,
        "bloom_fp_rate": (false_pos / absent_probes) if absent_probes else None,
    }


def make_target(cfg: BenchConfig, path: str, options: Options):
    if cfg.engine == "rocksdb":
        return RocksTarget(path, options)
    return LsmdbTarget(path, options, inline=cfg.inline)


# -- the runner -----------------------------------------------------------------------------


def check_db_root(path: str) -> str:
    """The absolute path of a usable ``--db``: an empty directory, or a new one whose parent
    exists. The bench creates only the last directory of the path, never its parents: a typo
    in a parent is an error, not a tree of new directories left behind."""
    root = os.path.abspath(path)
    if os.path.exists(root):
        if not os.path.isdir(root):
            raise InvalidArgumentError(f"--db: {root} is not a directory")
        if os.listdir(root):
            raise InvalidArgumentError(f"--db: {root} is not empty (the bench creates and "
                                       "destroys databases in it)")
        return root
    parent = os.path.dirname(root)
    if not os.path.isdir(parent):
        what = "is not a directory" if os.path.exists(parent) else "does not exist"
        raise InvalidArgumentError(f"--db: {parent} {what} (the bench creates the last "
                                   "directory of --db, not its parents)")
    return root


class Runner:
    """Runs the workloads of one :class:`BenchConfig` and gathers the results."""

    def __init__(self, cfg: BenchConfig, progress: Callable[[str, int], Any] | None = None):
        cfg.validate()
        self.cfg = cfg
        self.options = cfg.options()
        self._progress_factory = progress
        self.keys = [encode_key(2 * i, cfg.key_size) for i in range(cfg.num)]
        self._buf = value_buffer(cfg.seed, cfg.value_size, cfg.compression_ratio)
        self._span = max(1, len(self._buf) - cfg.value_size)
        self.version = 0
        self.live = bytearray(cfg.num)  # 1: key i holds value(i, version)
        self.target = None
        self.owner = "none"  # "named": state above is the DB's; "spec": a mixed workload's
        self.generation = 0
        self.root = ""
        self._own_root = False
        self.dbpath = ""
        self.results: list[WorkloadResult] = []
        self.io_at_create: dict[str, int] = {}
        self.user_bytes = 0

    # -- data ------------------------------------------------------------------------------
    def value(self, i: int, version: int) -> bytes:
        o = (i * 2654435761 + version * 97531) % self._span
        return self._buf[o:o + self.cfg.value_size]

    def order(self, salt: int, n: int | None = None) -> list[int]:
        """A seeded permutation of range(num), cycled or cut to ``n`` entries."""
        import random

        perm = list(range(self.cfg.num))
        random.Random(self.cfg.seed * 1_000_003 + salt).shuffle(perm)
        if n is None or n == len(perm):
            return perm
        reps = -(-n // len(perm))
        return (perm * reps)[:n]

    # -- lifecycle -------------------------------------------------------------------------
    def _prepare_root(self) -> None:
        if self.cfg.db is None:
            self.root = tempfile.mkdtemp(prefix="lsmdb-bench-")
            self._own_root = True
            return
        self.root = check_db_root(self.cfg.db)
        if not os.path.isdir(self.root):
            os.mkdir(self.root)

    def fresh_db(self) -> None:
        self.close_db()
        if self.dbpath:
            shutil.rmtree(self.dbpath, ignore_errors=True)
        self.generation += 1
        self.dbpath = os.path.join(self.root, f"db{self.generation}")
        self.io_at_create = read_io()
        self.user_bytes = 0
        self.target = make_target(self.cfg, self.dbpath, self.options)
        self.live = bytearray(self.cfg.num)
        self.owner = "named"

    def close_db(self) -> None:
        if self.target is not None:
            self.target.close()
            self.target = None

    # -- timing helpers --------------------------------------------------------------------
    @contextlib.contextmanager
    def _bar(self, name: str, total: int):
        bar = self._progress_factory(name, total) if self._progress_factory else None
        try:
            yield bar
        finally:
            if bar is not None:
                bar.close()

    def _record(self, name: str, ops: int, seconds: float, nbytes: int, samples: list[int],
                **kw: Any) -> WorkloadResult:
        p50, p99 = _percentiles(samples)
        row = WorkloadResult(
            name=name, ops=ops, seconds=seconds,
            ops_per_sec=ops / seconds if seconds > 0 else 0.0,
            micros_per_op=seconds * 1e6 / ops if ops else 0.0,
            p50_us=p50, p99_us=p99,
            mb_per_sec=nbytes / seconds / 1e6 if seconds > 0 else 0.0, bytes=nbytes, **kw)
        row.verified = not row.errors
        self.results.append(row)
        return row

    def _ensure_filled(self) -> bool:
        """Load every key (batched, untimed) unless the DB already holds the named keys."""
        if self.owner == "named" and any(self.live):
            return False
        self.fresh_db()
        keys, value, version = self.keys, self.value, self.version
        step = 1000
        for start in range(0, self.cfg.num, step):
            end = min(start + step, self.cfg.num)
            self.target.write_pairs([(keys[i], value(i, version)) for i in range(start, end)])
        self.user_bytes += self.cfg.num * (self.cfg.key_size + self.cfg.value_size)
        self.live = bytearray(b"\x01") * self.cfg.num
        return True

    def _verify_values(self, salt: int, errors: list[str]) -> None:
        import random

        rng = random.Random(self.cfg.seed * 7919 + salt)
        get, keys, value, version, live = (self.target.get, self.keys, self.value, self.version,
                                           self.live)
        for _ in range(min(_VERIFY_SAMPLE, self.cfg.num)):
            i = rng.randrange(self.cfg.num)
            got = get(keys[i])
            want = value(i, version) if live[i] else None
            if got != want:
                errors.append(f"key {keys[i]!r}: got {_short(got)}, expected {_short(want)}")
                return

    # -- write workloads -------------------------------------------------------------------
    def _put_all(self, name: str, order: list[int], version: int, *, sync: bool = False):
        target, keys, value, cfg = self.target, self.keys, self.value, self.cfg
        put = target.put_sync if sync else target.put
        batch = 1 if sync else cfg.batch_size
        samples: list[int] = []
        add = samples.append
        now = time.perf_counter_ns
        n = len(order)
        with self._bar(name, n) as bar:
            t0 = time.perf_counter()
            for start in range(0, n, _CHUNK):
                chunk = order[start:start + _CHUNK]
                if batch == 1:
                    for j, i in enumerate(chunk):
                        if j & _SAMPLE_MASK:
                            put(keys[i], value(i, version))
                        else:
                            s = now()
                            put(keys[i], value(i, version))
                            add(now() - s)
                else:
                    for b in range(0, len(chunk), batch):
                        s = now()
                        target.write_pairs([(keys[i], value(i, version))
                                            for i in chunk[b:b + batch]])
                        add(now() - s)
                if bar is not None:
                    bar.update(len(chunk))
            seconds = time.perf_counter() - t0
        for i in order:
            self.live[i] = 1
        nbytes = n * (cfg.key_size + cfg.value_size)
        self.user_bytes += nbytes
        extra = {"batch_size": batch} if batch > 1 else {}
        return self._record(name, n, seconds, nbytes, samples, extra=extra)

    def fillseq(self) -> WorkloadResult:
        self.fresh_db()
        self.version = 0
        return self._put_all("fillseq", list(range(self.cfg.num)), 0)

    def fillrandom(self) -> WorkloadResult:
        self.fresh_db()
        self.version = 0
        return self._put_all("fillrandom", self.order(1), 0)

    def fillsync(self) -> WorkloadResult:
        self.fresh_db()
        self.version = 0
        n = min(self.cfg.n_sync, self.cfg.num)
        return self._put_all("fillsync", self.order(2)[:n], 0, sync=True)

    def overwrite(self) -> WorkloadResult:
        prefilled = self._ensure_filled()
        self.version += 1
        row = self._put_all("overwrite", self.order(3), self.version)
        row.prefilled = prefilled
        return row

    def deleterandom(self) -> WorkloadResult:
        prefilled = self._ensure_filled()
        delete, keys = self.target.delete, self.keys
        order = self.order(4)
        samples: list[int] = []
        add = samples.append
        now = time.perf_counter_ns
        with self._bar("deleterandom", len(order)) as bar:
            t0 = time.perf_counter()
            for start in range(0, len(order), _CHUNK):
                chunk = order[start:start + _CHUNK]
                for j, i in enumerate(chunk):
                    if j & _SAMPLE_MASK:
                        delete(keys[i])
                    else:
                        s = now()
                        delete(keys[i])
                        add(now() - s)
                if bar is not None:
                    bar.update(len(chunk))
            seconds = time.perf_counter() - t0
        self.live = bytearray(self.cfg.num)
        nbytes = len(order) * self.cfg.key_size
        self.user_bytes += nbytes
        errors: list[str] = []
        self._verify_values(4, errors)
        return self._record("deleterandom", len(order), seconds, nbytes, samples,
                            prefilled=prefilled, errors=errors)

    # -- read workloads --------------------------------------------------------------------
    def _gets(self, name: str, keys: list[bytes]) -> tuple:
        get = self.target.get
        samples: list[int] = []
        add = samples.append
        now = time.perf_counter_ns
        found = 0
        nbytes = 0
        before = self.target.read_counters()
        with self._bar(name, len(keys)) as bar:
            t0 = time.perf_counter()
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start:start + _CHUNK]
                for j, k in enumerate(chunk):
                    if j & _SAMPLE_MASK:
                        v = get(k)
                    else:
                        s = now()
                        v = get(k)
                        add(now() - s)
                    if v is not None:
                        found += 1
                        nbytes += len(v)
                if bar is not None:
                    bar.update(len(chunk))
            seconds = time.perf_counter() - t0
        amp = read_amp_from(before, self.target.read_counters(), len(keys))
        return seconds, found, nbytes, samples, amp

    def readrandom(self) -> WorkloadResult:
        prefilled = self._ensure_filled()
        order = self.order(5, self.cfg.n_reads)
        keys = self.keys
        seconds, found, nbytes, samples, amp = self._gets(
            "readrandom", [keys[i] for i in order])
        expected = sum(self.live[i] for i in order)
        errors = [] if found == expected else [f"found {found} keys, expected {expected}"]
        self._verify_values(5, errors)
        nbytes += found * self.cfg.key_size
        return self._record("readrandom", len(order), seconds, nbytes, samples, found=found,
                            prefilled=prefilled, errors=errors, read_amp=amp)

    def readmissing(self) -> WorkloadResult:
        prefilled = self._ensure_filled()
        order = self.order(6, self.cfg.n_reads)
        size = self.cfg.key_size
        seconds, found, nbytes, samples, amp = self._gets(
            "readmissing", [encode_key(2 * i + 1, size) for i in order])
        errors = [] if found == 0 else [f"found {found} keys that were never written"]
        return self._record("readmissing", len(order), seconds, nbytes, samples, found=found,
                            prefilled=prefilled, errors=errors, read_amp=amp)

    def readseq(self) -> WorkloadResult:
        prefilled = self._ensure_filled()
        count = 0
        nbytes = 0
        ordered = True
        prev = b""
        with self._bar("readseq", sum(self.live)) as bar:
            t0 = time.perf_counter()
            for k, v in self.target.scan():
                count += 1
                nbytes += len(k) + len(v)
                if k <= prev:
                    ordered = False
                prev = k
                if bar is not None and not count % _CHUNK:
                    bar.update(_CHUNK)
            seconds = time.perf_counter() - t0
        expected = sum(self.live)
        errors = [] if count == expected else [f"scanned {count} entries, expected {expected}"]
        if not ordered:
            errors.append("scan returned keys out of order")
        return self._record("readseq", count, seconds, nbytes, [], found=count,
                            prefilled=prefilled, errors=errors)

    def seekrandom(self) -> WorkloadResult:
        prefilled = self._ensure_filled()
        order = self.order(7, self.cfg.n_reads)
        keys, live, nexts = self.keys, self.live, self.cfg.seek_nexts
        target = self.target
        seek_read = target.seek_read
        it = target.new_iterator()
        samples: list[int] = []
        add = samples.append
        now = time.perf_counter_ns
        found = 0
        read = 0
        wrong = None
        with self._bar("seekrandom", len(order)) as bar:
            t0 = time.perf_counter()
            for start in range(0, len(order), _CHUNK):
                chunk = order[start:start + _CHUNK]
                for j, i in enumerate(chunk):
                    if j & _SAMPLE_MASK:
                        count, first = seek_read(it, keys[i], nexts + 1)
                    else:
                        s = now()
                        count, first = seek_read(it, keys[i], nexts + 1)
                        add(now() - s)
                    read += count
                    if first == keys[i]:
                        found += 1
                    elif live[i] and wrong is None:
                        wrong = f"seek to live key {keys[i]!r} landed on {_short(first)}"
                if bar is not None:
                    bar.update(len(chunk))
            seconds = time.perf_counter() - t0
        with contextlib.suppress(AttributeError):
            it.close()
        expected = sum(live[i] for i in order)
        errors = [wrong] if wrong else []
        if found != expected:
            errors.append(f"seeks found {found} keys, expected {expected}")
        nbytes = read * (self.cfg.key_size + self.cfg.value_size)
        return self._record("seekrandom", len(order), seconds, nbytes, samples, found=found,
                            prefilled=prefilled, errors=errors,
                            extra={"entries_read": read, "seek_nexts": nexts})

    def readwhilewriting(self) -> WorkloadResult:
        prefilled = self._ensure_filled()
        cfg, keys, value, version = self.cfg, self.keys, self.value, self.version
        target = self.target
        stop = threading.Event()
        writes = [0]
        failures: list[BaseException] = []

        def writer() -> None:
            # Re-puts the current values: real writes (WAL, memtable, flushes, compactions)
            # that keep every read's expected answer exact.
            try:
                import random

                rng = random.Random(cfg.seed + 11)
                put, n = target.put, cfg.num
                while not stop.is_set():
                    for _ in range(64):
                        i = rng.randrange(n)
                        put(keys[i], value(i, version))
                    writes[0] += 64
            except BaseException as exc:  # reported in the row, not lost in a thread
                failures.append(exc)

        per_thread = max(1, cfg.n_reads // cfg.threads)
        results: list[tuple] = [()] * cfg.threads
        amp_before = target.read_counters()

        def reader(t: int) -> None:
            try:
                order = self.order(100 + t, per_thread)
                get = target.get
                samples: list[int] = []
                now = time.perf_counter_ns
                found = 0
                for j, i in enumerate(order):
                    if j & _SAMPLE_MASK:
                        v = get(keys[i])
                    else:
                        s = now()
                        v = get(keys[i])
                        samples.append(now() - s)
                    found += v is not None
                results[t] = (found, samples)
            except BaseException as exc:
                failures.append(exc)

        wthread = threading.Thread(target=writer, name="bench-writer", daemon=True)
        readers = [threading.Thread(target=reader, args=(t,), name=f"bench-reader-{t}")
                   for t in range(cfg.threads)]
        with self._bar("readwhilewriting", 0):
            t0 = time.perf_counter()
            wthread.start()
            for th in readers:
                th.start()
            for th in readers:
                th.join()
            seconds = time.perf_counter() - t0
            stop.set()
            wthread.join()
        ops = per_thread * cfg.threads
        found = sum(r[0] for r in results if r)
        samples = [s for r in results if r for s in r[1]]
        errors = [f"{type(e).__name__}: {e}" for e in failures]
        if not failures and found != ops:
            errors.append(f"found {found} keys, expected {ops}")
        self.user_bytes += writes[0] * (cfg.key_size + cfg.value_size)
        amp = read_amp_from(amp_before, target.read_counters(), ops)
        return self._record("readwhilewriting", ops, seconds,
                            found * (cfg.key_size + cfg.value_size), samples, found=found,
                            prefilled=prefilled, errors=errors, read_amp=amp,
                            extra={"threads": cfg.threads, "writer_ops": writes[0],
                                   "writer_ops_per_sec": writes[0] / seconds if seconds else 0})

    # -- the generator's workloads ---------------------------------------------------------
    def mixed(self) -> WorkloadResult:
        spec = self.cfg.spec()
        self.fresh_db()
        self.owner = "spec"
        gen = WorkloadGenerator(spec)
        target = self.target
        with self._bar(f"{spec.name}:load", spec.preload) as bar:
            load_seconds = 0.0
            nbytes = 0
            for pairs in gen.preload(batch=1000):
                t0 = time.perf_counter()
                target.write_pairs(pairs)
                load_seconds += time.perf_counter() - t0
                nbytes += sum(len(k) + len(v) for k, v in pairs)
                if bar is not None:
                    bar.update(len(pairs))
        self.user_bytes += nbytes
        if spec.preload:
            self._record(f"{spec.name}:load", spec.preload, load_seconds, nbytes, [],
                         extra={"batch_size": 1000})
        return self._run_ops(spec, gen)

    def _run_ops(self, spec: WorkloadSpec, gen: WorkloadGenerator) -> WorkloadResult:
        target = self.target
        put, get, delete = target.put, target.get, target.delete
        delete_range, seek_read = target.delete_range, target.seek_read
        samples: dict[int, list[int]] = {k: [] for k in range(len(OP_KINDS))}
        now = time.perf_counter_ns
        errors: list[str] = []
        found = 0
        nbytes = 0
        written = 0
        lookups = 0
        seconds = 0.0
        before = target.read_counters()
        with self._bar(spec.name, spec.operations) as bar:
            for ops in gen.chunks(_CHUNK):
                t0 = time.perf_counter()
                for j, (code, key, arg, expect) in enumerate(ops):
                    s = now() if not j & _SAMPLE_MASK else 0
                    if code == LOOKUP:
                        v = get(key)
                        lookups += 1
                        if v is not None:
                            found += 1
                            nbytes += len(key) + len(v)
                        if v != expect and len(errors) < 5:
                            errors.append(f"get {key!r}: got {_short(v)}, expected "
                                          f"{_short(expect)}")
                    elif code == UPDATE or code == INSERT:
                        put(key, arg)
                        written += len(key) + len(arg)
                    elif code == DELETE:
                        delete(key)
                        written += len(key)
                    elif code == RANGE_DELETE:
                        delete_range(key, arg)
                        written += len(key) + len(arg)
                    else:
                        it = target.new_iterator()
                        count, first = seek_read(it, key, arg)
                        with contextlib.suppress(AttributeError):
                            it.close()
                        nbytes += count * (len(key) + spec.value_size)
                        if count != expect and len(errors) < 5:
                            errors.append(f"range lookup from {key!r}: {count} entries, "
                                          f"expected {expect}")
                    if s:
                        samples[code].append(now() - s)
                seconds += time.perf_counter() - t0
                if bar is not None:
                    bar.update(len(ops))
        self.user_bytes += written
        amp = read_amp_from(before, target.read_counters(), lookups)
        everything = [x for lst in samples.values() for x in lst]
        per_kind = {}
        for code, lst in samples.items():
            if lst:
                p50, p99 = _percentiles(lst)
                per_kind[OP_KINDS[code]] = {"p50_us": p50, "p99_us": p99}
        return self._record(spec.name, spec.operations, seconds, nbytes + written, everything,
                            found=found, errors=errors, read_amp=amp,
                            extra={"counts": dict(gen.counts),
                                   "zero_result_lookups": gen.zero_result_lookups,
                                   "latency_by_kind": per_kind, "spec": spec.to_dict()})

    # -- the run ---------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Run every workload of the config; returns the run's result dict (see report)."""
        t_start = time.perf_counter()
        self._prepare_root()
        try:
            for name in self.cfg.benchmarks:
                getattr(self, name)()
            final: dict[str, Any] = {}
            if self.target is not None:
                t0 = time.perf_counter()
                self.target.flush()
                final = self.target.final_stats()
                final["flush_seconds"] = time.perf_counter() - t0
                io_end = read_io()
                if "write_bytes" in io_end and "write_bytes" in self.io_at_create:
                    written = io_end["write_bytes"] - self.io_at_create["write_bytes"]
                    final["io_write_bytes"] = written
                    final["io_write_amp"] = written / self.user_bytes if self.user_bytes else None
                final["bench_user_bytes"] = self.user_bytes
                engine_version = self.target.version()
                settings = self.target.settings()
            else:
                engine_version, settings = "", {}
        finally:
            self.close_db()
            if self._own_root:
                shutil.rmtree(self.root, ignore_errors=True)
        return {
            "label": self.cfg.label or self.cfg.engine,
            "engine": self.cfg.engine,
            "engine_version": engine_version,
            "params": dict(self.cfg.params),
            "config": self.cfg.to_dict(),
            "options": self.options.to_dict(),
            "engine_settings": settings,
            "results": [r.to_dict() for r in self.results],
            "stats": final,
            "summary": summarize(self.results, final),
            "wall_seconds": time.perf_counter() - t_start,
        }


def summarize(rows: list[WorkloadResult], stats: dict[str, Any]) -> dict[str, Any]:
    """The headline figures of one run: amplifications, read amp, stalls, cache hits."""
    point = [r for r in rows if r.read_amp and r.name in ("readrandom", "readwhilewriting")]
    missing = [r for r in rows if r.read_amp and r.name == "readmissing"]
    spec_rows = [r for r in rows if r.read_amp and r.name not in (
        "readrandom", "readwhilewriting", "readmissing")]
    ref = (point or spec_rows or missing or [None])[0]
    stalls = stats.get("stalls") or {}
    return {
        "write_amp": stats.get("write_amp"),
        "space_amp": stats.get("space_amp"),
        "io_write_amp": stats.get("io_write_amp"),
        "read_amp": ref.read_amp["tables_probed_per_lookup"] if ref else None,
        "blocks_per_lookup": ref.read_amp["blocks_per_lookup"] if ref else None,
        "missing_blocks_per_lookup": (missing[0].read_amp["blocks_per_lookup"]
                                      if missing else None),
        "stalls": sum(stalls.values()) if isinstance(stalls, dict) else stalls,
        "cache_hit_rate": stats.get("block_cache_hit_rate"),
        "sst_bytes": stats.get("sst_bytes"),
        "verified": all(r.verified for r in rows),
    }


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _tqdm_factory(enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # progress is optional: the extra "bench" installs tqdm
        return None

    def make(name: str, total: int):
        return tqdm(total=total or None, desc=f"{name:>16}", unit="op", unit_scale=True,
                    leave=False, file=sys.stderr, dynamic_ncols=True)

    return make


def run_benchmark(cfg: BenchConfig) -> dict[str, Any]:
    """Run ``cfg`` in this process; progress on stderr if ``cfg.progress`` and it is a TTY."""
    show = cfg.progress and sys.stderr.isatty()
    return Runner(cfg, progress=_tqdm_factory(show)).run()


def run_config_dict(data: dict[str, Any]) -> dict[str, Any]:
    """Worker entry point for process pools and Dask: a config dict in, a result dict out."""
    return run_benchmark(BenchConfig.from_dict(data))
