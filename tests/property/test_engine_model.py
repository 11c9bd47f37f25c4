"""Stateful model test of the StorageEngine: random DDL / DML / transactions / savepoints /
close-reopen against a pure-Python model, every read checked.

The model keeps the committed tables (name -> {tuple_id: row}) and, while a transaction is
open, its working copy plus one copy per savepoint. Tables have a primary key on ``k`` and
sometimes a secondary index on ``v``; reads go through full scans, primary-key lookups and
index / filter scans. A second concurrent transaction now and then writes a row the open
one also writes, so first-committer-wins is exercised. LSMDB_LONG=1 runs many more examples.
"""

import copy
import os
import shutil
import tempfile

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from lsmdb import Included, KeyRange, StorageEngine, StorageOptions, WalCommitPolicy, WalConfig
from lsmdb.errors import ConstraintError, SchemaError, SerializationError
from lsmdb.testing.presets import small_options

LONG = bool(os.environ.get("LSMDB_LONG"))
NAMES = ["a", "b", "c"]
keys = st.integers(0, 12)
vals = st.one_of(st.none(), st.integers(-3, 3))


class EngineModel(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="lsmdb-engine-model-")
        self.engine = self._open()
        self.committed: dict[str, dict[int, tuple]] = {}
        self.indexed: set[str] = set()
        self.tx = None
        self.work = None  # the open transaction's view
        self.saves: list[tuple] = []  # (savepoint, model copy)
        self.touched: set = set()  # (table, tuple id) the open transaction wrote

    def _open(self):
        return StorageEngine(StorageOptions(wal_config=WalConfig(dir=self.dir),
                                           wal_commit_policy=WalCommitPolicy.NEVER,
                                           lsm_options=small_options()))

    def teardown(self):
        self.engine.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def view(self):
        return self.work if self.tx is not None else self.committed

    # ------------------------------------------------------------------ transactions

    @precondition(lambda self: self.tx is None)
    @rule(level=st.sampled_from(["snapshot", "read_committed", "serializable"]))
    def begin(self, level):
        self.tx = self.engine.transaction(level)
        self.work = copy.deepcopy(self.committed)
        self.saves = []

    @precondition(lambda self: self.tx is not None)
    @rule()
    def commit(self):
        self.tx.commit()
        self.committed = self.work
        self._end()

    @precondition(lambda self: self.tx is not None)
    @rule()
    def rollback(self):
        self.tx.rollback()
        self._end()

    def _end(self):
        self.tx = self.work = None
        self.saves = []
        self.touched = set()
        self.indexed &= set(self.committed)

    @precondition(lambda self: self.tx is not None)
    @rule()
    def savepoint(self):
        self.saves.append((self.tx.savepoint(), copy.deepcopy(self.work)))

    @precondition(lambda self: self.saves)
    @rule(data=st.data())
    def rollback_to(self, data):
        i = data.draw(st.integers(0, len(self.saves) - 1))
        sp, state = self.saves[i]
        sp.rollback()
        self.work = copy.deepcopy(state)
        del self.saves[i + 1:]  # later savepoints are gone, this one stays

    @precondition(lambda self: self.saves)
    @rule(data=st.data())
    def release(self, data):
        i = data.draw(st.integers(0, len(self.saves) - 1))
        self.saves[i][0].release()
        del self.saves[i:]

    @rule()
    def reopen(self):
        self.engine.close()  # an open transaction is rolled back by close
        if self.tx is not None:
            self._end()
        self.engine = self._open()

    # ------------------------------------------------------------------ DDL

    def _run(self, fn):
        """Run fn(tx) in the open transaction or an autocommit one."""
        if self.tx is not None:
            return fn(self.tx)
        with self.engine.transaction() as tx:
            return fn(tx)

    @rule(name=st.sampled_from(NAMES))
    def create_table(self, name):
        view = self.view()
        if name in view:
            try:
                self._run(lambda tx: tx.create_table(name, [("k", "INT", False), ("v", "INT")],
                                                     primary_key="k"))
            except SchemaError:
                return
            raise AssertionError("duplicate table accepted")
        self._run(lambda tx: tx.create_table(name, [("k", "INT", False), ("v", "INT")],
                                             primary_key="k"))
        view[name] = {}

    @rule(name=st.sampled_from(NAMES))
    def create_index(self, name):
        if name not in self.view() or name in self.indexed or self.tx is not None:
            return
        self.engine.create_index(name, ["v DESC"], name=f"{name}_v")
        self.indexed.add(name)

    @rule(name=st.sampled_from(NAMES))
    def drop_table(self, name):
        view = self.view()
        if name not in view:
            return
        self._run(lambda tx: tx.drop_table(name))
        del view[name]
        if self.tx is None:
            self.indexed.discard(name)

    # ------------------------------------------------------------------ DML

    @rule(name=st.sampled_from(NAMES), k=keys, v=vals)
    def insert(self, name, k, v):
        view = self.view()
        if name not in view:
            return
        dup = any(r[0] == k for r in view[name].values())
        try:
            tid = self._run(lambda tx: tx.insert(name, (k, v)))
        except ConstraintError:
            assert dup
            return
        assert not dup
        view[name][tid] = (k, v)

    def _pick(self, data, name):
        rows = self.view().get(name)
        if not rows:
            return None
        return data.draw(st.sampled_from(sorted(rows)))

    @rule(name=st.sampled_from(NAMES), data=st.data(), v=vals)
    def update(self, name, data, v):
        tid = self._pick(data, name)
        if tid is None:
            return
        view = self.view()
        self._run(lambda tx: tx.update(name, tid, {"v": v}))
        if self.tx is not None:
            self.touched.add((name, tid))
        view[name][tid] = (view[name][tid][0], v)

    @rule(name=st.sampled_from(NAMES), data=st.data())
    def delete(self, name, data):
        tid = self._pick(data, name)
        if tid is None:
            return
        self._run(lambda tx: tx.delete(name, tid))
        if self.tx is not None:
            self.touched.add((name, tid))
        del self.view()[name][tid]

    @precondition(lambda self: self.tx is not None)
    @rule(name=st.sampled_from(NAMES), data=st.data())
    def concurrent_writer(self, name, data):
        """Another transaction updates a row the open one then also updates: the open one
        must lose at commit (first committer wins)."""
        tid = self._pick(data, name)
        if tid is None or name not in self.committed or tid not in self.committed[name]:
            return
        row = self.committed[name][tid]
        with self.engine.transaction() as other:
            other.update(name, tid, {"v": 7})
        self.committed[name][tid] = (row[0], 7)
        self.tx.update(name, tid, {"v": 5})
        if self.tx.isolation.value == "read_committed" and (name, tid) not in self.touched:
            # The update statement's snapshot includes the other commit: no conflict (had
            # this transaction written the row before, it would lose: no waiting row locks).
            self.tx.commit()
            self.work[name][tid] = (row[0], 5)
            self.committed = self.work
            self._end()
            return
        try:
            self.tx.commit()
        except SerializationError:
            self._end()
            return
        raise AssertionError("lost update: both writers committed")

    # ------------------------------------------------------------------ reads

    @invariant()
    def reads_match(self):
        view = self.view()
        tx = self.tx
        own = tx is None
        if own:
            tx = self.engine.transaction()
        try:
            for name, rows in view.items():
                got = {r.tuple_id: r.row for r in tx.scan(name)}
                assert got == rows, (name, got, rows)
                for tid, row in list(rows.items())[:3]:
                    assert tx.lookup(name, row[0]) == (tid, row)
                for v in (None, 0, 2):
                    want = sorted(t for t, r in rows.items() if v is not None and r[1] == v)
                    assert sorted(r.tuple_id for r in tx.scan(name, where={"v": v})) == want
                want = sorted(t for t, r in rows.items() if r[1] is not None and r[1] >= 1)
                assert sorted(r.tuple_id for r in tx.scan_range(name, "v", 1)) == want
                assert tx.count(name) == len(rows)
                if name in self.indexed and self.tx is None:
                    assert self.engine.verify_indexes(name) == []
                    ix = f"{name}_v"
                    got = [r.row[1] for r in tx.scan_index(ix)]
                    nulls = [None] * sum(1 for r in rows.values() if r[1] is None)
                    assert got == nulls + sorted(
                        (r[1] for r in rows.values() if r[1] is not None), reverse=True)
                    got = [r.row[1] for r in tx.scan_index(ix, KeyRange(Included((2,))))]
                    assert got == sorted((r[1] for r in rows.values()
                                          if r[1] is not None and r[1] <= 2), reverse=True)
            for name in set(NAMES) - set(view):
                try:
                    tx.count(name)
                except SchemaError:
                    continue
                raise AssertionError(f"dropped table {name} visible")
        finally:
            if own:
                tx.rollback()


EngineModel.TestCase.settings = settings(
    max_examples=400 if LONG else 30, stateful_step_count=60 if LONG else 30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
test_engine_model = EngineModel.TestCase
