"""One adapter per storage engine, all with the same small interface, for bench/db_bench.py.

Every adapter exposes:

- ``open(path, sync)``: create a fresh store in directory ``path``; ``sync=True`` makes every
  write durable before it returns (fsync), ``False`` leaves it to the OS (all engines alike).
- ``put(key, value)``, ``get(key) -> bytes | None``, ``delete(key)``: attributes bound at open
  to the engine's fastest single-call API, so a benchmark loop pays no adapter frame where the
  engine's own call already has the right shape.
- ``write_batch(pairs)``: apply a list of ``(key, value)`` puts atomically, with the engine's
  idiomatic batch API (WriteBatch, one LMDB write transaction, one SQLite transaction).
- ``scan()``: an iterable of ``(key, value)`` over the whole store in key order.
- ``seek_read(key, n) -> (count, first_key)``: position at the first key >= ``key`` and read up
  to ``n`` entries from there.
- ``read_phase()``: a context manager around a run of read workloads; adapters keep read-side
  state there (a reused iterator, an LMDB read transaction), as db_bench reuses one iterator.
- ``flush()``: push buffered writes down to files (memtable flush, LMDB sync, SQLite WAL
  checkpoint) so the kernel's write counters see them.
- ``compact()``: a full manual compaction where the engine has one (no-op otherwise).
- ``close()``, ``disk_bytes()`` (bytes allocated on disk by the store's directory),
  ``version()`` and ``settings()`` (JSON-ready description of the options used).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence

BLOCK_CACHE_BYTES = 64 << 20  # the same block/page cache budget for every engine that has one
# When set, each engine's block/page cache plus its memtables stay within this many bytes
# (issue 15's rule, "each engine's cache plus memtable <= the same MiB") and
# BLOCK_CACHE_BYTES is not used: lsmdb and RocksDB charge their memtables to a block cache of
# this size (Options.charge_memtables_to_cache; RocksDB's WriteBufferManager costed to its
# cache), LevelDB's cache is the budget less its two 4 MiB write buffers, SQLite's page cache
# is the budget. LMDB has no cache of its own (the kernel's page cache) in either mode.
# None: BLOCK_CACHE_BYTES of cache per engine, memtables on top (db_bench's --cache_size).
MEMORY_BUDGET_BYTES: int | None = None
LEVELDB_WRITE_BUFFER_BYTES = 4 << 20  # LevelDB's default; one active + one being flushed
# Dotted lsmdb option paths applied at open ({"bloom.format": "standard"}): experiments that
# compare lsmdb against itself under one changed option.
LSMDB_OVERRIDES: dict = {}
BLOOM_BITS = 10
LMDB_MAP_SIZE = 64 << 30  # address space only: the file grows with the data


def dir_bytes(path: str) -> tuple[int, int]:
    """(logical bytes, allocated bytes) of every regular file under ``path``."""
    logical = allocated = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except FileNotFoundError:  # an engine deleted an obsolete file meanwhile
                continue
            logical += st.st_size
            allocated += st.st_blocks * 512
    return logical, allocated


class Engine(ABC):
    """Base of the adapters; see the module docstring for the interface."""

    name = ""
    put = None
    get = None
    delete = None

    def __init__(self) -> None:
        self.path = ""
        self.sync = False

    @abstractmethod
    def open(self, path: str, sync: bool) -> None:
        """See the module docstring."""

    @abstractmethod
    def write_batch(self, pairs: Sequence[tuple[bytes, bytes]]) -> None:
        """See the module docstring."""

    @abstractmethod
    def scan(self) -> Iterable[tuple[bytes, bytes]]:
        """See the module docstring."""

    @abstractmethod
    def seek_read(self, key: bytes, n: int) -> tuple[int, bytes | None]:
        """See the module docstring."""

    @contextlib.contextmanager
    def read_phase(self) -> Iterator[None]:
        """Engines without read-side state need no setup around a read phase."""
        yield

    # Whether get may be called from several threads at once (readrandom --threads).
    threaded_reads = True

    @contextlib.contextmanager
    def thread_reads(self) -> Iterator:
        """A get function for the calling thread (engines whose get is thread-safe share
        their own)."""
        yield self.get

    @abstractmethod
    def flush(self) -> None:
        """Push buffered writes down to files (see the module docstring)."""

    @abstractmethod
    def compact(self) -> None:
        """Full manual compaction, where the engine has one."""

    @abstractmethod
    def close(self) -> None:
        """See the module docstring."""

    def disk_bytes(self) -> int:
        return dir_bytes(self.path)[1]

    def logical_bytes(self) -> int:
        return dir_bytes(self.path)[0]

    @abstractmethod
    def version(self) -> str:
        """See the module docstring."""

    def settings(self) -> dict:
        return {}


def _iter_seek_read(it, key: bytes, n: int) -> tuple[int, bytes | None]:
    """seek + n x next over a Python-iterable iterator yielding (key, value)."""
    it.seek(key)
    count = 0
    first = None
    for k, _v in it:
        if first is None:
            first = k
        count += 1
        if count >= n:
            break
    return count, first


def _cursor_seek_read(it, key: bytes, n: int) -> tuple[int, bytes | None]:
    """seek + n x next with valid()/key()/value()/next(), for iterators without Python
    iteration (rocksdict's); one iterator serves every seek, as in db_bench."""
    it.seek(key)
    count = 0
    first = None
    valid, knext, value, step = it.valid, it.key, it.value, it.next
    while count < n and valid():
        k = knext()
        value()
        if first is None:
            first = k
        count += 1
        step()
    return count, first


def _put_all(batch, pairs: Sequence[tuple[bytes, bytes]]) -> None:
    put = batch.put
    for k, v in pairs:
        put(k, v)


class _IteratorReads:
    """Mixin for engines read through an iterator object: ``read_phase`` opens one iterator
    and every ``seek_read`` of the phase reuses it (as db_bench does); outside a phase each
    call opens (and closes) its own. Subclasses name the iterator factory and the seek loop."""

    _it = None

    def _open_iterator(self):
        return self.db.iterator()

    _seek_loop = staticmethod(_cursor_seek_read)

    @staticmethod
    def _close(it) -> None:
        close = getattr(it, "close", None)
        if close is not None:
            close()

    @contextlib.contextmanager
    def read_phase(self) -> Iterator[None]:
        self._it = self._open_iterator()
        try:
            yield
        finally:
            self._close(self._it)
            self._it = None

    def seek_read(self, key: bytes, n: int) -> tuple[int, bytes | None]:
        if self._it is not None:
            return self._seek_loop(self._it, key, n)
        it = self._open_iterator()
        try:
            return self._seek_loop(it, key, n)
        finally:
            self._close(it)


class LsmdbEngine(_IteratorReads, Engine):
    name = "lsmdb"
    # A DBIterator is a Python iterator of (key, value) that stays usable after it runs off
    # the end: seek then iterate, as for plyvel and LMDB's cursor.iternext().
    _seek_loop = staticmethod(_iter_seek_read)

    def open(self, path: str, sync: bool) -> None:
        import lsmdb
        from lsmdb.options import Options

        self.path, self.sync = path, sync
        if MEMORY_BUDGET_BYTES is None:
            self.options = Options(block_cache_bytes=BLOCK_CACHE_BYTES,
                                   wal_sync="always" if sync else "never")
        else:
            self.options = Options(block_cache_bytes=MEMORY_BUDGET_BYTES,
                                   charge_memtables_to_cache=True,
                                   wal_sync="always" if sync else "never")
        if LSMDB_OVERRIDES:
            self.options = self.options.override(LSMDB_OVERRIDES)
        self.db = lsmdb.open(path, self.options)
        self.put = self.db.put
        self.get = self.db.get
        self.delete = self.db.delete

    def write_batch(self, pairs: Sequence[tuple[bytes, bytes]]) -> None:
        with self.db.write_batch() as wb:
            _put_all(wb, pairs)

    def scan(self) -> Iterable[tuple[bytes, bytes]]:
        return self.db.items()

    def flush(self) -> None:
        self.db.flush()

    def compact(self) -> None:
        self.db.compact_range()

    def close(self) -> None:
        self.db.close()

    def stats(self, exact: bool = False) -> dict:
        return self.db.stats(exact=exact).to_dict()

    def version(self) -> str:
        import lsmdb

        return lsmdb.__version__

    def settings(self) -> dict:
        return {"options": self.options.to_dict()}


class PlyvelEngine(_IteratorReads, Engine):
    name = "plyvel"

    def open(self, path: str, sync: bool) -> None:
        import plyvel

        self.path, self.sync = path, sync
        cache = (BLOCK_CACHE_BYTES if MEMORY_BUDGET_BYTES is None
                 else MEMORY_BUDGET_BYTES - 2 * LEVELDB_WRITE_BUFFER_BYTES)
        self.kwargs = dict(create_if_missing=True, bloom_filter_bits=BLOOM_BITS,
                           lru_cache_size=cache, compression="snappy",
                           write_buffer_size=LEVELDB_WRITE_BUFFER_BYTES)
        self.db = plyvel.DB(path, **self.kwargs)
        if sync:
            self.put = functools.partial(self.db.put, sync=True)
            self.delete = functools.partial(self.db.delete, sync=True)
        else:
            self.put = self.db.put
            self.delete = self.db.delete
        self.get = self.db.get

    _seek_loop = staticmethod(_iter_seek_read)

    def write_batch(self, pairs: Sequence[tuple[bytes, bytes]]) -> None:
        with self.db.write_batch(sync=self.sync) as wb:
            _put_all(wb, pairs)

    def scan(self) -> Iterable[tuple[bytes, bytes]]:
        return self.db.iterator()

    def flush(self) -> None:
        """LevelDB has no memtable-flush call; its log reaches the OS with write(2) on every
        write, so the kernel counters already see it."""

    def compact(self) -> None:
        self.db.compact_range()

    def close(self) -> None:
        self.db.close()

    def version(self) -> str:
        import plyvel

        return f"plyvel {plyvel.__version__}, LevelDB {plyvel.__leveldb_version__}"

    def settings(self) -> dict:
        return {"plyvel.DB": self.kwargs, "sync_writes": self.sync}


class RocksdictEngine(_IteratorReads, Engine):
    name = "rocksdict"

    def open(self, path: str, sync: bool) -> None:
        import rocksdict

        self.path, self.sync = path, sync
        opts = rocksdict.Options(raw_mode=True)
        opts.create_if_missing(True)
        table = rocksdict.BlockBasedOptions()
        table.set_bloom_filter(BLOOM_BITS, False)
        cache = rocksdict.Cache(BLOCK_CACHE_BYTES if MEMORY_BUDGET_BYTES is None
                                else MEMORY_BUDGET_BYTES)
        table.set_block_cache(cache)
        opts.set_block_based_table_factory(table)
        if MEMORY_BUDGET_BYTES is not None:
            # Memtables charged to the block cache; the manager's own limit is the budget,
            # above what the default two 64 MiB write buffers reach before a flush, so it
            # triggers no extra flush and never stalls writers.
            opts.set_write_buffer_manager(
                rocksdict.WriteBufferManager.new_write_buffer_manager_with_cache(
                    MEMORY_BUDGET_BYTES, False, cache))
        # Without column_families the filter policy is dropped when the DB is reopened.
        self.db = rocksdict.Rdict(path, opts, column_families={"default": opts})
        wopts = rocksdict.WriteOptions()
        wopts.sync = sync
        self.db.set_write_options(wopts)
        self._wopts = wopts
        self._wb = rocksdict.WriteBatch
        self.put = self.db.put
        self.get = self.db.get
        self.delete = self.db.delete

    def _open_iterator(self):
        return self.db.iter()

    def write_batch(self, pairs: Sequence[tuple[bytes, bytes]]) -> None:
        wb = self._wb(raw_mode=True)
        _put_all(wb, pairs)
        self.db.write(wb, self._wopts)

    def scan(self) -> Iterable[tuple[bytes, bytes]]:
        return self.db.items()

    def flush(self) -> None:
        self.db.flush(True)

    def compact(self) -> None:
        self.db.compact_range(None, None)

    def close(self) -> None:
        self.db.close()

    def version(self) -> str:
        from lsmdb.bench.rocks import rocksdict_version

        return rocksdict_version(self.path)

    def settings(self) -> dict:
        memory = ({"block_cache_bytes": BLOCK_CACHE_BYTES} if MEMORY_BUDGET_BYTES is None else
                  {"block_cache_bytes": MEMORY_BUDGET_BYTES,
                   "write_buffer_manager": {"buffer_size": MEMORY_BUDGET_BYTES,
                                            "allow_stall": False, "cost_to_cache": True}})
        return {"raw_mode": True, "bloom_filter": [BLOOM_BITS, False], **memory,
                "column_families": ["default"],
                "write_options.sync": self.sync,
                "rest": "RocksDB defaults (snappy, 64 MiB write buffer, 2 background jobs)"}


class LmdbEngine(Engine):
    name = "lmdb"

    def open(self, path: str, sync: bool) -> None:
        import lmdb

        self.path, self.sync = path, sync
        os.makedirs(path, exist_ok=True)
        self.kwargs = dict(map_size=LMDB_MAP_SIZE, writemap=False, sync=sync, metasync=sync,
                           max_dbs=0, lock=True)
        self.env = lmdb.open(path, **self.kwargs)
        env = self.env

        def put(key, value):
            with env.begin(write=True) as txn:
                txn.put(key, value)

        def get(key):
            with env.begin() as txn:
                return txn.get(key)

        def delete(key):
            with env.begin(write=True) as txn:
                txn.delete(key)

        self.put, self.get, self.delete = put, get, delete
        self._single_get = get
        self._cursor = None

    def write_batch(self, pairs: Sequence[tuple[bytes, bytes]]) -> None:
        with self.env.begin(write=True) as txn:
            txn.cursor().putmulti(pairs)

    def scan(self) -> Iterable[tuple[bytes, bytes]]:
        # The cursor keeps its read transaction alive until the iteration is dropped.
        return self.env.begin().cursor().iternext()

    @contextlib.contextmanager
    def thread_reads(self) -> Iterator:
        """A read transaction per thread (an LMDB transaction belongs to its thread)."""
        txn = self.env.begin()
        try:
            yield txn.get
        finally:
            txn.abort()

    @contextlib.contextmanager
    def read_phase(self) -> Iterator[None]:
        txn = self.env.begin()
        self.get = txn.get
        self._cursor = txn.cursor()
        try:
            yield
        finally:
            self._cursor = None
            self.get = self._single_get
            txn.abort()

    def seek_read(self, key: bytes, n: int) -> tuple[int, bytes | None]:
        if self._cursor is None:
            with self.env.begin() as txn:
                return self._cursor_seek_read(txn.cursor(), key, n)
        return self._cursor_seek_read(self._cursor, key, n)

    @staticmethod
    def _cursor_seek_read(cur, key: bytes, n: int) -> tuple[int, bytes | None]:
        if not cur.set_range(key):
            return 0, None
        count = 0
        first = None
        for k, _v in cur.iternext():
            if first is None:
                first = k
            count += 1
            if count >= n:
                break
        return count, first

    def flush(self) -> None:
        self.env.sync(True)

    def compact(self) -> None:
        """LMDB has no compaction: its B+tree reuses freed pages in place."""

    def close(self) -> None:
        self.env.close()

    def version(self) -> str:
        import lmdb

        return f"py-lmdb {lmdb.__version__}, LMDB {'.'.join(map(str, lmdb.version()))}"

    def settings(self) -> dict:
        return {"lmdb.open": self.kwargs, "single put": "one write transaction per call",
                "write_batch": "one write transaction, Cursor.putmulti"}


class SqliteEngine(Engine):
    name = "sqlite3"
    threaded_reads = False  # one connection, usable only from the thread that opened it

    def open(self, path: str, sync: bool) -> None:
        self.path, self.sync = path, sync
        os.makedirs(path, exist_ok=True)
        self.con = sqlite3.connect(os.path.join(path, "kv.sqlite"), isolation_level=None,
                                   check_same_thread=False)
        self.pragmas = {"journal_mode": "WAL", "synchronous": "FULL" if sync else "OFF",
                        "cache_size": -((BLOCK_CACHE_BYTES if MEMORY_BUDGET_BYTES is None
                                         else MEMORY_BUDGET_BYTES) >> 10)}
        for k, v in self.pragmas.items():
            self.con.execute(f"PRAGMA {k}={v}")
        self.con.execute("CREATE TABLE IF NOT EXISTS kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID")
        execute = self.con.execute
        put_sql = "INSERT OR REPLACE INTO kv(k, v) VALUES (?, ?)"
        get_sql = "SELECT v FROM kv WHERE k = ?"
        del_sql = "DELETE FROM kv WHERE k = ?"

        def put(key, value):
            execute(put_sql, (key, value))

        def get(key):
            row = execute(get_sql, (key,)).fetchone()
            return None if row is None else row[0]

        def delete(key):
            execute(del_sql, (key,))

        self.put, self.get, self.delete = put, get, delete
        self._put_sql = put_sql

    def write_batch(self, pairs: Sequence[tuple[bytes, bytes]]) -> None:
        con = self.con
        con.execute("BEGIN")
        try:
            con.executemany(self._put_sql, pairs)
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def scan(self) -> Iterable[tuple[bytes, bytes]]:
        return self.con.execute("SELECT k, v FROM kv ORDER BY k")

    def seek_read(self, key: bytes, n: int) -> tuple[int, bytes | None]:
        rows = self.con.execute("SELECT k, v FROM kv WHERE k >= ? ORDER BY k LIMIT ?",
                                (key, n)).fetchall()
        return len(rows), (rows[0][0] if rows else None)

    def flush(self) -> None:
        self.con.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def compact(self) -> None:
        """Kept as is: VACUUM rewrites the whole file, which is not what an LSM compaction
        is; the WAL was already folded in by flush()."""

    def close(self) -> None:
        self.con.close()

    def version(self) -> str:
        return f"sqlite3 {sqlite3.sqlite_version}"

    def settings(self) -> dict:
        return {"pragmas": self.pragmas, "table": "kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID",
                "single put": "INSERT OR REPLACE in autocommit mode",
                "write_batch": "BEGIN; executemany; COMMIT"}


ENGINES: dict[str, type[Engine]] = {
    cls.name: cls for cls in (LsmdbEngine, PlyvelEngine, RocksdictEngine, LmdbEngine,
                              SqliteEngine)
}

_IMPORT_NAMES = {"lsmdb": "lsmdb.lsm.db", "plyvel": "plyvel", "rocksdict": "rocksdict",
                 "lmdb": "lmdb", "sqlite3": "sqlite3"}


def importable(name: str) -> str | None:
    """None if engine ``name`` can be used here, else the reason it cannot."""
    import importlib

    if name not in ENGINES:
        return f"unknown engine {name!r} (known: {', '.join(ENGINES)})"
    try:
        importlib.import_module(_IMPORT_NAMES[name])
    except ImportError as exc:
        return f"{_IMPORT_NAMES[name]} is not importable: {exc}"
    return None


def make(name: str) -> Engine:
    return ENGINES[name]()
