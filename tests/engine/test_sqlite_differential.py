"""Differential test: random DDL / DML / transaction / savepoint sequences run against the
StorageEngine and sqlite3 (in memory; same schema, same transactions) give the same answers.

sqlite3 is the oracle for SQL semantics: NULL handling (NULLs distinct in unique indexes;
``= NULL`` matches nothing; min/max skip NULLs), uniqueness (both reject the same statements,
and a rejected statement leaves nothing applied), and ordering (ORDER BY ... ASC/DESC NULLS
FIRST/LAST, sqlite >= 3.30). Types are those both compare alike: INT, BIGINT, DOUBLE (no NaN:
sqlite stores NaN as NULL), TEXT (sqlite's BINARY collation compares UTF-8 bytes, which is code
point order, as the engine's key codec), BLOB, BOOLEAN (0/1 in sqlite).

How the two sides are kept aligned:
- sqlite tables carry a hidden ``rid INTEGER PRIMARY KEY`` holding the engine's tuple id.
- The engine's primary key on ``id`` is a unique index named ``<table>_pkey`` in sqlite.
- NULLS NOT DISTINCT (sqlite lacks it) is a unique index over ``coalesce(col, <sentinel>)``
  with a sentinel of another storage class, so NULLs collide there as the engine must make
  them collide.
- One transaction at a time (sqlite serialises writers; concurrent first-committer-wins is
  covered by tests/property/test_engine_model.py).

Three seeds in four use the in-memory backend, the fourth the LSM backend with tiny memtables
and random checkpoints (reads then merge SSTables, memtable and the transaction's overlay).
Each seed is one sequence; a failure names the seed and the statement log so it replays.
LSMDB_LONG=1 runs many more seeds.
"""

from __future__ import annotations

import ast
import math
import os
import random
import sqlite3

import pytest

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
from lsmdb.errors import ConstraintError, InvalidArgumentError, SchemaError
from lsmdb.testing.presets import small_options

LONG = bool(os.environ.get("LSMDB_LONG"))
SEEDS = range(1000 if LONG else 60)
STEPS = 120

# (name, engine type, sqlite type, domain without NULL)
COLUMNS = [
    ("id", "INT", "INTEGER", [0, 1, 2, 3, 4, 5, 6]),
    ("i", "INT", "INTEGER", [-2**31, -1, 0, 1, 7, 2**31 - 1]),
    ("g", "BIGINT", "INTEGER", [-2**63, -5, 0, 5, 2**63 - 1]),
    ("d", "DOUBLE", "REAL", [float("-inf"), -1.5, -0.0, 0.0, 1e-300, 2.5, float("inf")]),
    ("s", "TEXT", "TEXT", ["", "a", "a\x00", "ab", "b", "\x7f", "\u00e9", "\u65e5\u672c",
                           "\U0001f600"]),
    ("bl", "BLOB", "BLOB", [b"", b"\x00", b"\x00\x00", b"\x01", b"a", b"\xff"]),
    ("f", "BOOLEAN", "INTEGER", [False, True]),
]
NAMES = [c[0] for c in COLUMNS]
TABLES = ["t", "u"]
INDEXES = ["ix0", "ix1", "ix2", "ix3"]


class Mismatch(AssertionError):
    pass


def same_value(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return int(a) == int(b)
    if isinstance(a, float) or isinstance(b, float):
        return float(a) == float(b) and not math.isnan(float(a))
    return a == b


def same_rows(a, b) -> bool:
    return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))


class MissingRow(sqlite3.OperationalError):
    """sqlite reports no error for UPDATE/DELETE of a missing row (rowcount 0); the engine
    raises InvalidArgumentError. The sqlite side raises this so the outcomes compare."""


def outcome(exc: BaseException | None) -> str:
    """What kind of answer a statement got, in terms both sides share."""
    if exc is None:
        return "ok"
    if isinstance(exc, MissingRow):
        return "missing"
    if isinstance(exc, ConstraintError):
        return "unique"
    if isinstance(exc, sqlite3.IntegrityError):
        return "notnull" if "NOT NULL" in str(exc) else "unique"
    if isinstance(exc, SchemaError) and "NOT NULL" in str(exc):
        return "notnull"
    if isinstance(exc, (SchemaError, sqlite3.OperationalError)):
        return "schema"
    if isinstance(exc, InvalidArgumentError):
        return "missing"
    raise exc


class Differential:
    def __init__(self, seed: int, engine: StorageEngine):
        self.rng = random.Random(seed)
        self.seed = seed
        self.engine = engine
        self.db = sqlite3.connect(":memory:", isolation_level=None)
        # The engine-side key order of each index (sqlite has no NULLS FIRST/LAST in an index
        # definition), kept transactionally beside the index itself.
        self.db.execute("CREATE TABLE ixspec (name TEXT PRIMARY KEY, tbl TEXT, keys TEXT)")
        self.txn = 0  # the engine's transaction id; 0 = autocommit
        self.session = None
        self.saves: list[tuple[int, str]] = []  # (engine savepoint, sqlite name)
        self.sp_counter = 0
        self.log: list[str] = []

    def ddl(self):
        """DDL in the open transaction, or autocommitted."""
        return self.engine if self.session is None else self.session

    def close(self):
        self.engine.close()
        self.db.close()

    def fail(self, what: str):
        tail = "\n  ".join(self.log[-40:])
        raise Mismatch(f"seed {self.seed}: {what}\n  last statements:\n  {tail}")

    # ------------------------------------------------------------------ running both sides

    def both(self, label: str, engine_call, sqlite_sql: str | None, params=(),
             sqlite_call=None, any_error: bool = False):
        """Run one statement on both sides; the outcomes must agree (``any_error``: only
        whether it was rejected). Returns the engine's result (None when it failed)."""
        self.log.append(label)
        e_exc = s_exc = None
        result = None
        try:
            result = engine_call()
        except (ConstraintError, SchemaError, InvalidArgumentError) as exc:
            e_exc = exc
        try:
            if sqlite_call is not None:
                sqlite_call(result)
            else:
                self.db.execute(sqlite_sql, params)
        except (sqlite3.IntegrityError, sqlite3.OperationalError) as exc:
            s_exc = exc
        eo, so = outcome(e_exc), outcome(s_exc)
        if any_error:
            eo, so = eo == "ok", so == "ok"
        if eo != so:
            self.fail(f"{label}: engine {eo} ({e_exc!r}), sqlite {so} ({s_exc!r})")
        return None if e_exc else result

    def tables(self) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]

    def sqlite_indexes(self, table: str | None = None) -> dict[str, tuple[str, list]]:
        """name -> (table, [(column position, descending, nulls_first)]), primary keys
        included (as the engine's ``<table>_pkey``)."""
        out = {}
        for name, tbl in self.db.execute(
                "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' "
                "AND name NOT LIKE 'sqlite_%'"):
            if table is not None and tbl != table:
                continue
            if name.endswith("_pkey"):
                out[name] = (tbl, [(0, False, False)])
                continue
            keys = ast.literal_eval(self.db.execute("SELECT keys FROM ixspec WHERE name = ?",
                                        (name,)).fetchone()[0])
            out[name] = (tbl, [(p, d, (n == "FIRST") if n else d) for p, d, n in keys])
        return out

    def engine_indexes(self) -> set[str]:
        names = set()
        for name in INDEXES + [f"{t}_pkey" for t in TABLES]:
            try:
                self.engine.visible_index_row_count(self.txn, name, KeyRange())
            except SchemaError:
                continue
            names.add(name)
        return names

    def tids(self, table: str) -> list[int]:
        return [r[0] for r in self.db.execute(f"SELECT rid FROM {table} ORDER BY rid")]

    def value(self, pos: int, null_chance: float = 0.25):
        if pos != 0 and self.rng.random() < null_chance:
            return None
        return self.rng.choice(COLUMNS[pos][3])

    def row(self) -> tuple:
        row = tuple(self.value(p) for p in range(len(COLUMNS)))
        if self.rng.random() < 0.03:
            row = (None,) + row[1:]  # NULL into the NOT NULL column: both reject
        return row

    # ------------------------------------------------------------------ operations

    def table(self) -> str:
        """Mostly a table that exists (statements on missing tables are checked, but rarely
        need to be)."""
        present = [t for t in TABLES if t in self.tables()]
        if present and self.rng.random() < 0.9:
            return self.rng.choice(present)
        return self.rng.choice(TABLES)

    def create_table(self, name: str | None = None):
        name = name or self.rng.choice(TABLES)
        pk = self.rng.random() < 0.5
        cols = [(c[0], c[1], c[0] != "id") for c in COLUMNS]
        sql_cols = ", ".join(f"{c[0]} {c[2]}" + (" NOT NULL" if c[0] == "id" else "")
                             for c in COLUMNS)

        def sqlite_side(_):
            self.db.execute(f"CREATE TABLE {name} (rid INTEGER PRIMARY KEY, {sql_cols})")
            if pk:
                self.db.execute(f"CREATE UNIQUE INDEX {name}_pkey ON {name} (id)")
        self.both(f"CREATE TABLE {name} pk={pk}", lambda: self.ddl().create_table(
            name, cols, "id" if pk else None), None, sqlite_call=sqlite_side)

    def drop_table(self):
        name = self.rng.choice(TABLES)
        self.both(f"DROP TABLE {name}", lambda: self.engine.drop_table_storage(self.txn, name),
                  f"DROP TABLE {name}")

    def create_index(self):
        name = self.rng.choice(INDEXES)
        table = self.table()
        ncols = self.rng.choice([1, 1, 2, 3])
        cols = self.rng.sample(range(len(COLUMNS)), ncols)
        keys = []
        for p in cols:
            desc = self.rng.random() < 0.5
            nulls = self.rng.choice([None, "FIRST", "LAST"])
            keys.append((p, desc, nulls))
        unique = self.rng.random() < 0.5
        nnd = unique and self.rng.random() < 0.4
        specs = [NAMES[p] + (" DESC" if d else "") + (f" NULLS {n}" if n else "")
                 for p, d, n in keys]
        if nnd:
            sql_keys = ", ".join(f"coalesce({NAMES[p]}, "
                                 f"{'x' if COLUMNS[p][2] != 'BLOB' else ''}'4e554c4c')"
                                 for p, _, _ in keys)
        else:
            sql_keys = ", ".join(NAMES[p] + (" DESC" if d else "") for p, d, _ in keys)
        sql = (f"CREATE {'UNIQUE ' if unique else ''}INDEX {name} ON {table} ({sql_keys})")

        def sqlite_side(_):
            self.db.execute(sql)
            self.db.execute("INSERT OR REPLACE INTO ixspec VALUES (?, ?, ?)",
                            (name, table, repr(keys)))
        self.both(f"{sql} -- engine {specs} nnd={nnd}", lambda: self.ddl().create_index(
            table, specs, name=name, unique=unique, nulls_not_distinct=nnd), None,
            sqlite_call=sqlite_side)

    def drop_index(self):
        name = self.rng.choice(INDEXES)
        self.both(f"DROP INDEX {name}", lambda: self.engine.drop_index_storage(self.txn, name),
                  f"DROP INDEX {name}")

    def insert(self):
        table = self.table()
        row = self.row()
        marks = ", ".join("?" * (len(COLUMNS) + 1))

        def sqlite_side(tid):
            self.db.execute(f"INSERT INTO {table} VALUES ({marks})", (tid,) + row)
        self.both(f"INSERT INTO {table} {row!r}", lambda: self.engine.insert(self.txn, table,
                                                                             row),
                  None, sqlite_call=sqlite_side)

    def insert_batch(self):
        """One multi-row statement: all rows or none (sqlite's multi-row INSERT is one
        statement too, rolled back whole on a violation). With several faulty rows the two
        may name different faults (the engine checks every row's schema before uniqueness,
        sqlite checks row by row), so only rejected-or-not is compared."""
        table = self.table()
        rows = [self.row() for _ in range(self.rng.randint(2, 4))]
        marks = ", ".join("?" * (len(COLUMNS) + 1))

        def sqlite_side(tids):
            tids = tids or [None] * len(rows)
            values = ", ".join(f"({marks})" for _ in rows)
            params = [v for tid, row in zip(tids, rows, strict=True) for v in (tid,) + row]
            self.db.execute(f"INSERT INTO {table} VALUES {values}", params)
        self.both(f"INSERT INTO {table} {rows!r}", lambda: self.engine.insert_batch(
            self.txn, table, rows), None, sqlite_call=sqlite_side, any_error=True)

    def _pick_tid(self, table: str):
        if table not in self.tables():
            return 1
        tids = self.tids(table)
        return self.rng.choice(tids) if tids and self.rng.random() < 0.9 else 99_999

    def update(self):
        table = self.table()
        tid = self._pick_tid(table)
        row = self.row()
        if self.rng.random() < 0.5 and table in self.tables():
            old = self.db.execute(f"SELECT * FROM {table} WHERE rid = ?", (tid,)).fetchone()
            if old is not None:  # change one column only: more unique clashes with itself
                p = self.rng.randrange(len(COLUMNS))
                row = tuple(_engine_value(p, v) for p, v in enumerate(old[1:]))
                row = row[:p] + (self.value(p),) + row[p + 1:]
        sets = ", ".join(f"{n} = ?" for n in NAMES)

        def sqlite_side(_):
            cur = self.db.execute(f"UPDATE {table} SET {sets} WHERE rid = ?", row + (tid,))
            if cur.rowcount == 0:
                raise MissingRow(f"no row {tid}")
        self.both(f"UPDATE {table} tid={tid} {row!r}", lambda: self.engine.update(
            self.txn, table, tid, row), None, sqlite_call=sqlite_side)

    def delete(self):
        table = self.table()
        tid = self._pick_tid(table)

        def sqlite_side(_):
            cur = self.db.execute(f"DELETE FROM {table} WHERE rid = ?", (tid,))
            if cur.rowcount == 0:
                raise MissingRow(f"no row {tid}")
        self.both(f"DELETE FROM {table} tid={tid}", lambda: self.engine.delete(
            self.txn, table, tid), None, sqlite_call=sqlite_side)

    # ------------------------------------------------------------------ transactions

    def begin(self):
        if self.session is not None:
            return
        level = self.rng.choice(["snapshot", "read_committed", "serializable"])
        self.log.append(f"BEGIN {level}")
        self.session = self.engine.transaction(level)
        self.txn = self.session.txn_id
        self.db.execute("BEGIN")

    def end(self, commit: bool):
        if self.session is None:
            return
        self.log.append("COMMIT" if commit else "ROLLBACK")
        if commit:
            self.session.commit()  # one transaction at a time: nothing can conflict
        else:
            self.session.rollback()
        self.db.execute("COMMIT" if commit else "ROLLBACK")
        self.session, self.txn, self.saves = None, 0, []

    def savepoint(self):
        if self.session is None:
            return
        name = f"s{self.sp_counter}"
        self.sp_counter += 1
        self.log.append(f"SAVEPOINT {name}")
        self.saves.append((self.engine.create_savepoint(self.txn), name))
        self.db.execute(f"SAVEPOINT {name}")

    def rollback_to(self):
        if not self.saves:
            return
        i = self.rng.randrange(len(self.saves))
        sp, name = self.saves[i]
        self.log.append(f"ROLLBACK TO {name}")
        self.engine.rollback_to_savepoint(self.txn, sp)
        self.db.execute(f"ROLLBACK TO {name}")
        del self.saves[i + 1:]

    def release(self):
        if not self.saves:
            return
        i = self.rng.randrange(len(self.saves))
        sp, name = self.saves[i]
        self.log.append(f"RELEASE {name}")
        self.engine.release_savepoint(self.txn, sp)
        self.db.execute(f"RELEASE {name}")
        del self.saves[i:]

    def checkpoint(self):
        """Durable engines: flush to SSTables, so later reads merge files and memtable."""
        if self.engine.supports_durability():
            self.log.append("-- checkpoint")
            self.engine.checkpoint()

    # ------------------------------------------------------------------ reads

    def check_all(self):
        """Catalog, every row, every index's full order, both directions."""
        eng, txn = self.engine, self.txn
        for table in TABLES:
            present = table in self.tables()
            try:
                got = {r.tuple_id: r.row for r in eng.scan_table(txn, table)}
            except SchemaError:
                if present:
                    self.fail(f"engine lost table {table}")
                continue
            if not present:
                self.fail(f"engine still has table {table}")
            want = {r[0]: r[1:] for r in self.db.execute(f"SELECT * FROM {table}")}
            if got.keys() != want.keys() or not all(same_rows(got[k], want[k]) for k in got):
                self.fail(f"rows of {table} differ:\n engine {got}\n sqlite {want}")
            if eng.visible_row_count(txn, table) != len(want):
                self.fail(f"count of {table} differs")
        sqlite_ix = self.sqlite_indexes()
        engine_ix = self.engine_indexes()
        if engine_ix != set(sqlite_ix):
            self.fail(f"index sets differ: engine {sorted(engine_ix)}, sqlite {sorted(sqlite_ix)}")
        for name, (table, keys) in sqlite_ix.items():
            self.check_index(name, keys, table)

    def order_by(self, keys, reverse: bool) -> str:
        parts = []
        for p, desc, nulls_first in keys:
            if reverse:
                desc, nulls_first = not desc, not nulls_first
            parts.append(f"{NAMES[p]} {'DESC' if desc else 'ASC'} "
                         f"NULLS {'FIRST' if nulls_first else 'LAST'}")
        parts.append("rid DESC" if reverse else "rid ASC")
        return ", ".join(parts)

    def check_index(self, name: str, keys, table: str, kr: KeyRange | None = None,
                    where: str = "1", params=(), limit: int | None = None):
        eng, txn = self.engine, self.txn
        kr = kr or KeyRange()
        for reverse in (False, True):
            got = [r.tuple_id for r in eng.scan_index_ordered_limited(txn, name, kr, None,
                                                                       reverse, limit)]
            sql = (f"SELECT rid FROM {table} WHERE {where} ORDER BY {self.order_by(keys, reverse)}"
                   + ("" if limit is None else f" LIMIT {limit}"))
            want = [r[0] for r in self.db.execute(sql, params)]
            if got != want:
                self.fail(f"index {name} scan {kr} reverse={reverse} limit={limit}:\n"
                          f" engine {got}\n sqlite {want}\n ({sql} {params})")

    def check_reads(self):
        """Random filters, ranges, counts, min/max, group counts against SQL."""
        eng, txn = self.engine, self.txn
        tables = [t for t in TABLES if t in self.tables()]
        if not tables:
            return
        table = self.rng.choice(tables)
        p = self.rng.randrange(len(COLUMNS))
        col = NAMES[p]

        def sql_tids(where, params=()):
            return sorted(r[0] for r in self.db.execute(
                f"SELECT rid FROM {table} WHERE {where}", params))

        def check(label, got, want):
            if got != want:
                self.fail(f"{label} on {table}.{col}: engine {got}, sqlite {want}")

        v = self.value(p, 0.15)
        check(f"= {v!r}", sorted(r.tuple_id for r in eng.scan_table_eq_filter(txn, table, col,
                                                                                v)),
              sql_tids(f"{col} = ?", (v,)))
        check(f"count = {v!r}", eng.visible_eq_row_count(txn, table, col, v),
              self.db.execute(f"SELECT count(*) FROM {table} WHERE {col} = ?", (v,)).fetchone()[0])
        vs = [self.value(p, 0.15) for _ in range(self.rng.randrange(4))]
        check(f"IN {vs!r}", sorted(r.tuple_id for r in eng.scan_table_in_filter(txn, table, col,
                                                                                 vs)),
              sql_tids(f"{col} IN ({', '.join('?' * len(vs))})", vs))
        nn = self.rng.random() < 0.5
        check(f"IS {'NOT ' if nn else ''}NULL", sorted(
            r.tuple_id for r in eng.scan_table_null_filter(txn, table, col, nn)),
            sql_tids(f"{col} IS {'NOT ' if nn else ''}NULL"))
        lo, hi = self.value(p, 0.1), self.value(p, 0.1)
        lo_b = self.rng.choice([Included, Excluded, None])
        hi_b = self.rng.choice([Included, Excluded, None])
        conds, params = [], []
        for b, val, op in ((lo_b, lo, ">"), (hi_b, hi, "<")):
            if b is not None:
                conds.append(f"{col} {op}{'=' if b is Included else ''} ?")
                params.append(val)
        where = " AND ".join(conds) or f"{col} IS NOT NULL"
        lower = UNBOUNDED if lo_b is None else lo_b(lo)
        upper = UNBOUNDED if hi_b is None else hi_b(hi)
        check(f"range {lower} {upper}", sorted(
            r.tuple_id for r in eng.scan_table_range_filter(txn, table, col, lower, upper)),
            sql_tids(where, params))
        p2 = self.rng.randrange(len(COLUMNS))
        v2 = self.value(p2, 0.1)
        b2 = self.rng.choice([Included, Excluded])
        filters = [(col, lower, upper), (NAMES[p2], b2(v2), UNBOUNDED)]
        where2 = f"{where} AND {NAMES[p2]} >{'=' if b2 is Included else ''} ?"
        check(f"multi-range {filters}", sorted(
            r.tuple_id for r in eng.scan_table_multi_range_filter(txn, table, filters)),
            sql_tids(where2, params + [v2]))
        check(f"prove empty {filters}", eng.try_prove_filter_empty(txn, table, filters),
              not sql_tids(where2, params + [v2]))
        offset, limit = self.rng.randrange(4), self.rng.choice([None, 0, 2, 5])
        check(f"offset {offset} limit {limit}", [r.tuple_id for r in eng.scan_table_limited(
            txn, table, None, offset, limit)], [r[0] for r in self.db.execute(
                f"SELECT rid FROM {table} ORDER BY rid LIMIT ? OFFSET ?",
                (-1 if limit is None else limit, offset))])
        # Indexes of this table led by any column: min / max / group counts / ranges.
        for name, (_, keys) in self.sqlite_indexes(table).items():
            lead = NAMES[keys[0][0]]
            _, desc, nulls_first = keys[0]
            mn = eng.index_min_single_column_value(txn, name)
            mx = eng.index_max_single_column_value(txn, name)
            smn, smx = self.db.execute(f"SELECT min({lead}), max({lead}) FROM {table}").fetchone()
            if not (same_value(mn, smn) and same_value(mx, smx)):
                self.fail(f"min/max of {name}({lead}): engine {mn!r}/{mx!r}, sqlite "
                          f"{smn!r}/{smx!r}")
            groups = [(v, n) for v, n in eng.visible_index_group_counts(txn, name, KeyRange())]
            want = self.db.execute(
                f"SELECT {lead}, count(*) FROM {table} GROUP BY {lead} ORDER BY {lead} "
                f"{'DESC' if desc else 'ASC'} NULLS {'FIRST' if nulls_first else 'LAST'}"
            ).fetchall()
            if len(groups) != len(want) or not all(
                    same_value(a[0], b[0]) and a[1] == b[1] for a, b in zip(groups, want,
                                                                            strict=True)):
                self.fail(f"group counts of {name}: engine {groups}, sqlite {want}")
            self.check_index_range(name, keys, table)

    def check_index_range(self, name, keys, table):
        """A KeyRange of key prefixes (1..all key columns, NULLs allowed, in index order)
        against the same lexicographic condition in SQL."""
        conds, params = [], []
        bounds = []
        for lower in (True, False):
            kind = self.rng.choice([Included, Excluded, None])
            if kind is None:
                bounds.append(UNBOUNDED)
                continue
            n = self.rng.randint(1, len(keys))
            values = tuple(self.value(p, 0.15) for p, _, _ in keys[:n])
            bounds.append(kind(values))
            sql, ps = _prefix_condition(keys[:n], values, lower, kind is Included)
            conds.append(sql)
            params.extend(ps)
        kr = KeyRange(bounds[0], bounds[1])
        where = " AND ".join(conds) or "1"
        limit = self.rng.choice([None, None, 1, 3])
        self.check_index(name, keys, table, kr, where, params, limit)
        got = self.engine.visible_index_row_count(self.txn, name, kr)
        want = self.db.execute(f"SELECT count(*) FROM {table} WHERE {where}",
                               params).fetchone()[0]
        if got != want:
            self.fail(f"index {name} count in {kr}: engine {got}, sqlite {want}")

    # ------------------------------------------------------------------ driver

    def run(self, steps: int):
        ops = [(self.insert, 8), (self.insert_batch, 2), (self.update, 4), (self.delete, 3), (self.create_index, 3),
               (self.drop_index, 1), (self.create_table, 2), (self.drop_table, 1),
               (self.begin, 2), (lambda: self.end(True), 1), (lambda: self.end(False), 1),
               (self.savepoint, 2), (self.rollback_to, 1), (self.release, 1),
               (self.check_reads, 3), (self.checkpoint, 1)]
        fns, weights = zip(*ops, strict=True)
        for name in TABLES:
            self.create_table(name)
        for _ in range(steps):
            self.rng.choices(fns, weights)[0]()
            self.check_all()
        self.end(self.rng.random() < 0.5)
        self.check_all()


def _prefix_condition(keys, values, lower: bool, inclusive: bool) -> tuple[str, list]:
    """SQL for "the entry's key prefix is at/after (lower) or at/before (upper) ``values`` in
    index order": lexicographic over the key columns, each ASC or DESC with its NULLs first
    or last (a NULL bound value sits where the column's NULLs sit)."""
    (p, desc, nulls_first), v = keys[0], values[0]
    col = NAMES[p]
    nulls_beyond = lower != nulls_first  # NULL keys lie beyond a non-NULL bound
    if v is None:
        beyond, eq, ps = f"({col} IS NOT NULL AND {int(not nulls_beyond)})", f"{col} IS NULL", []
    else:
        op = ">" if lower != desc else "<"
        beyond = f"(({col} IS NOT NULL AND {col} {op} ?) OR ({col} IS NULL AND " \
                 f"{int(nulls_beyond)}))"
        eq, ps = f"{col} = ?", [v, v]
    if len(keys) == 1:
        if not inclusive:
            return beyond, ps[:1]
        return f"({beyond} OR {eq})", ps
    rest, rest_ps = _prefix_condition(keys[1:], values[1:], lower, inclusive)
    return f"({beyond} OR ({eq} AND {rest}))", ps + rest_ps


def _engine_value(p: int, v):
    return bool(v) if COLUMNS[p][1] == "BOOLEAN" and v is not None else v


@pytest.mark.parametrize("seed", SEEDS)
def test_engine_matches_sqlite(seed, tmp_path):
    # Every fourth seed on the LSM backend with tiny memtables (flushes and compactions under
    # the scans), the rest in memory.
    engine = StorageEngine.new_without_wal() if seed % 4 else StorageEngine(StorageOptions(
        wal_config=WalConfig(dir=str(tmp_path / "db")), wal_commit_policy=WalCommitPolicy.NEVER,
        lsm_options=small_options()))
    d = Differential(seed, engine)
    try:
        d.run(STEPS)
    finally:
        d.close()
