"""A multi-threaded stress driver with an exact expected-state oracle (RocksDB's db_stress).

``N`` threads run seeded random puts, deletes, range deletes, write batches, gets, snapshot
iterations, flushes and compactions on one DB; every read is checked exactly.

How concurrency is modeled (so that every read has exactly one right answer):

- **Owned keys.** Thread ``i`` alone writes the keys ``t<ii>.<nnnnn>``. Its model of them is
  exact at every moment, so its gets, scans and snapshot scans of them are checked exactly,
  while the other threads write elsewhere (and flushes/compactions run underneath).
- **Shared keys.** Every thread also writes the keys ``s.<nnnnn>``, but only while holding
  one lock (``shared_lock``); reads of them are checked under the same lock. They form one
  more history, writer ``s``, whose writes come from all threads in lock order.
- **Cross-thread snapshots.** A thread takes a snapshot, scans another writer's keys, does a
  write of its own, scans again: both scans must be identical (snapshot isolation) and every
  value must carry its key (nothing misplaced).

Each write is logged to an :class:`~lsmdb.testing.oracle.ExpectedLog` (intent before the
call, ack after it returns), so a crash at any moment leaves an exact description of what
may and must be in the database; :mod:`lsmdb.testing.crashloop` verifies it after kill -9.

Fault mode (``faults_one_in=N``): the DB runs on a :class:`~lsmdb.testing.oracle.PowerCutEnv`
failing each write/sync/rename/fsync_dir/open with odds 1/N (EIO, writes sometimes torn).
Each cycle runs the threads until an I/O error stops them or a timer cuts the power
mid-flight; then power is cut (unsynced data dropped, last write torn), the DB is reopened
and checked: no acknowledged durable write lost, nothing invented, no hole (the prefix
property), no ``CorruptionError``. Then the next cycle starts on the recovered state.

Deterministic mode: ``threads=1, inline=True`` (background work inline) replays exactly from
the seed: the same op sequence (``op_digest``) and the same final state (``state_digest``).
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field, fields

import lsmdb
from lsmdb.cli import whole_number
from lsmdb.errors import BackgroundError, Error, StorageIOError
from lsmdb.testing.oracle import (
    ExpectedLog,
    PowerCutEnv,
    apply_op,
    load_state,
    parse_log,
    read_db_state,
    verify_recovered,
)
from lsmdb.testing.presets import small_options

__all__ = ["StressConfig", "StressReport", "StressFailure", "run_stress", "run_fault_cycles",
           "writer_of", "thread_key", "shared_key", "reproduce_command", "main"]

SHARED = "s"
FAULT_KINDS = ("write", "sync", "rename", "fsync_dir", "open")

# Op mix (percent of operations), in the spirit of db_stress's *percent flags.
OP_MIX = (("put", 28.0), ("delete", 8.0), ("range", 2.0), ("batch", 9.0), ("get", 25.0),
          ("iterate", 8.0), ("snapshot_check", 3.0), ("shared", 15.0), ("flush", 0.6),
          ("compact", 0.4), ("seek", 1.0))


def thread_key(writer: int, i: int) -> bytes:
    return b"t%02d.%05d" % (writer, i)


def shared_key(i: int) -> bytes:
    return b"s.%05d" % i


def writer_of(key: bytes) -> str | None:
    """The writer owning ``key`` (``"t03"``, ``"s"``), None for a key no writer writes."""
    head, dot, tail = key.partition(b".")
    if not dot or len(tail) != 5 or not tail.isdigit():
        return None
    if head == b"s":
        return SHARED
    if len(head) == 3 and head[:1] == b"t" and head[1:].isdigit():
        return head.decode()
    return None


class StressFailure(AssertionError):
    """The database returned something the oracle says it must not."""


@dataclass
class StressConfig:
    threads: int = 4
    ops_per_thread: int | None = 2000  # None: until duration
    duration: float | None = None  # seconds
    seed: int = 0
    keys_per_thread: int = 300
    shared_keys: int = 100
    max_value_bytes: int = 80
    wal_sync: str = "never"
    sync_one_in: int = 50  # a write asks sync=True with odds 1/N (0: never)
    inline: bool = False  # inline_background: deterministic with threads=1
    faults_one_in: int = 0  # fault mode: fail each I/O op with odds 1/N
    cycle_seconds: float = 1.0  # fault mode: mean time before the power cut
    cycles: int | None = None  # fault mode: number of cycles (None: until duration)
    gen: int = 0  # incarnation number, makes values unique across crash-loop runs
    reopens: int = 0  # close, reopen and verify exactly this many times mid-run

    def options(self):
        return small_options(wal_sync=self.wal_sync)

    def argv(self) -> list[str]:
        """This config as ``lsmdb stress`` flags."""
        out = ["--threads", str(self.threads), "--seed", str(self.seed),
               "--sync", self.wal_sync]
        if self.ops_per_thread is not None:
            out += ["--ops", str(self.ops_per_thread)]
        if self.duration is not None:
            out += ["--duration", f"{self.duration:g}"]
        if self.keys_per_thread != 300:
            out += ["--keys-per-thread", str(self.keys_per_thread)]
        if self.inline:
            out.append("--inline")
        if self.faults_one_in:
            out += ["--faults", f"one_in={self.faults_one_in}"]
            if self.cycles is not None:
                out += ["--cycles", str(self.cycles)]
        if self.reopens:
            out += ["--reopens", str(self.reopens)]
        return out


def reproduce_command(config: StressConfig, extra: list[str] | None = None) -> str:
    return " ".join(["lsmdb", "stress", *config.argv(), *(extra or [])])


@dataclass
class StressReport:
    ops: Counter = field(default_factory=Counter)
    reads_verified: int = 0
    acked_writes: int = 0
    op_digest: str = ""
    state_digest: str = ""
    cycles: int = 0
    faults_injected: int = 0
    errors_reported: Counter = field(default_factory=Counter)
    in_doubt: int = 0
    lost_allowed: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        parts = [f"{sum(self.ops.values())} ops", f"{self.acked_writes} acked writes",
                 f"{self.reads_verified} reads verified"]
        if self.cycles:
            parts += [f"{self.cycles} power cuts", f"{self.faults_injected} faults injected",
                      f"{self.in_doubt} writes in doubt",
                      f"{self.lost_allowed} unsynced writes lost (allowed)"]
        if self.errors_reported:
            parts.append("errors reported: " + ", ".join(
                f"{k} {v}" for k, v in sorted(self.errors_reported.items())))
        parts.append(f"{self.seconds:.1f} s")
        return "; ".join(parts)


class _Stop(Exception):
    """An injected I/O error reached the workload: end this cycle."""


class _Context:
    def __init__(self, db, config: StressConfig, log: ExpectedLog, base: dict,
                 fault_mode: bool):
        self.db = db
        self.config = config
        self.log = log
        self.fault_mode = fault_mode
        self.stop = threading.Event()
        self.failure: BaseException | None = None
        self.failure_text = ""
        self.shared_lock = threading.Lock()
        self.shared_model = {k: v for k, v in base.items() if writer_of(k) == SHARED}
        self.shared_n = 0
        self.deadline = (time.monotonic() + config.duration) if config.duration else None
        self.errors: Counter = Counter()
        self.lock = threading.Lock()

    def fail(self, exc: BaseException) -> None:
        with self.lock:
            if self.failure is None:
                self.failure = exc
                self.failure_text = "".join(traceback.format_exception(exc))
        self.stop.set()


class _Worker:
    def __init__(self, ctx: _Context, index: int, base: dict):
        self.ctx = ctx
        self.index = index
        self.name = f"t{index:02d}"
        cfg = ctx.config
        self.rng = random.Random(f"{cfg.seed}:{cfg.gen}:{index}")
        self.model = {k: v for k, v in base.items() if writer_of(k) == self.name}
        self.n = 0
        self.ops: Counter = Counter()
        self.reads = 0
        self.acked = 0
        self.digest = hashlib.blake2b(digest_size=16)
        names = [n for n, _ in OP_MIX]
        total = sum(w for _, w in OP_MIX)
        acc, self._cum = 0.0, []
        for _, w in OP_MIX:
            acc += w / total
            self._cum.append(acc)
        self._names = names

    # -- helpers ------------------------------------------------------------------------

    def _key(self, i: int | None = None) -> bytes:
        k = self.ctx.config.keys_per_thread
        return thread_key(self.index, self.rng.randrange(k) if i is None else i)

    def _value(self, key: bytes, n: int, j: int = 0) -> bytes:
        pad = self.rng.randrange(self.ctx.config.max_value_bytes + 1)
        return key + b"|g%d.n%d.j%d|" % (self.ctx.config.gen, n, j) + b"x" * pad

    def _sync(self) -> bool | None:
        """True for a synced write, else None: Options.wal_sync decides (False would
        override wal_sync="always")."""
        one_in = self.ctx.config.sync_one_in
        return True if one_in and self.rng.randrange(one_in) == 0 else None

    def _check(self, what: str, got, expected) -> None:
        self.reads += 1
        if got != expected:
            raise StressFailure(f"{self.name}: {what}: got {got!r:.200}, expected "
                                f"{expected!r:.200}")

    def _io(self, exc: BaseException) -> None:
        """An I/O error or refusal: expected in fault mode (ends the cycle), a bug else."""
        self.ctx.errors[type(exc).__name__] += 1
        if self.ctx.fault_mode:
            raise _Stop() from exc
        raise exc

    def _write(self, writer: str, n: int, op: tuple, sync: bool, model: dict) -> None:
        log, db = self.ctx.log, self.ctx.db
        log.intent(writer, n, op, sync)
        try:
            kind = op[0]
            if kind == "put":
                db.put(op[1], op[2], sync=sync)
            elif kind == "delete":
                db.delete(op[1], sync=sync)
            elif kind == "range":
                db.delete_range(op[1], op[2], sync=sync)
            else:
                with db.write_batch(sync=sync) as wb:
                    for sub in op[1]:
                        if sub[0] == "put":
                            wb.put(sub[1], sub[2])
                        elif sub[0] == "delete":
                            wb.delete(sub[1])
                        else:
                            wb.delete_range(sub[1], sub[2])
        except BackgroundError as exc:
            log.refused(writer, n)
            self._io(exc)
        except StorageIOError as exc:
            log.failed(writer, n)
            self._io(exc)
        log.ack(writer, n)
        apply_op(model, op)
        self.acked += 1
        self.digest.update(f"{writer} {n} {op!r}\n".encode())

    def _make_write(self, kind: str, key_of, keys: int, n: int) -> tuple:
        if kind == "put":
            k = key_of(self.rng.randrange(keys))
            return ("put", k, self._value(k, n))
        if kind == "delete":
            return ("delete", key_of(self.rng.randrange(keys)))
        if kind == "range":
            i = self.rng.randrange(keys)
            return ("range", key_of(i), key_of(min(keys, i + 1 + self.rng.randrange(20))))
        subs = []
        for j in range(self.rng.randrange(1, 6)):
            r = self.rng.random()
            i = self.rng.randrange(keys)
            if r < 0.7:
                k = key_of(i)
                subs.append(("put", k, self._value(k, n, j)))
            elif r < 0.93:
                subs.append(("delete", key_of(i)))
            else:
                subs.append(("range", key_of(i), key_of(min(keys, i + 1 + self.rng.randrange(8)))))
        return ("batch", tuple(subs))

    # -- ops ------------------------------------------------------------------------------

    def step(self) -> None:
        i = bisect.bisect_right(self._cum, self.rng.random())
        name = self._names[min(i, len(self._names) - 1)]
        self.ops[name] += 1
        getattr(self, "_op_" + name)(name)

    def _own_write(self, kind: str) -> None:
        keys = self.ctx.config.keys_per_thread
        op = self._make_write(kind, lambda i: thread_key(self.index, i), keys, self.n)
        n = self.n
        self.n += 1
        self._write(self.name, n, op, self._sync(), self.model)

    _op_put = _op_delete = _op_range = _op_batch = _own_write

    def _op_get(self, _name: str) -> None:
        k = self._key()
        try:
            got = self.ctx.db.get(k)
        except StorageIOError as exc:
            self._io(exc)
        self._check(f"get({k!r})", got, self.model.get(k))
        self.digest.update(b"g" + k + (got or b"-"))

    def _model_range(self, model: dict, lo: bytes, hi: bytes) -> list:
        return sorted((k, v) for k, v in model.items() if lo <= k < hi)

    def _op_iterate(self, _name: str) -> None:
        """Snapshot scan of own keys, with own writes in between that it must not see."""
        db = self.ctx.db
        keys = self.ctx.config.keys_per_thread
        i = self.rng.randrange(keys)
        lo, hi = self._key(i), self._key(min(keys, i + 1 + self.rng.randrange(60)))
        reverse = self.rng.random() < 0.4
        snap = db.snapshot()
        try:
            expected = self._model_range(self.model, lo, hi)
            for _ in range(self.rng.randrange(3)):
                self._own_write(self.rng.choice(("put", "delete", "batch")))
            try:
                got = list(db.items(lo, hi, reverse=reverse, snapshot=snap))
                live = list(db.items(lo, hi))
            except StorageIOError as exc:
                self._io(exc)
        finally:
            snap.close()
        self._check(f"snapshot scan [{lo!r}, {hi!r}) reverse={reverse}", got,
                    expected[::-1] if reverse else expected)
        self._check(f"scan [{lo!r}, {hi!r})", live, self._model_range(self.model, lo, hi))
        self.digest.update(b"i%d" % len(got))

    def _op_seek(self, _name: str) -> None:
        """Iterator seek / seek_for_prev within own keys."""
        db = self.ctx.db
        target = self._key()
        prefix = b"t%02d." % self.index
        own = sorted(self.model)
        try:
            with db.iterator(prefix=prefix) as it:
                it.seek(target)
                after = [k for k in own if k >= target]
                self._check(f"seek({target!r})", it.key() if it.valid() else None,
                            after[0] if after else None)
                it.seek_for_prev(target)
                before = [k for k in own if k <= target]
                self._check(f"seek_for_prev({target!r})", it.key() if it.valid() else None,
                            before[-1] if before else None)
        except StorageIOError as exc:
            self._io(exc)

    def _op_snapshot_check(self, _name: str) -> None:
        """Another writer's keys, twice through one snapshot, around a write of our own."""
        db = self.ctx.db
        others = [f"t{i:02d}" for i in range(self.ctx.config.threads)] + [SHARED]
        prefix = self.rng.choice(others).encode() + b"."
        snap = db.snapshot()
        try:
            try:
                first = list(db.items(prefix=prefix, snapshot=snap))
            except StorageIOError as exc:
                self._io(exc)
            self._own_write("put")
            try:
                second = list(db.items(prefix=prefix, snapshot=snap))
            except StorageIOError as exc:
                self._io(exc)
        finally:
            snap.close()
        self._check(f"snapshot stability over {prefix!r}", second, first)
        for k, v in first:
            if not v.startswith(k + b"|"):
                raise StressFailure(f"{self.name}: value {v[:40]!r} under key {k!r}")

    def _op_shared(self, _name: str) -> None:
        ctx = self.ctx
        keys = ctx.config.shared_keys
        with ctx.shared_lock:
            r = self.rng.random()
            if r < 0.55:
                kind = self.rng.choice(("put", "put", "delete", "batch", "range"))
                op = self._make_write(kind, shared_key, keys, ctx.shared_n)
                n = ctx.shared_n
                ctx.shared_n += 1
                self._write(SHARED, n, op, self._sync(), ctx.shared_model)
            elif r < 0.85:
                k = shared_key(self.rng.randrange(keys))
                try:
                    got = ctx.db.get(k)
                except StorageIOError as exc:
                    self._io(exc)
                self._check(f"get shared {k!r}", got, ctx.shared_model.get(k))
            else:
                try:
                    got = list(ctx.db.items(prefix=b"s."))
                except StorageIOError as exc:
                    self._io(exc)
                self._check("scan shared keys", got, sorted(ctx.shared_model.items()))

    def _barrier(self, call) -> None:
        log = self.ctx.log
        bid = log.barrier_start()
        try:
            call()
        except (BackgroundError, StorageIOError) as exc:
            self._io(exc)
        log.barrier_done(bid)

    def _op_flush(self, _name: str) -> None:
        self._barrier(self.ctx.db.flush)
        self.digest.update(b"f")

    def _op_compact(self, _name: str) -> None:
        if self.rng.random() < 0.3:
            lo = hi = None
        else:
            keys = self.ctx.config.keys_per_thread
            i = self.rng.randrange(keys)
            lo, hi = self._key(i), self._key(min(keys - 1, i + self.rng.randrange(100)))
        self._barrier(lambda: self.ctx.db.compact_range(lo, hi))
        self.digest.update(b"c")

    # -- thread body ----------------------------------------------------------------------

    def run(self, limit: int | None) -> None:
        ctx = self.ctx
        done = 0
        try:
            while not ctx.stop.is_set() and (limit is None or done < limit):
                if ctx.deadline is not None and time.monotonic() >= ctx.deadline:
                    break
                self.step()
                done += 1
        except _Stop:
            ctx.stop.set()
        except BaseException as exc:  # reported by the driver with the seed
            ctx.fail(exc)


def _run_workers(ctx: _Context, workers: list[_Worker], limit: int | None) -> None:
    if len(workers) == 1:
        workers[0].run(limit)
        return
    threads = [threading.Thread(target=w.run, args=(limit,), name=f"stress-{w.name}",
                                daemon=True) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _collect(report: StressReport, workers: list[_Worker], ctx: _Context) -> None:
    for w in workers:
        report.ops.update(w.ops)
        report.reads_verified += w.reads
        report.acked_writes += w.acked
    report.errors_reported.update(ctx.errors)


def _models(workers: list[_Worker], ctx: _Context) -> dict:
    state = dict(ctx.shared_model)
    for w in workers:
        state.update(w.model)
    return state


def _state_digest(state: dict) -> str:
    h = hashlib.blake2b(digest_size=16)
    for k in sorted(state):
        h.update(len(k).to_bytes(4, "little") + k + len(state[k]).to_bytes(4, "little")
                 + state[k])
    return h.hexdigest()


def _raise_failure(ctx: _Context, config: StressConfig, extra: list[str] | None) -> None:
    exc = ctx.failure
    if isinstance(exc, StressFailure):
        head = str(exc)
    else:
        head = f"{type(exc).__name__}: {exc}\n{ctx.failure_text}"
    raise StressFailure(f"{head}\nseed {config.seed}; reproduce with: "
                        f"{reproduce_command(config, extra)}") from exc


def _open(path: str, config: StressConfig, env=None):
    return lsmdb.open(path, config.options(), env=env, inline_background=config.inline)



def _read_state(db, config: StressConfig, extra: list[str] | None, when: str) -> dict:
    """The whole DB state; a read that disagrees with another (scan vs reverse scan vs get)
    is a wrong read like one a worker sees: a StressFailure with the seed and the command,
    not the oracle's bare AssertionError. Which of the two finds a wrong read first depends
    on thread scheduling, so both must report it the same way."""
    try:
        return read_db_state(db)
    except AssertionError as exc:
        raise StressFailure(f"database check {when}: {exc}\nseed {config.seed}; reproduce "
                            f"with: {reproduce_command(config, extra)}") from exc


def _mismatch(actual: dict, expected: dict, config: StressConfig, extra: list[str] | None,
              when: str) -> StressFailure:
    diff = sorted(k for k in set(actual) | set(expected) if actual.get(k) != expected.get(k))
    shown = ", ".join(f"{k!r}: db {actual.get(k)!r:.50} model {expected.get(k)!r:.50}"
                      for k in diff[:3])
    return StressFailure(f"database state {when} differs from the model in {len(diff)} keys: "
                         f"{shown}\nseed {config.seed}; reproduce with: "
                         f"{reproduce_command(config, extra)}")


def run_stress(path: str, config: StressConfig, *, log_path: str | None = None,
               state_path: str | None = None, on_ready=None,
               repro_extra: list[str] | None = None) -> StressReport:
    """Run the workload on the DB at ``path`` (created if missing); raise
    :class:`StressFailure` (with the seed and the command reproducing it) on any wrong read.

    ``state_path``: the expected state the DB starts in (written by the last verification;
    empty if missing). ``log_path``: append the expected-state log there (crash-loop
    children). ``on_ready()`` is called once the DB is open. With ``config.reopens`` the run
    is cut in phases; between two the DB is closed, reopened and compared with the model.
    Fault mode (``config.faults_one_in``) runs :func:`run_fault_cycles` instead.
    """
    if config.faults_one_in:
        return run_fault_cycles(path, config, repro_extra=repro_extra)
    t0 = time.monotonic()
    base = load_state(state_path) if state_path else {}
    log = ExpectedLog(log_path, keep_lines=False)
    report = StressReport()
    op_digest = hashlib.blake2b(digest_size=16)
    db = _open(path, config)
    try:
        if on_ready is not None:
            on_ready()
        ctx = _Context(db, config, log, base, fault_mode=False)
        workers = [_Worker(ctx, i, base) for i in range(config.threads)]
        phases = config.reopens + 1
        limit = config.ops_per_thread
        per_phase = None if limit is None else -(-limit // phases)
        for phase in range(phases):
            if config.duration:
                ctx.deadline = time.monotonic() + config.duration / phases
            _run_workers(ctx, workers, per_phase)
            if ctx.failure is not None:
                _collect(report, workers, ctx)
                _raise_failure(ctx, config, repro_extra)
            expected = _models(workers, ctx)
            actual = _read_state(db, config, repro_extra, "at the end of a phase")
            if actual != expected:
                raise _mismatch(actual, expected, config, repro_extra, "at the end of a phase")
            if phase < phases - 1:
                db.close()
                db = ctx.db = _open(path, config)
                actual = _read_state(db, config, repro_extra, "after a reopen")
                if actual != expected:
                    raise _mismatch(actual, expected, config, repro_extra, "after a reopen")
        _collect(report, workers, ctx)
        for w in workers:
            op_digest.update(w.digest.digest())
        report.state_digest = _state_digest(expected)
    finally:
        db.close()
        log.close()
    report.op_digest = op_digest.hexdigest()
    report.seconds = time.monotonic() - t0
    return report


def run_fault_cycles(path: str, config: StressConfig, *,
                     repro_extra: list[str] | None = None) -> StressReport:
    """Fault mode: cycles of (workload with injected I/O errors, power cut mid-flight,
    reopen, verify) on a :class:`PowerCutEnv`. Power is cut just before a seeded random
    file operation of the cycle (or at its end), so with one thread and ``inline=True`` a
    run is reproducible from its seed."""
    t0 = time.monotonic()
    report = StressReport()
    rng = random.Random(f"faults:{config.seed}")
    env = PowerCutEnv(seed=config.seed)
    base: dict = {}
    deadline = t0 + config.duration if config.duration else None
    cycles = config.cycles if config.cycles is not None else (None if deadline else 10)
    op_digest = hashlib.blake2b(digest_size=16)
    cycle = 0
    while cycles is None or cycle < cycles:
        if deadline is not None and cycle and time.monotonic() >= deadline:
            break
        cfg = StressConfig(**{f.name: getattr(config, f.name) for f in fields(config)})
        cfg.gen, cfg.duration = cycle, None
        log = ExpectedLog(None)
        db = _open(path, cfg, env)
        for kind in FAULT_KINDS:
            env.fail_one_in(kind, config.faults_one_in, tear=kind == "write")
        ops = config.ops_per_thread or 500
        # Power goes out before the n-th file operation from here (about 1.5 I/O per op).
        env.crash_at = env.op_counts["any"] + 1 + rng.randrange(2 * ops * config.threads)
        ctx = _Context(db, cfg, log, base, fault_mode=True)
        workers = [_Worker(ctx, i, base) for i in range(config.threads)]
        _run_workers(ctx, workers, ops)
        env.clear_faults()
        if not env.dead:
            env.cut(tear=rng.random() < 0.5)
        env.crash_at = -1
        report.faults_injected += len(env.injected)
        injected = [f"{kind} {os.path.relpath(p.split(' -> ')[0], path)}"
                    for kind, p in env.injected[-4:]]
        env.injected.clear()
        try:
            db.close()
        except Error:
            pass  # the "process" lost power: its close fails, nothing to do
        env.revive()
        _collect(report, workers, ctx)
        for w in workers:
            op_digest.update(w.digest.digest())
        if ctx.failure is not None:
            _raise_failure(ctx, config, repro_extra)
        try:
            db = _open(path, cfg, env)
            try:
                actual = read_db_state(db)
                result = verify_recovered(actual, base, parse_log(log.lines), writer_of,
                                          all_acked_durable=config.wal_sync == "always")
            finally:
                db.close()
        except (AssertionError, Error) as exc:
            raise StressFailure(
                f"after power cut {cycle + 1}: {type(exc).__name__}: {exc}\nlast faults "
                f"injected in the cycle: {injected or 'none'}; I/O errors the workload saw: "
                f"{dict(ctx.errors) or 'none'}\nseed "
                f"{config.seed}; reproduce with: {reproduce_command(config, repro_extra)}"
            ) from exc
        report.in_doubt += result.in_doubt
        report.lost_allowed += result.lost_allowed
        base = result.state
        cycle += 1
    report.cycles = cycle
    report.op_digest = op_digest.hexdigest()
    report.state_digest = _state_digest(base)
    report.seconds = time.monotonic() - t0
    return report


# ---------------------------------------------------------------------------- command line


def _faults_arg(text: str) -> int:
    name, eq, value = text.partition("=")
    if name != "one_in" or not eq or not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected one_in=N (N >= 1), got {text!r}")
    return int(value)


_count = whole_number(1)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def configure_parser(p: argparse.ArgumentParser) -> None:
    """The flags of ``lsmdb stress`` (also parsed by the crash-loop child)."""
    d = StressConfig()
    p.add_argument("--dir", metavar="DIR", default=None,
                   help="work directory (the DB is DIR/db); default: a temporary one, "
                        "removed after a successful run")
    p.add_argument("--threads", type=_count, default=d.threads, help="worker threads (4)")
    p.add_argument("--ops", type=_count, default=None, metavar="N",
                   help="operations per thread (per cycle with --faults); default 2000, or "
                        "unlimited when --duration is given")
    p.add_argument("--duration", type=_seconds, default=None, metavar="SECONDS",
                   help="stop after this long (with --crash: start no trial after it)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    p.add_argument("--sync", choices=("always", "never"), default=d.wal_sync,
                   help="Options.wal_sync (default never; 1 write in 50 asks sync=True)")
    p.add_argument("--keys-per-thread", type=_count, default=d.keys_per_thread, metavar="N")
    p.add_argument("--inline", action="store_true",
                   help="run flushes and compactions inline (deterministic with --threads 1)")
    p.add_argument("--faults", type=_faults_arg, default=0, metavar="one_in=N",
                   help="inject EIO into each write/sync/rename/fsync_dir/open with odds 1/N "
                        "and cut the power once per cycle, then reopen and verify")
    p.add_argument("--cycles", type=_count, default=None, metavar="N",
                   help="power-cut cycles with --faults (default 10, or until --duration)")
    p.add_argument("--reopens", type=int, default=0, metavar="N",
                   help="close, reopen and verify N times during the run")
    g = p.add_argument_group("crash loop (--crash)")
    g.add_argument("--crash", action="store_true",
                   help="run the workload in a child process, kill it, reopen, verify, repeat")
    g.add_argument("--kills", type=_count, default=None, metavar="N",
                   help="trials (default 20, or until --duration)")
    g.add_argument("--kill-points", choices=("none", "random", "each"), default="none",
                   help="none: SIGKILL at random moments (blackbox); random: die at engine "
                        "kill points with small odds; each: target one kill point per trial")
    g.add_argument("--interval", type=_seconds, default=1.0, metavar="SECONDS",
                   help="blackbox: kill within this long after the DB is open (1)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--gen", type=int, default=0, help=argparse.SUPPRESS)


def config_from_args(args: argparse.Namespace) -> StressConfig:
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    ops = args.ops if args.ops is not None else (None if args.duration else 2000)
    return StressConfig(threads=args.threads, ops_per_thread=ops, duration=args.duration,
                        seed=seed, keys_per_thread=args.keys_per_thread, wal_sync=args.sync,
                        inline=args.inline, faults_one_in=args.faults, cycles=args.cycles,
                        reopens=args.reopens, gen=args.gen)


def run_command(args: argparse.Namespace, out) -> int:
    """``lsmdb stress``: 0 when every check passed, 2 (report on stderr) when one failed."""
    config = config_from_args(args)
    if args.child:
        return _run_child(args, config, out)
    work = args.dir or tempfile.mkdtemp(prefix="lsmdb-stress-")
    extra = ["--dir", "NEW_EMPTY_DIR"]
    try:
        if args.crash:
            from lsmdb.testing.crashloop import CrashLoopConfig, run_crash_loop

            kills = args.kills if args.kills is not None else (None if args.duration else 20)
            cl = CrashLoopConfig(dir=work, kills=kills, seed=config.seed,
                                 duration=args.duration, sync=config.wal_sync,
                                 threads=config.threads, keys_per_thread=config.keys_per_thread,
                                 interval=args.interval, kill_points=args.kill_points)
            out.write(f"crash loop in {work}: seed {config.seed}, {kills or 'unlimited'} "
                      f"trials, kill points {args.kill_points}, sync {config.wal_sync}\n")
            out.flush()

            def progress(trial: int, report) -> None:
                if trial % 10 == 0:
                    out.write(f"  {trial} trials, {report.acked_verified} acknowledged writes "
                              f"verified, {report.seconds:.0f} s\n")
                    out.flush()

            report = run_crash_loop(cl, progress)
        else:
            out.write(f"stress in {work}: seed {config.seed}\n")
            report = run_stress(os.path.join(work, "db"), config, repro_extra=extra)
    except AssertionError as exc:  # StressFailure, CrashLoopFailure
        sys.stderr.write(f"lsmdb: stress FAILED (directory kept: {work}):\n{exc}\n")
        return 2
    out.write(report.summary() + "\n")
    if not args.crash:
        out.write(f"op digest {report.op_digest}  state digest {report.state_digest}\n")
    if args.dir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _run_child(args: argparse.Namespace, config: StressConfig, out) -> int:
    """The crash loop's child: DIR/db, DIR/expected.state, DIR/expected.log."""
    work = args.dir

    def ready() -> None:
        out.write("ready\n")
        out.flush()

    try:
        report = run_stress(os.path.join(work, "db"), config,
                            log_path=os.path.join(work, "expected.log"),
                            state_path=os.path.join(work, "expected.state"), on_ready=ready)
    except StressFailure as exc:
        sys.stderr.write(f"VERIFICATION FAILED: {exc}\n")
        return 3
    out.write(f"done {report.summary()}\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m lsmdb.testing.stress [lsmdb stress flags]`` (the crash loop's child)."""
    p = argparse.ArgumentParser(prog="python -m lsmdb.testing.stress")
    configure_parser(p)
    return run_command(p.parse_args(argv), sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
