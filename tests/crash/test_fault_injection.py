"""lsmdb never loses an acknowledged write and never serves a state it was not in.

Method (LevelDB's fault_injection_test, RocksDB's db_stress "verify after crash"): a fixed,
seeded workload of puts, deletes, range deletes and write batches (some synced), with
explicit flushes and a manual compaction, runs on a FaultInjectionEnv with inline background
work, so the sequence of file operations is the same on every run. The sweep runs it once to
count operations per kind, then once per operation index with that operation failing, then
simulates power loss (``env.crash()``), reopens and checks:

- **durability**: every write acknowledged as durable is there (a ``sync=True`` write that
  returned, or any write before it, or before a ``flush()``/``compact_range()`` that
  returned);
- **no invention**: every value read was written by the workload;
- **prefix**: the whole recovered state equals the model after *some* prefix of the
  acknowledged history that contains every durable write. A write that raised is
  "maybe applied" (its fsync failed: the bytes may or may not be on disk, as with any
  engine), so the check tries the history with and without it;
- **usable**: the reopened DB takes writes, flushes and compacts.

``crash_at`` trials lose power just before the n-th file operation (n seeded at random), with
the last unsynced append torn, which hits the middle of flushes, compactions and MANIFEST
writes. ``LSMDB_LONG=1`` runs every index of every kind and more crash points.
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import tempfile
import threading
from dataclasses import dataclass, field

import pytest

import lsmdb
from lsmdb import wal as walmod
from lsmdb.errors import BackgroundError, CorruptionError, Error, StorageIOError
from lsmdb.testing.faultenv import FaultInjectionEnv
from lsmdb.testing.oracle import PowerCutEnv, PrefixMismatch, find_prefix
from lsmdb.testing.presets import small_options

LONG = bool(os.environ.get("LSMDB_LONG"))
SWEEP_KINDS = ("write", "sync", "rename", "fsync_dir", "open", "remove")
MAX_TRIALS_PER_KIND = 10**9 if LONG else 150
CRASH_TRIALS = 600 if LONG else 150
_SHM = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None  # see conftest.py
KEYS = [b"k%03d" % i for i in range(250)]


# ---------------------------------------------------------------------------- workload


@dataclass(frozen=True)
class Op:
    """One step of the workload. kind: put, delete, range, batch, flush, compact."""

    kind: str
    key: bytes = b""
    arg: bytes = b""  # value (put) or end key (range)
    sync: bool = False
    sub: tuple = ()  # batch members: ((kind, key, arg), ...)


def make_workload(seed: int, n: int) -> list[Op]:
    rng = random.Random(seed)
    ops: list[Op] = []
    for i in range(n):
        r = rng.random()
        sync = rng.random() < 0.04
        ki = rng.randrange(len(KEYS))
        k = KEYS[ki]
        if r < 0.72:
            ops.append(Op("put", k, b"v%d:" % i + b"x" * rng.randrange(70), sync))
        elif r < 0.86:
            ops.append(Op("delete", k, sync=sync))
        elif r < 0.90:
            end = KEYS[ki + 12] if ki + 12 < len(KEYS) else b"k~"
            ops.append(Op("range", k, end, sync))
        else:
            sub = []
            for j in range(rng.randrange(2, 6)):
                bk = rng.choice(KEYS)
                if rng.random() < 0.8:
                    sub.append(("put", bk, b"b%d.%d:" % (i, j) + b"y" * rng.randrange(40)))
                else:
                    sub.append(("delete", bk, b""))
            ops.append(Op("batch", sync=sync, sub=tuple(sub)))
        if i % 900 == 899:
            ops.append(Op("flush"))
        if i == n * 2 // 3:
            ops.append(Op("compact", b"k05", b"k20"))
    return ops


def apply_model(model: dict, op: Op) -> list[bytes]:
    """Apply a write op to a dict model; returns the keys it may have changed."""
    if op.kind == "put":
        model[op.key] = op.arg
        return [op.key]
    if op.kind == "delete":
        model.pop(op.key, None)
        return [op.key]
    if op.kind == "range":
        hit = [k for k in model if op.key <= k < op.arg]
        for k in hit:
            del model[k]
        return hit
    if op.kind == "batch":
        touched = []
        for kind, k, v in op.sub:
            if kind == "put":
                model[k] = v
            else:
                model.pop(k, None)
            touched.append(k)
        return touched
    return []


@dataclass
class History:
    """What the workload saw acknowledged. entries: (op, acked); an op that raised
    StorageIOError is kept with acked=False (maybe applied: its WAL append or fsync failed),
    one refused with BackgroundError with acked=None (never applied).
    ``durable``: the acknowledged writes in entries[:durable] must survive."""

    entries: list = field(default_factory=list)
    durable: int = 0
    errors: list = field(default_factory=list)

    def written_values(self) -> dict[bytes, set]:
        out: dict[bytes, set] = {}
        for op, _ in self.entries:
            if op.kind == "put":
                out.setdefault(op.key, set()).add(op.arg)
            elif op.kind == "batch":
                for kind, k, v in op.sub:
                    if kind == "put":
                        out.setdefault(k, set()).add(v)
        return out


def run_op(db, op: Op, hist: History) -> None:
    """Run one op, recording the outcome. Raises what the DB raised."""
    if op.kind in ("flush", "compact"):
        if op.kind == "flush":
            db.flush()
        else:
            db.compact_range(op.key, op.arg)
        hist.durable = len(hist.entries)  # everything acknowledged so far is in tables
        return
    hist.entries.append((op, False))
    if op.kind == "put":
        db.put(op.key, op.arg, sync=op.sync)
    elif op.kind == "delete":
        db.delete(op.key, sync=op.sync)
    elif op.kind == "range":
        db.delete_range(op.key, op.arg, sync=op.sync)
    else:
        with db.write_batch(sync=op.sync) as wb:
            for kind, k, v in op.sub:
                if kind == "put":
                    wb.put(k, v)
                else:
                    wb.delete(k)
    hist.entries[-1] = (op, True)
    if op.sync:
        hist.durable = len(hist.entries)


def open_db(path, env, **overrides):
    return lsmdb.open(path, small_options(**overrides), env=env, inline_background=True)


def run_workload(env, path, ops, *, resume=False, hist=None, **overrides) -> tuple:
    """Open, run ops, close. Stops at the first error (or, with resume, calls
    db.resume() and goes on). Returns (history, db or None)."""
    hist = hist if hist is not None else History()
    try:
        db = open_db(path, env, **overrides)
    except Error as exc:
        hist.errors.append(exc)
        return hist, None
    for op in ops:
        try:
            run_op(db, op, hist)
        except (StorageIOError, BackgroundError) as exc:
            hist.errors.append(exc)
            if isinstance(exc, BackgroundError) and hist.entries and \
                    hist.entries[-1][1] is False:
                # Refused before reaching the WAL: it must not be applied, ever.
                hist.entries[-1] = (hist.entries[-1][0], None)
            if not resume:
                return hist, db
            for _ in range(5):
                try:
                    db.resume()
                    break
                except (StorageIOError, BackgroundError) as again:
                    hist.errors.append(again)
            else:
                return hist, db
    try:
        db.close()
    except Error as exc:
        hist.errors.append(exc)
        return hist, db
    return hist, None


# ---------------------------------------------------------------------------- checking


def read_state(db) -> dict[bytes, bytes]:
    """The DB's whole state, read by a scan and by point gets (which must agree)."""
    scanned = dict(db.items())
    rscanned = dict(db.items(reverse=True))
    assert scanned == rscanned, "forward and reverse scans disagree"
    for k in KEYS:
        assert db.get(k) == scanned.get(k), f"get({k!r}) disagrees with the scan"
    assert all(k in set(KEYS) for k in scanned), "a key the workload never wrote"
    return scanned


def check_recovered(actual: dict, hist: History) -> int:
    """Assert durability, no invention and the prefix property; returns the prefix length."""
    written = hist.written_values()
    for k, v in actual.items():
        assert v in written.get(k, ()), f"{k!r} holds a value never written: {v[:20]!r}"
    try:
        return find_prefix(actual, hist.entries, hist.durable, apply=apply_model)
    except PrefixMismatch as exc:
        raise AssertionError(f"{exc}; errors: {hist.errors[:2]}") from None


def verify_reopen(path, hist: History, **overrides) -> int:
    """Reopen after a crash, check it, then prove the DB is usable and check again."""
    env = FaultInjectionEnv(seed=1)
    db = open_db(path, env, **overrides)
    try:
        actual = read_state(db)
        prefix = check_recovered(actual, hist)
        db.put(b"k000", b"after-crash", sync=True)
        db.delete(KEYS[1])
        db.flush()
        db.compact_range(None, None)
        actual[b"k000"] = b"after-crash"
        actual.pop(KEYS[1], None)
        assert read_state(db) == actual
    finally:
        db.close()
    db = open_db(path, env, **overrides)
    try:
        assert read_state(db) == actual
    finally:
        db.close()
    return prefix


def abandon(db) -> None:
    """Drop a DB object whose "process" lost power: release its lock and registration."""
    if db is not None:
        try:
            db.close()
        except Error:
            pass


# ---------------------------------------------------------------------------- fail each op

WORKLOAD = make_workload(seed=20240, n=1800)


@pytest.fixture(scope="module")
def op_counts():
    root = tempfile.mkdtemp(prefix="lsmdb-count-", dir=_SHM)
    path = os.path.join(root, "db")
    env = FaultInjectionEnv(seed=1)
    hist, db = run_workload(env, path, WORKLOAD)
    assert db is None and not hist.errors, hist.errors
    counts = dict(env.op_counts)
    # The run must be deterministic, or "the n-th operation" means nothing.
    env2 = FaultInjectionEnv(seed=1)
    run_workload(env2, path + "2", WORKLOAD)
    assert env2.op_counts == counts
    shutil.rmtree(root, ignore_errors=True)
    return counts


def sample_indices(total: int, limit: int) -> list[int]:
    if total <= limit:
        return list(range(1, total + 1))
    return sorted({1 + (i * (total - 1)) // (limit - 1) for i in range(limit)})


@pytest.mark.parametrize("kind", SWEEP_KINDS)
def test_fail_each_operation_once(kind, op_counts, scratch, tally):
    total = op_counts[kind]
    assert total > 0 or kind == "read", f"workload does no {kind!r} operation"
    outcomes = {"raised": 0, "completed": 0}
    for n in sample_indices(total, MAX_TRIALS_PER_KIND):
        path = os.path.join(scratch, f"{kind}-{n}")
        env = FaultInjectionEnv(seed=n)
        env.fail_nth(kind, n, errno.EIO, tear=(kind == "write" and n % 2 == 0))
        hist, db = run_workload(env, path, WORKLOAD)
        assert env.injected, f"{kind} #{n} was never reached"
        outcomes["raised" if hist.errors else "completed"] += 1
        env.clear_faults()
        env.crash()
        abandon(db)
        try:
            verify_reopen(path, hist)
        except (AssertionError, Error) as exc:
            raise AssertionError(f"failing {kind} #{n} of {total}: {exc!r}") from exc
        tally[f"fault injected: {kind}"] += 1
    tally[f"fault runs that raised: {kind}"] += outcomes["raised"]


def test_resume_after_background_failures(scratch, tally):
    """Every flush/compaction output write fails once in a while; the workload resumes and
    goes on. Nothing acknowledged is lost, and without a crash nothing is lost at all."""
    path = os.path.join(scratch, "db")
    env = FaultInjectionEnv(seed=77)
    env.fail_one_in("sync", 15)
    env.fail_one_in("fsync_dir", 9)
    hist, db = run_workload(env, path, WORKLOAD[:1200], resume=True)
    env.clear_faults()
    assert db is None, f"resume() did not recover: {hist.errors[-1:]}"
    resumed = [e for e in hist.errors if isinstance(e, (StorageIOError, BackgroundError))]
    assert len(env.injected) >= 5 and resumed
    tally["resume: faults injected"] += len(env.injected)
    # Clean close: every acknowledged write must be there (only failed ones may be missing).
    db = open_db(path, FaultInjectionEnv())
    try:
        actual = read_state(db)
    finally:
        db.close()
    exact = History(entries=hist.entries, durable=len(hist.entries), errors=hist.errors)
    check_recovered(actual, exact)
    # And after a power loss, the durable part survives.
    env2 = FaultInjectionEnv(seed=78)
    path2 = os.path.join(scratch, "db2")
    env2.fail_one_in("write", 400)
    env2.fail_one_in("sync", 25)
    env2.fail_one_in("open", 6)  # also fails the fresh WAL segment resume() switches to
    hist2, db2 = run_workload(env2, path2, WORKLOAD[:1200], resume=True)
    env2.clear_faults()
    env2.crash(tear_last_write=True)
    abandon(db2)
    verify_reopen(path2, hist2)
    tally["resume: faults injected"] += len(env2.injected)


# ---------------------------------------------------------------------------- crash at op n


def test_power_cut_at_random_operations(scratch, tally):
    ops = WORKLOAD[:1400]
    counter = FaultInjectionEnv()
    run_workload(counter, os.path.join(scratch, "count"), ops)
    total = counter.op_counts["any"]
    rng = random.Random(4242)
    prefixes = []
    for trial in range(CRASH_TRIALS):
        at = rng.randrange(1, total + 1)
        path = os.path.join(scratch, f"cut-{trial}")
        env = PowerCutEnv(at, seed=trial)
        hist, db = run_workload(env, path, ops)
        abandon(db)
        env.revive()
        try:
            prefixes.append(verify_reopen(path, hist))
        except (AssertionError, Error) as exc:
            raise AssertionError(f"power cut before operation {at} of {total}: {exc!r}") \
                from exc
        tally["power cuts (torn tail)"] += 1
    # The cuts landed all over the workload, not only at its start.
    assert max(prefixes) > len(ops) // 2


# ---------------------------------------------------------------------------- WAL recovery modes


def _wal_db(path, n_synced, n_unsynced, **overrides):
    """A DB whose last WAL segment holds n_synced synced puts then n_unsynced more; the
    process "dies" (no close). Returns the (env, model of synced, model of all)."""
    env = FaultInjectionEnv(seed=5)
    db = lsmdb.open(path, small_options(memtable_bytes=1 << 20, **overrides), env=env,
                    inline_background=True)
    synced, everything = {}, {}
    for i in range(n_synced + n_unsynced):
        k, v = b"w%05d" % i, b"value-%d-" % i + b"z" * 300
        db.put(k, v, sync=i == n_synced - 1)
        everything[k] = v
        if i < n_synced:
            synced[k] = v
    return env, db, synced, everything


def _last_segment(path):
    return walmod.segment_path(path, walmod.list_segments(FaultInjectionEnv(), path)[-1])


def _state(path, mode):
    db = lsmdb.open(path, small_options(memtable_bytes=1 << 20), wal_recovery=mode,
                    inline_background=True)
    try:
        return dict(db.items()), db.recovery_report
    finally:
        db.close()


def _copy_dir(src, dst):
    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize("seed", range(6))
def test_torn_wal_tail_per_recovery_mode(scratch, seed):
    """Power loss tears the last WAL append: tolerate_corrupted_tail, point_in_time and
    skip_any_corrupted recover every complete record; absolute_consistency refuses."""
    path = os.path.join(scratch, "db")
    env, db, synced, everything = _wal_db(path, 40, 30)
    env._rng.seed(seed)
    env.crash(tear_last_write=True)
    abandon(db)
    state, report = _state(_copy_dir(path, path + "-t"), "tolerate_corrupted_tail")
    # Every unsynced append but the last survives; the last is a strict prefix.
    expected = {k: v for k, v in everything.items() if k != b"w%05d" % 69}
    assert state == expected
    assert set(synced) <= set(state)
    if report["torn_tail"]:
        with pytest.raises(CorruptionError, match=r"wal/\d+\.log"):
            _state(_copy_dir(path, path + "-a"), "absolute_consistency")
    else:  # the torn prefix was empty: nothing is damaged
        assert _state(_copy_dir(path, path + "-a"), "absolute_consistency")[0] == expected
    for mode in ("point_in_time", "skip_any_corrupted"):
        state2, report2 = _state(_copy_dir(path, path + "-" + mode), mode)
        assert state2 == expected, mode
        assert report2["torn_tail"] == report["torn_tail"]


# ---------------------------------------------------------------------------- background threads


class GatedEnv(PowerCutEnv):
    """Holds every SSTable creation until ``gate`` is set, so a background flush can be
    caught in the middle; ``cut()`` loses power and kills the "process"."""

    def __init__(self, seed: int = 0):
        super().__init__(crash_at=-1, seed=seed)
        self.gate = threading.Event()
        self.waiting = threading.Event()

    def open_writable(self, path):
        if path.endswith(".sst") and not self.gate.is_set():
            self.waiting.set()
            self.gate.wait(120)  # set by cut(); the bound only ends a broken run
        return super().open_writable(path)

    def cut(self, tear: bool = False) -> None:
        with self._lock:
            self.crash(tear_last_write=tear)
            self.dead = True
        self.gate.set()


def test_sync_write_makes_earlier_segments_durable(scratch):
    """A sync=True write acknowledges everything written before it, also the unsynced
    records of an older WAL segment whose memtable is still being flushed (RocksDB syncs
    every live WAL for a sync write). Background threads on, flush held at the gate."""
    path = os.path.join(scratch, "db")
    env = GatedEnv()
    db = lsmdb.open(path, small_options(), env=env)
    hist = History()
    i = 0
    while len(walmod.list_segments(env, path)) < 2:
        run_op(db, Op("put", KEYS[i % len(KEYS)], b"unsynced-%d" % i), hist)
        i += 1
    assert env.waiting.wait(120), "the flush never started"
    run_op(db, Op("put", KEYS[-1], b"synced", sync=True), hist)
    env.cut()
    abandon(db)
    env.revive()
    db = open_db(path, FaultInjectionEnv())
    try:
        actual = read_state(db)
        assert db.get(KEYS[-1]) == b"synced"
    finally:
        db.close()
    check_recovered(actual, hist)


def test_failed_resume_keeps_writes_stopped(scratch):
    """A WAL fsync fails; resume() cannot open the fresh segment it must switch to: writes
    stay refused (they would land behind a possibly torn record); a later resume() works."""
    path = os.path.join(scratch, "db")
    env = FaultInjectionEnv(seed=3)
    db = open_db(path, env)
    try:
        db.put(b"k001", b"one", sync=True)
        env.fail_nth("sync", 1)
        with pytest.raises(StorageIOError):
            db.put(b"k002", b"two", sync=True)
        with pytest.raises(BackgroundError):
            db.put(b"k003", b"three")
        env.fail_nth("open", 1)
        with pytest.raises(StorageIOError):
            db.resume()
        with pytest.raises(BackgroundError):
            db.put(b"k003", b"three")
        db.resume()
        db.put(b"k004", b"four", sync=True)
        assert db.get(b"k001") == b"one" and db.get(b"k004") == b"four"
        assert db.get(b"k003") is None
    finally:
        db.close()
    env.crash()
    db = open_db(path, FaultInjectionEnv())
    try:
        state = read_state(db)
    finally:
        db.close()
    assert state.get(b"k001") == b"one" and state.get(b"k004") == b"four"
    assert b"k003" not in state and state.get(b"k002") in (None, b"two")
