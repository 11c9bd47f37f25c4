"""StorageEngine: lifecycle, transactions, commit and the engine-wide state.

State shared by threads and its locks:
- ``_validate_lock``: commit validation, commit-ts assignment, the latest (validated) catalog,
  table statistics, the conflict tracker. Held briefly per commit.
- ``_publish_lock``: the published commit ts, catalog and key-space sequence; snapshots are
  taken under it (waiting out a group write not yet published), so a snapshot's key-space
  view, ts and catalog agree.
- The commit queue's own lock (commit.py) orders key-space writes.
Each transaction is used by one thread at a time.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter, deque

from lsmdb._core.batch import WriteBatch
from lsmdb._core.rowstage import batch_overlay
from lsmdb.engine.commit import CommitQueue, ConflictTracker, PendingCommit
from lsmdb.engine.metrics import EngineCounters
from lsmdb.engine.options import StorageOptions, WalCommitPolicy
from lsmdb.engine.recovery import encode_stats, format_record, recover
from lsmdb.engine.session import PythonicSurface
from lsmdb.engine.surface import StorageSurface
from lsmdb.engine.txn import EngineSnapshot, Transaction
from lsmdb.errors import (
    ClosedError,
    ConstraintError,
    FeatureNotSupportedError,
    InvalidArgumentError,
    MemoryLimitError,
    SerializationError,
    TransactionError,
)
from lsmdb.storage_api import (
    CheckpointInfo,
    IsolationLevel,
    RecoveryReport,
    StorageMetrics,
)
from lsmdb.storage_keys import (
    INDEX,
    META_CHECKPOINT_TS,
    META_COMMIT_TS,
    META_FORMAT,
    pack_u64,
    stats_key,
    table_key,
    unpack_u64,
)

__all__ = ["StorageEngine"]

_PRUNE_EVERY = 64


class StorageEngine(StorageSurface, PythonicSurface):
    """The relational storage engine over an LSM key space (SPEC §6).

    ``StorageEngine(StorageOptions.durable(WalConfig(dir=path)))`` opens (or creates) a data
    directory; ``StorageEngine.new_without_wal()`` is memory only. Use as a context manager
    or call ``close()``; afterwards every call raises ClosedError.
    """

    def __init__(self, options: StorageOptions | None = None):
        if options is None:
            options = StorageOptions()
        if not isinstance(options, StorageOptions):
            raise InvalidArgumentError(f"options must be StorageOptions, not {options!r}")
        self.options = options
        self._closed = True
        if options.wal_config is not None:
            from lsmdb.backends.lsm import LsmKeySpace

            self._backend = LsmKeySpace(options.wal_config.dir, options.lsm())
        else:
            from lsmdb.backends.memory import MemoryKeySpace

            self._backend = MemoryKeySpace()
        try:
            self._init_state()
        except BaseException:
            self._backend.close()
            raise
        self._closed = False

    @classmethod
    def new_without_wal(cls) -> StorageEngine:
        """A memory-only engine (no WAL, no files): nothing survives close."""
        return cls(StorageOptions())

    @classmethod
    def new_without_wal_with_memory_limit(cls, limit_bytes: int | None) -> StorageEngine:
        """A memory-only engine whose writes fail with MemoryLimitError (nothing applied) past
        ``limit_bytes``; deletes stay allowed. ``None`` means no limit."""
        return cls(StorageOptions(memory_limit_bytes=limit_bytes))

    @classmethod
    def open(cls, path, *, commit_policy=None, lsm_options=None) -> StorageEngine:
        """Open (or create) a durable engine in directory ``path``."""
        from lsmdb.engine.options import WalCommitPolicy, WalConfig

        return cls(StorageOptions(
            wal_config=WalConfig(dir=path),
            wal_commit_policy=commit_policy or WalCommitPolicy.ALWAYS,
            lsm_options=lsm_options))

    def _init_state(self) -> None:
        b = self._backend
        self._max_value = b.max_value_bytes
        self._max_key = b.max_key_bytes
        st = recover(b)
        if st.fresh:
            batch = WriteBatch()
            batch.put(META_FORMAT, format_record())
            b.write(batch, b.durable)
        self._validate_lock = threading.Lock()
        self._publish_lock = threading.Lock()
        self._published_cv = threading.Condition(self._publish_lock)
        self._publish_waiters = 0
        self._catalog_latest = st.catalog
        self._published_catalog = st.catalog
        # New ids start above every id of the opened catalog, so a table or index dropped
        # while a transaction still sees it never lends its id to a new one (session.py).
        self._id_hint_table = max(st.catalog.tables, default=0)
        self._id_hint_index = max((i for i in st.catalog.indexes if i < (1 << 63)), default=0)
        self._commit_ts = st.commit_ts
        self._published_ts = st.commit_ts
        self._published_seq = b.last_sequence()  # the key space's sequence at _published_ts
        self._checkpoint_ts = st.checkpoint_ts
        self._counters = {tid: itertools.count(n) for tid, n in st.next_tuple_ids.items()}
        self._stats = st.stats
        self._dead: dict[int, deque] = {}
        self._recovery_report = st.report
        self._tracker = ConflictTracker()
        self._horizons: Counter[int] = Counter()
        self._txns: dict[int, Transaction] = {}
        self._txn_ids = itertools.count(1 << 62)  # ids the Pythonic layer hands out
        self._metrics = EngineCounters()
        self._fatal: BaseException | None = None
        self._since_prune = 0
        self._unwritten_bytes = 0  # memory limit: validated commits' bytes not yet written
        self._graph_cache: dict = {}
        policy = self.options.wal_commit_policy if b.durable else WalCommitPolicy.NEVER
        self._queue = CommitQueue(b, policy.schedule(), self._publish)

    # ------------------------------------------------------------------ lifecycle

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError("storage engine is closed")
        if self._fatal is not None:
            raise TransactionError(
                f"a commit failed after validation ({self._fatal!r}); the storage engine "
                f"entered fatal mode and requires close() and reopen")

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closed

    def close(self) -> None:
        """Roll back open transactions, checkpoint (durable engines) and close."""
        if self._closed:
            return
        for txn in list(self._txns.values()):
            self._end(txn, aborted=True)
        try:
            if self._backend.durable and self._fatal is None:
                self._checkpoint()
        finally:
            self._closed = True
            self._backend.close()

    def __enter__(self) -> StorageEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def recovery_report(self) -> RecoveryReport:
        """What opening found: transactions committed since the last checkpoint, the WAL replay
        facts, and per-table RecoveredStatistics."""
        return self._recovery_report

    # ------------------------------------------------------------------ snapshots

    def _take_snapshot(self, horizon: bool = False) -> EngineSnapshot:
        with self._publish_lock:
            keysnap = self._backend.snapshot()
            # A group write is visible in the key space a moment before its leader publishes
            # its ts and catalog: a snapshot taken in between would pair the new rows with the
            # old catalog (a dropped table read as empty, rows in a layout the catalog does
            # not know). Wait for the publication; it follows the write at once.
            while (keysnap.seqno > self._published_seq and not self._closed
                   and self._fatal is None):
                if not self._queue.writing:
                    # No group write under way (a leader clears the flag only after it has
                    # published, which needs this lock): the key space moved by a write from
                    # outside the engine (a tool, a test injecting damage). Nothing to wait for.
                    self._published_seq = keysnap.seqno
                    break
                keysnap.release()
                self._publish_waiters += 1
                self._published_cv.wait(0.05)
                self._publish_waiters -= 1
                keysnap = self._backend.snapshot()
            ts = self._published_ts
            snap = EngineSnapshot(ts, keysnap, self._published_catalog)
            if horizon:
                self._horizons[ts] += 1
        return snap

    def _publish(self, ts: int, catalog) -> None:
        """Called by the commit queue's leader right after its group's write: the key space's
        sequence now is the one that goes with ``ts`` and ``catalog``."""
        with self._publish_lock:
            self._published_seq = self._backend.last_sequence()
            if ts > self._published_ts:
                self._published_ts = ts
            if catalog is not None:
                self._published_catalog = catalog
            if self._publish_waiters:
                self._published_cv.notify_all()

    def _wait_published(self, ts: int) -> None:
        """Block until commit ``ts`` is visible to new snapshots. A transaction that lost to a
        validated commit still being written waits here, so its retry sees the winner
        instead of failing again on the same stale snapshot."""
        with self._published_cv:
            while self._published_ts < ts and not self._closed and self._fatal is None:
                self._publish_waiters += 1
                self._published_cv.wait(0.05)
                self._publish_waiters -= 1

    def _horizon(self) -> int:
        """The oldest snapshot ts a live transaction may still validate against."""
        with self._publish_lock:
            live = [ts for ts, n in self._horizons.items() if n > 0]
            return min(live) if live else self._published_ts

    # ------------------------------------------------------------------ transactions

    def begin_txn(self, txn: int, isolation: IsolationLevel | str = IsolationLevel.SNAPSHOT
                  ) -> None:
        """Begin transaction ``txn`` (a new id) at ``isolation``; TransactionError if active."""
        self._check_open()
        if type(txn) is not int or not 1 <= txn < (1 << 64):
            raise InvalidArgumentError(f"a transaction id is an int in [1, 2**64), got {txn!r} "
                                       f"(0 is the autocommit id)")
        level = IsolationLevel.parse(isolation)
        if txn in self._txns:
            raise TransactionError(f"transaction {txn} is already active in storage")
        self._txns[txn] = Transaction(self, txn, level, self._take_snapshot(horizon=True))

    def _txn(self, txn: int) -> Transaction:
        t = self._txns.get(txn)
        if t is None:
            self._check_open()
            raise TransactionError(f"transaction {txn!r} is not active in storage")
        if self._closed or self._fatal is not None:
            self._check_open()
        return t

    def _end(self, txn: Transaction, aborted: bool) -> None:
        if txn.active:
            txn.finish()
            self._txns.pop(txn.txn_id, None)
            with self._publish_lock:
                self._horizons[txn.begin_ts] -= 1
                if self._horizons[txn.begin_ts] <= 0:
                    del self._horizons[txn.begin_ts]
            if aborted:
                self._metrics.aborted += 1

    def _autocommit(self) -> Transaction:
        self._check_open()
        return Transaction(self, 0, IsolationLevel.SNAPSHOT, self._take_snapshot(horizon=True))

    def rollback_txn(self, txn: int) -> None:
        """Discard transaction ``txn``: nothing of it was ever written to the key space."""
        self._end(self._txn(txn), aborted=True)

    def validate_commit_txn(self, txn: int) -> None:
        """Fail fast: raise the error commit would raise now (nothing is published)."""
        t = self._txn(txn)
        with self._validate_lock:
            self._validate(t)

    def commit_txn(self, txn: int, commit_ts: int | None = None) -> None:
        """Commit atomically. ``commit_ts`` is accepted for the origin's signature; lsmdb
        orders commits itself. On any error the transaction is rolled back."""
        if commit_ts is not None and (type(commit_ts) is not int or commit_ts < 0):
            raise InvalidArgumentError(f"commit_ts must be a non-negative int or None, "
                                       f"got {commit_ts!r}")
        self._commit(self._txn(txn))

    def create_savepoint(self, txn: int) -> int:
        """A savepoint of ``txn``: an opaque id, valid until released or the transaction ends."""
        return self._txn(txn).create_savepoint()

    def rollback_to_savepoint(self, txn: int, savepoint_id: int) -> None:
        """Undo ``txn``'s writes and DDL since ``savepoint_id``; the savepoint stays valid."""
        self._txn(txn).rollback_to_savepoint(savepoint_id)

    def release_savepoint(self, txn: int, savepoint_id: int) -> None:
        """Release ``savepoint_id`` and every later savepoint of ``txn`` (their ids become invalid)."""
        self._txn(txn).release_savepoint(savepoint_id)

    # ------------------------------------------------------------------ commit

    def _catalog_key(self, table_id: int) -> bytes:
        return table_key(table_id)

    def _validate(self, txn: Transaction) -> None:
        """Raise the commit-time error of ``txn`` (called with the validation lock held)."""
        self._check_open()
        tracker = self._tracker
        hit = (tracker.first_conflict(txn.overlay, txn.begin_ts, txn.wts if txn.rc else None)
               or tracker.conflicts(txn.checks.items()))
        if hit is not None:
            key, winner_ts = hit
            if (key[0] == INDEX and txn.overlay.get(key) is not None
                    and tracker.wrote_put(key)):
                ix = self._catalog_latest.indexes.get(unpack_u64(key, 1))
                if ix is not None and ix.unique:
                    exc = ConstraintError(
                        f"duplicate key value violates unique index {ix.name!r}: a concurrent "
                        f"transaction committed the same key")
                    exc.winner_ts = winner_ts
                    raise exc
            self._metrics.serialization_failures += 1
            exc = SerializationError(
                f"could not serialize transaction {txn.txn_id}: a concurrent transaction "
                f"committed a conflicting write (first committer wins)")
            exc.winner_ts = winner_ts
            raise exc
        if txn.serializable:
            key = tracker.read_conflict(txn.begin_ts, txn.reads, txn.read_ranges)
            if key is not None:
                self._metrics.serialization_failures += 1
                raise SerializationError(
                    f"could not serialize transaction {txn.txn_id}: data it read was changed "
                    f"by a transaction that committed after its snapshot")
        limit = self.options.memory_limit_bytes
        if limit is not None and txn.pending_bytes > 0:
            used = self._memory_used()
            if used + txn.pending_bytes > limit:
                raise MemoryLimitError(f"storage memory limit exceeded: {used} bytes used, "
                                       f"{txn.pending_bytes} more needed, limit is {limit} bytes")

    def _memory_used(self) -> int:
        """Bytes in the key space plus those of commits validated but not yet written (they
        are queued behind a group write, so the key space does not show them yet)."""
        b = self._backend
        live = getattr(b, "live_bytes", None)  # the memory backend counts live bytes exactly
        return (b.approximate_memory() if live is None else live) + self._unwritten_bytes

    def _check_memory(self, txn: Transaction, added: int) -> None:
        limit = self.options.memory_limit_bytes
        if limit is None or added <= 0:
            return
        used = self._memory_used()
        if used + txn.pending_bytes + added > limit:
            raise MemoryLimitError(f"storage memory limit exceeded: {used} bytes used, "
                                   f"{txn.pending_bytes + added} more needed, limit is {limit} "
                                   f"bytes")

    def _commit(self, txn: Transaction) -> None:
        try:
            if not txn.overlay and not txn.masks:  # read-only: nothing to validate or write
                self._check_open()
                self._metrics.committed += 1
                self._end(txn, aborted=False)
                return
            batch = WriteBatch()
            for start, stop in txn.masks:
                batch.delete_range(start, stop)
            batch_overlay(batch, txn.overlay)
            with self._validate_lock:
                self._validate(txn)
                ts = self._commit_ts + 1
                self._apply_stats(txn, batch, ts)
                batch.put(META_COMMIT_TS, pack_u64(ts))
                catalog = None
                if txn.own_ddl:
                    catalog = self._catalog_latest
                    for tid in txn.ddl_tables:
                        catalog = catalog.with_table(None, tid).with_table(
                            txn.catalog.tables.get(tid), tid)
                    self._catalog_latest = catalog
                # Prune before recording: commits no live snapshot predates go (one clear
                # when that is all of them); this one stays until a later commit's prune.
                self._since_prune += 1
                if self._since_prune >= _PRUNE_EVERY or len(self._horizons) <= 1:
                    self._since_prune = 0
                    self._tracker.prune(self._horizon())
                self._tracker.record(ts, txn.overlay, txn.marks)
                self._commit_ts = ts
                self._metrics.committed += 1  # under the lock: exact with many threads
                pending = PendingCommit(batch, ts, catalog)
                self._queue.enqueue(pending)
                unwritten = max(txn.pending_bytes, 0) if self.options.memory_limit_bytes else 0
                self._unwritten_bytes += unwritten
            try:
                self._queue.wait(pending)
            except BaseException as exc:
                self._fatal = exc  # validated state (catalog, stats) is ahead of the data
                raise
            finally:
                if unwritten:
                    with self._validate_lock:
                        self._unwritten_bytes -= unwritten
        except (SerializationError, ConstraintError) as exc:
            self._end(txn, aborted=True)
            self._wait_published(getattr(exc, "winner_ts", 0))
            raise
        except BaseException:
            self._end(txn, aborted=True)
            raise
        self._end(txn, aborted=False)

    def _apply_stats(self, txn: Transaction, batch: WriteBatch, ts: int) -> None:
        """Fold the transaction's row changes into the table statistics (validation lock)."""
        touched: dict[int, list[int]] = {}
        ov = txn.overlay
        for key, before in txn.heap_before.items():
            if key not in ov:
                continue
            after = ov[key]
            d = touched.setdefault(unpack_u64(key, 1), [0, 0, 0])
            if before >= 0:
                d[0] -= 1
                d[1] -= before
                d[2] += 1  # the committed version is now dead
            if after is not None:
                d[0] += 1
                d[1] += len(after)
        for tid, info in txn.ddl_tables.items():
            if info is None:
                self._stats.pop(tid, None)
                self._dead.pop(tid, None)
                touched.pop(tid, None)
        for tid, (rows, nbytes, dead) in touched.items():
            s = self._stats.setdefault(tid, [0, 0, 0, []])
            s[0] += rows
            s[1] += nbytes
            s[2] += dead
            if dead:
                self._dead.setdefault(tid, deque()).append((ts, dead))
            batch.put(stats_key(tid), encode_stats(s))

    # ------------------------------------------------------------------ checkpoint, vacuum

    def _write_meta(self, make) -> None:
        """Queue the (key, value) pairs ``make()`` returns as one commit. ``make`` runs under
        the validation lock, so what it reads (statistics, the commit counter) cannot be
        overtaken by a commit queued between reading and queueing (a stale record written
        after a newer one)."""
        with self._validate_lock:
            pairs = make()
            if not pairs:
                return
            batch = WriteBatch()
            for key, value in pairs:
                batch.put(key, value)
            pending = PendingCommit(batch, self._commit_ts, None)
            self._queue.enqueue(pending)
        self._queue.wait(pending)

    def _checkpoint(self) -> CheckpointInfo:
        self._write_meta(lambda: [(META_CHECKPOINT_TS, pack_u64(self._commit_ts))])
        flushed = self._backend.flush()
        self._checkpoint_ts = self._commit_ts
        self._metrics.checkpoints += 1
        return CheckpointInfo(self._backend.last_sequence(), flushed)

    def checkpoint(self) -> CheckpointInfo:
        """Flush the memtable to SSTables; the LSM drops the WAL it covered.
        ``dirty_pages_flushed`` counts memtable entries written."""
        self._check_open()
        if not self._backend.durable:
            raise FeatureNotSupportedError("checkpoint requires WAL-backed durable storage")
        return self._checkpoint()

    def vacuum_table(self, table_id) -> int:
        """Compact the table's key ranges so the LSM drops versions no live snapshot can
        see; returns the number of dead row versions reclaimed."""
        self._check_open()
        t = self._catalog_latest.table(table_id)
        horizon = self._horizon()
        reclaimed = 0

        def reclaim():
            nonlocal reclaimed
            if t.table_id not in self._catalog_latest.tables:
                return None  # dropped meanwhile: its statistics must not come back
            dead = self._dead.get(t.table_id, deque())
            while dead and dead[0][0] <= horizon:
                reclaimed += dead.popleft()[1]
            s = self._stats.get(t.table_id)
            if s is None:
                return None
            if reclaimed:
                s[2] = max(0, s[2] - reclaimed)
            return [(stats_key(t.table_id), encode_stats(s))]

        self._write_meta(reclaim)
        self._backend.compact_range(t.prefix, t.end)
        for ix in t.indexes:
            self._backend.compact_range(ix.prefix, ix.end)
        return reclaimed

    # ------------------------------------------------------------------ metrics

    def metrics(self) -> StorageMetrics:
        """Counters: tables, indexes, rows, transactions, WAL bytes and syncs, memory in use."""
        self._check_open()
        cat = self._catalog_latest
        m = self._metrics
        wal = self._backend.stats()
        with self._validate_lock:
            rows = sum(s[0] for tid, s in self._stats.items() if tid in cat.tables)
            dead = sum(s[2] for tid, s in self._stats.items() if tid in cat.tables)
        return StorageMetrics(
            table_count=len(cat.tables), index_count=len(cat.indexes),
            total_row_count=rows, total_dead_row_count=dead,
            active_transaction_count=len(self._txns),
            estimated_memory_bytes=self._memory_used(),
            wal_written_bytes_total=wal.wal_bytes, wal_durable_flush_total=wal.wal_syncs,
            wal_group_commit_queue_depth_peak=self._queue.depth_peak,
            rows_read_total=m.rows_read, rows_written_total=m.rows_written,
            transactions_committed_total=m.committed, transactions_aborted_total=m.aborted,
            serialization_failures_total=m.serialization_failures,
            commit_groups_total=self._queue.groups, checkpoints_total=m.checkpoints)

    def _tuple_counter(self, table_id: int):
        c = self._counters.get(table_id)
        if c is None:
            c = self._counters.setdefault(table_id, itertools.count(1))
        return c

    # ------------------------------------------------------------------ capabilities

    def supports_vector_search(self) -> bool:
        """False: vector index kinds are not built yet (FeatureNotSupportedError)."""
        return False

    def supports_gin_search(self) -> bool:
        """False: GIN indexes are not built yet (FeatureNotSupportedError)."""
        return False

    def supports_savepoints(self) -> bool:
        """True: savepoints nest and are consistent with the WAL (never logged before commit)."""
        return True

    def supports_durability(self) -> bool:
        """True when the engine has a WAL (not for the memory-only engine)."""
        return self._backend.durable

    def supports_persistent_ordered_indexes(self) -> bool:
        """True when B-tree indexes persist in the LSM (not for the memory-only engine)."""
        return self._backend.durable

    def supports_vacuum(self) -> bool:
        """True: vacuum_table compacts a table's key ranges."""
        return True

    def supports_statistics_logging(self) -> bool:
        """True: log_analyze_stats persists statistics, reported by recovery_report."""
        return True

    def supports_adjacency_lookup(self) -> bool:
        """False: graph-adjacency indexes are not built yet (FeatureNotSupportedError)."""
        return False

