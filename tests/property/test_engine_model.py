"""Stateful model test of the StorageEngine: random DDL / DML / transactions / savepoints /
close-reopen against a pure-Python model, every read checked.

Tables share one schema, ``(id INT NOT NULL, a INT, b TEXT, c DOUBLE)``, with or without a
primary key on ``id``; indexes are random (1-3 key columns, ASC/DESC, NULLS FIRST/LAST or the
default, unique with or without NULLS NOT DISTINCT). Value domains are tiny so uniqueness
violations, equal keys and NULLs are common; DOUBLE includes -0.0, inf and NaN (ordered above
every number and equal to itself, as PostgreSQL orders it).

Contexts: transaction A (SNAPSHOT, READ COMMITTED or SERIALIZABLE; nested savepoints), an
interleaved transaction B, and autocommit statements (txn id 0). The model keeps the committed
catalog and rows, and per open transaction its base (its snapshot, or the latest commit for
READ COMMITTED) plus its own row changes. Commit validation is modelled on abstract conflict
keys (heap row, unique-index slot, index entry, table record, table DML marker): a key the
transaction holds that a transaction committed after the transaction's snapshot of that key
means first-committer-wins must abort it; catalog dependencies date from the catalog the
transaction planned with. A savepoint rollback undoes the keys and dependencies of the undone
statements. Only SERIALIZABLE read validation allows (not demands) an abort (any commit after
begin may conflict).

DDL runs in any context beside the others: a SNAPSHOT transaction keeps its snapshot's catalog,
a READ COMMITTED one follows the latest commit until its own first DDL; DDL and DML on one table,
and two creations of one name, conflict at commit; a commit merges the tables its DDL changed.

A READ COMMITTED transaction whose own writes were overtaken by a concurrent commit is doomed
to abort; until then its reads (heap and index) show the latest commit with its own rows
replacing their committed versions. Its uniqueness outcomes are not predicted.

Reads go through the storage API (txn ids) and, for open transactions, the Pythonic Session
layer too; ``verify_indexes`` checks every index against its table after each step.
LSMDB_LONG=1 runs many more and longer examples.
"""

from __future__ import annotations

import copy
import functools
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from lsmdb import (
    UNBOUNDED,
    Excluded,
    Included,
    KeyRange,
    StorageEngine,
    StorageOptions,
    WalCommitPolicy,
    WalConfig,
)
from lsmdb.errors import (
    ConstraintError,
    InvalidArgumentError,
    SchemaError,
    SerializationError,
    TransactionError,
)
from lsmdb.testing.presets import small_options

LONG = bool(os.environ.get("LSMDB_LONG"))
# The long profile runs for minutes (more if it finds something to shrink).
pytestmark = pytest.mark.timeout(3600 if LONG else 300)

COLUMNS = [("id", "INT", False), ("a", "INT"), ("b", "TEXT"), ("c", "DOUBLE")]
TABLES = ["t1", "t2"]
INDEX_NAMES = ["ix0", "ix1", "ix2"]
NAN = float("nan")
DOMAINS = [
    [0, 1, 2, 3, 4, 5],
    [None, -2, -1, 0, 1, 2],
    [None, "", "a", "ab", "b", "\u00e9", "a\x00"],
    [None, -1.5, -0.0, 0.0, 2.0, float("inf"), NAN],
]
LEVELS = ["snapshot", "read_committed", "serializable"]

ids = st.one_of(st.sampled_from(DOMAINS[0]), st.just(None))
rows = st.tuples(st.sampled_from(DOMAINS[0]), st.sampled_from(DOMAINS[1]),
                 st.sampled_from(DOMAINS[2]), st.sampled_from(DOMAINS[3]))
key_column = st.tuples(st.integers(0, 3), st.booleans(), st.sampled_from([None, True, False]))
index_specs = st.tuples(st.lists(key_column, min_size=1, max_size=3,
                                 unique_by=lambda c: c[0]),
                        st.booleans(), st.booleans())


# ---------------------------------------------------------------------------- value order


def norm(v):
    """A value as the key codec compares it: NaN equals NaN, -0.0 equals 0.0."""
    if isinstance(v, float):
        return "NaN" if math.isnan(v) else v + 0.0
    return v


def same_row(a, b) -> bool:
    return tuple(map(_exact, a)) == tuple(map(_exact, b))


def _exact(v):
    if isinstance(v, float):
        return ("f", "NaN" if math.isnan(v) else repr(v))
    return v


def vkey(v):
    """Natural order of a non-NULL value (NaN above every number)."""
    if isinstance(v, float):
        return (1, 0.0) if math.isnan(v) else (0, v)
    return v


@functools.total_ordering
class Desc:
    __slots__ = ("k",)

    def __init__(self, k):
        self.k = k

    def __eq__(self, other):
        return self.k == other.k

    def __lt__(self, other):
        return other.k < self.k


def ikey(v, desc: bool, nulls_first: bool):
    """Index order of one key column value."""
    if v is None:
        return (0,) if nulls_first else (2,)
    k = vkey(v)
    return (1, Desc(k) if desc else k)


# ---------------------------------------------------------------------------- model catalog


@dataclass
class IndexM:
    name: str
    index_id: int | str
    cols: tuple  # ((position, descending, nulls_first), ...)
    unique: bool
    nnd: bool = False
    primary: bool = False

    def order(self, row, tid):
        return tuple(ikey(row[p], d, nf) for p, d, nf in self.cols) + (tid,)

    def prefix_key(self, values):
        return tuple(ikey(v, d, nf) for v, (_, d, nf) in zip(values, self.cols, strict=False))

    def values(self, row):
        return tuple(norm(row[p]) for p, _, _ in self.cols)

    def is_slot(self, row) -> bool:
        return self.unique and (self.nnd or None not in self.values(row))

    def entry_key(self, row, tid):
        vals = self.values(row)
        if self.unique and (self.nnd or None not in vals):
            return ("ix", self.index_id, vals)
        return ("ix", self.index_id, vals, tid)


@dataclass
class TableM:
    name: str
    table_id: int
    pk: bool
    indexes: dict = field(default_factory=dict)  # name -> IndexM (secondary)

    def all_indexes(self):
        out = list(self.indexes.values())
        if self.pk:
            out.insert(0, IndexM(f"{self.name}_pkey", ("pk", self.table_id), ((0, False, False),),
                                 True, primary=True))
        return out


class TxM:
    """One context's model: an open transaction, or a one-statement autocommit."""

    def __init__(self, model, name, level, session=None):
        self.model = model
        self.name = name
        self.session = session
        self.txn = 0 if session is None else session.txn_id
        self.rc = level == "read_committed"
        self.serializable = level == "serializable"
        self.begin_ts = model.ts
        self.base = model.rows if self.rc else copy.deepcopy(model.rows)
        # The catalog this transaction sees: its snapshot's plus its own DDL; READ COMMITTED
        # follows the latest commit until its own first DDL, then (as the engine) keeps the
        # catalog of that statement plus its own DDL.
        self.own = None if self.rc else copy.deepcopy(model.catalog)
        self.own_ts = model.ts  # the commit ts ``own`` was copied from
        self.touched: set = set()  # table ids this transaction's DDL changed
        self.delta: dict = {}  # (table_id, tid) -> row | None
        self.okeys: dict = {}  # overlay key -> (ts of first write, last write is a put)
        self.checks: dict = {}  # catalog dependency -> ts
        self.marks: set = set()
        self.saves: list = []  # (engine savepoint id, state)

    @property
    def catalog(self) -> dict:
        return self.model.catalog if self.own is None else self.own

    def ddl_catalog(self) -> dict:
        """The catalog to change by DDL (READ COMMITTED: from now on its own)."""
        if self.own is None:
            self.own = copy.deepcopy(self.model.catalog)
            self.own_ts = self.model.ts
        return self.own

    def state(self):
        return copy.deepcopy((self.own, self.own_ts, self.touched, self.delta, self.okeys,
                              self.checks, self.marks))

    def restore(self, state):
        """A savepoint rollback: the undone statements' keys, checks and marks (name claims,
        DML markers) go; nothing of them conflicts at commit or is published by it."""
        (self.own, self.own_ts, self.touched, self.delta, self.okeys,
         self.checks, self.marks) = copy.deepcopy(state)


class EngineModel(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        # tmpfs when there is one: close/reopen syncs, and this test reopens often.
        shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
        self.dir = tempfile.mkdtemp(prefix="lsmdb-engine-model-", dir=shm)
        self.engine = self._open()
        self.catalog: dict[str, TableM] = {}
        self.rows: dict[int, dict[int, tuple]] = {}
        self.ts = 0
        self.published: dict = {}  # conflict key -> (commit ts, was a put)
        self.A: TxM | None = None
        self.B: TxM | None = None

    def _open(self):
        return StorageEngine(StorageOptions(wal_config=WalConfig(dir=self.dir),
                                           wal_commit_policy=WalCommitPolicy.NEVER,
                                           lsm_options=small_options()))

    def teardown(self):
        self.engine.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # ------------------------------------------------------------------ model helpers

    def ctx(self, which: str) -> TxM:
        if which == "A" and self.A is not None:
            return self.A
        if which == "B" and self.B is not None:
            return self.B
        return TxM(self, "auto", "snapshot")

    def view(self, x: TxM, t: TableM) -> dict[int, tuple]:
        base = self.rows if x.rc else x.base
        out = dict(base.get(t.table_id, {}))
        for (table_id, tid), row in x.delta.items():
            if table_id == t.table_id:
                if row is None:
                    out.pop(tid, None)
                else:
                    out[tid] = row
        return out

    def _stmt_ts(self, x: TxM) -> int:
        return self.ts if x.rc else x.begin_ts

    def _put(self, x: TxM, key, put: bool = True) -> None:
        ts = self._stmt_ts(x)
        first = x.okeys.get(key, (ts, put))[0]
        x.okeys[key] = (first, put)

    def _check(self, x: TxM, key) -> None:
        x.checks.setdefault(key, self._stmt_ts(x))

    def _check_catalog(self, x: TxM, key) -> None:
        """A dependency of a write planned with the transaction's catalog (READ COMMITTED
        after its own DDL: older than the statement)."""
        x.checks.setdefault(key, self._stmt_ts(x) if x.own is None else x.own_ts)

    def _conflicts(self, pairs) -> list:
        pub = self.published
        return [k for k, ts in pairs if k in pub and pub[k][0] > ts]

    def must_abort(self, x: TxM) -> bool:
        return bool(self._conflicts((k, v[0]) for k, v in x.okeys.items())
                    or self._conflicts(x.checks.items()))

    def doomed(self, x: TxM) -> bool:
        """A READ COMMITTED view that mixes its overlay with newer commits."""
        return x.rc and self.must_abort(x)

    def _dml_marks(self, x: TxM, t: TableM) -> None:
        self._check_catalog(x, ("table", t.table_id))
        x.marks.add(("mark", t.table_id))

    def _ddl_touch(self, x: TxM, t_id: int) -> None:
        self._put(x, ("table", t_id))
        self._check(x, ("mark", t_id))
        self._check_catalog(x, ("table", t_id))
        x.touched.add(t_id)

    def _claim(self, x: TxM, kind: str, name: str) -> None:
        self._check_catalog(x, ("name", kind, name))
        x.marks.add(("name", kind, name))

    def _index_names(self, x: TxM) -> set:
        return {ix.name for t in x.catalog.values() for ix in t.all_indexes()}

    def _unique_clash(self, x: TxM, t: TableM, row, tid, view=None) -> bool:
        view = self.view(x, t) if view is None else view
        for ix in t.all_indexes():
            if not ix.is_slot(row):
                continue
            k = ix.values(row)
            if any(o != tid and ix.is_slot(r) and ix.values(r) == k for o, r in view.items()):
                return True
        return False

    def _doomed_clash(self, x: TxM, t: TableM, row, tid) -> bool:
        """Whether a ConstraintError the model's view of ``x`` does not explain is one a
        doomed READ COMMITTED statement may raise: it reads its overlay mixed with newer
        commits (see doomed), so ``row``'s unique key may clash with a newer commit's row,
        or with an entry of the overlay itself whose row a newer commit removed (an index
        the transaction built holds the keys of the rows it saw then)."""
        if not self.doomed(x):
            return False
        if self._unique_clash(x, t, row, tid, self.rows.get(t.table_id, {})):
            return True
        return any(ix.is_slot(row) and x.okeys.get(ix.entry_key(row, tid), (0, False))[1]
                   for ix in t.all_indexes())

    def _live_tids(self, table_id: int) -> set:
        out = set(self.rows.get(table_id, {}))
        for x in (self.A, self.B):
            if x is not None:
                out |= {tid for (t, tid) in x.delta if t == table_id}
                out |= set(x.base.get(table_id, {}))
        return out

    def _finish_auto(self, x: TxM) -> None:
        if x.session is None:
            self._commit_model(x)

    def _commit_model(self, x: TxM) -> None:
        if not x.okeys:
            return  # nothing written: the engine commits without a new timestamp
        self.ts += 1
        for k, (_, put) in x.okeys.items():
            self.published[k] = (self.ts, put)
        for k in x.marks:
            self.published[k] = (self.ts, False)
        rows = {tid: dict(r) for tid, r in self.rows.items()}
        for (table_id, tid), row in x.delta.items():
            if row is None:
                rows.get(table_id, {}).pop(tid, None)
            else:
                rows.setdefault(table_id, {})[tid] = row
        if x.touched:  # the engine merges the tables this transaction's DDL changed
            merged = {n: t for n, t in self.catalog.items() if t.table_id not in x.touched}
            for n, t in x.own.items():
                if t.table_id in x.touched:
                    assert n not in merged, f"two committed tables named {n}"
                    merged[n] = copy.deepcopy(t)
            self.catalog = merged
        live = {t.table_id for t in self.catalog.values()}
        self.rows = {tid: r for tid, r in rows.items() if tid in live}
        for t in self.catalog.values():
            self.rows.setdefault(t.table_id, {})

    def _end(self, x: TxM) -> None:
        if x is self.A:
            self.A = None
        elif x is self.B:
            self.B = None

    @initialize(pk=st.booleans(), spec=index_specs, rs=st.lists(rows, max_size=8),
                levels=st.tuples(st.sampled_from(LEVELS + [None]),
                                 st.sampled_from(LEVELS + [None, None])),
                own=st.lists(st.tuples(st.sampled_from(["A", "B"]), rows), max_size=3))
    def populate(self, pk, spec, rs, levels, own):
        """t1 with an index and some rows; usually A (and sometimes B) already open, since
        the rules alone open transactions rarely."""
        self.create_table("auto", "t1", pk)
        self.create_index("auto", "t1", "ix0", spec)
        for row in rs:
            self.insert("auto", "t1", row, 1)
        for second, level in zip((False, True), levels, strict=True):
            if level is not None:
                self.begin(level, second)
        for which, row in own:  # the open transactions start with writes of their own
            self.insert(which, "t1", row, 1)

    # ------------------------------------------------------------------ transactions

    @precondition(lambda self: self.A is None or self.B is None)
    @rule(level=st.sampled_from(LEVELS), second=st.booleans())
    def begin(self, level, second):
        """Open A (or, with ``second``, B: the interleaved transaction)."""
        if self.A is None and not second:
            self.A = TxM(self, "A", level, self.engine.transaction(level))
        elif self.B is None:
            self.B = TxM(self, "B", level, self.engine.transaction(level))

    @precondition(lambda self: self.A is not None or self.B is not None)
    @rule(which=st.sampled_from(["A", "B"]))
    def commit(self, which):
        x = self.A if which == "A" else self.B
        if x is None:
            return
        must = self.must_abort(x)
        may_keys = self._conflicts((k, v[0]) for k, v in x.okeys.items())
        may = must or (x.serializable and self.ts > x.begin_ts)
        empty = not x.okeys
        self._end(x)
        try:
            x.session.commit()
        except SerializationError:
            assert may and not empty, f"{x.name}: spurious SerializationError"
            return
        except ConstraintError:
            slot_clash = any(k[0] == "ix" and len(k) == 3 and x.okeys[k][1]
                             and self.published[k][1] for k in may_keys)
            assert slot_clash and not empty, f"{x.name}: spurious ConstraintError at commit"
            return
        assert empty or not must, f"{x.name}: committed over a concurrent write (lost update)"
        self._commit_model(x)

    @precondition(lambda self: self.A is not None or self.B is not None)
    @rule(which=st.sampled_from(["A", "B"]))
    def rollback(self, which):
        x = self.A if which == "A" else self.B
        if x is None:
            return
        self._end(x)
        x.session.rollback()

    @precondition(lambda self: self.A is not None)
    @rule()
    def savepoint(self):
        a = self.A
        sp = self.engine.create_savepoint(a.txn)
        a.saves.append((sp, a.state()))

    @precondition(lambda self: self.A is not None and self.A.saves)
    @rule(data=st.data())
    def rollback_to_savepoint(self, data):
        a = self.A
        i = data.draw(st.integers(0, len(a.saves) - 1))
        sp, state = a.saves[i]
        self.engine.rollback_to_savepoint(a.txn, sp)
        a.restore(state)
        del a.saves[i + 1:]  # later savepoints are gone, this one stays valid

    @precondition(lambda self: self.A is not None and self.A.saves)
    @rule(data=st.data())
    def release_savepoint(self, data):
        a = self.A
        i = data.draw(st.integers(0, len(a.saves) - 1))
        sp = a.saves[i][0]
        self.engine.release_savepoint(a.txn, sp)
        del a.saves[i:]
        with pytest.raises(TransactionError):  # a released savepoint is invalid
            self.engine.rollback_to_savepoint(a.txn, sp)

    @rule(go=st.integers(0, 3))
    def reopen(self, go):
        if go:
            return  # a reopen costs more than any other step: a quarter as often
        self.engine.close()  # open transactions are rolled back by close
        self.A = self.B = None
        self.engine = self._open()

    # ------------------------------------------------------------------ DDL

    @rule(which=st.sampled_from(["A", "B", "auto"]), name=st.sampled_from(TABLES), pk=st.booleans())
    def create_table(self, which, name, pk):
        x = self.ctx(which)
        args = (name, COLUMNS, "id" if pk else None)
        if name in x.catalog:
            try:
                (x.session or self.engine).create_table(*args)
            except SchemaError:
                return
            raise AssertionError(f"duplicate table {name} accepted")
        table_id = (x.session or self.engine).create_table(*args)
        t = TableM(name, table_id, pk)
        x.ddl_catalog()[name] = t
        self._ddl_touch(x, table_id)
        self._claim(x, "T", name)
        if pk:
            self._put(x, ("index", ("pk", table_id)))
            self._claim(x, "I", f"{name}_pkey")
        self._finish_auto(x)

    @rule(which=st.sampled_from(["A", "B", "auto"]), table=st.sampled_from(TABLES),
          name=st.sampled_from(INDEX_NAMES), spec=index_specs)
    def create_index(self, which, table, name, spec):
        x = self.ctx(which)
        cols, unique, nnd = spec
        names = [COLUMNS[p][0] + (" DESC" if d else "") + (
            "" if nf is None else " NULLS FIRST" if nf else " NULLS LAST") for p, d, nf in cols]
        target = x.session or self.engine
        t = x.catalog.get(table)
        ix = IndexM(name, None, tuple((p, d, d if nf is None else nf) for p, d, nf in cols),
                    unique, nnd and unique)
        expect = None
        if t is None or name in self._index_names(x):
            expect = SchemaError
        else:
            view = self.view(x, t)
            slots = [ix.values(r) for r in view.values() if ix.is_slot(r)]
            if len(slots) != len(set(slots)):
                expect = ConstraintError
        if expect is not None and not (expect is ConstraintError and self.doomed(x)):
            try:
                target.create_index(table, names, name=name, unique=unique,
                                    nulls_not_distinct=nnd and unique)
            except expect:
                return
            raise AssertionError(f"create_index {name} {names} on {table}: {expect.__name__} "
                                 f"expected")
        try:
            ix.index_id = target.create_index(table, names, name=name, unique=unique,
                                              nulls_not_distinct=nnd and unique)
        except ConstraintError:
            assert expect is ConstraintError
            return
        t = x.ddl_catalog()[table]
        t.indexes[name] = ix
        self._ddl_touch(x, t.table_id)
        self._claim(x, "I", name)
        self._put(x, ("index", ix.index_id))
        for tid, r in self.view(x, t).items():
            self._put(x, ix.entry_key(r, tid))
        self._finish_auto(x)

    @rule(which=st.sampled_from(["A", "B", "auto"]), name=st.sampled_from(INDEX_NAMES + ["t1_pkey"]))
    def drop_index(self, which, name):
        x = self.ctx(which)
        owner = next((t for t in x.catalog.values() if name in t.indexes), None)
        if owner is None:  # missing, or a primary key: both refused
            try:
                self.engine.drop_index_storage(x.txn, name)
            except SchemaError:
                return
            raise AssertionError(f"drop_index {name} accepted")
        self.engine.drop_index_storage(x.txn, name)
        owner = x.ddl_catalog()[owner.name]
        ix = owner.indexes.pop(name)
        self._ddl_touch(x, owner.table_id)
        self._put(x, ("index", ix.index_id))
        for k in list(x.okeys):  # the dropped range's own entries become deletes
            if k[0] == "ix" and k[1] == ix.index_id:
                self._put(x, k, False)
        self._finish_auto(x)

    @rule(which=st.sampled_from(["A", "B", "auto"]), name=st.sampled_from(TABLES))
    def drop_table(self, which, name):
        x = self.ctx(which)
        t = x.catalog.get(name)
        if t is None:
            try:
                self.engine.drop_table_storage(x.txn, name)
            except SchemaError:
                return
            raise AssertionError(f"drop_table {name} accepted")
        self.engine.drop_table_storage(x.txn, name)
        del x.ddl_catalog()[name]
        self._ddl_touch(x, t.table_id)
        self._put(x, ("stats", t.table_id))
        gone = {ix.index_id for ix in t.all_indexes()}
        for i in gone:
            self._put(x, ("index", i))
        for k in list(x.okeys):
            if (k[0] == "ix" and k[1] in gone) or (k[0] == "heap" and k[1] == t.table_id):
                self._put(x, k, False)
        self._finish_auto(x)

    # ------------------------------------------------------------------ DML

    @rule(which=st.sampled_from(["A", "B", "auto"]), table=st.sampled_from(TABLES), row=rows,
          null_id=st.integers(0, 15))
    def insert(self, which, table, row, null_id):
        x = self.ctx(which)
        if null_id == 0:
            row = (None,) + row[1:]
        t = x.catalog.get(table)
        expect = None
        if t is None or row[0] is None:
            expect = SchemaError
        elif self._unique_clash(x, t, row, None):
            expect = ConstraintError
        if expect is not None and not (expect is ConstraintError and self.doomed(x)):
            try:
                self.engine.insert(x.txn, table, row)
            except expect:
                return
            raise AssertionError(f"{x.name}: insert {row} into {table}: {expect.__name__} "
                                 f"expected")
        try:
            tid = self.engine.insert(x.txn, table, row)
        except ConstraintError:
            assert expect is ConstraintError or self._doomed_clash(x, t, row, None), (
                f"{x.name}: insert {row} into {table}: unexpected ConstraintError")
            return
        assert type(tid) is int and tid not in self._live_tids(t.table_id), tid
        self._write(x, t, tid, None, row)

    @rule(which=st.sampled_from(["A", "B", "auto"]), table=st.sampled_from(TABLES),
          rs=st.lists(rows, min_size=1, max_size=4))
    def insert_several(self, which, table, rs):
        for row in rs:
            self.insert(which, table, row, 1)

    def _write(self, x: TxM, t: TableM, tid: int, old, new) -> None:
        x.delta[(t.table_id, tid)] = new
        self._put(x, ("heap", t.table_id, tid), new is not None)
        for ix in t.all_indexes():
            ko = None if old is None else ix.entry_key(old, tid)
            kn = None if new is None else ix.entry_key(new, tid)
            if ko == kn:
                continue
            if ko is not None:
                self._put(x, ko, False)
            if kn is not None:
                self._put(x, kn, True)
        self._dml_marks(x, t)
        self._finish_auto(x)

    def _pick(self, x: TxM, table: str, data):
        t = x.catalog.get(table)
        if t is None:
            return None, None
        view = self.view(x, t)
        tid = data.draw(st.sampled_from(sorted(view) + [10_000]))
        return t, tid

    @rule(which=st.sampled_from(["A", "B", "auto"]), table=st.sampled_from(TABLES),
          data=st.data(), row=rows)
    def update(self, which, table, data, row):
        x = self.ctx(which)
        t, tid = self._pick(x, table, data)
        if t is None:
            return
        old = self.view(x, t).get(tid)
        call = functools.partial(self.engine.update, x.txn, table, tid, row)
        if x.session is not None and old is not None and data.draw(st.booleans()):
            # The Pythonic layer: a mapping changes only the named column.
            p = data.draw(st.integers(1, 3))
            row = old[:p] + (row[p],) + old[p + 1:]
            call = functools.partial(x.session.update, table, tid, {COLUMNS[p][0]: row[p]})
        expect = None
        if old is None:
            expect = InvalidArgumentError
        elif self._unique_clash(x, t, row, tid):
            expect = ConstraintError
        if expect is not None and not (expect is ConstraintError and self.doomed(x)):
            try:
                call()
            except expect:
                return
            raise AssertionError(f"{x.name}: update {tid} -> {row}: {expect.__name__} "
                                 f"expected")
        try:
            assert call() == tid
        except ConstraintError:
            assert expect is ConstraintError or self._doomed_clash(x, t, row, tid), (
                f"{x.name}: update {tid} -> {row}: unexpected ConstraintError")
            return
        self._write(x, t, tid, old, row)

    @rule(which=st.sampled_from(["A", "B", "auto"]), table=st.sampled_from(TABLES),
          data=st.data())
    def delete(self, which, table, data):
        x = self.ctx(which)
        t, tid = self._pick(x, table, data)
        if t is None:
            return
        old = self.view(x, t).get(tid)
        if old is None:
            try:
                self.engine.delete(x.txn, table, tid)
            except InvalidArgumentError:
                return
            raise AssertionError(f"{x.name}: delete of missing tuple {tid} accepted")
        self.engine.delete(x.txn, table, tid)
        self._write(x, t, tid, old, None)

    @precondition(lambda self: self.A is not None and self.B is not None)
    @rule(table=st.sampled_from(TABLES), data=st.data(), row=rows)
    def both_update_one_row(self, table, data, row):
        """A and B update the same committed row: whichever commits second must lose."""
        t = self._same_table(table, self.A, self.B)
        if t is None:
            return
        common = sorted(set(self.view(self.A, t)) & set(self.view(self.B, t)))
        if not common:
            return
        tid = data.draw(st.sampled_from(common))
        for which in ("A", "B"):
            self._update_keeping_key(which, t, tid, row)

    def _same_table(self, name: str, *contexts: TxM) -> TableM | None:
        """The table ``name`` when every context sees the same one (not one dropped and
        created again by a transaction's own DDL)."""
        ts = [x.catalog.get(name) for x in contexts]
        if any(t is None for t in ts) or len({t.table_id for t in ts}) != 1:
            return None
        return ts[0]

    @precondition(lambda self: self.A is not None)
    @rule(table=st.sampled_from(TABLES), data=st.data(), row=rows, same_key=st.booleans())
    def race_with_autocommit(self, table, data, row, same_key):
        """A writes, then an autocommit statement writes the same row (or inserts the same
        row, so the same unique keys): A must lose at commit."""
        a = self.A
        t = a.catalog.get(table)
        c = self.catalog.get(table)
        if t is None or c is None or c.table_id != t.table_id:
            return
        if same_key:
            self.insert("A", table, row, 1)
            self.insert("auto", table, row, 1)
            return
        common = sorted(set(self.view(a, t)) & set(self.rows.get(t.table_id, {})))
        if not common:
            return
        tid = data.draw(st.sampled_from(common))
        for which in ("A", "auto"):
            if not self._update_keeping_key(which, t, tid, row):
                return

    def _update_keeping_key(self, which: str, t: TableM, tid: int, row) -> bool:
        """Update ``tid`` of table ``t`` (keeping its id column) in a context; False when the
        context does not see that row, or uniqueness refused the update."""
        x = self.ctx(which)
        want = t.table_id
        t = x.catalog.get(t.name)
        if t is None or t.table_id != want or tid not in self.view(x, t):
            return False
        old = self.view(x, t)[tid]
        new = (old[0],) + row[1:]
        if self._unique_clash(x, t, new, tid):
            return False
        if self.doomed(x):
            try:
                self.engine.update(x.txn, t.name, tid, new)
            except ConstraintError:
                return False
        else:
            self.engine.update(x.txn, t.name, tid, new)
        self._write(x, t, tid, old, new)
        return True

    @precondition(lambda self: self.A is not None)
    @rule(table=st.sampled_from(TABLES), data=st.data(), row=rows)
    def savepoint_detour(self, table, data, row):
        """A writes a row inside a savepoint and rolls back to it; an autocommit statement
        then writes that row; A writes it again. Whether A may commit depends on its
        isolation level alone: nothing of the undone write survives the rollback."""
        a = self.A
        t = a.catalog.get(table)
        c = self.catalog.get(table)
        if t is None or c is None or c.table_id != t.table_id:
            return
        common = sorted(set(self.view(a, t)) & set(self.rows.get(t.table_id, {})))
        if not common:
            return
        tid = data.draw(st.sampled_from(common))
        self.savepoint()
        sp, state = a.saves[-1]
        if self._update_keeping_key("A", t, tid, row):
            self.engine.rollback_to_savepoint(a.txn, sp)
            a.restore(state)
        if tid in self.view(a, t) and self._update_keeping_key("auto", t, tid, row):
            self._update_keeping_key("A", t, tid, row)

    # ------------------------------------------------------------------ reads

    def contexts(self):
        out = [x for x in (self.A, self.B) if x is not None]
        out.append(TxM(self, "auto", "snapshot"))
        return out

    @invariant()
    def heap_reads_match(self):
        for x in self.contexts():
            for name in TABLES:
                t = x.catalog.get(name)
                if t is None:
                    try:
                        self.engine.visible_row_count(x.txn, name)
                    except SchemaError:
                        continue
                    raise AssertionError(f"{x.name}: table {name} visible after drop")
                want = self.view(x, t)
                got = {r.tuple_id: r.row for r in self.engine.scan_table(x.txn, name)}
                assert got.keys() == want.keys(), (x.name, name, got, want)
                for tid, row in want.items():
                    assert same_row(got[tid], row), (x.name, name, tid, got[tid], row)
                assert self.engine.visible_row_count(x.txn, name) == len(want)
                for tid in list(want)[:2] + [10_000]:
                    got_row = self.engine.fetch(x.txn, name, tid)
                    assert (got_row is None) == (tid not in want), (x.name, tid)
                    if got_row is not None:
                        assert same_row(got_row, want[tid])
                for ix in t.all_indexes():
                    self._check_index_order(x, name, ix, want)
                if x.session is None:
                    assert self.engine.verify_indexes(name) == [], name
                else:
                    self._session_reads(x, t, want)

    def _session_reads(self, x: TxM, t: TableM, want: dict) -> None:
        """The Pythonic layer over the same view: scan, count, lookup, where, scan_range."""
        tx = x.session
        got = {r.tuple_id: r.row for r in tx.scan(t.name)}
        assert got.keys() == want.keys() and all(same_row(got[k], want[k]) for k in got)
        assert tx.count(t.name) == len(want)
        if t.pk:
            for row in list(want.values())[:3]:
                rec = tx.lookup(t.name, row[0])
                # a doomed READ COMMITTED view may hold the key twice (its own and a commit's)
                dups = [k for k, r in want.items() if r[0] == row[0]]
                assert rec.tuple_id in dups and same_row(rec.row, want[rec.tuple_id]), (rec, row)
        for v in (None, 0, 2):
            exp = sorted(tid for tid, r in want.items() if v is not None and r[1] == v)
            assert sorted(r.tuple_id for r in tx.scan(t.name, where={"a": v})) == exp
        exp = sorted(tid for tid, r in want.items() if r[1] is not None and r[1] >= 1)
        assert sorted(r.tuple_id for r in tx.scan_range(t.name, "a", 1)) == exp

    def _expected_order(self, ix: IndexM, want: dict) -> list[int]:
        return [tid for tid, _ in sorted(want.items(), key=lambda it: ix.order(it[1], it[0]))]

    def _check_index_order(self, x: TxM, table: str, ix: IndexM, want: dict) -> None:
        expected = self._expected_order(ix, want)
        got = [r.tuple_id for r in self.engine.scan_index(x.txn, ix.name, KeyRange())]
        assert got == expected, (x.name, ix, got, expected, want)

    @rule(which=st.sampled_from(["A", "B", "auto"]), table=st.sampled_from(TABLES),
          data=st.data())
    def index_reads(self, which, table, data):
        x = self.ctx(which)
        t = x.catalog.get(table)
        if t is None:
            return
        want = self.view(x, t)
        eng, txn = self.engine, x.txn
        for ix in t.all_indexes():
            kr, pred = data.draw(key_ranges(ix))
            desc = data.draw(st.booleans())
            limit = data.draw(st.one_of(st.none(), st.integers(0, 4)))
            inside = [tid for tid in self._expected_order(ix, want)
                      if pred(ix.prefix_key([want[tid][p] for p, _, _ in ix.cols]))]
            exp = list(reversed(inside)) if desc else inside
            if limit is not None:
                exp = exp[:limit]
            got = [r.tuple_id for r in eng.scan_index_ordered_limited(txn, ix.name, kr, None,
                                                                       desc, limit)]
            assert got == exp, (x.name, ix, kr, desc, limit, got, exp)
            assert eng.visible_index_row_count(txn, ix.name, kr) == len(inside)
            assert eng.index_candidate_tuple_ids(txn, ix.name, kr) == inside
            groups: list = []
            for tid in inside:
                lead = norm(want[tid][ix.cols[0][0]])
                if groups and groups[-1][0] == lead:
                    groups[-1][1] += 1
                else:
                    groups.append([lead, 1])
            got_groups = [[norm(v), n] for v, n in eng.visible_index_group_counts(txn, ix.name,
                                                                                    kr)]
            assert got_groups == groups, (ix, kr, got_groups, groups)
            lead_vals = [r[ix.cols[0][0]] for r in want.values() if r[ix.cols[0][0]] is not None]
            lo = eng.index_min_single_column_value(txn, ix.name)
            hi = eng.index_max_single_column_value(txn, ix.name)
            if not lead_vals:
                assert lo is None and hi is None, (ix, lo, hi)
            else:
                assert norm(lo) == norm(min(lead_vals, key=vkey)), (ix, lo)
                assert norm(hi) == norm(max(lead_vals, key=vkey)), (ix, hi)

    @rule(which=st.sampled_from(["A", "B", "auto"]), table=st.sampled_from(TABLES),
          data=st.data())
    def filter_reads(self, which, table, data):
        x = self.ctx(which)
        t = x.catalog.get(table)
        if t is None:
            return
        want = self.view(x, t)
        eng, txn = self.engine, x.txn
        pos = data.draw(st.integers(0, 3))
        col = COLUMNS[pos][0]
        dom = DOMAINS[pos]

        def tids(records):
            return sorted(r.tuple_id for r in records)

        def where(pred):
            return sorted(tid for tid, r in want.items() if pred(r[pos]))

        v = data.draw(st.sampled_from(dom))
        eq = where(lambda c: c is not None and v is not None and norm(c) == norm(v))
        assert tids(eng.scan_table_eq_filter(txn, table, col, v)) == eq, (col, v)
        assert eng.visible_eq_row_count(txn, table, col, v) == len(eq), (col, v)
        vs = data.draw(st.lists(st.sampled_from(dom), max_size=3))
        keys = {norm(w) for w in vs if w is not None}
        assert tids(eng.scan_table_in_filter(txn, table, col, vs)) == where(
            lambda c: c is not None and norm(c) in keys), (col, vs)
        isnn = data.draw(st.booleans())
        assert tids(eng.scan_table_null_filter(txn, table, col, isnn)) == where(
            lambda c: (c is not None) == isnn)
        lo, lo_ok = data.draw(value_bound(dom, lower=True))
        hi, hi_ok = data.draw(value_bound(dom, lower=False))
        rng = where(lambda c: c is not None and lo_ok(c) and hi_ok(c))
        assert tids(eng.scan_table_range_filter(txn, table, col, lo, hi)) == rng, (col, lo, hi)
        pos2 = data.draw(st.integers(0, 3))
        lo2, lo2_ok = data.draw(value_bound(DOMAINS[pos2], lower=True))
        both = sorted(tid for tid in rng if want[tid][pos2] is not None
                      and lo2_ok(want[tid][pos2]))
        got = tids(eng.scan_table_multi_range_filter(
            txn, table, [(col, lo, hi), (COLUMNS[pos2][0], lo2, UNBOUNDED)]))
        assert got == both, (col, lo, hi, pos2, lo2)
        assert eng.try_prove_filter_empty(txn, table, [(col, lo, hi)]) == (not rng)


# ---------------------------------------------------------------------------- range strategies


def _bound_pred(bound, lower: bool, key_of):
    if not isinstance(bound, (Included, Excluded)):
        return lambda k: True
    b = key_of(bound.value)
    inc = isinstance(bound, Included)
    if lower:
        return (lambda k: k[:len(b)] >= b) if inc else (lambda k: k[:len(b)] > b)
    return (lambda k: k[:len(b)] <= b) if inc else (lambda k: k[:len(b)] < b)


@st.composite
def key_ranges(draw, ix: IndexM):
    """A KeyRange of key prefixes in index order and the predicate on an entry's key."""
    def bound():
        n = draw(st.integers(0, len(ix.cols)))
        vals = tuple(draw(st.sampled_from(DOMAINS[p])) for p, _, _ in ix.cols[:n])
        kind = draw(st.sampled_from([Included, Excluded, None]))
        return UNBOUNDED if kind is None or n == 0 else kind(vals)

    lo, hi = bound(), bound()
    lo_p = _bound_pred(lo, True, ix.prefix_key)
    hi_p = _bound_pred(hi, False, ix.prefix_key)
    return KeyRange(lo, hi), lambda k: lo_p(k) and hi_p(k)


@st.composite
def value_bound(draw, dom, lower: bool):
    """A range-filter bound in the type's natural order and its predicate (a NULL bound
    matches nothing, as SQL's comparison with NULL)."""
    v = draw(st.sampled_from(dom))
    kind = draw(st.sampled_from([Included, Excluded, None]))
    if kind is None:
        return UNBOUNDED, lambda c: True
    if v is None:
        return kind(None), lambda c: False
    k = vkey(v)
    if lower:
        return kind(v), (lambda c: vkey(c) >= k) if kind is Included else (lambda c: vkey(c) > k)
    return kind(v), (lambda c: vkey(c) <= k) if kind is Included else (lambda c: vkey(c) < k)


EngineModel.TestCase.settings = settings(
    max_examples=500 if LONG else 100, stateful_step_count=100 if LONG else 50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
test_engine_model = EngineModel.TestCase
