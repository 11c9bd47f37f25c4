"""Fuzz the storage engine's API (lsmdb.StorageEngine) against a small pure-Python model.

The fuzzer's bytes are a program: DDL (create / drop table, create index), DML (insert,
update, delete), two interleaved SNAPSHOT transactions with savepoints, autocommit statements,
and close / reopen. Tables are ``(k INT NOT NULL PRIMARY KEY, v INT)``, sometimes with an
index on ``v DESC``. The model keeps the committed tables and each open transaction's view
(its snapshot plus its own writes); every statement's outcome and every read is checked
against it: full scans, counts, primary-key lookups, equality filters, index scans and
verify_indexes. Commit outcomes follow the documented rules (docs/engine.md, Isolation): a
transaction that wrote a row another transaction committed after its snapshot, inserted a key
another committed since, or touched a table on which DDL was committed concurrently (or ran
DDL on a table written concurrently) must fail (SerializationError / ConstraintError); a transaction with no
concurrent commit on the tables it touched must succeed; in between either is accepted, and
the committed state is compared right after. Any other exception type, or a mismatch, is a
crash.

Also checkpoint (the LSM backend; FeatureNotSupportedError on memory) and vacuum_table,
after which every open transaction and the committed state must read the same.

Backend: the memory backend (close / reopen re-runs recovery over the same key space) and,
for inputs whose first byte is 0 mod 16, the LSM backend in a fresh /dev/shm directory that
is removed after the input.

    python fuzz/fuzz_engine.py -max_total_time=60 fuzz/corpus/engine
    python fuzz/fuzz_engine.py --make-corpus fuzz/corpus/engine

Input: one backend byte, then ops: an op byte (% N_OPS) followed by its argument bytes.
"""

import copy
import os
import shutil
import tempfile

import atheris
import fuzzmain

with atheris.instrument_imports(include=["lsmdb"]):
    from lsmdb import StorageEngine, StorageOptions, WalCommitPolicy, WalConfig
    from lsmdb.testing.presets import small_options

from lsmdb.errors import (
    ConstraintError,
    FeatureNotSupportedError,
    SchemaError,
    SerializationError,
    TransactionError,
)

NAMES = ("a", "b", "c")
MAX_OPS = 64
SHM = "/dev/shm" if os.path.isdir("/dev/shm") else None


_Input = fuzzmain.ByteInput


class Table:
    """One table of a view: its generation (a new one per CREATE), rows, index flag."""

    __slots__ = ("gen", "rows", "indexed")

    def __init__(self, gen: int, rows: dict | None = None, indexed: bool = False):
        self.gen = gen
        self.rows: dict[int, tuple] = rows if rows is not None else {}
        self.indexed = indexed


class Txn:
    """A model transaction: its snapshot (``base``), its view, what it touched."""

    def __init__(self, session, committed: dict, clock: int):
        self.tx = session
        self.begin = clock
        self.base = copy.deepcopy(committed)
        self.view = copy.deepcopy(committed)
        self.saves: list = []
        self.rows: set = set()  # (gen, tuple id) updated or deleted
        self.written: set = set()  # (gen, tuple id) inserted, updated or deleted
        self.inserted: set = set()  # (gen, k)
        self.gens: set = set()  # generations touched by DML or DDL
        self.ddl: dict = {}  # name -> "table" (created/dropped) or "index"
        # Tables a statement that failed on a duplicate key touched (it wrote nothing; a
        # concurrent commit there may still fail the commit). Work rolled back to a savepoint
        # is not kept here: the engine drops its conflict checks, so restore forgets it.
        self.ever_gens: set = set()

    def state(self) -> tuple:
        return copy.deepcopy((self.view, self.rows, self.written, self.inserted, self.gens,
                              self.ddl))

    def restore(self, state: tuple) -> None:
        (self.view, self.rows, self.written, self.inserted, self.gens,
         self.ddl) = copy.deepcopy(state)


class Model:
    def __init__(self, data: bytes):
        self.inp = _Input(data)
        self.lsm_dir = None
        if self.inp.byte() % 16 == 0 and SHM:
            self.lsm_dir = tempfile.mkdtemp(prefix="lsmdb-fuzz-engine-", dir=SHM)
        self.engine = self._open()
        self.committed: dict[str, Table] = {}
        self.clock = 0  # commits so far
        self.next_gen = 1
        self.row_at: dict = {}  # (gen, tid) -> commit number of its last write
        self.dml_at: dict = {}  # gen -> last commit with DML on it
        self.ddl_at: dict = {}  # gen -> last commit with DDL on it
        self.name_at: dict = {}  # name -> last commit creating or dropping it
        self.slots: list[Txn | None] = [None, None]

    # ------------------------------------------------------------------ lifecycle

    def _open(self) -> StorageEngine:
        if self.lsm_dir is not None:
            return StorageEngine(StorageOptions(
                wal_config=WalConfig(dir=self.lsm_dir), wal_commit_policy=WalCommitPolicy.NEVER,
                lsm_options=small_options()))
        return StorageEngine.new_without_wal()

    def reopen(self) -> None:
        old = self.engine
        old.close()  # rolls back open transactions
        self.slots = [None, None]
        if self.lsm_dir is not None:
            self.engine = self._open()
            return
        # A memory engine has nothing on disk: reopen over the same key space, so recovery
        # (catalog decoding, tuple-id counters) runs as after a restart.
        backend = old._backend
        backend._closed = False
        engine = StorageEngine.__new__(StorageEngine)
        engine.options = old.options
        engine._closed = True
        engine._backend = backend
        engine._init_state()
        engine._closed = False
        self.engine = engine

    def close(self) -> None:
        try:
            self.engine.close()
        finally:
            if self.lsm_dir is not None:
                shutil.rmtree(self.lsm_dir, ignore_errors=True)

    # ------------------------------------------------------------------ transactions

    def begin(self, slot: int) -> Txn:
        t = Txn(self.engine.transaction("snapshot"), self.committed, self.clock)
        self.slots[slot] = t
        return t

    def _concurrent(self, t: Txn) -> bool:
        """Did a commit after t's snapshot touch a table t touched?"""
        return (any(self.dml_at.get(g, 0) > t.begin or self.ddl_at.get(g, 0) > t.begin
                    for g in t.gens | t.ever_gens)
                or any(self.name_at.get(n, 0) > t.begin for n in t.ddl))

    def _must_fail(self, t: Txn) -> bool:
        if any(self.row_at.get(r, 0) > t.begin for r in t.rows):
            return True  # first committer wins
        if any(self.ddl_at.get(g, 0) > t.begin for g in t.gens):
            return True  # DDL committed concurrently on a table t touched
        if any(self.name_at.get(n, 0) > t.begin for n, what in t.ddl.items()
               if what == "table"):
            return True  # the name was claimed concurrently
        if any(n in t.base and self.dml_at.get(t.base[n].gen, 0) > t.begin for n in t.ddl):
            return True  # t's DDL on a table others wrote concurrently
        for gen, k in t.inserted:
            live = next((tb for tb in self.committed.values() if tb.gen == gen), None)
            if live is not None and any(r[0] == k and tid not in t.base_rows(gen)
                                        for tid, r in live.rows.items()):
                return True
        return False

    def commit(self, slot: int) -> None:
        t = self.slots[slot]
        self.slots[slot] = None
        must, may = self._must_fail(t), self._concurrent(t)
        try:
            t.tx.commit()
        except (SerializationError, ConstraintError) as exc:
            if not (must or may):
                raise AssertionError(
                    f"commit failed without a concurrent commit: {exc!r}") from exc
            return
        if must:
            raise AssertionError("commit succeeded although a concurrent commit conflicts")
        self._apply(t)
        self.check_committed()

    def rollback(self, slot: int) -> None:
        t = self.slots[slot]
        self.slots[slot] = None
        t.tx.rollback()

    def _apply(self, t: Txn) -> None:
        self.clock += 1
        now = self.clock
        for name, what in t.ddl.items():
            old, new = t.base.get(name), t.view.get(name)
            if what == "table":
                self.name_at[name] = now
                for tb in (old, new):
                    if tb is not None:
                        self.ddl_at[tb.gen] = now
                if new is None:
                    self.committed.pop(name, None)
                else:
                    self.committed[name] = copy.deepcopy(new)
                    for tid in new.rows:
                        self.row_at[(new.gen, tid)] = now
            else:
                self.ddl_at[new.gen] = now
        for name, new in t.view.items():
            if t.ddl.get(name) == "table":
                continue
            live = self.committed.get(name)
            if live is None or live.gen != new.gen:
                continue  # dropped concurrently: t only read it (a write would have failed)
            for gen, tid in t.written:
                if gen != new.gen:
                    continue
                self.row_at[(gen, tid)] = now
                self.dml_at[gen] = now
                if tid in new.rows:
                    live.rows[tid] = new.rows[tid]
                else:
                    live.rows.pop(tid, None)
        for name, tb in t.view.items():
            if name in self.committed and self.committed[name].gen == tb.gen and tb.indexed:
                self.committed[name].indexed = True

    # ------------------------------------------------------------------ statements

    def run(self, slot: int | None, fn):
        """fn(txn) in the slot's transaction or an autocommit one."""
        if slot is not None and self.slots[slot] is not None:
            return fn(self.slots[slot])
        t = Txn(self.engine.transaction("snapshot"), self.committed, self.clock)
        self.slots.append(t)
        try:
            fn(t)
        except BaseException:
            self.slots.pop()
            if t.tx.active:
                t.tx.rollback()
            raise
        self.commit(len(self.slots) - 1)
        self.slots.pop()
        return None

    def create_table(self, t: Txn, name: str) -> None:
        cols = [("k", "INT", False), ("v", "INT")]
        if name in t.view:
            try:
                t.tx.create_table(name, cols, primary_key="k")
            except SchemaError:
                return
            raise AssertionError(f"duplicate table {name} accepted")
        t.tx.create_table(name, cols, primary_key="k")
        t.view[name] = Table(self.next_gen)
        self.next_gen += 1
        t.ddl[name] = "table"

    def drop_table(self, t: Txn, name: str) -> None:
        if name not in t.view:
            try:
                t.tx.drop_table(name)
            except SchemaError:
                return
            raise AssertionError(f"dropping missing table {name} accepted")
        t.tx.drop_table(name)
        t.gens.add(t.view.pop(name).gen)
        t.ddl[name] = "table"

    def create_index(self, t: Txn, name: str) -> None:
        tb = t.view.get(name)
        if tb is None or tb.indexed:
            return
        t.tx.create_index(name, ["v DESC"], name=f"{name}_v")
        tb.indexed = True
        t.gens.add(tb.gen)
        t.ddl.setdefault(name, "index")

    def insert(self, t: Txn, name: str, k: int, v) -> None:
        tb = t.view.get(name)
        if tb is None:
            try:
                t.tx.insert(name, (k, v))
            except SchemaError:
                return
            raise AssertionError(f"insert into missing table {name} accepted")
        dup = any(r[0] == k for r in tb.rows.values())
        try:
            tid = t.tx.insert(name, (k, v))
        except ConstraintError:
            t.ever_gens.add(tb.gen)  # the failed statement wrote nothing, but it read
            live = self.committed.get(name)
            if dup or (live is not None and live.gen == tb.gen
                       and any(r[0] == k for r in live.rows.values())):
                return  # a duplicate in the view, or committed since the snapshot
            raise
        if dup:
            raise AssertionError(f"duplicate key {k} accepted in {name}")
        if tid in tb.rows:
            raise AssertionError(f"tuple id {tid} reused in {name}")
        t.gens.add(tb.gen)
        tb.rows[tid] = (k, v)
        t.inserted.add((tb.gen, k))
        t.written.add((tb.gen, tid))

    def update(self, t: Txn, name: str, pick: int, v) -> None:
        tb = t.view.get(name)
        if not tb or not tb.rows:
            return
        tid = sorted(tb.rows)[pick % len(tb.rows)]
        t.tx.update(name, tid, {"v": v})
        tb.rows[tid] = (tb.rows[tid][0], v)
        t.rows.add((tb.gen, tid))
        t.written.add((tb.gen, tid))
        t.gens.add(tb.gen)

    def delete(self, t: Txn, name: str, pick: int) -> None:
        tb = t.view.get(name)
        if not tb or not tb.rows:
            return
        tid = sorted(tb.rows)[pick % len(tb.rows)]
        t.tx.delete(name, tid)
        del tb.rows[tid]
        t.rows.add((tb.gen, tid))
        t.written.add((tb.gen, tid))
        t.gens.add(tb.gen)

    # ------------------------------------------------------------------ reads

    def check_view(self, tx, view: dict) -> None:
        for name, tb in view.items():
            rows = tb.rows
            got = {r.tuple_id: r.row for r in tx.scan(name)}
            if got != rows:
                raise AssertionError(f"scan of {name}: {got} != model {rows}")
            if tx.count(name) != len(rows):
                raise AssertionError(f"count of {name}")
            for tid, row in list(rows.items())[:2]:
                if tx.lookup(name, row[0]) != (tid, row):
                    raise AssertionError(f"lookup {name} {row[0]}")
            for v in (0, 1):
                want = sorted(t for t, r in rows.items() if r[1] == v)
                if sorted(r.tuple_id for r in tx.scan(name, where={"v": v})) != want:
                    raise AssertionError(f"scan {name} where v={v}")
            want = sorted(t for t, r in rows.items() if r[1] is not None and r[1] >= 2)
            if sorted(r.tuple_id for r in tx.scan_range(name, "v", 2)) != want:
                raise AssertionError(f"scan_range {name} v >= 2")
            if tb.indexed:
                got_v = [r.row[1] for r in tx.scan_index(f"{name}_v")]
                nulls = [None] * sum(1 for r in rows.values() if r[1] is None)
                want_v = nulls + sorted((r[1] for r in rows.values() if r[1] is not None),
                                        reverse=True)
                if got_v != want_v:
                    raise AssertionError(f"index scan of {name}: {got_v} != {want_v}")
        for name in NAMES:
            if name not in view:
                try:
                    tx.count(name)
                except SchemaError:
                    continue
                raise AssertionError(f"table {name} visible, model has none")

    def check_committed(self) -> None:
        tx = self.engine.transaction()
        try:
            self.check_view(tx, self.committed)
        finally:
            tx.rollback()
        for name, tb in self.committed.items():
            if tb.indexed and self.engine.verify_indexes(name) != []:
                raise AssertionError(f"indexes of {name} differ from the table")

    # ------------------------------------------------------------------ the program

    def step(self) -> None:
        op = self.inp.byte() % 14
        arg = self.inp.byte()
        slot = arg & 1
        name = NAMES[(arg >> 1) % 3]
        t = self.slots[slot]
        if op == 0:  # begin (or commit the open one)
            if t is None:
                self.begin(slot)
            else:
                self.commit(slot)
        elif op == 1:
            if t is not None:
                self.commit(slot)
        elif op == 2:
            if t is not None:
                self.rollback(slot)
        elif op == 3:
            if t is not None:
                t.saves.append((t.tx.savepoint(), t.state()))
        elif op == 4:
            if t is not None and t.saves:
                i = (arg >> 3) % len(t.saves)
                sp, state = t.saves[i]
                sp.rollback()
                t.restore(state)
                del t.saves[i + 1:]  # later savepoints are gone, this one stays
        elif op == 5:
            if t is not None and t.saves:
                i = (arg >> 3) % len(t.saves)
                t.saves[i][0].release()
                del t.saves[i:]
        elif op == 6:
            self.run(slot, lambda x: self.create_table(x, name))
        elif op == 7:
            self.run(slot, lambda x: self.drop_table(x, name))
        elif op == 8:
            self.run(slot, lambda x: self.create_index(x, name))
        elif op in (9, 10):
            b = self.inp.byte()
            v = None if b & 0x80 else (b >> 4) % 4
            self.run(slot, lambda x: self.insert(x, name, b % 12, v))
        elif op == 11:
            b = self.inp.byte()
            v = None if b & 0x80 else b % 4
            self.run(slot, lambda x: self.update(x, name, b >> 2, v))
        elif op == 12:
            b = self.inp.byte()
            self.run(slot, lambda x: self.delete(x, name, b))
        elif arg % 8 == 0:
            self.reopen()
            self.check_committed()
        elif arg % 8 == 1:
            if self.lsm_dir is None:
                try:
                    self.engine.checkpoint()
                except FeatureNotSupportedError:
                    return
                raise AssertionError("checkpoint of a memory-only engine accepted")
            self.engine.checkpoint()
            self.check_committed()
        elif arg % 8 == 2:
            if name not in self.committed:
                return
            self.engine.vacuum_table(name)  # compacts; every view must read the same
            for s in self.slots[:2]:
                if s is not None:
                    self.check_view(s.tx, s.view)
            self.check_committed()
        else:  # read checks of the slot's view
            if t is not None:
                self.check_view(t.tx, t.view)
            else:
                self.check_committed()

    def guarded(self) -> None:
        """Run a step; a statement may lose to a concurrent commit only where one exists."""
        before = [s for s in self.slots]
        try:
            self.step()
        except SerializationError as exc:
            culprit = next((s for s in before if s is not None and self._concurrent(s)), None)
            if culprit is None:
                raise AssertionError(
                    f"statement failed without a concurrent commit: {exc!r}") from exc
            # A statement that lost to a concurrent commit ends its transaction.
            for i, s in enumerate(self.slots[:2]):
                if s is not None and self._concurrent(s):
                    try:
                        s.tx.rollback()
                    except TransactionError:
                        pass
                    self.slots[i] = None


def _base_rows(self: Txn, gen: int) -> dict:
    tb = next((tb for tb in self.base.values() if tb.gen == gen), None)
    return {} if tb is None else tb.rows


Txn.base_rows = _base_rows


@atheris.instrument_func
def TestOneInput(data: bytes) -> None:
    try:
        model = Model(data)
    except EOFError:
        return
    try:
        for _ in range(MAX_OPS):
            model.guarded()
    except EOFError:
        pass
    finally:
        model.close()


def make_corpus(directory: str) -> None:
    os.makedirs(directory, exist_ok=True)

    def prog(*ops) -> bytes:
        return bytes(b for op in ops for b in op)

    a0, a1 = 0, 1  # table a, slot 0 / 1
    b0 = 2  # table b, slot 0
    seeds = {
        "autocommit": prog([6, a0], [9, a0, 3], [9, a0, 0x25], [8, a0], [11, a0, 5],
                           [12, a0, 0], [13, 1], [13, 8]),
        "two_txns": prog([6, a0], [9, a0, 1], [9, a0, 2], [0, a0], [0, a1], [11, a0, 4],
                         [11, a1, 1], [1, a1], [1, a0], [13, 1]),
        "savepoints": prog([6, b0], [0, b0], [9, b0, 7], [3, b0], [9, b0, 8], [12, b0, 0],
                           [4, b0], [3, b0], [7, b0], [5, b0], [1, b0], [13, 8], [13, 2]),
        "ddl_race": prog([0, a0], [0, a1], [6, a0], [6, a1], [1, a0], [1, a1], [13, 0]),
        "vacuum": prog([6, a0], [8, a0], [9, a0, 1], [9, a0, 0x12], [0, a1], [11, a1, 0],
                       [12, a0, 1], [13, 18], [1, a1], [13, 18], [13, 1], [13, 0]),
        "unique_race": prog([6, a0], [0, a0], [0, a1], [9, a0, 5], [9, a1, 5], [1, a1],
                            [1, a0], [13, 1]),
    }
    for name, body in seeds.items():
        for backend, tag in ((1, "mem"), (0, "lsm")):
            with open(os.path.join(directory, f"{name}_{tag}"), "wb") as f:
                f.write(bytes([backend]) + body)


if __name__ == "__main__":
    fuzzmain.run(TestOneInput, make_corpus)
