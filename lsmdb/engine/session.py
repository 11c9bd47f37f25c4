"""The Pythonic layer: ``with engine.transaction() as tx:`` and friends.

    with engine.transaction(isolation="snapshot") as tx:    # commit on success,
        tid = tx.insert("users", {"id": 1, "name": "ann"})  # rollback on an exception
        with tx.savepoint():                                # rolls back to here on error
            tx.update("users", tid, {"name": "anne"})
        for rec in tx.scan("users", where={"name": "anne"}):
            ...

Tables, indexes and columns are addressed by name or id; rows are tuples in column order or
mappings of column name -> value (missing columns are NULL; an update with a mapping changes
only the named columns).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from lsmdb.errors import InvalidArgumentError, SchemaError, TransactionError
from lsmdb.storage_api import (
    UNBOUNDED,
    DataKind,
    DataType,
    Excluded,
    Included,
    IndexKeyColumn,
    IndexStorageDescriptor,
    IsolationLevel,
    KeyRange,
    StorageColumn,
    TableStorageDescriptor,
    TupleRecord,
)
from lsmdb.storage_keys import heap_key

__all__ = ["Session", "Savepoint", "PythonicSurface", "parse_type", "table_descriptor", "index_descriptor"]

_TYPE_RE = re.compile(r"^\s*(\w+)\s*(?:\(\s*(\d+)\s*\))?\s*((?:\[\])*)\s*$")


def parse_type(t: DataType | str) -> DataType:
    """A DataType, or its SQL-ish name: "BIGINT", "vector(3)", "text[]"."""
    if isinstance(t, DataType):
        return t
    if not isinstance(t, str) or not _TYPE_RE.match(t):
        raise InvalidArgumentError(f"a column type is a DataType or a type name, not {t!r}")
    name, dims, arrays = _TYPE_RE.match(t).groups()  # type: ignore[union-attr]
    name = name.upper()
    aliases = {"INTEGER": "INT", "INT4": "INT", "INT8": "BIGINT", "FLOAT": "DOUBLE",
               "FLOAT8": "DOUBLE", "FLOAT4": "REAL", "BOOL": "BOOLEAN", "BYTEA": "BLOB",
               "DECIMAL": "NUMERIC", "VARCHAR": "TEXT", "STRING": "TEXT", "JSON": "JSONB"}
    name = aliases.get(name, name)
    if name == "VECTOR":
        if dims is None:
            raise InvalidArgumentError(f"VECTOR needs its dimension: 'vector(3)', got {t!r}")
        dt = DataType.vector(int(dims))
    else:
        if dims is not None or name not in DataKind.__members__ or name == "ARRAY":
            raise InvalidArgumentError(f"unknown column type {t!r}")
        dt = DataType(DataKind[name])
    for _ in range(len(arrays) // 2):
        dt = DataType.array(dt)
    return dt


def table_descriptor(table_id: int, name: str, columns: Sequence[Any],
                     primary_key: Sequence[str] | None = None) -> TableStorageDescriptor:
    """Build a descriptor: columns are StorageColumn, (name, type) or (name, type, nullable);
    column ids are 1..n in order; ``primary_key`` names columns."""
    if isinstance(columns, (str, bytes)) or not isinstance(columns, Sequence) or not columns:
        raise InvalidArgumentError(f"columns must be a non-empty sequence, got {columns!r}")
    cols = []
    for i, c in enumerate(columns, 1):
        if isinstance(c, StorageColumn):
            cols.append(c)
        elif isinstance(c, (tuple, list)) and len(c) in (2, 3):
            nullable = c[2] if len(c) == 3 else True
            cols.append(StorageColumn(i, parse_type(c[1]), nullable, c[0]))
        else:
            raise InvalidArgumentError(f"a column is (name, type[, nullable]) or a "
                                       f"StorageColumn, not {c!r}")
    by_name = {c.name: c.column_id for c in cols}
    pk = None
    if primary_key is not None:
        if isinstance(primary_key, str):
            primary_key = [primary_key]
        pk = []
        for n in primary_key:
            if n not in by_name:
                raise SchemaError(f"primary key column {n!r} is not a column of {name!r}")
            pk.append(by_name[n])
    return TableStorageDescriptor(table_id, tuple(cols), None if pk is None else tuple(pk),
                                  None, name)


_KEY_RE = re.compile(r"^\s*(\S+)(?:\s+(ASC|DESC))?(?:\s+NULLS\s+(FIRST|LAST))?\s*$", re.I)


def index_descriptor(index_id: int, table: TableStorageDescriptor, columns: Sequence[Any],
                     name: str | None, unique: bool, nulls_not_distinct: bool,
                     include: Sequence[str]) -> IndexStorageDescriptor:
    """Key columns are IndexKeyColumn or "name [ASC|DESC] [NULLS FIRST|LAST]"."""
    ids = {c.name: c.column_id for c in table.columns}
    if isinstance(columns, str):
        columns = [columns]
    keys = []
    for c in columns:
        if isinstance(c, IndexKeyColumn):
            keys.append(c)
            continue
        m = _KEY_RE.match(c) if isinstance(c, str) else None
        if m is None:
            raise InvalidArgumentError(f"an index column is 'name [ASC|DESC] [NULLS FIRST|LAST]'"
                                       f" or an IndexKeyColumn, not {c!r}")
        col, order, nulls = m.groups()
        if col not in ids:
            raise SchemaError(f"table {table.name!r} has no column {col!r}")
        desc = (order or "ASC").upper() == "DESC"
        keys.append(IndexKeyColumn(ids[col], desc, None if nulls is None
                                   else nulls.upper() == "FIRST"))
    inc = []
    for n in include:
        if n not in ids:
            raise SchemaError(f"table {table.name!r} has no column {n!r}")
        inc.append(ids[n])
    return IndexStorageDescriptor(index_id, table.table_id, tuple(keys), unique,
                                  nulls_not_distinct, False, tuple(inc), None, None, name)


class Savepoint:
    """``with tx.savepoint():`` rolls back to the savepoint on an exception (and re-raises),
    releases it otherwise; the outer transaction goes on either way."""

    def __init__(self, session: Session):
        self._session = session
        self.id = session._engine.create_savepoint(session.txn_id)

    def rollback(self) -> None:
        """Undo the transaction's work since this savepoint; the savepoint stays usable."""
        self._session._engine.rollback_to_savepoint(self._session.txn_id, self.id)

    def release(self) -> None:
        """Release this savepoint (and any later one); its work stays in the transaction."""
        self._session._engine.release_savepoint(self._session.txn_id, self.id)

    def __enter__(self) -> Savepoint:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if not self._session.active or self.id not in self._session._t().savepoints:
            return False  # the transaction ended, or the savepoint was released inside
        if exc_type is not None:
            self.rollback()
        self.release()
        return False


class Session:
    """One transaction of the engine (see the module doc); use from one thread."""

    def __init__(self, engine, isolation: IsolationLevel | str = IsolationLevel.SNAPSHOT):
        self._engine = engine
        with engine._validate_lock:
            self.txn_id = next(engine._txn_ids)
        engine.begin_txn(self.txn_id, isolation)
        self.isolation = IsolationLevel.parse(isolation)

    @property
    def active(self) -> bool:
        """Whether the transaction is still open (neither committed nor rolled back)."""
        return self.txn_id in self._engine._txns

    def _t(self):
        return self._engine._txn(self.txn_id)

    # ------------------------------------------------------------------ lifecycle

    def commit(self) -> None:
        """Commit atomically (one write batch); SerializationError or ConstraintError apply
        nothing."""
        self._engine.commit_txn(self.txn_id)

    def rollback(self) -> None:
        """Discard everything the transaction did."""
        if self.active:
            self._engine.rollback_txn(self.txn_id)

    def __enter__(self) -> Session:
        if not self.active:
            raise TransactionError(f"transaction {self.txn_id} already ended")
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if not self.active:
            return False  # committed or rolled back explicitly inside the block
        if exc_type is None:
            self.commit()
        else:
            self.rollback()
        return False

    def savepoint(self) -> Savepoint:
        """A savepoint; as a context manager it rolls back to itself on an exception and is
        released on success, keeping the outer transaction."""
        return Savepoint(self)

    # ------------------------------------------------------------------ rows

    def _info(self, table):
        return self._t().catalog.table(table)

    def _row(self, info, row) -> tuple:
        if isinstance(row, Mapping):
            unknown = set(row) - set(info.names)
            if unknown:
                raise SchemaError(f"table {info.name!r} has no column {sorted(unknown)[0]!r}")
            return tuple(row.get(c.name) for c in info.descriptor.columns)
        return row

    def insert(self, table, row) -> int:
        """Insert ``row`` (a tuple in column order or a mapping of column names) into ``table``
        (name or id); returns the new tuple id."""
        info = self._info(table)
        return self._engine.insert(self.txn_id, info.table_id, self._row(info, row))

    def insert_many(self, table, rows) -> list[int]:
        """Insert several rows as one statement (all or nothing); returns their tuple ids."""
        info = self._info(table)
        return self._engine.insert_batch(self.txn_id, info.table_id,
                                         [self._row(info, r) for r in rows])

    def fetch(self, table, tuple_id: int, columns=None) -> tuple | None:
        """The row of ``tuple_id`` (projected to ``columns`` when given), or None."""
        return self._engine.fetch(self.txn_id, table, tuple_id, columns)

    def update(self, table, tuple_id: int, row) -> int:
        """Replace the row, or with a mapping change only the named columns (read and
        written in one statement, so READ COMMITTED cannot lose a concurrent change to the
        other columns)."""
        if not isinstance(row, Mapping):
            return self._engine.update(self.txn_id, table, tuple_id, row)
        changes = dict(row)

        def run(t):
            from lsmdb.engine import dml

            info = t.catalog.table(table)
            positions = [(info.column_position(c), v) for c, v in changes.items()]
            old = dml.fetch_row(t, info, tuple_id, None)
            if old is None:
                raise InvalidArgumentError(f"tuple {tuple_id} does not exist in table "
                                           f"{info.name!r}")
            new = list(old)
            for pos, value in positions:
                new[pos] = value
            return dml.update_row(t, info, tuple_id, tuple(new))
        return self._engine._write(self.txn_id, run)

    def delete(self, table, tuple_id: int) -> None:
        """Delete the row ``tuple_id`` (InvalidArgumentError if it does not exist)."""
        self._engine.delete(self.txn_id, table, tuple_id)

    def lookup(self, table, *key) -> TupleRecord | None:
        """The row whose primary key is ``key`` (or None)."""
        from lsmdb.engine import dml, scan

        eng = self._engine
        t = eng._txn(self.txn_id)
        t.statement()
        info = t.catalog.table(table)
        slot = dml.pk_slot_key(info, key)
        # A partial key: the first row of the key range. An overtaken READ COMMITTED view
        # too: its own rows kept primary-key entries the latest commit may have dropped or
        # moved, so a point read of the slot misses them (the index scan rebuilds them).
        if slot is None or (t.rc and scan.overtaken(t, info.table_id)):
            return next(iter(eng.scan_index_limited(
                self.txn_id, info.primary_index.index_id, KeyRange.point(key), None, 1)),
                None)
        hit = dml.lookup_row(t.get, info, slot)
        if hit is None:
            return None
        eng._metrics.rows_read += 1
        return TupleRecord(*hit)

    # ------------------------------------------------------------------ scans

    def scan(self, table, columns=None, *, where: Mapping | None = None,
             limit: int | None = None, offset: int = 0) -> Iterator[TupleRecord]:
        """Rows of ``table``; ``where`` maps columns to values (equality, ANDed; a list or
        set value means IN). Uses an index on a filtered column when there is one."""
        eng = self._engine
        if not where:
            return eng.scan_table_limited(self.txn_id, table, columns, offset, limit)
        if not isinstance(where, Mapping):
            raise InvalidArgumentError(f"where must be a mapping of column -> value, "
                                       f"got {where!r}")
        from itertools import islice

        from lsmdb.engine import dml, scan

        def make(t):
            info = t.catalog.table(table)
            filters = [scan.Filter(info, c, "in", tuple(v)) if isinstance(v, (list, set,
                                                                                frozenset))
                       else scan.Filter(info, c, "eq", (v,)) for c, v in where.items()]
            it = scan.filter_scan(t, info, filters, dml.projection_positions(info, columns))
            return islice(it, offset, None if limit is None else offset + limit)
        return eng._stream(self.txn_id, make)

    def scan_range(self, table, column, lower=None, upper=None, *,
                   lower_inclusive: bool = True, upper_inclusive: bool = True,
                   columns=None) -> Iterator[TupleRecord]:
        """Rows whose ``column`` lies between ``lower`` and ``upper`` (inclusive unless told
        otherwise), through an index on the column when there is one."""
        lo = UNBOUNDED if lower is None else (Included if lower_inclusive else Excluded)(lower)
        hi = UNBOUNDED if upper is None else (Included if upper_inclusive else Excluded)(upper)
        return self._engine.scan_table_range_filter(self.txn_id, table, column, lo, hi, columns)

    def scan_index(self, index, lower=None, upper=None, *, reverse: bool = False,
                   limit: int | None = None, columns=None) -> Iterator[TupleRecord]:
        """Rows in index order; ``lower``/``upper`` are inclusive key prefixes (tuples), or
        pass a KeyRange as ``lower``."""
        if isinstance(lower, KeyRange):
            kr = lower
        else:
            kr = KeyRange(UNBOUNDED if lower is None else Included(_tuple(lower)),
                          UNBOUNDED if upper is None else Included(_tuple(upper)))
        return self._engine.scan_index_ordered_limited(self.txn_id, index, kr, columns,
                                                       reverse, limit)

    def count(self, table) -> int:
        """The number of rows of ``table`` this transaction sees."""
        return self._engine.visible_row_count(self.txn_id, table)

    # ------------------------------------------------------------------ DDL

    def create_table(self, name: str, columns, primary_key=None) -> int:
        """Create a table in this transaction; returns its id. ``columns`` are
        ``(name, type[, nullable])`` tuples or StorageColumn objects."""
        desc = table_descriptor(self._engine._new_table_id(), name, columns, primary_key)
        self._engine.create_table_storage(self.txn_id, desc)
        return desc.table_id

    def create_index(self, table, columns, *, name: str | None = None, unique: bool = False,
                     nulls_not_distinct: bool = False, include=()) -> int:
        """Create a B-tree index in this transaction (backfilled from the rows it sees); returns
        its id. Columns may read "name DESC NULLS LAST"."""
        info = self._info(table)
        desc = index_descriptor(self._engine._new_index_id(), info.descriptor, columns, name,
                                unique, nulls_not_distinct, include)
        self._engine.create_index_storage(self.txn_id, desc)
        return desc.index_id

    def drop_table(self, table) -> None:
        """Drop ``table`` and its indexes in this transaction."""
        self._engine.drop_table_storage(self.txn_id, table)

    def drop_index(self, index) -> None:
        """Drop ``index`` in this transaction."""
        self._engine.drop_index_storage(self.txn_id, index)


def _tuple(v) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


class PythonicSurface:
    """The engine's Pythonic entry points (mixed into StorageEngine)."""

    _id_hint_table = 0
    _id_hint_index = 0

    def transaction(self, isolation: IsolationLevel | str = IsolationLevel.SNAPSHOT) -> Session:
        """``with engine.transaction() as tx:`` commits on success, rolls back on error."""
        self._check_open()
        return Session(self, isolation)

    def create_table(self, name: str, columns, primary_key=None) -> int:
        """Create a table in its own transaction; returns its id."""
        with self.transaction() as tx:
            return tx.create_table(name, columns, primary_key)

    def create_index(self, table, columns, *, name: str | None = None, unique: bool = False,
                     nulls_not_distinct: bool = False, include=()) -> int:
        """Create (and backfill) a B-tree index in its own transaction; returns its id."""
        with self.transaction() as tx:
            return tx.create_index(table, columns, name=name, unique=unique,
                                   nulls_not_distinct=nulls_not_distinct, include=include)

    def lookup(self, table, *key) -> TupleRecord | None:
        """The row whose primary key is ``key``, read in its own (autocommit) statement."""
        from lsmdb.engine import dml

        self._check_open()
        info = self._published_catalog.table(table)
        slot = dml.pk_slot_key(info, key)
        if slot is None:
            with self.transaction() as tx:
                return tx.lookup(table, *key)
        # Two latest-state reads, no snapshot: the entry names a tuple, the tuple's row is
        # read next. When that row still carries the key, it is the answer as of the second
        # read (keys are unique). A commit in between that moved the key away or deleted
        # the row is caught here, and the read repeats in a transaction (one snapshot).
        get = self._backend.get
        entry = get(slot)
        if entry is None:
            return None  # no such key as of this read
        ix = info.primary_index
        tid = ix.entry_tuple_id(slot, entry)
        data = get(heap_key(info.table_id, tid))
        row = None if data is None else dml.decode(info, data, None)
        if row is None or dml.pk_slot_key(info, ix.key_of(row)) != slot:
            with self.transaction() as tx:
                return tx.lookup(table, *key)
        self._metrics.rows_read += 1
        return TupleRecord(tid, row)

    def table(self, ref) -> TableStorageDescriptor:
        """The committed descriptor of a table (by name or id)."""
        self._check_open()
        return self._catalog_latest.table(ref).descriptor

    def tables(self) -> list[TableStorageDescriptor]:
        """The tables of the latest committed catalog."""
        self._check_open()
        return [t.descriptor for t in self._catalog_latest.tables.values()]

    def indexes(self, table=None) -> list[IndexStorageDescriptor]:
        """The indexes of the latest committed catalog (of ``table`` when given)."""
        self._check_open()
        cat = self._catalog_latest
        if table is None:
            return [i.descriptor for i in cat.indexes.values()]
        return [i.descriptor for i in cat.table(table).indexes]

    def _new_table_id(self) -> int:
        with self._validate_lock:
            # An open transaction's snapshot may still hold a table dropped since (and the
            # hint starts from the catalog on reopen): never hand out such an id again.
            live = [i for x in list(self._txns.values()) for i in x.catalog.tables]
            n = max([self._id_hint_table, *self._catalog_latest.tables, *live, 0]) + 1
            self._id_hint_table = n
            return n

    def _new_index_id(self) -> int:
        with self._validate_lock:
            ids = [i for c in [self._catalog_latest, *(x.catalog for x in
                                                        list(self._txns.values()))]
                   for i in c.indexes if i < (1 << 63)]
            n = max([self._id_hint_index, *ids, 0]) + 1
            self._id_hint_index = n
            return n
