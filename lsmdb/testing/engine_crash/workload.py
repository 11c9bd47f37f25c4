"""The child: the schema and the bank-transfer workload that the parent kills (see the
package docstring for the event lines it prints)."""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import threading
import time
import traceback

from lsmdb.testing.engine_crash.options import (
    _ID_GEN,
    _ID_THREAD,
    INITIAL_BALANCE,
    _engine_options,
)


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
