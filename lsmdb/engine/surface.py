"""The StorageDDL / StorageDML surface of StorageEngine (ORIGIN.md §1 in snake_case).

Every call resolves its transaction (``txn`` 0 = autocommit: one statement in its own
transaction, committed at once), starts a statement (READ COMMITTED takes a fresh snapshot),
checks its arguments eagerly (scans raise at call time, not at the first ``next``) and
delegates to dml / scan / ddl. Index kinds not built yet raise FeatureNotSupportedError.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any

from lsmdb.engine import ddl, dml, scan
from lsmdb.engine.recovery import encode_stats
from lsmdb.errors import FeatureNotSupportedError, InvalidArgumentError, SchemaError
from lsmdb.storage_api import (
    UNBOUNDED,
    Excluded,
    Included,
    KeyRange,
    TupleRecord,
    Unbounded,
    check_finite,
)
from lsmdb.storage_keys import heap_key, prefix_end

__all__ = ["StorageSurface"]


def _check_count(name: str, value: Any, optional: bool = False) -> int | None:
    if optional and value is None:
        return None
    if type(value) is not int or value < 0:
        raise InvalidArgumentError(f"{name} must be a non-negative int, got {value!r}")
    return value


def _check_bound(name: str, b: Any):
    if b is None:
        return UNBOUNDED
    if not isinstance(b, (Included, Excluded, Unbounded)):
        raise InvalidArgumentError(f"{name} must be UNBOUNDED, Included(v) or Excluded(v), "
                                   f"got {b!r}")
    return b


class StorageSurface:
    # ------------------------------------------------------------------ plumbing

    def _stmt(self, txn_id):
        if txn_id == 0 and type(txn_id) is int:
            return self._autocommit(), True
        t = self._txn(txn_id)
        t.statement()
        return t, False

    def _write(self, txn_id, fn):
        t, auto = self._stmt(txn_id)
        if not auto:
            return fn(t)
        try:
            result = fn(t)
        except BaseException:
            self._end(t, aborted=True)
            raise
        self._commit(t)
        return result

    def _read(self, txn_id, fn):
        t, auto = self._stmt(txn_id)
        if not auto:
            return fn(t)
        try:
            return fn(t)
        finally:
            self._end(t, aborted=False)

    def _stream(self, txn_id, make) -> Iterator[TupleRecord]:
        """``make(txn)`` validates and returns an iterator; autocommit ends with it."""
        t, auto = self._stmt(txn_id)
        if not auto:
            return make(t)
        try:
            it = make(t)
        except BaseException:
            self._end(t, aborted=False)
            raise

        def run():
            try:
                yield from it
            finally:
                self._end(t, aborted=False)
        return run()

    # ------------------------------------------------------------------ DDL

    def create_table_storage(self, txn, table) -> None:
        self._write(txn, lambda t: ddl.create_table(t, table))

    def create_index_storage(self, txn, index) -> None:
        self._write(txn, lambda t: ddl.create_index(t, index))

    def alter_table_storage(self, txn, table) -> None:
        self._write(txn, lambda t: ddl.alter_table(t, table))

    def drop_table_storage(self, txn, table_id) -> None:
        self._write(txn, lambda t: ddl.drop_table(t, table_id))

    def drop_index_storage(self, txn, index_id) -> None:
        self._write(txn, lambda t: ddl.drop_index(t, index_id))

    def reindex_vector_index_storage(self, txn, index_id) -> None:
        raise FeatureNotSupportedError(
            "REINDEX VECTOR is not supported by this storage backend (no vector index kind yet)")

    # ------------------------------------------------------------------ DML writes

    def insert(self, txn, table_id, row) -> int:
        return self._write(txn, lambda t: dml.insert_rows(t, t.catalog.table(table_id),
                                                          (row,))[0])

    def insert_batch(self, txn, table_id, rows: Sequence) -> list[int]:
        if isinstance(rows, (str, bytes)) or not isinstance(rows, Sequence):
            raise InvalidArgumentError(f"rows must be a sequence of rows, got {rows!r}")
        return self._write(txn, lambda t: dml.insert_rows(t, t.catalog.table(table_id), rows))

    def update(self, txn, table_id, tuple_id, row) -> int:
        return self._write(txn, lambda t: dml.update_row(t, t.catalog.table(table_id),
                                                         tuple_id, row))

    def delete(self, txn, table_id, tuple_id) -> None:
        self._write(txn, lambda t: dml.delete_row(t, t.catalog.table(table_id), tuple_id))

    # ------------------------------------------------------------------ point reads

    def fetch(self, txn, table_id, tuple_id, projected_columns=None) -> tuple | None:
        if txn == 0 and type(txn) is int:
            # Autocommit point read: one key-space get is consistent by itself, so no
            # transaction or snapshot is needed (the common primary-key fetch path).
            self._check_open()
            info = self._published_catalog.table(table_id)
            positions = dml.projection_positions(info, projected_columns)
            if type(tuple_id) is not int or tuple_id < 0:
                raise InvalidArgumentError(f"a tuple id is a non-negative int, not {tuple_id!r}")
            data = self._backend.get(heap_key(info.table_id, tuple_id))
            if data is None:
                return None
            self._metrics.rows_read += 1
            return dml.decode(info, data, positions)

        def run(t):
            info = t.catalog.table(table_id)
            return dml.fetch_row(t, info, tuple_id,
                                 dml.projection_positions(info, projected_columns))
        return self._read(txn, run)

    def fetch_ref(self, txn, table_id, tuple_id, projected_columns=None) -> tuple | None:
        return self.fetch(txn, table_id, tuple_id, projected_columns)

    # ------------------------------------------------------------------ table scans

    def scan_table(self, txn, table_id, projected_columns=None) -> Iterator[TupleRecord]:
        def make(t):
            info = t.catalog.table(table_id)
            return scan.heap_scan(t, info, dml.projection_positions(info, projected_columns))
        return self._stream(txn, make)

    def scan_table_limited(self, txn, table_id, projected_columns, offset: int,
                           limit: int | None) -> Iterator[TupleRecord]:
        _check_count("offset", offset)
        _check_count("limit", limit, optional=True)

        def make(t):
            info = t.catalog.table(table_id)
            it = scan.heap_scan(t, info, dml.projection_positions(info, projected_columns))
            return islice(it, offset, None if limit is None else offset + limit)
        return self._stream(txn, make)

    def scan_table_shard(self, txn, table_id, shard_id, projected_columns=None):
        raise FeatureNotSupportedError("sharded tables are not supported by this storage engine")

    def _filtered(self, txn, table_id, make_filters, projected_columns, max_matches=None):
        _check_count("max_matches", max_matches, optional=True)

        def make(t):
            info = t.catalog.table(table_id)
            positions = dml.projection_positions(info, projected_columns)
            return scan.filter_scan(t, info, make_filters(info), positions, max_matches)
        return self._stream(txn, make)

    def scan_table_eq_filter(self, txn, table_id, filter_column, filter_value,
                             projected_columns=None):
        return self._filtered(txn, table_id, lambda i: [
            scan.Filter(i, filter_column, "eq", (filter_value,))], projected_columns)

    def scan_table_eq_filter_limited(self, txn, table_id, filter_column, filter_value,
                                     projected_columns, max_matches):
        return self._filtered(txn, table_id, lambda i: [
            scan.Filter(i, filter_column, "eq", (filter_value,))], projected_columns,
            max_matches)

    def scan_table_range_filter(self, txn, table_id, filter_column, lower, upper,
                                projected_columns=None):
        lower, upper = _check_bound("lower", lower), _check_bound("upper", upper)
        return self._filtered(txn, table_id, lambda i: [
            scan.Filter(i, filter_column, "range", lower=lower, upper=upper)],
            projected_columns)

    def scan_table_null_filter(self, txn, table_id, filter_column, is_not_null: bool,
                               projected_columns=None):
        if type(is_not_null) is not bool:
            raise InvalidArgumentError(f"is_not_null must be a bool, got {is_not_null!r}")
        return self._filtered(txn, table_id, lambda i: [
            scan.Filter(i, filter_column, "null", is_not_null=is_not_null)], projected_columns)

    def _range_filters(self, info, filters):
        if isinstance(filters, (str, bytes)) or not isinstance(filters, Sequence):
            raise InvalidArgumentError(f"filters must be a sequence of (column, lower, upper), "
                                       f"got {filters!r}")
        out = []
        for f in filters:
            if not isinstance(f, (tuple, list)) or len(f) != 3:
                raise InvalidArgumentError(f"a range filter is (column, lower, upper), got {f!r}")
            out.append(scan.Filter(info, f[0], "range", lower=_check_bound("lower", f[1]),
                                   upper=_check_bound("upper", f[2])))
        return out

    def scan_table_multi_range_filter(self, txn, table_id, filters, projected_columns=None):
        return self._filtered(txn, table_id, lambda i: self._range_filters(i, filters),
                              projected_columns)

    def scan_table_in_filter(self, txn, table_id, filter_column, filter_values,
                             projected_columns=None):
        if isinstance(filter_values, (str, bytes)) or not isinstance(filter_values, Sequence):
            raise InvalidArgumentError(f"filter_values must be a sequence, got {filter_values!r}")
        return self._filtered(txn, table_id, lambda i: [
            scan.Filter(i, filter_column, "in", tuple(filter_values))], projected_columns)

    # ------------------------------------------------------------------ counts

    def visible_row_count(self, txn, table_id) -> int:
        def run(t):
            info = t.catalog.table(table_id)
            return sum(1 for _ in t.scan(info.prefix, info.end))
        return self._read(txn, run)

    def visible_eq_row_count(self, txn, table_id, filter_column, filter_value) -> int:
        def run(t):
            info = t.catalog.table(table_id)
            f = scan.Filter(info, filter_column, "eq", (filter_value,))
            ix = scan.leading_index(info, f.pos)
            if ix is not None and not f.empty():
                return sum(1 for _ in f.index_entries(t, ix))
            return sum(1 for _ in scan.filter_scan(t, info, [f], None))
        return self._read(txn, run)

    def try_prove_filter_empty(self, txn, table_id, column_predicates) -> bool | None:
        """True when no visible row matches every predicate, else False (always decided)."""
        def run(t):
            info = t.catalog.table(table_id)
            filters = self._range_filters(info, column_predicates)
            return next(iter(scan.filter_scan(t, info, filters, (), 1)), None) is None
        return self._read(txn, run)

    # ------------------------------------------------------------------ index reads

    def _btree(self, t, index_id):
        ix = t.catalog.index(index_id)
        return ix, t.catalog.table(ix.table_id)

    def _range(self, ix, key_range):
        if not isinstance(key_range, KeyRange):
            raise InvalidArgumentError(f"key_range must be a KeyRange, got {key_range!r}")
        return ix.key_range_bytes(key_range)

    def scan_index(self, txn, index_id, key_range, projected_columns=None):
        return self.scan_index_ordered(txn, index_id, key_range, projected_columns, False)

    def scan_index_limited(self, txn, index_id, key_range, projected_columns, limit):
        return self.scan_index_ordered_limited(txn, index_id, key_range, projected_columns,
                                               False, limit)

    def scan_index_ordered(self, txn, index_id, key_range, projected_columns, descending):
        return self.scan_index_ordered_limited(txn, index_id, key_range, projected_columns,
                                               descending, None)

    def scan_index_ordered_limited(self, txn, index_id, key_range, projected_columns,
                                   descending, limit):
        if type(descending) is not bool:
            raise InvalidArgumentError(f"descending must be a bool, got {descending!r}")
        _check_count("limit", limit, optional=True)

        def make(t):
            ix, info = self._btree(t, index_id)
            start, stop = self._range(ix, key_range)
            positions = dml.projection_positions(info, projected_columns)
            it = scan.rows_for_entries(t, info, ix, scan.index_entries(
                t, ix, start, stop, descending), positions)
            return it if limit is None else islice(it, limit)
        return self._stream(txn, make)

    def _entries(self, t, index_id, key_range):
        ix, _ = self._btree(t, index_id)
        start, stop = self._range(ix, key_range)
        return ix, scan.index_entries(t, ix, start, stop)

    def visible_index_row_count(self, txn, index_id, key_range) -> int:
        return self._read(txn, lambda t: sum(1 for _ in self._entries(t, index_id,
                                                                       key_range)[1]))

    def index_candidate_tuple_ids(self, txn, index_id, key_range) -> list[int]:
        def run(t):
            ix, entries = self._entries(t, index_id, key_range)
            return [ix.entry_tuple_id(k, v) for k, v in entries]
        return self._read(txn, run)

    def visible_index_group_counts(self, txn, index_id, key_range) -> list[tuple[Any, int]]:
        """(leading key value, visible entries) per distinct leading value, in index order."""
        def run(t):
            ix, entries = self._entries(t, index_id, key_range)
            out: list[list] = []
            last = None
            for k, _ in entries:
                lead = ix.leading_bytes(k)
                if lead == last:
                    out[-1][1] += 1
                else:
                    last = lead
                    out.append([ix.decode_leading(k)[0], 1])
            return [(v, n) for v, n in out]
        return self._read(txn, run)

    def visible_index_group_count_rows(self, txn, index_id, key_range) -> list[tuple]:
        return [tuple(x) for x in self.visible_index_group_counts(txn, index_id, key_range)]

    def _index_extreme(self, txn, index_id, want_max: bool):
        def run(t):
            ix, _ = self._btree(t, index_id)
            # Ascending: the minimum is first; descending columns reverse that.
            reverse = want_max != bool(ix.flags[0] & 1)
            for k, _ in scan.index_entries(t, ix, ix.prefix, ix.end, reverse, skip_nulls=True):
                return ix.decode_leading(k)[0]
            return None
        return self._read(txn, run)

    def index_min_single_column_value(self, txn, index_id):
        return self._index_extreme(txn, index_id, False)

    def index_max_single_column_value(self, txn, index_id):
        return self._index_extreme(txn, index_id, True)

    # ------------------------------------------------------------------ index kinds not built

    def vector_search(self, txn, index_id, query, k, ef=None, tuple_id_filter=None,
                      max_search_duration=None, interrupt_checker=None):
        raise FeatureNotSupportedError("vector search is not supported by this storage engine "
                                       "yet (no HNSW / IVF-flat index kind)")

    def gin_containment_search(self, txn, index_id, pattern):
        raise FeatureNotSupportedError("GIN containment search is not supported by this "
                                       "storage engine yet")

    def gin_containment_search_limited(self, txn, index_id, pattern, visible_limit):
        return self.gin_containment_search(txn, index_id, pattern)

    def _no_adjacency(self, *args, **kwargs):
        raise FeatureNotSupportedError("no adjacency index for this edge table (adjacency "
                                       "indexes are not supported by this storage engine yet)")

    register_edge_table = unregister_edge_table = _no_adjacency
    adjacency_lookup = adjacency_neighbors = adjacency_edges = _no_adjacency
    adjacency_weighted_edges = adjacency_edge_endpoints = _no_adjacency
    adjacency_edge_cursor = adjacency_neighbor_cursor = _no_adjacency

    def adjacency_index_available(self, txn, edge_table_id) -> bool:
        return False

    def adjacency_index_has_edges(self, txn, edge_table_id) -> bool:
        return False

    def adjacency_index_stats(self, txn, edge_table_id):
        return None

    def apply_replicated_wal_entry(self, record_bytes) -> None:
        raise FeatureNotSupportedError("replicated WAL apply is not supported by this storage "
                                       "engine")

    # ------------------------------------------------------------------ caches, statistics

    def cache_generation(self) -> int | None:
        """Bumped by every commit: cached read results keyed by it stay correct."""
        self._check_open()
        return self._published_ts

    def graph_projection_cache_get(self, namespace: str, cache_key: str, generation: int):
        self._check_open()
        return self._graph_cache.get((namespace, cache_key, generation))

    def graph_projection_cache_put(self, namespace: str, cache_key: str, generation: int,
                                   payload: bytes) -> None:
        self._check_open()
        if not isinstance(payload, (bytes, bytearray, memoryview)):
            raise InvalidArgumentError(f"payload must be bytes, got {type(payload).__name__}")
        if generation != self._published_ts:
            return  # a stale generation would serve outdated data: not cached
        cache = self._graph_cache
        for key in [k for k in cache if k[2] != generation]:
            del cache[key]
        cache[(namespace, cache_key, generation)] = bytes(payload)

    def log_analyze_stats(self, table_id, row_count: int, total_bytes: int,
                          dead_row_count: int, column_stats) -> None:
        """Record ANALYZE statistics for a table (persisted at once; reported by
        recovery_report after a reopen)."""
        self._check_open()
        info = self._catalog_latest.table(table_id)
        for name, v in (("row_count", row_count), ("total_bytes", total_bytes),
                        ("dead_row_count", dead_row_count)):
            _check_count(name, v)
        cols = []
        for c in column_stats:
            if not isinstance(c, (tuple, list)) or len(c) != 4:
                raise InvalidArgumentError(f"a column stat is (column_id, f64, f64, u32), "
                                           f"got {c!r}")
            if c[0] not in info.positions:
                raise SchemaError(f"table {info.name!r} has no column id {c[0]!r}")
            cols.append((c[0], check_finite("column_stats", "value", c[1]),
                         check_finite("column_stats", "value", c[2]),
                         _check_count("column_stats count", c[3])))
        with self._validate_lock:
            s = [row_count, total_bytes, dead_row_count, cols]
            self._stats[info.table_id] = s
            data = encode_stats(s)
        from lsmdb.storage_keys import stats_key

        self._write_meta(stats_key(info.table_id), data)

    # ------------------------------------------------------------------ tools

    def verify_indexes(self, table_id) -> list[str]:
        """Compare every index of the table with the entries its rows imply (latest committed
        state); returns a list of problems, empty when all indexes equal their table."""
        def run(t):
            info = t.catalog.table(table_id)
            problems = []
            rows = list(scan.heap_scan(t, info, None))
            for ix in info.indexes:
                want = dict(ix.entry(r.row, r.tuple_id) for r in rows)
                have = dict(t.scan(ix.prefix, prefix_end(ix.prefix)))
                for k in want.keys() - have.keys():
                    problems.append(f"index {ix.name!r}: entry for tuple "
                                    f"{ix.entry_tuple_id(k, want[k])} missing")
                for k in have.keys() - want.keys():
                    problems.append(f"index {ix.name!r}: stray entry for tuple "
                                    f"{ix.entry_tuple_id(k, have[k])}")
                for k in want.keys() & have.keys():
                    if want[k] != have[k]:
                        problems.append(f"index {ix.name!r}: wrong value for tuple "
                                        f"{ix.entry_tuple_id(k, want[k])}")
            return problems
        return self._read(0, run)
