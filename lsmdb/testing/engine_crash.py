"""The engine crash loop: bank transfers in a child process, kill -9, reopen, verify, repeat.

:mod:`lsmdb.testing.crashloop` for the relational :class:`lsmdb.StorageEngine`. Each trial
starts ``python -m lsmdb.testing.engine_crash --child`` on the same data directory; the child
runs several threads of random money transfers between ``accounts`` and dies:

- **SIGKILL** from the parent at a random moment (uniform in ``[0, interval]`` seconds after
  the engine is open);
- **kill point**: the child kills itself at the n-th visit of one LSM kill point
  (:mod:`lsmdb.testing.killpoints`: WAL append/sync, SSTable write, MANIFEST install...);
  a child that never reaches it is SIGKILLed by the parent after ``interval`` seconds;
- **power loss** (``power_loss`` odds per trial): the data directory is written through a
  :class:`~lsmdb.testing.faultenv.FaultInjectionEnv`; at a random moment, in the middle of
  whatever the threads do, the child makes every further I/O fail, calls ``env.crash()``
  (unsynced WAL bytes and directory entries vanish; half the time the last unsynced write
  survives torn) and SIGKILLs itself. This is the only way an acknowledged commit may be lost, and only when
  the commit policy is not ``ALWAYS``.

Schema (created, with the initial accounts, in one transaction by the first child)::

    accounts(id BIGINT PK, owner TEXT, balance BIGINT)     index by_balance(balance),
                                                           unique index by_owner(owner)
    transfers(id BIGINT PK, src BIGINT, dst BIGINT, amount BIGINT, seen BIGINT)
                                                           index by_src(src),
                                                           index by_dst(dst DESC, amount)
    account_locks(id BIGINT PK, holder BIGINT)

A transfer writes the ``account_locks`` rows of both accounts first (a blind write, the
SELECT FOR UPDATE of an engine without one: a READ COMMITTED transaction reads the balances
in a later statement, and any transfer committed after the lock write conflicts with it at
commit, first committer wins), then reads both balances, moves a random amount and inserts
its ``transfers`` row. Transactions are SNAPSHOT, READ COMMITTED or SERIALIZABLE, carry one or two
transfers, and some are rolled back, some roll back a savepoint holding an extra transfer,
some keep a released savepoint. About one in ten is a *refund* of a committed transfer (of
this child or an earlier one): it deletes the ``transfers`` row (three index entries) and
moves the money back; some refunds are rolled back, some roll back in a savepoint. A
SerializationError rolls the transaction back; the worker retries with new transfer ids. An auditor thread reads all the while: a SNAPSHOT
transaction must see the same accounts through the heap and through ``by_balance``, summing
to the initial total, and so must one READ COMMITTED scan; otherwise the child exits with
code 4 and the parent reports it. A maintenance thread calls ``engine.checkpoint()`` now and
then (and ``vacuum_table`` with ``vacuum=True``), so kills land inside those too.

The child reports on stdout (a pipe the parent drains; a pipe write is atomic and survives
the child's death), one line per event, always *after* the event::

    ready                     engine open
    C setup / A setup         the setup transaction is about to commit / committed
    c <id,id>                 about to commit these transfers
    a <id,id> <ack_seq>       commit returned (acknowledged); ack_seq counts acks
    x <id,id>                 the transaction failed (SerializationError): rolled back
    r <id,id>                 rolled back on purpose
    s <id>                    a savepoint holding this transfer was rolled back
    K / V                     a checkpoint / vacuum_table is starting
    D <id> / d <id> <ack_seq> about to commit / committed a refund deleting transfer <id>
    Y <id>                    that refund failed (SerializationError): rolled back
    p                         power loss now (followed by the child's SIGKILL)

Each transfer row stores ``seen``: the number of acknowledged commits when its transaction
began; those commits were published before its snapshot, so they precede it in commit order.

After every death the parent reopens the directory and checks (:func:`verify`):

1. the setup is there if it was acknowledged; the ``accounts`` row count never changes;
2. the sum of balances is the initial total, and each balance equals its initial value
   replayed with every surviving ``transfers`` row (so no commit is half there);
3. every index (primary keys included) holds exactly the entries its table's rows imply:
   the raw index keys in the key space are compared with ``index.entry(row, tuple_id)`` of
   every heap row, and a public ordered scan of ``by_balance`` returns every account in
   balance order;
4. every transfer verified after an earlier trial is still there unless a refund of it was
   announced; every new one was announced (``c``) and is not one that failed, was rolled
   back or sat in a rolled-back savepoint; no row an acknowledged refund deleted is there;
5. the recovered table statistics count the rows there are, and the recovery report counts
   the child's surviving transactions (the previous check's close was a checkpoint);
6. every acknowledged commit is there, except after a power loss under a policy other than
   ``ALWAYS``, where what survives must be a prefix of the commit order: a surviving
   transfer with ``seen = w`` implies that the first ``w`` acknowledged commits survived;
   under ``every(n)`` at most n - 1 acknowledged transactions may be lost.

A process crash (SIGKILL, kill point) keeps every acknowledged commit under every policy:
the engine hands each commit batch to the OS (``os.write``) before acknowledging it, and
the page cache outlives the process. The verified state is the next trial's baseline; it is
kept in ``<dir>/verified.json`` (with the number of children run, which numbers the next
child's transfer ids), so a rerun on the same directory resumes. A failure raises
:class:`EngineCrashFailure` with the trial, seeds, the command that reruns the loop and the
directory (kept; ``child.stdout`` holds the dead child's events, ``child.stderr`` its errors).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field

from lsmdb.testing import killpoints
from lsmdb.testing.killpoints import KILL_POINTS

__all__ = ["EngineCrashConfig", "EngineCrashReport", "EngineCrashFailure", "ChildRecord",
           "run_engine_crash_loop", "verify", "create_schema", "parse_policy", "main"]

INITIAL_BALANCE = 1000
KILL_MODES = ("none", "random", "mixed")
_ID_GEN = 10 ** 12  # transfer id = gen * _ID_GEN + (thread + 1) * _ID_THREAD + seq
_ID_THREAD = 10 ** 9
# Visits of each kill point in about a second of the workload (small memtables): a
# kill-point trial dies at a visit drawn from [1, hint].
_VISIT_HINTS = {"wal.append:before": 200, "wal.append:after": 200, "wal.sync:before": 20,
                "wal.sync:after": 20}
_DEFAULT_HINT = 2


def parse_policy(text: str):
    """``always`` | ``never`` | ``every:N`` -> WalCommitPolicy."""
    from lsmdb import WalCommitPolicy
    from lsmdb.errors import InvalidArgumentError

    t = text.strip().lower()
    if t == "always":
        return WalCommitPolicy.ALWAYS
    if t == "never":
        return WalCommitPolicy.NEVER
    if t.startswith("every:") and t[6:].isdigit():
        return WalCommitPolicy.every(int(t[6:]))
    raise InvalidArgumentError(f"commit policy is always, never or every:N, not {text!r}")


def _engine_options(path: str, policy: str):
    from lsmdb import StorageOptions, WalConfig
    from lsmdb.testing.presets import small_options

    # Small memtables and files: a second of transfers goes through flushes and compactions.
    return StorageOptions(wal_config=WalConfig(dir=path), wal_commit_policy=parse_policy(policy),
                          lsm_options=small_options())


# ---------------------------------------------------------------------------- the child


def create_schema(engine, accounts: int, before_commit=None) -> None:
    """Tables, indexes and ``accounts`` rows of INITIAL_BALANCE, in one transaction
    (``before_commit()`` runs just before it commits)."""
    with engine.transaction() as tx:
        tx.create_table("accounts", [("id", "BIGINT", False), ("owner", "TEXT", False),
                                     ("balance", "BIGINT", False)], primary_key="id")
        tx.create_index("accounts", ["balance"], name="by_balance")
        tx.create_index("accounts", ["owner"], name="by_owner", unique=True)
        tx.create_table("transfers", [("id", "BIGINT", False), ("src", "BIGINT", False),
                                      ("dst", "BIGINT", False), ("amount", "BIGINT", False),
                                      ("seen", "BIGINT", False)], primary_key="id")
        tx.create_index("transfers", ["src"], name="by_src")
        tx.create_index("transfers", ["dst DESC", "amount"], name="by_dst")
        tx.create_table("account_locks", [("id", "BIGINT", False), ("holder", "BIGINT")],
                        primary_key="id")
        for i in range(accounts):
            tx.insert("accounts", (i, f"owner-{i:05d}", INITIAL_BALANCE))
            tx.insert("account_locks", (i, None))
        if before_commit is not None:
            before_commit()


class _Child:
    """The workload. ``out(line)`` receives the event lines (default: stdout, fd 1)."""

    def __init__(self, args: argparse.Namespace, out=None):
        self.args = args
        self.out = out
        self.rng = random.Random(args.seed)
        self.out_lock = threading.Lock()
        self.ack_lock = threading.Lock()
        self.acks = 0
        self.stop = threading.Event()
        self.lock_tids: dict[int, int] = {}
        self.owners: dict[int, str] = {}
        self.pool_lock = threading.Lock()
        self.pool: list[int] = []  # committed transfer ids nobody is refunding

    def emit(self, line: str) -> None:
        with self.out_lock:
            if self.out is not None:
                self.out(line + "\n")
            else:
                os.write(1, (line + "\n").encode())  # one write < PIPE_BUF: whole lines

    def open(self, env):
        from lsmdb import StorageEngine

        if env is not None:
            # StorageOptions has no Env knob: hand the fault env to the LSM the backend opens.
            import functools

            from lsmdb.backends import lsm as lsm_backend

            lsm_backend.DB = functools.partial(lsm_backend.DB, env=env)
        return StorageEngine(_engine_options(os.path.join(self.args.dir, "db"),
                                             self.args.policy))

    def setup(self, engine) -> None:
        create_schema(engine, self.args.accounts, lambda: self.emit("C setup"))
        self.emit("A setup")

    def load(self, engine) -> None:
        with engine.transaction() as tx:
            for rec in tx.scan("account_locks"):
                self.lock_tids[rec.row[0]] = rec.tuple_id
            for rec in tx.scan("accounts"):
                self.owners[rec.row[0]] = rec.row[1]
            self.pool = [rec.row[0] for rec in tx.scan("transfers", ["id"])]

    def take(self, rng: random.Random) -> int | None:
        """A committed transfer for this thread alone to refund."""
        with self.pool_lock:
            if not self.pool:
                return None
            i = rng.randrange(len(self.pool))
            self.pool[i], self.pool[-1] = self.pool[-1], self.pool[i]
            return self.pool.pop()

    def give_back(self, ids) -> None:
        with self.pool_lock:
            self.pool.extend(ids)

    def refund(self, tx, tid: int) -> None:
        """Undo transfer ``tid``: delete its row (three index entries) and move the money
        back, after locking both accounts."""
        rec = tx.lookup("transfers", tid)
        _, src, dst, amount, _ = rec.row
        for a in sorted((src, dst)):
            tx.update("account_locks", self.lock_tids[a], (a, tid))
        rs, rd = tx.lookup("accounts", src), tx.lookup("accounts", dst)
        tx.update("accounts", rs.tuple_id, (src, self.owners[src], rs.row[2] + amount))
        tx.update("accounts", rd.tuple_id, (dst, self.owners[dst], rd.row[2] - amount))
        tx.delete("transfers", rec.tuple_id)

    def refund_txn(self, engine, rng: random.Random, iso, tid: int) -> None:
        """One refund transaction: committed (``D``/``d``), rolled back inside a savepoint
        and then committed empty, or rolled back; a serialization failure says ``Y``."""
        from lsmdb.errors import SerializationError

        kind = rng.random()
        tx = engine.transaction(iso)
        try:
            if kind < 0.15:
                with tx.savepoint() as sp:
                    self.refund(tx, tid)
                    sp.rollback()
                tx.commit()
                self.give_back([tid])
                return
            self.refund(tx, tid)
            if kind < 0.3:
                tx.rollback()
                self.give_back([tid])
                return
            self.emit(f"D {tid}")
            tx.commit()
        except SerializationError:
            tx.rollback()
            self.emit(f"Y {tid}")
            self.give_back([tid])
            return
        with self.ack_lock:
            self.acks += 1
            n = self.acks
        self.emit(f"d {tid} {n}")

    def transfer(self, tx, rng: random.Random, tid: int, seen: int) -> None:
        n = len(self.lock_tids)
        src, dst = rng.sample(range(n), 2)
        for a in sorted((src, dst)):
            tx.update("account_locks", self.lock_tids[a], (a, tid))
        rs, rd = tx.lookup("accounts", src), tx.lookup("accounts", dst)
        amount = rng.randint(1, 100)
        tx.update("accounts", rs.tuple_id, (src, self.owners[src], rs.row[2] - amount))
        tx.update("accounts", rd.tuple_id, (dst, self.owners[dst], rd.row[2] + amount))
        tx.insert("transfers", (tid, src, dst, amount, seen))

    def audit(self, engine) -> str | None:
        """One consistency read while transfers run: a SNAPSHOT transaction sees the same
        accounts through the heap and through by_balance, summing to the initial total; a
        READ COMMITTED scan (one statement, one snapshot) sums to it too."""
        from lsmdb import IsolationLevel

        total = len(self.owners) * INITIAL_BALANCE
        with engine.transaction(IsolationLevel.SNAPSHOT) as tx:
            heap = sorted((r.row[2], r.row[0]) for r in tx.scan("accounts"))
            index = [(r.row[2], r.row[0]) for r in tx.scan_index("by_balance")]
        if index != heap:
            return f"a snapshot's by_balance scan {index} differs from its heap scan {heap}"
        if sum(b for b, _ in heap) != total:
            return f"a snapshot sees balances summing to {sum(b for b, _ in heap)} != {total}"
        with engine.transaction(IsolationLevel.READ_COMMITTED) as tx:
            rc = sum(r.row[2] for r in tx.scan("accounts"))
        if rc != total:
            return f"a READ COMMITTED scan sees balances summing to {rc} != {total}"
        return None

    def auditor(self, engine, deadline: float) -> None:
        try:
            while not self.stop.is_set() and time.monotonic() < deadline:
                problem = self.audit(engine)
                if problem is not None:
                    print(f"audit failed: {problem}", file=sys.stderr, flush=True)
                    os._exit(4)
                time.sleep(0.02)
        except BaseException:
            if self.stop.is_set():
                return
            traceback.print_exc()
            sys.stderr.flush()
            os._exit(3)

    def maintenance(self, engine, deadline: float) -> None:
        """Checkpoints (and with ``--vacuum``, vacuum_table) now and then, so kills land
        inside them too."""
        rng = random.Random(f"{self.args.seed}:maintenance")
        try:
            while not self.stop.is_set() and time.monotonic() < deadline:
                time.sleep(rng.uniform(0.05, 0.4))
                if self.args.vacuum and rng.random() < 0.5:
                    self.emit("V")
                    engine.vacuum_table(rng.choice(("accounts", "transfers", "account_locks")))
                else:
                    self.emit("K")
                    engine.checkpoint()
        except BaseException:
            if self.stop.is_set():
                return
            traceback.print_exc()
            sys.stderr.flush()
            os._exit(3)

    def worker(self, engine, thread: int, deadline: float) -> None:
        try:
            self.transfers(engine, thread, deadline)
        except BaseException:
            if self.stop.is_set():
                return  # the simulated power loss failed its I/O: the process dies anyway
            # A thread's exception would not fail the process: make it, with the traceback.
            traceback.print_exc()
            sys.stderr.flush()
            os._exit(3)

    def transfers(self, engine, thread: int, deadline: float, txns: int | None = None) -> None:
        """Run transactions until ``deadline`` (monotonic), ``stop``, or ``txns`` of them."""
        from lsmdb import IsolationLevel
        from lsmdb.errors import SerializationError

        rng = random.Random(f"{self.args.seed}:{thread}")
        base = self.args.gen * _ID_GEN + (thread + 1) * _ID_THREAD
        seq = 0
        while not self.stop.is_set() and time.monotonic() < deadline:
            if txns is not None:
                if txns == 0:
                    break
                txns -= 1
            iso = rng.choice((IsolationLevel.SNAPSHOT, IsolationLevel.READ_COMMITTED,
                              IsolationLevel.SERIALIZABLE))
            roll = rng.random()
            if roll < 0.1:
                victim = self.take(rng)
                if victim is not None:
                    self.refund_txn(engine, rng, iso, victim)
                    continue
            with self.ack_lock:
                seen = self.acks
            ids: list[int] = []
            tx = engine.transaction(iso)
            try:
                for _ in range(1 if rng.random() < 0.7 else 2):
                    seq += 1
                    ids.append(base + seq)
                    self.transfer(tx, rng, ids[-1], seen)
                if roll < 0.15:  # an extra transfer in a savepoint that is rolled back
                    seq += 1
                    with tx.savepoint() as sp:
                        self.transfer(tx, rng, base + seq, seen)
                        sp.rollback()
                    self.emit(f"s {base + seq}")
                elif roll < 0.3:  # an extra transfer in a savepoint that is kept
                    seq += 1
                    with tx.savepoint():
                        ids.append(base + seq)
                        self.transfer(tx, rng, ids[-1], seen)
                elif roll < 0.38:
                    tx.rollback()
                    self.emit(f"r {_ids(ids)}")
                    continue
                self.emit(f"c {_ids(ids)}")
                tx.commit()
            except SerializationError:
                tx.rollback()
                self.emit(f"x {_ids(ids)}")
                continue
            with self.ack_lock:
                self.acks += 1
                n = self.acks
            self.emit(f"a {_ids(ids)} {n}")
            self.give_back(ids)

    def run(self) -> int:
        args = self.args
        env = None
        if args.power_loss_at >= 0:
            from lsmdb.testing.faultenv import FaultInjectionEnv

            env = FaultInjectionEnv(seed=args.seed)
        engine = self.open(env)
        self.emit("ready")
        if "accounts" not in {t.name for t in engine.tables()}:
            self.setup(engine)
        self.load(engine)
        deadline = time.monotonic() + args.seconds
        threads = [threading.Thread(target=self.worker, args=(engine, i, deadline), daemon=True)
                   for i in range(args.threads)]
        threads.append(threading.Thread(target=self.auditor, args=(engine, deadline),
                                        daemon=True))
        threads.append(threading.Thread(target=self.maintenance, args=(engine, deadline),
                                        daemon=True))
        for t in threads:
            t.start()
        if env is not None:
            time.sleep(args.power_loss_at)
            # Power cut in the middle of whatever the threads do: from now on every I/O
            # fails (so nothing is written after the cut), then unsynced data vanishes.
            self.stop.set()
            env.fail_one_in("any", 1)
            env.crash(tear_last_write=self.rng.random() < 0.5)  # sometimes a torn tail too
            self.emit("p")
            os.kill(os.getpid(), signal.SIGKILL)
        for t in threads:
            t.join()
        engine.close()
        return 0


def _ids(ids: list[int]) -> str:
    return ",".join(map(str, ids))


# ---------------------------------------------------------------------------- the record


@dataclass
class ChildRecord:
    """What one child said before it died (parsed from its stdout)."""

    setup_announced: bool = False
    setup_acked: bool = False
    announced: set[int] = field(default_factory=set)
    transactions: list[tuple[int, ...]] = field(default_factory=list)  # per "c" line
    acked: dict[int, int] = field(default_factory=dict)  # transfer id -> ack seq
    failed: set[int] = field(default_factory=set)  # serialization failures
    rolled_back: set[int] = field(default_factory=set)  # whole transaction rolled back
    savepoint_rolled_back: set[int] = field(default_factory=set)
    power_loss: bool = False
    ready: bool = False
    checkpoints: int = 0  # checkpoint() calls started
    # refunded transfer id -> "announced" (D) | "acked" (d) | "failed" (Y), the last word
    refunds: dict[int, str] = field(default_factory=dict)
    refund_acks: dict[int, int] = field(default_factory=dict)  # transfer id -> ack seq

    @classmethod
    def parse(cls, lines: list[str]) -> ChildRecord:
        rec = cls()
        for line in lines:
            parts = line.split()
            if not parts:
                continue
            kind = parts[0]
            if kind == "ready":
                rec.ready = True
            elif kind == "p":
                rec.power_loss = True
            elif kind == "K":
                rec.checkpoints += 1
            elif kind in ("D", "d", "Y") and len(parts) >= 2:
                tid = int(parts[1])
                rec.refunds[tid] = {"D": "announced", "d": "acked", "Y": "failed"}[kind]
                if kind == "d":
                    rec.refund_acks[tid] = int(parts[2])
            elif kind == "C":
                rec.setup_announced = True
            elif kind == "A":
                rec.setup_acked = True
            elif kind in ("c", "a", "x", "r", "s") and len(parts) >= 2:
                ids = [int(i) for i in parts[1].split(",")]
                if kind == "c":
                    rec.announced.update(ids)
                    rec.transactions.append(tuple(ids))
                elif kind == "a":
                    for i in ids:
                        rec.acked[i] = int(parts[2])
                elif kind == "x":
                    rec.failed.update(ids)
                elif kind == "r":
                    rec.rolled_back.update(ids)
                else:
                    rec.savepoint_rolled_back.update(ids)
        return rec


@dataclass
class TrialResult:
    present: set[int] | None  # transfer ids after recovery; None: no tables yet
    acked_verified: int = 0
    in_doubt_survived: int = 0
    lost_unsynced: int = 0
    rows_checked: int = 0
    index_entries_checked: int = 0
    refunds_verified: int = 0  # acknowledged refunds whose transfer row is gone


class EngineCrashFailure(AssertionError):
    """Recovery broke an invariant: money created or lost, an index out of step with its
    table, an acknowledged commit lost, or a rolled-back write visible."""


# ---------------------------------------------------------------------------- verification


def _check_indexes(engine, problems: list[str]) -> tuple[int, int]:
    """Compare every index's raw entries with the entries its table's heap rows imply."""
    backend = engine._backend  # the harness reads the key space under the engine directly
    catalog = engine._catalog_latest
    rows_seen = entries_seen = 0
    for info in catalog.tables.values():
        with engine.transaction() as tx:
            rows = [(r.tuple_id, r.row) for r in tx.scan(info.table_id)]
        heap_tids = [int.from_bytes(k[9:17], "big") for k, _ in backend.scan(info.prefix, info.end)]
        if sorted(heap_tids) != sorted(t for t, _ in rows):
            problems.append(f"table {info.name}: the heap holds tuple ids the engine does not "
                            f"show (or the reverse): {len(heap_tids)} keys, {len(rows)} rows")
        rows_seen += len(rows)
        for ix in info.indexes:
            want = sorted(ix.entry(row, tid) for tid, row in rows)
            got = list(backend.scan(ix.prefix, ix.end))
            entries_seen += len(got)
            if got != want:
                extra = sorted(set(got) - set(want))[:3]
                missing = sorted(set(want) - set(got))[:3]
                problems.append(f"index {ix.name} of {info.name}: {len(got)} entries, its table "
                                f"implies {len(want)}; stray {extra!r}; missing {missing!r}")
    return rows_seen, entries_seen


def verify(engine, record: ChildRecord, baseline: set[int] | None, accounts: int,
           acked_durable: bool, max_lost: int | None = None) -> TrialResult:
    """Check a reopened engine against what the dead child said (see the module doc).
    ``baseline``: transfer ids verified after the previous trial (None: no setup yet).
    ``acked_durable``: every acknowledged commit must be there; otherwise a prefix of the
    commit order, missing at most ``max_lost`` acknowledged transactions (None: no bound).
    Raises AssertionError listing every violation."""
    problems: list[str] = []
    names = {t.name for t in engine.tables()}
    if "accounts" not in names:
        if record.setup_acked or baseline is not None:
            raise AssertionError("the acknowledged setup transaction (tables, indexes, "
                                 "accounts) is missing after recovery")
        if names:
            raise AssertionError(f"half a setup transaction survived: tables {sorted(names)}")
        return TrialResult(present=None)
    if baseline is None and not record.setup_announced:
        raise AssertionError("tables exist that no child ever committed")
    if names != {"accounts", "transfers", "account_locks"}:
        problems.append(f"tables after recovery: {sorted(names)}")
    with engine.transaction() as tx:
        balances = {r.row[0]: r.row[2] for r in tx.scan("accounts")}
        transfers = {r.row[0]: r.row for r in tx.scan("transfers")}
        by_balance = [(r.row[2], r.row[0]) for r in tx.scan_index("by_balance")]
        locks = tx.count("account_locks")
    if sorted(balances) != list(range(accounts)) or locks != accounts:
        problems.append(f"accounts {sorted(balances)[:5]}... ({len(balances)} rows, "
                        f"{locks} lock rows); expected ids 0..{accounts - 1}")
    total = sum(balances.values())
    if total != accounts * INITIAL_BALANCE:
        problems.append(f"sum of balances {total} != {accounts * INITIAL_BALANCE}")
    replay = dict.fromkeys(range(accounts), INITIAL_BALANCE)
    for _, src, dst, amount, _seen in transfers.values():
        replay[src] -= amount
        replay[dst] += amount
    wrong = [(a, balances.get(a), replay[a]) for a in replay if balances.get(a) != replay[a]]
    if wrong:
        problems.append(f"{len(wrong)} balances differ from the replay of the transfers log "
                        f"(account, balance, replayed): {wrong[:5]}")
    if by_balance != sorted((b, a) for a, b in balances.items()):
        problems.append("an ordered scan of by_balance does not return every account in "
                        "balance order")
    rows_seen, entries_seen = _check_indexes(engine, problems)
    stats_rows = engine.metrics().total_row_count
    if stats_rows != rows_seen:
        problems.append(f"recovered table statistics count {stats_rows} rows, the tables hold "
                        f"{rows_seen}")

    present = set(transfers)
    old = baseline or set()
    # A refund deletes its transfer row: announced, it may have; acknowledged, it did.
    maybe_gone = {i for i, st in record.refunds.items() if st != "failed"}
    gone = {i for i, st in record.refunds.items() if st == "acked"}
    lost_old = old - present - maybe_gone
    if lost_old:
        problems.append(f"{len(lost_old)} transfers verified after an earlier trial are gone: "
                        f"{sorted(lost_old)[:5]}")
    new = present - old
    for what, ids in (("never announced for commit", new - record.announced),
                      ("failed with SerializationError", new & record.failed),
                      ("rolled back", new & record.rolled_back),
                      ("in a rolled-back savepoint", new & record.savepoint_rolled_back)):
        if ids:
            problems.append(f"{len(ids)} transfers {what} are visible: {sorted(ids)[:5]}")
    lost = sorted(set(record.acked) - present - maybe_gone)
    undeleted = sorted(gone & present)  # acknowledged refunds whose row is still there
    if (lost or undeleted) and acked_durable:
        if lost:
            problems.append(f"{len(lost)} acknowledged transfers lost: {lost[:5]}")
        if undeleted:
            problems.append(f"{len(undeleted)} transfers deleted by acknowledged refunds are "
                            f"visible: {undeleted[:5]}")
    elif lost or undeleted:
        lost_txns = len({record.acked[i] for i in lost} | {record.refund_acks[i]
                                                           for i in undeleted})
        if max_lost is not None and lost_txns > max_lost:
            problems.append(f"{lost_txns} acknowledged transactions lost, the commit policy "
                            f"allows at most {max_lost} unsynced")
        # Prefix property: a survivor that began after ack #w implies acks 1..w survived
        # (an acknowledged transfer is there unless a refund was announced for it; an
        # acknowledged refund's row is gone).
        missing = {seq for i, seq in record.acked.items()
                   if i not in present and i not in maybe_gone}
        missing |= {seq for i, seq in record.refund_acks.items() if i in present}
        for tid in new:
            w = transfers[tid][4]
            gap = sorted(seq for seq in missing if seq <= w)
            if gap:
                problems.append(f"not a prefix of the commit order: transfer {tid} survived, "
                                f"it began after {w} acknowledged commits, yet "
                                f"{len(gap)} of those are lost (ack numbers {gap[:5]})")
                break
    rr = engine.recovery_report
    if rr.records_replayed and baseline is not None:
        # Without a checkpoint of the child's, the last one was the previous check's close:
        # every transaction committed since is one of this child's and counts once. A
        # transfer refunded later, or a refund of a transfer of this child, leaves no trace
        # to tell whether it committed: those widen the bounds.
        certain = possible = 0
        for ids in record.transactions:
            if ids[0] in present:
                certain += 1
            elif ids[0] in maybe_gone:
                possible += 1
        for i in maybe_gone - present:
            if i in old:
                certain += 1
            else:
                possible += 1
        if rr.recovered_transactions > certain + possible or (
                not record.checkpoints and rr.recovered_transactions < certain):
            problems.append(f"recovery report: {rr.recovered_transactions} recovered "
                            f"transactions, between {certain} and {certain + possible} of "
                            f"the child's commits survived")
    if problems:
        raise AssertionError("; ".join(problems))
    acked_present = sum(1 for i in record.acked if i in present)
    return TrialResult(present=present, acked_verified=acked_present,
                       in_doubt_survived=len(new) - acked_present,
                       lost_unsynced=len(lost) + len(undeleted), rows_checked=rows_seen,
                       refunds_verified=len(gone - present),
                       index_entries_checked=entries_seen)


# ---------------------------------------------------------------------------- the parent


@dataclass
class EngineCrashConfig:
    dir: str
    kills: int | None = 20  # trials; None: until ``seconds``
    seconds: float | None = None  # stop after the trial running at that time
    seed: int = 0
    policy: str = "always"  # always | never | every:N
    threads: int = 4
    accounts: int = 20
    interval: float = 1.0  # the parent kills within this many seconds after "ready"
    kill_points: str = "mixed"  # none | random (every trial) | mixed (every other trial)
    power_loss: float = 0.0  # odds per trial of a simulated power loss instead
    vacuum: bool = False  # the child's maintenance thread also runs vacuum_table

    def command(self) -> str:
        argv = ["python", "-m", "lsmdb.testing.engine_crash", "--seed", str(self.seed),
                "--policy", self.policy, "--threads", str(self.threads),
                "--accounts", str(self.accounts), "--interval", f"{self.interval:g}",
                "--kill-points", self.kill_points, "--power-loss", f"{self.power_loss:g}"]
        if self.vacuum:
            argv.append("--vacuum")
        if self.kills is not None:
            argv += ["--kills", str(self.kills)]
        if self.seconds is not None:
            argv += ["--seconds", f"{self.seconds:g}"]
        return " ".join(shlex.quote(a) for a in argv)


@dataclass
class EngineCrashReport:
    trials: int = 0
    sigkills: int = 0
    kill_point_deaths: Counter = field(default_factory=Counter)
    power_losses: int = 0
    clean_exits: int = 0
    died_before_ready: int = 0
    recoveries: int = 0  # reopen + full verification passed
    commits_acked: int = 0  # acknowledged transactions (lines "a")
    transfers_acked_verified: int = 0
    refunds_verified: int = 0  # acknowledged refunds (row deletes) verified gone
    in_doubt_survived: int = 0  # committed but unacknowledged at the kill, found present
    lost_unsynced: int = 0  # acknowledged, unsynced, lost to a simulated power loss
    failed_serialization: int = 0
    rolled_back: int = 0
    savepoints_rolled_back: int = 0
    transfers_present: int = 0
    index_entries_checked: int = 0
    seconds: float = 0.0

    @property
    def kills(self) -> int:
        return self.sigkills + sum(self.kill_point_deaths.values()) + self.power_losses

    def summary(self) -> str:
        lines = [
            f"trials {self.trials}: kills {self.kills} (SIGKILL at random moments "
            f"{self.sigkills}, at LSM kill points {sum(self.kill_point_deaths.values())}, "
            f"simulated power losses {self.power_losses}); finished before a kill "
            f"{self.clean_exits}; died while opening {self.died_before_ready}",
            f"recoveries verified {self.recoveries}: commits acknowledged {self.commits_acked}, "
            f"acknowledged transfers verified present {self.transfers_acked_verified}, "
            f"acknowledged refunds verified deleted {self.refunds_verified}, "
            f"in flight at the kill and present {self.in_doubt_survived}, acknowledged but "
            f"unsynced and lost to power loss {self.lost_unsynced}",
            f"checked absent: {self.failed_serialization} transfers of serialization "
            f"failures, {self.rolled_back} rolled back, {self.savepoints_rolled_back} in "
            f"rolled-back savepoints",
            f"final: {self.transfers_present} transfers, {self.index_entries_checked} index "
            f"entries compared with their tables in the last check; elapsed "
            f"{self.seconds:.1f} s",
        ]
        if self.kill_point_deaths:
            lines.append("kill points died at: " + ", ".join(
                f"{n} {c}" for n, c in sorted(self.kill_point_deaths.items())))
        return "\n".join(lines)


class _Reader(threading.Thread):
    """Drains the child's stdout so it never blocks on a full pipe."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream = stream
        self.lines: list[str] = []
        self.ready = threading.Event()

    def run(self) -> None:
        for line in self.stream:
            if line.endswith("\n"):  # a line cut by the kill is not an event
                self.lines.append(line)
                if line.startswith("ready"):
                    self.ready.set()
        self.ready.set()


def run_engine_crash_loop(config: EngineCrashConfig, progress=None) -> EngineCrashReport:
    """Run the loop; ``progress(trial, report)`` after each verified trial. Raises
    EngineCrashFailure (with the rerun command; the directory is kept) on a violation."""
    from lsmdb.errors import InvalidArgumentError

    if config.kill_points not in KILL_MODES:
        raise InvalidArgumentError(f"kill_points must be one of {KILL_MODES}")
    if config.kills is None and config.seconds is None:
        raise InvalidArgumentError("give kills or seconds")
    if not 0.0 <= config.power_loss <= 1.0:
        raise InvalidArgumentError("power_loss is odds in [0, 1]")
    parse_policy(config.policy)
    killpoints.configure(None)  # the parent must never die at a kill point itself
    os.makedirs(config.dir, exist_ok=True)
    rng = random.Random(f"engine-crash:{config.seed}")
    report = EngineCrashReport()
    state_path = os.path.join(config.dir, "verified.json")
    baseline, generation = _load_state(state_path)
    t0 = time.monotonic()
    trial = 0
    while (config.kills is None or trial < config.kills) and (
            config.seconds is None or time.monotonic() - t0 < config.seconds):
        generation += 1  # a rerun on the same directory goes on with new transfer ids
        baseline = _run_trial(config, rng, trial, generation, baseline, report)
        _save_state(state_path, baseline, generation)
        trial += 1
        report.trials = trial
        report.seconds = time.monotonic() - t0
        if progress is not None:
            progress(trial, report)
    report.seconds = time.monotonic() - t0
    return report


def _load_state(path: str) -> tuple[set[int] | None, int]:
    """(transfer ids verified after the last trial or None before the setup, children run
    so far): a rerun on the same directory resumes from them."""
    if not os.path.exists(path):
        return None, 0
    with open(path) as f:
        state = json.load(f)
    ids = state["present"]
    return (None if ids is None else set(ids)), int(state["generation"])


def _save_state(path: str, present: set[int] | None, generation: int) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"generation": generation,
                   "present": None if present is None else sorted(present)}, f)
    os.replace(tmp, path)


def _plan(config: EngineCrashConfig, rng: random.Random, trial: int
          ) -> tuple[str | None, float]:
    """(kill point rule or None, power-loss moment or -1) of one trial."""
    if config.power_loss and rng.random() < config.power_loss:
        return None, rng.uniform(0.05, config.interval)
    if config.kill_points == "random" or (config.kill_points == "mixed" and trial % 2):
        name = rng.choice(list(KILL_POINTS))
        return f"{name}@{1 + rng.randrange(_VISIT_HINTS.get(name, _DEFAULT_HINT))}", -1.0
    return None, -1.0


def _run_trial(config: EngineCrashConfig, rng: random.Random, trial: int, generation: int,
               baseline: set[int] | None, report: EngineCrashReport) -> set[int] | None:
    child_seed = rng.randrange(1 << 31)
    rule, power_loss_at = _plan(config, rng, trial)
    kill_after = rng.uniform(0.0, config.interval)
    kp_log = os.path.join(config.dir, "killpoints.log")
    err_path = os.path.join(config.dir, "child.stderr")
    out_path = os.path.join(config.dir, "child.stdout")
    argv = [sys.executable, "-m", "lsmdb.testing.engine_crash", "--child", "--dir", config.dir,
            "--gen", str(generation), "--seed", str(child_seed), "--threads",
            str(config.threads), "--accounts", str(config.accounts), "--policy", config.policy,
            "--seconds", f"{config.interval + 30:g}", "--power-loss-at", f"{power_loss_at:g}"]
    if config.vacuum:
        argv.append("--vacuum")
    env = dict(os.environ)
    for var in (killpoints.ENV_RULES, killpoints.ENV_LOG, killpoints.ENV_SEED):
        env.pop(var, None)
    if rule is not None:
        env[killpoints.ENV_RULES] = rule
        env[killpoints.ENV_LOG] = kp_log
        env[killpoints.ENV_SEED] = str(child_seed)
    what = (f"trial {trial + 1} (generation {generation}, child seed {child_seed}"
            + (f", kill point rule {rule!r}" if rule else "")
            + (f", power loss at {power_loss_at:.3f} s" if power_loss_at >= 0 else "")
            + f", policy {config.policy})")
    killed_by_us = False
    with open(err_path, "w") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        reader = _Reader(proc.stdout)
        reader.start()
        try:
            reader.ready.wait(120)
            if power_loss_at < 0:
                # Blackbox: kill at a random moment. Kill point: the same moment is the
                # backstop for a child that never reached its point.
                deadline = time.monotonic() + (kill_after if rule is None else config.interval)
                while proc.poll() is None and time.monotonic() < deadline:
                    select.select([], [], [], min(0.01, max(0.0, deadline - time.monotonic())))
                if proc.poll() is None:
                    proc.kill()
                    killed_by_us = True
            try:
                proc.wait(timeout=config.interval + 90)
            except subprocess.TimeoutExpired:
                proc.kill()
                killed_by_us = True
                proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            reader.join(30)
            proc.stdout.close()
    with open(out_path, "w") as f:
        f.writelines(reader.lines)
    record = ChildRecord.parse(reader.lines)
    code = proc.returncode
    if not record.ready:
        report.died_before_ready += 1
    if code == -9 and record.power_loss:
        report.power_losses += 1
    elif code == -9 and killed_by_us:
        report.sigkills += 1
    elif code == -9:
        report.kill_point_deaths[rule.split("@")[0] if rule else "?"] += 1
    elif code == 0:
        report.clean_exits += 1
    else:
        with open(err_path, errors="replace") as f:
            stderr = f.read()[-3000:]
        raise EngineCrashFailure(f"{what}: the child exited with code {code}:\n{stderr}\n"
                                 f"{_rerun(config)}")
    from lsmdb import StorageEngine

    acked_durable = not record.power_loss or config.policy == "always"
    try:
        with StorageEngine(_engine_options(os.path.join(config.dir, "db"),
                                           config.policy)) as engine:
            result = verify(engine, record, baseline, config.accounts, acked_durable,
                            _max_unsynced(config.policy))
    except Exception as exc:
        raise EngineCrashFailure(
            f"{what}: recovery check failed: {type(exc).__name__}: {exc}\n"
            f"{_rerun(config)} (child.stdout = the child's events, child.stderr)") from exc
    report.recoveries += 1
    report.commits_acked += len(set(record.acked.values()))
    report.transfers_acked_verified += result.acked_verified
    report.refunds_verified += result.refunds_verified
    report.in_doubt_survived += result.in_doubt_survived
    report.lost_unsynced += result.lost_unsynced
    report.failed_serialization += len(record.failed)
    report.rolled_back += len(record.rolled_back)
    report.savepoints_rolled_back += len(record.savepoint_rolled_back)
    report.transfers_present = len(result.present or ())
    report.index_entries_checked = result.index_entries_checked
    return result.present


def _max_unsynced(policy: str) -> int | None:
    """Acknowledged transactions a power loss may take: every(n) syncs at least every n-th
    commit, so fewer than n are ever unsynced; NEVER leaves it to the OS (no bound)."""
    interval = parse_policy(policy).interval
    return None if interval == 0 else interval - 1


def _rerun(config: EngineCrashConfig) -> str:
    return (f"engine crash loop seed {config.seed}; rerun with: {config.command()} "
            f"--dir NEW_EMPTY_DIR; directory kept: {config.dir}")


# ---------------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m lsmdb.testing.engine_crash",
        description="Kill -9 a bank-transfer workload on the storage engine, reopen, verify.")
    p.add_argument("--kills", type=int, default=None, help="trials to run (default 20)")
    p.add_argument("--seconds", type=float, default=None,
                   help="stop after this many seconds (parent); the child's run time (child)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dir", default=None, help="data directory (default: a new temp dir, "
                   "removed after a passing run)")
    p.add_argument("--policy", default="always", help="always | never | every:N")
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--accounts", type=int, default=20)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--kill-points", choices=KILL_MODES, default="mixed")
    p.add_argument("--power-loss", type=float, default=0.0,
                   help="odds per trial of a simulated power loss (FaultInjectionEnv)")
    p.add_argument("--vacuum", action="store_true",
                   help="the child also runs vacuum_table now and then")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--gen", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--power-loss-at", type=float, default=-1.0, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.child:
        if args.seconds is None:
            args.seconds = 30.0
        return _Child(args).run()
    kills = args.kills if args.kills is not None or args.seconds is not None else 20
    own_dir = args.dir is None
    path = args.dir or tempfile.mkdtemp(prefix="lsmdb-engine-crash-")
    config = EngineCrashConfig(dir=path, kills=kills, seconds=args.seconds, seed=args.seed,
                               policy=args.policy, threads=args.threads,
                               accounts=args.accounts, interval=args.interval,
                               kill_points=args.kill_points, power_loss=args.power_loss,
                               vacuum=args.vacuum)

    def progress(trial: int, report: EngineCrashReport) -> None:
        if not args.quiet and trial % 10 == 0:
            print(f"[{trial}] kills {report.kills}, recoveries {report.recoveries}, commits "
                  f"{report.commits_acked}, {report.seconds:.0f} s", flush=True)

    try:
        report = run_engine_crash_loop(config, progress)
    except EngineCrashFailure as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    print("OK")
    if own_dir:
        shutil.rmtree(path, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
