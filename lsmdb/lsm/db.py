"""lsmdb.DB: the LSM key-value store (SPEC §1, §3, §4).

Directory layout (SPEC §3): LOCK, CONTRACT, CURRENT, MANIFEST-<n>, OPTIONS-<n>.json,
wal/<n>.log, sst/<n>.sst.

Concurrency model:
- ``_mutex`` (with condition ``_cv``) guards the writer queue, the memtable list, the
  background-work state and snapshots. Reads take no lock: they read ``_sv`` (the "super
  version": active memtable, immutable memtables, Version), a tuple replaced atomically.
- Writers queue up (LevelDB's group commit): the writer at the head merges the batches
  queued behind it, appends them to the WAL as one record, fsyncs once if any of them asked
  for it, inserts into the memtable with the mutex released, then publishes the new last
  sequence number, which is what makes the whole batch visible at once. A single put or
  delete with no writer queued is one C call instead (``put`` / ``delete``, compiled in
  lsmdb/_core/writefront.pyx): it takes the mutex, appends, inserts and publishes.
- One background thread (or more: ``background_threads``) flushes immutable memtables to L0
  and runs compactions picked by the compaction policy. MANIFEST edits are serialized by
  ``_version_lock``.
- A background error (I/O during flush/compaction/WAL write) stops writes with
  BackgroundError until ``resume()``; acknowledged writes stay in the WAL. An interrupt
  (KeyboardInterrupt, SystemExit) raised in the caller's thread is not one: the write it
  struck is applied whole or not at all (``_log_and_insert``) and the DB stays writable.
- ``close()`` fences: from its first step new writes and operations get ClosedError; it
  waits for the writer queue (a leader inside its WAL append included) and for running
  operations (``_operation``) to drain, stops the background threads, then closes files.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import warnings
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from lsmdb import wal as walmod
from lsmdb._core import dbread, writefront
from lsmdb._core.batch import WriteBatch
from lsmdb._core.ikey import MAX_SEQNO
from lsmdb._core.ikey import PUT as _TYPE_PUT
from lsmdb._core.keycodec import prefix_successor
from lsmdb._core.leveliter import LevelIterator
from lsmdb._core.memtable import Memtable
from lsmdb._core.writefront import FrontField, FrontMethod, WriteFront
from lsmdb._version import __version__
from lsmdb.env import Env, default_env, fs_path
from lsmdb.errors import (
    BackgroundError,
    BusyError,
    ClosedError,
    ContractError,
    CorruptionError,
    FeatureNotSupportedError,
    FormatVersionError,
    InvalidArgumentError,
    LockError,
    StorageIOError,
    describe_error,
)
from lsmdb.killpoint import kill_point
from lsmdb.lsm import read_only_view
from lsmdb.lsm.compaction import CompactionJob, VersionView, manual_jobs
from lsmdb.lsm.compactor import run_compaction
from lsmdb.lsm.iterators import DBIterator, Snapshot
from lsmdb.lsm.options_file import latest_options_file, resolve_options
from lsmdb.lsm.stats import DBStats, StatsCollector, StatsSources
from lsmdb.lsm.styles import policy_for
from lsmdb.lsm.table_cache import TableCache, table_path
from lsmdb.lsm.table_writer import TableOutput
from lsmdb.lsm.unlisted_tables import (
    STRICT_MODES,
    find_unlisted_tables,
    lost_records_error,
    salvage,
)
from lsmdb.lsm.version import VersionSet, missing_table_error
from lsmdb.lsm.version_edit import VersionEdit
from lsmdb.options import Options, keyword_overrides
from lsmdb.wal.commit_policy import WalCommitPolicy

CONTRACT_FORMAT_VERSION = 1
_OPEN_DIRS: set[str] = set()  # fcntl locks do not exclude the same process: track here
_OPEN_DIRS_LOCK = threading.Lock()
# Group commit: a synced group's leader waits for the last group's threads to queue again
# for at most this share of a synced write's time, and at most this long.
_GATHER_SHARE = 0.2
_GATHER_MAX_SECONDS = 0.001
_Key = bytes | bytearray | memoryview  # any buffer is accepted; bytes are returned
_Path = str | bytes | os.PathLike


_as_bytes = dbread.as_bytes  # any buffer as bytes; TypeError naming the argument otherwise


def _check_range(start: bytes, end: bytes) -> None:
    """A range delete needs start <= end (RocksDB: InvalidArgument); start == end is empty."""
    if start > end:
        raise InvalidArgumentError(
            f"delete_range: start {start[:40]!r} is after end {end[:40]!r}; the range is "
            f"[start, end) and needs start <= end")


class _MemRef:
    """A memtable with the WAL segment holding its writes and its fragmented tombstones."""

    __slots__ = ("mem", "wal_number", "_frag", "_frag_count")

    def __init__(self, mem: Memtable, wal_number: int):
        self.mem = mem
        self.wal_number = wal_number
        self._frag = None
        self._frag_count = -1

    def tombstones(self):
        n = self.mem.num_range_deletes
        if n == 0:
            return None
        if n != self._frag_count:
            from lsmdb._core.rangedel import FragmentedRangeTombstones

            self._frag = FragmentedRangeTombstones(self.mem.range_tombstones())
            self._frag_count = n
        return self._frag


class _Writer:
    __slots__ = ("batch", "sync", "done", "error", "taken", "thread")

    def __init__(self, batch: WriteBatch, sync: bool):
        self.batch = batch
        self.sync = sync
        self.thread = threading.get_ident()  # group commit counts the threads that sync
        self.done = False
        self.error: BaseException | None = None
        self.taken = False  # in a group a leader is writing: only the leader may dequeue it


class WriteBatchContext:
    """A write batch from :meth:`DB.write_batch`: its operations apply atomically, all or none.

    Apply it with :meth:`write` (or ``db.write(wb)``), or use it as a context manager —
    ``with db.write_batch() as wb:`` writes it when the block ends cleanly and discards it when
    the block raises. A batch is applied at most once: writing it again, adding to it or
    entering it after it was written or discarded raises ClosedError. A batch still holding
    operations when it is garbage-collected emits a ResourceWarning: they were never applied
    (call :meth:`clear` to drop them on purpose).
    """

    def __init__(self, db: DB, sync: bool | None):
        self._db = db
        self._sync = sync
        self._batch = WriteBatch()
        self._closed = False
        self._fate = ""  # "written" or "discarded" once closed

    def put(self, key, value) -> None:
        """Queue ``key`` -> ``value`` in the batch (checked now: bytes-like, within the size limits)."""
        if self._closed:
            self._check()
        db = self._db
        if (type(key) is not bytes or type(value) is not bytes
                or len(key) > db._max_key or len(value) > db._max_value):
            key, value = db._check_kv(key, value)
        self._batch.put(key, value)

    def delete(self, key) -> None:
        """Queue a deletion of ``key`` in the batch."""
        self._check()
        self._batch.delete(self._db._check_key(key))

    def delete_range(self, start, end) -> None:
        """Delete every key in [start, end); start > end raises InvalidArgumentError
        (nothing is added), start == end is an empty range."""
        self._check()
        start = self._db._check_key(start, "start")
        end = self._db._check_key(end, "end")
        _check_range(start, end)
        self._batch.delete_range(start, end)

    def clear(self) -> None:
        """Drop every operation collected so far; the batch stays usable."""
        self._check()
        self._batch.clear()

    def write(self) -> None:
        """Apply every operation atomically, with the ``sync`` given to ``write_batch``."""
        self._db.write(self)

    def __len__(self) -> int:
        return self._batch.count

    def _check(self) -> None:
        if self._closed:
            raise ClosedError(
                f"write batch was already {self._fate}; make a new one with db.write_batch()")

    def _close(self, fate: str) -> None:
        self._closed = True
        self._fate = fate

    def __enter__(self) -> WriteBatchContext:
        """The batch itself; leaving the block writes it, or discards it on an exception."""
        self._check()
        return self

    def __exit__(self, exc_type, exc, tb):
        """Write the batch atomically unless the block raised (then nothing is applied)."""
        if self._closed:  # written inside the block
            return False
        try:
            if exc_type is None:
                self._db.write(self)
        finally:
            if not self._closed:
                self._close("discarded")
        return False

    def __del__(self, _warn=warnings.warn):  # bound early: module globals may be gone at exit
        batch = getattr(self, "_batch", None)
        if batch is not None and not self._closed and batch.count:
            _warn(f"a write batch with {batch.count} operations was never written; call "
                  f"wb.write() or use 'with db.write_batch() as wb:'", ResourceWarning, 2, self)

    def __repr__(self) -> str:
        state = self._fate or "open"
        return f"<lsmdb write batch: {self._batch.count} operations, {state}>"


class DB:
    """An open LSM database. Use :func:`lsmdb.open`."""

    # The attributes a single put reads, mirrored into the C fields of ``_front`` (the
    # compiled write front, lsmdb/_core/writefront.pyx) on every assignment; reads of them
    # are plain attribute reads.
    _last_seq = FrontField("_last_seq")
    _bg_error = FrontField("_bg_error")
    _closing = FrontField("_closing")
    _closed = FrontField("_closed")
    read_only = FrontField("read_only")
    _no_write_stall = FrontField("_no_write_stall")
    _wal = FrontField("_wal")
    _mem = FrontField("_mem")
    _writers = FrontField("_writers")
    _mutex = FrontField("_mutex")
    _commit_schedule = FrontField("_commit_schedule")
    _memtable_limit = FrontField("_memtable_limit")
    _max_key = FrontField("_max_key")
    _max_value = FrontField("_max_value")
    _sv = FrontField("_sv")  # the superversion, see _publish; what get reads
    # The writer-queue entry of the compiled synced path (WriteFront.write_one_synced): it
    # holds the queue while synced single writes are pending, so queued writers, barriers
    # (memtable switch, flush) and close wait for them.
    _sync_sentinel = FrontField("_sync_sentinel")

    def __init__(self, path: _Path, options: Options | None = None, *, create: bool = True,
                 read_only: bool = False, error_if_exists: bool = False, env: Env | None = None,
                 inline_background: bool = False, overrides: Mapping[str, Any] | None = None,
                 accept_default_options: bool = False):
        self._front = WriteFront()  # first: the FrontFields above mirror into it
        self._front.bind(self)  # it serves get and get_at (FrontMethod)
        self.path = fs_path(path)
        self._overrides = dict(overrides or {})  # dotted option paths (Options.override)
        self._accept_default_options = accept_default_options
        self.env = env or default_env()
        self.read_only = read_only
        self._closed = True
        self._inline = inline_background
        self._lock_handle = None
        self._registered = False
        self._mutex = threading.Lock()
        self._cv = threading.Condition(self._mutex)  # writers: queue turns and stalls
        self._bg_cv = threading.Condition(self._mutex)  # background threads: new work
        self._version_lock = threading.RLock()
        self._writers: deque[_Writer] = deque()
        self._sync_sentinel = _Writer(None, False)
        # Group commit of synced writes (_gather_sync_writers): the threads of the last
        # synced group, the smoothed time of a synced group's data phase, and whether a
        # leader is waiting for writers to join it.
        self._last_sync_threads: frozenset[int] = frozenset()
        self._sync_seconds = 0.0
        self._gathering = False
        self._bg_threads: list[threading.Thread] = []
        self._bg_error: BaseException | None = None
        self._bg_flushing = False
        self._busy: set[int] = set()
        self._pending_outputs: set[int] = set()
        self._running_compactions = 0
        self._manual_compaction = False
        self._closing = False  # close() started: fences new writes and operations
        self._active_ops = 0  # flush/compact_range/resume/checkpoint calls under way
        self._close_done = threading.Event()
        self._snapshots: dict[int, int] = {}
        self._stats = StatsCollector()
        self.recovery_report: dict = {}
        self._recovery_info = walmod.WalRecoveryInfo()
        self._replayed = walmod.ReplayedSequences()
        # Read-only opens: WAL segment -> (size, crc32) of the bytes replay read (a mapped
        # append changes bytes, not the size: see read_only_view.is_race).
        self._wal_read: dict[int, tuple[int, int]] = {}
        self._kept_tables: frozenset[int] = frozenset()  # unlisted, not provably obsolete
        self._wal = None
        self._wal_failed = False
        self._open(options, create, error_if_exists)

    # ------------------------------------------------------------------ open / recovery

    def _open(self, options: Options | None, create: bool, error_if_exists: bool) -> None:
        env = self.env
        exists = env.exists(os.path.join(self.path, "CURRENT"))
        if not exists:
            if self.read_only:
                raise InvalidArgumentError(f"{self.path}: no database here (read_only open)")
            if not create:
                raise InvalidArgumentError(f"{self.path}: no database here (create=False)")
        elif error_if_exists:
            raise InvalidArgumentError(f"{self.path}: database exists (error_if_exists)")
        if not exists:  # a new database: bad options must leave nothing behind
            self.options = resolve_options(env, self.path, options, False, self._overrides,
                                           self._accept_default_options)
        if not self.read_only:
            env.mkdirs(self.path)
            with _OPEN_DIRS_LOCK:
                if self.path in _OPEN_DIRS:
                    raise LockError(f"{self.path} is already open in this process")
                _OPEN_DIRS.add(self.path)
                self._registered = True
            try:
                self._lock_handle = env.lock_file(os.path.join(self.path, "LOCK"))
            except BaseException:
                self._unregister()
                raise
        try:
            if self.read_only:
                self._open_read_only_view(options, exists)
            else:
                self._open_locked(options, exists)
        except BaseException:
            self._release_resources()
            raise
        self._closed = False
        if not self.read_only:
            self._start_background()

    def _open_read_only_view(self, options: Options | None, exists: bool) -> None:
        """Open read-only beside a possible writer process.

        The view is read file by file (CURRENT, the MANIFEST, the tables it lists, the WAL),
        and a writer may replace any of them in between: a table compacted away, a WAL
        segment deleted after a flush, a MANIFEST rewritten. Such a race is retried from
        the start; bytes that read the same twice and are still bad are corruption."""
        delay = 0.001
        last: BaseException | None = None
        for _ in range(read_only_view.OPEN_ATTEMPTS):
            try:
                self._open_locked(options, exists)
                return
            except (CorruptionError, StorageIOError) as exc:
                # The next attempt reads only the MANIFEST records appended meanwhile and
                # keeps the tables already open, so it catches up with even a busy writer.
                if not self._read_only_race(exc):
                    raise
                last = exc
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        raise BusyError(
            f"{self.path}: read-only open gave up after {read_only_view.OPEN_ATTEMPTS} "
            f"attempts: a writer kept replacing the files being read (last: {last})") from last

    def _pin_read_only_version(self) -> None:
        """Read the MANIFEST and open every table it lists. The open descriptors keep the
        files readable after a writer's compaction deletes them (a point-in-time view, as
        RocksDB's secondary instances hold theirs). A listed table already deleted means
        the writer moved on: read the records appended since (which drop it) and pin the
        tables they add, until every listed table is open."""
        vs = self._versions
        for _ in range(read_only_view.CATCH_UP_ROUNDS):
            vs.recover_read_only()
            missing = self._tables.retain(vs.current.files())
            if not missing:
                return
            if not self._read_only_race(None):
                level, number = missing[0]
                raise missing_table_error(number, level, vs.recovered_manifest)
        raise BusyError(
            f"{self.path}: read-only open gave up after {read_only_view.CATCH_UP_ROUNDS} "
            f"reads of the MANIFEST: a writer kept deleting the tables listed before they "
            f"were opened")

    def _read_only_race(self, exc: BaseException | None) -> bool:
        return read_only_view.is_race(exc, self.env, self.path,
                                      getattr(self, "_versions", None), self._wal_read)

    def _open_locked(self, options: Options | None, exists: bool) -> None:
        env = self.env
        self._check_contract(exists)
        if exists:  # a new database's options were resolved before anything was created
            self.options = resolve_options(env, self.path, options, exists, self._overrides,
                                           self._accept_default_options)
        self._policy = policy_for(self.options)
        # wal_sync parsed once; the write leader asks the schedule whether a commit syncs.
        self._commit_schedule = WalCommitPolicy.from_wal_sync(self.options.wal_sync).schedule()
        self._memtable_limit = self.options.memtable_bytes
        # Options.charge_memtables_to_cache: recharge the cache every this many bytes of
        # active-memtable growth (the direct write path's bound stops there; see
        # _charge_memtables). 0 = memtables are not charged.
        self._charge_step = 0
        if self.options.charge_memtables_to_cache and self.options.block_cache_bytes > 0:
            self._charge_step = max(256 << 10, self.options.memtable_bytes // 16)
        self._max_key = self.options.max_key_bytes
        self._max_value = self.options.max_value_bytes
        self._l0_slowdown = (self.options.compaction.l0_slowdown
                             if getattr(self._policy, "l0_stalls", True) else float("inf"))
        # Compaction-debt stalls (RocksDB's pending-compaction-bytes limits): only for policies
        # that can estimate their debt; the estimate is refreshed with every new Version.
        c = self.options.compaction
        self._debt_of = getattr(self._policy, "pending_bytes", None)
        if c.soft_pending_compaction_bytes is None and c.hard_pending_compaction_bytes is None:
            self._debt_of = None
        inf = float("inf")
        self._debt_soft = (inf if self._debt_of is None or c.soft_pending_compaction_bytes is None
                           else c.soft_pending_compaction_bytes)
        self._debt_hard = (inf if self._debt_of is None or c.hard_pending_compaction_bytes is None
                           else c.hard_pending_compaction_bytes)
        self._debt_gate = min(self._debt_soft, self._debt_hard)  # the fast path's bound
        self._pending_compaction_bytes = 0
        from lsmdb._core.cache import BlockCache

        n_levels = self.options.compaction.max_levels
        if not (self.read_only and getattr(self, "_versions", None) is not None
                and self._versions.num_levels == n_levels):
            self._block_cache = BlockCache(self.options.block_cache_bytes)
            self._tables = TableCache(env, self.path, self._block_cache,
                                      verify_checksums=self.options.paranoid_checks,
                                      mmap_reads=self.options.mmap_reads)
            self._versions = VersionSet(self.path, env, n_levels)
        if not exists:
            for sub in ("wal", "sst"):
                env.mkdirs(os.path.join(self.path, sub))
            env.fsync_dir(self.path)
            self._versions.create_new(self.options.compaction.style)
        elif self.read_only:
            self._pin_read_only_version()
        else:
            for sub in ("wal", "sst"):
                env.mkdirs(os.path.join(self.path, sub))
            # The fresh MANIFEST is written by the first edit below, once the WAL replay
            # and the unlisted tables were checked: an open that refuses changes nothing.
            self._versions.recover(write_manifest=False)
        if not self.read_only:
            self._write_options_file()
        self._last_seq = self._versions.last_sequence
        replayed = self._replay_wal()
        if exists:
            replayed = self._account_for_unlisted_tables(replayed)
        self._recovery_info = walmod.WalRecoveryInfo(
            records_replayed=self.recovery_report["records_replayed"],
            bytes_replayed=self.recovery_report["bytes_replayed"],
            last_sequence=self._last_seq, torn_tail=self.recovery_report["torn_tail"])
        if not self.read_only:
            self._wal = walmod.WalWriter(env, self.path, self._versions.new_file_number(),
                                         mapped=self.options.mmap_wal_writes)
            self._mem = _MemRef(self._new_memtable(), self._wal.number)
            self._imms: list[_MemRef] = []
            if replayed is not None and replayed.mem.num_entries + replayed.mem.num_range_deletes:
                self._flush_memtable_now(replayed, log_number=self._wal.number)
            else:
                self._apply_edit(VersionEdit(log_number=self._wal.number))
            if self._versions.current.style != self.options.compaction.style:
                # The options passed to open win; compaction converges the shape.
                self._apply_edit(VersionEdit(style=self.options.compaction.style))
            self._delete_obsolete_files(full_scan=True)
        else:
            self._mem = replayed if replayed is not None else _MemRef(self._new_memtable(), 0)
            self._imms = []
        self._publish()

    def _check_contract(self, exists: bool) -> None:
        path = os.path.join(self.path, "CONTRACT")
        if self.env.exists(path):
            try:
                contract = json.loads(self.env.read_file(path))
                version = int(contract["format_version"])
                kind = contract.get("backend", "lsm")
            except (ValueError, KeyError, TypeError) as exc:
                raise ContractError(f"{path}: unreadable CONTRACT ({exc})") from exc
            if version > CONTRACT_FORMAT_VERSION:
                raise FormatVersionError(
                    f"{path}: format version {version} is newer than this build supports "
                    f"({CONTRACT_FORMAT_VERSION})")
            if kind != "lsm":
                raise ContractError(f"{path}: directory belongs to backend {kind!r}, not 'lsm'")
            return
        if exists:
            raise ContractError(f"{self.path}: database artefacts without a CONTRACT file")
        if self.read_only:
            return
        stray = [n for n in self.env.listdir(self.path) if n not in ("LOCK",)]
        if stray:
            raise ContractError(
                f"{self.path}: directory is not empty and holds no lsmdb database "
                f"({', '.join(stray[:5])})")
        contract = {"format_version": CONTRACT_FORMAT_VERSION, "backend": "lsm",
                    "created_by": f"lsmdb {__version__}"}
        self.env.write_file_atomic(path, json.dumps(contract, indent=1).encode())

    def _write_options_file(self) -> None:
        old = latest_options_file(self.env, self.path)
        number = self._versions.new_file_number()
        path = os.path.join(self.path, f"OPTIONS-{number:06d}.json")
        self.env.write_file_atomic(path, self.options.to_json().encode())
        kill_point("options.write:after")
        if old is not None and old != path:
            self.env.remove(old)

    def _replay_wal(self) -> _MemRef | None:
        """Replay WAL segments at or after the MANIFEST's log_number into one memtable."""
        env = self.env
        mode = self.options.wal_recovery
        segments = [n for n in walmod.list_segments(env, self.path)
                    if n >= self._versions.log_number]
        report = {"segments": [], "records_replayed": 0, "bytes_replayed": 0,
                  "last_seqno": self._last_seq, "torn_tail": False, "corruptions": [],
                  "stopped_early": False}
        self.recovery_report = report
        self._replayed = walmod.ReplayedSequences()
        self._wal_read = {}
        if not segments:
            return None
        ref = _MemRef(self._new_memtable(), segments[-1])
        # Every MANIFEST edit records the last sequence at the time, and the live WAL
        # segments hold the writes since the last flush, so their first record is at most
        # one past it. A larger gap means MANIFEST records are missing (e.g. the file was
        # cut exactly at a record boundary, which its checksums cannot see): the tables
        # those records listed would silently disappear. The strict modes refuse; the
        # lossy modes (point_in_time, skip_any_corrupted) accept losing data by design.
        check_gap = mode in ("tolerate_corrupted_tail", "absolute_consistency")
        manifest_last = self._versions.last_sequence
        for i, number in enumerate(segments):
            # A writer may append meanwhile to a read-only view's segments: see _read_only_race.
            replay, stop = walmod.read_segment(
                env, self.path, number, mode, self._wal_read if self.read_only else None)
            # read_segment merged records with consecutive sequence numbers into one batch:
            # the memtable searches for many keys at once, overlapping their cache misses.
            for batch in replay.batches:
                if check_gap and batch.sequence > manifest_last + 1:
                    raise CorruptionError(
                        f"MANIFEST is missing records: it ends at sequence {manifest_last}, "
                        f"but WAL segment {number:06d}.log continues from sequence "
                        f"{batch.sequence}; the tables written in between are not listed",
                        file=getattr(self._versions, "recovered_manifest", None))
                check_gap = False
                # Segments at or after log_number hold only writes no SSTable has yet.
                ref.mem.add_batch(batch)
                self._replayed.add(batch.sequence, batch.count)
                self._last_seq = max(self._last_seq, batch.sequence + batch.count - 1)
            report["segments"].append({"number": number, "records": replay.records,
                                       "torn_tail_offset": replay.torn_tail_offset})
            report["records_replayed"] += replay.records
            report["bytes_replayed"] += replay.bytes
            if replay.torn_tail_offset is not None:
                report["torn_tail"] = True
            report["corruptions"].extend(
                {"segment": number, "offset": o, "reason": r} for o, r in replay.corruptions)
            self._versions.mark_file_number_used(number)
            if stop and i < len(segments) - 1:
                report["stopped_early"] = True
                break
        report["last_seqno"] = self._last_seq
        self._versions.last_sequence = max(self._versions.last_sequence, self._last_seq)
        return ref

    def _account_for_unlisted_tables(self, replayed: _MemRef | None) -> _MemRef | None:
        """Tables the MANIFEST does not list: keep those it cannot prove obsolete, and
        refuse or salvage any that holds writes recovery did not find elsewhere
        (lsm/unlisted_tables.py). Returns the recovery memtable."""
        vs = self._versions
        tables = find_unlisted_tables(self.env, self.path, vs.current.file_numbers(),
                                      vs.table_numbers_on_disk, vs.manifest_next_file_number,
                                      vs.manifest_mtime_ns)
        self._kept_tables = frozenset(t.number for t in tables if t.protected)
        listed_max = max((f.max_seqno for _, f in vs.current.files()), default=0)
        lost = [(t, span) for t in tables
                if (span := t.unrecovered(listed_max, self._replayed)) is not None]
        if not lost:
            return replayed
        log_number = vs.log_number
        if log_number and self.env.exists(walmod.segment_path(self.path, log_number)):
            # The WAL chain is whole, so no durable MANIFEST record was lost: these are
            # outputs whose edit a power cut tore, with writes it also took from the WAL.
            return replayed
        salvageable = all(t.meta.min_seqno > listed_max for t, _ in lost)
        if self.options.wal_recovery in STRICT_MODES or not salvageable:
            torn = vs.manifest_torn_offset
            raise lost_records_error(
                lost, vs.recovered_manifest, torn if torn is not None else len(vs.read_manifest),
                torn is not None, log_number, listed_max)
        if replayed is None:
            replayed = _MemRef(self._new_memtable(), 0)
        last = salvage(self.env, self.path, [t.meta for t, _ in lost], replayed.mem,
                       listed_max, self._replayed)
        self._last_seq = max(self._last_seq, last)
        vs.last_sequence = max(vs.last_sequence, self._last_seq)
        self.recovery_report["last_seqno"] = self._last_seq
        self.recovery_report["salvaged_tables"] = [t.number for t, _ in lost]
        return replayed

    def _flush_memtable_now(self, ref: _MemRef, log_number: int) -> None:
        meta_files, nbytes = self._build_l0(ref)
        edit = VersionEdit(log_number=log_number, last_sequence=self._last_seq)
        for m in meta_files:
            edit.add_file(0, m)
        self._apply_edit(edit)
        self._stats.flush(nbytes, len(meta_files))

    # ------------------------------------------------------------------ public API: writes

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError("database is closed")

    def _check_writable(self) -> None:
        self._check_open()
        if self.read_only:
            raise FeatureNotSupportedError("database was opened read_only; writes are refused")

    def _check_key(self, key, name: str = "key") -> bytes:
        key = _as_bytes(key, name)
        if len(key) > self.options.max_key_bytes:
            raise InvalidArgumentError(
                f"{name} of {len(key)} bytes exceeds max_key_bytes={self.options.max_key_bytes}")
        return key

    def _check_kv(self, key, value) -> tuple[bytes, bytes]:
        key = self._check_key(key)
        value = _as_bytes(value, "value")
        if len(value) > self.options.max_value_bytes:
            raise InvalidArgumentError(
                f"value of {len(value)} bytes exceeds "
                f"max_value_bytes={self.options.max_value_bytes}")
        return key, value

    # DB.put(key, value, *, sync=None) and DB.delete(key, *, sync=None): compiled
    # (lsmdb/_core/writefront.pyx) so the common single write is one C call; they bind as
    # methods like a def would and hand anything else to _write_one_general.
    put = writefront.put
    delete = writefront.delete

    def delete_range(self, start, end, *, sync: bool | None = None) -> None:
        """Delete every key in [start, end) (one range tombstone): ``start`` included, ``end``
        excluded. ``start > end`` raises InvalidArgumentError (as RocksDB's InvalidArgument);
        ``start == end`` is an empty range and a valid no-op."""
        self._check_writable()
        start = self._check_key(start, "start")
        end = self._check_key(end, "end")
        _check_range(start, end)
        if start == end:
            return
        b = WriteBatch()
        b.delete_range(start, end)
        self._write(b, sync)

    def write_batch(self, *, sync: bool | None = None) -> WriteBatchContext:
        """A new, empty write batch; apply it with ``wb.write()``, ``db.write(wb)`` or
        ``with db.write_batch() as wb:`` (see :class:`WriteBatchContext`)."""
        self._check_writable()
        return WriteBatchContext(self, sync)

    def write(self, batch: WriteBatchContext, *, sync: bool | None = None) -> None:
        """Apply ``batch`` atomically (all its operations or none) and close it.

        ``sync`` None keeps the one given to :meth:`write_batch`. A batch already written or
        discarded raises ClosedError; one made by another DB, InvalidArgumentError. A write
        that raises applied nothing and leaves the batch open, so it can be retried.
        """
        if not isinstance(batch, WriteBatchContext):
            raise TypeError(
                f"batch must be a write batch from db.write_batch(), not {type(batch).__name__}")
        if batch._db is not self:
            raise InvalidArgumentError(f"the write batch belongs to another database "
                                       f"({batch._db.path}), not {self.path}")
        batch._check()
        self._check_writable()
        if batch._batch.count:
            self._write(batch._batch, batch._sync if sync is None else sync)
        batch._close("written")

    def __setitem__(self, key, value) -> None:
        self.put(key, value)

    def __delitem__(self, key) -> None:
        self.delete(key)

    def _sync_wanted(self, sync: bool | None) -> bool:
        if sync is not None:
            if not isinstance(sync, bool):
                raise TypeError(f"sync must be a bool or None, not {type(sync).__name__}")
            return sync
        return self._commit_schedule.syncs_by_default

    def _write_one_general(self, vtype: int, key, value, sync: bool | None) -> None:
        """A put or delete the compiled front (``writefront.put`` / ``delete``) did not apply:
        the checks (each raising its documented error), then a one-op WriteBatch through
        :meth:`_write` (stalls, group commit, fsync, kill points)."""
        if self._closed or self.read_only:
            self._check_writable()
        if vtype == _TYPE_PUT:
            key, value = self._check_kv(key, value)
        else:
            key = self._check_key(key)
        b = WriteBatch()
        if vtype == _TYPE_PUT:
            b.put(key, value)
        else:
            b.delete(key)
        self._write(b, sync)

    def _write(self, batch: WriteBatch, sync: bool | None) -> None:
        want_sync = self._sync_wanted(sync)
        if not want_sync and self._commit_schedule.never_syncs and not self._writers:
            with self._mutex:
                if (not self._writers and self._bg_error is None and not self._closing
                        and self._mem.mem.approximate_bytes < self._memtable_limit
                        and len(self._versions.current.levels[0]) < self._l0_slowdown
                        and self._pending_compaction_bytes < self._debt_gate):
                    # Uncontended non-sync write: all of it under the mutex. One write()
                    # of a record costs less than handing a queue turn over would.
                    batch.sequence = self._last_seq + 1
                    try:
                        n, interrupt = self._log_and_insert(self._wal, self._mem, batch, False)
                    except Exception as exc:  # WAL state unknown: stop writes
                        self._bg_error = exc
                        self._wal_failed = True
                        raise
                    # Publish before anything that calls out (an interrupt can strike at a
                    # call): the write is visible as soon as the sequence moves.
                    self._last_seq += batch.count
                    sv = self._sv  # same memtables and Version: only the sequence moved
                    self._sv = (sv[0], sv[1], sv[2], self._last_seq, sv[4])
                    if interrupt is not None:
                        raise interrupt
                    self._stats.wal_write(n, False, batch.byte_size, 1)
                    return
        w = _Writer(batch, want_sync)
        with self._cv:
            self._check_writable()
            self._check_not_closing()
            group: list[_Writer] = []
            self._writers.append(w)
            if self._gathering:
                self._cv.notify_all()  # a leader waits for writers like this one
            try:
                while not w.done and self._writers[0] is not w:
                    self._cv.wait()
                if w.done:
                    if w.error is not None:
                        raise w.error
                    return
                if w.sync and self._last_sync_threads:
                    self._gather_sync_writers()
                self._check_not_closing()
                self._raise_bg_error()
                self._make_room_for_write(w.batch.byte_size)
                group = self._take_group()
                for x in group:
                    x.taken = True
                merged = group[0].batch if len(group) == 1 else _merge_batches(group)
                merged.sequence = self._last_seq + 1
                need_sync = self._commit_schedule.commit_needs_sync(any(x.sync for x in group))
                mem = self._mem
                wal = self._wal
            except BaseException:
                # Nothing of the group was written. An interrupt may strike anywhere here
                # (Ctrl-C): leave the queue as if this write had never been queued.
                if not w.done and (self._writers[0] is w or not w.taken):
                    self._writers.remove(w)
                for x in group:
                    x.taken = False
                self._cv.notify_all()
                raise
        outcome: list = [None, None, False, 0]  # error, interrupt, I/O failure, bytes
        t0 = time.perf_counter()
        try:
            outcome[3], outcome[1] = self._log_and_insert(wal, mem, merged, need_sync)
            if need_sync:
                outcome.append((frozenset(x.thread for x in group), time.perf_counter() - t0))
        except Exception as exc:  # WAL state unknown: stop writes until resume()
            outcome[0], outcome[2] = exc, True
        except BaseException as exc:  # interrupted before the WAL got any of it
            outcome[0] = exc
        finally:
            # Publish and dequeue the group whatever strikes meanwhile: a step cut short by
            # an interrupt is redone (each step is idempotent), else the queue would hang.
            while True:
                try:
                    self._finish_group(w, group, merged, outcome)
                    break
                except Exception:
                    raise
                except BaseException as exc:
                    if outcome[1] is None:
                        outcome[1] = exc
        error, interrupt, _, n = outcome[:4]
        if error is not None:
            raise error
        if interrupt is not None:
            raise interrupt
        self._stats.wal_write(n, need_sync, sum(x.batch.byte_size for x in group), len(group))

    def _gather_sync_writers(self) -> None:
        """Group commit for synced writes (mutex held, this writer at the head). The threads
        of the last synced group were released only as it finished, so they queue again
        just after the waiting writers were taken as the next group: groups would alternate
        between the waiting threads and the released ones, about half of the writers per
        fsync. The leader waits, for at most a fifth of a synced write's time (and 1 ms),
        until every thread of the last group or the queue is queued again, so one fsync
        covers them all (PostgreSQL's commit_delay, here bounded by the fsync's own cost).
        A single writing thread never waits: it is the whole of its last group."""
        def queued() -> set[int]:
            return {x.thread for x in self._writers if x.batch is not None and x.sync}

        waiting = queued()
        target = len(waiting | self._last_sync_threads)
        if len(waiting) >= target:
            return
        deadline = time.perf_counter() + min(_GATHER_MAX_SECONDS,
                                             _GATHER_SHARE * self._sync_seconds)
        self._gathering = True
        try:
            while not self._closing and self._bg_error is None:
                left = deadline - time.perf_counter()
                if left <= 0:
                    return
                self._cv.wait(left)
                if len(queued()) >= target:
                    return
        finally:
            self._gathering = False

    def _finish_group(self, w: _Writer, group: list[_Writer], merged: WriteBatch,
                      outcome: list) -> None:
        """End a write group's turn (idempotent): publish it if applied, dequeue it."""
        error, _, failed, _ = outcome[:4]
        with self._cv:
            if error is None:
                self._last_seq = max(self._last_seq, merged.sequence + merged.count - 1)
                self._publish()
                if len(outcome) > 4:  # a synced group: what the next leader gathers
                    self._last_sync_threads, seconds = outcome[4]
                    self._sync_seconds = (seconds if not self._sync_seconds
                                          else 0.8 * self._sync_seconds + 0.2 * seconds)
            elif failed:
                self._bg_error = error
                self._wal_failed = True
            # Interrupted with nothing applied: only this thread's write fails; the rest of
            # the group stays queued and the next of them leads it again.
            for x in (group if error is None or failed else group[:1]):
                if x.done:
                    continue
                if self._writers and self._writers[0] is x:
                    self._writers.popleft()
                x.error = error
                x.done = True
            for x in group:
                x.taken = False
            self._cv.notify_all()

    @staticmethod
    def _log_and_insert(wal, ref: _MemRef, batch: WriteBatch, sync: bool):
        """The data phase of a write: WAL append (+ fsync), memtable insert. Whole or not at
        all even when an interrupt (Ctrl-C) strikes in the caller's thread.

        Returns (bytes appended, deferred interrupt or None): an interrupt that struck once
        the record was in the WAL is held back; the caller publishes the write, then raises
        it. An interrupt before any byte reached the WAL propagates (nothing applied). Any
        other exception is an I/O failure that leaves the WAL's tail unknown.
        """
        n = wal.add(batch.data())
        # Attribute reads and stores only until the insert: an interrupt strikes at calls.
        interrupt = wal.deferred_interrupt
        wal.deferred_interrupt = None
        if sync:
            try:
                wal.sync()
            except Exception:
                raise
            except BaseException as exc:  # the record is in the WAL: apply it all the same
                interrupt = interrupt or exc
        last = batch.sequence + batch.count - 1
        try:
            ref.mem.add_batch(batch)  # one C call: an interrupt lands before or after it
        except Exception:
            raise
        except BaseException as exc:
            interrupt = interrupt or exc
            if ref.mem.last_seqno < last:
                ref.mem.add_batch(batch)
        return n, interrupt

    def _take_group(self) -> list[_Writer]:
        first = self._writers[0]
        group = [first]
        size = first.batch.byte_size
        limit = (1 << 20) if size > (128 << 10) else size + (128 << 10)
        for w in list(self._writers)[1:]:
            if w.batch is None:
                break  # a barrier (flush/resume) waits for its own turn
            if w.sync and not first.sync:
                break  # a sync write must not ride on a non-sync leader's policy decision
            size += w.batch.byte_size
            if size > limit:
                break
            group.append(w)
        return group

    def _make_room_for_write(self, nbytes: int = 0) -> None:
        """Called with the mutex held by the head writer (of a batch of ``nbytes``): stall or
        switch memtables."""
        c = self.options.compaction
        slowed = debt_slowed = False
        while True:
            self._check_not_closing()  # the stalls below wait for background threads
            self._raise_bg_error()
            l0 = len(self._versions.current.levels[0])
            if not getattr(self._policy, "l0_stalls", True):
                l0 = 0  # e.g. FIFO keeps its files in L0 on purpose
            if not slowed and l0 >= c.l0_slowdown and not self._inline:
                # Slow each write by 1 ms to let compaction catch up (RocksDB's delayed write).
                slowed = True
                t0 = time.perf_counter()
                self._cv.wait(0.001)
                self._stats.stall("slowdown", time.perf_counter() - t0)
                continue
            debt = self._pending_compaction_bytes
            if debt >= self._debt_hard:
                if self._inline:
                    self._run_background_inline()
                    if self._pending_compaction_bytes >= debt:
                        return  # nothing left to run: the debt cannot shrink by waiting
                    continue
                t0 = time.perf_counter()
                self._cv.wait(1.0)
                self._stats.stall("pending_stop", time.perf_counter() - t0)
                continue
            if not debt_slowed and debt >= self._debt_soft and not self._inline:
                # Hold this write to the delayed write rate (RocksDB's delayed_write_rate).
                debt_slowed = True
                t0 = time.perf_counter()
                deadline = t0 + max(nbytes, 1) / c.delayed_write_bytes_per_sec
                while (left := deadline - time.perf_counter()) > 0:
                    self._cv.wait(left)
                self._stats.stall("pending_slowdown", time.perf_counter() - t0)
                continue
            used = self._mem.mem.approximate_bytes
            if used < self.options.memtable_bytes:
                if used >= self._memtable_limit:
                    self._charge_memtables()  # a recharge point (charge_memtables_to_cache)
                return
            if len(self._imms) >= self.options.max_immutable_memtables:
                if self._inline:
                    self._run_background_inline()
                    continue
                t0 = time.perf_counter()
                self._cv.wait(1.0)
                self._stats.stall("memtable", time.perf_counter() - t0)
                continue
            if l0 >= c.l0_stop:
                if self._inline:
                    self._run_background_inline()
                    continue
                t0 = time.perf_counter()
                self._cv.wait(1.0)
                self._stats.stall("l0_stop", time.perf_counter() - t0)
                continue
            self._switch_memtable()
            if self._inline:
                self._run_background_inline()
            return

    def _new_memtable(self) -> Memtable:
        return Memtable(front_bytes=self.options.memtable_front_bytes)

    def _switch_memtable(self) -> None:
        """Make the active memtable immutable and start a new WAL segment (mutex held)."""
        new_wal = walmod.WalWriter(self.env, self.path, self._versions.new_file_number(),
                                   mapped=self.options.mmap_wal_writes)
        kill_point("memtable.switch")
        old_wal = self._wal
        if old_wal.unsynced_records:
            # Even under wal_sync="never": a later sync=True write in the new segment
            # acknowledges every earlier write, and a crash must not keep the new segment
            # while losing the old one's tail (a hole in the history).
            try:
                old_wal.sync()
            except BaseException as exc:
                new_wal.close()  # left empty; deleted as obsolete later
                if isinstance(exc, Exception):
                    self._bg_error = exc  # the old segment's state is unknown: stop writes
                    self._wal_failed = True
                raise  # an interrupt: the old segment is intact, only not yet synced
        # Build first, then assign with no call in between: an interrupt strikes at calls, and
        # a memtable both active and immutable would lose writes.
        imms = [self._mem, *self._imms]
        mem = _MemRef(self._new_memtable(), new_wal.number)
        self._imms, self._mem, self._wal = imms, mem, new_wal
        self._fold_direct_writes(old_wal)
        old_wal.close()
        self._publish()
        self._wake_all()

    def write_raw(self, batch: WriteBatch, *, sync: bool | None = None) -> None:
        """:meth:`write` for a layer that encodes its own ``lsmdb._core.batch.WriteBatch``
        (the storage engine's key space): applied atomically, ``sync`` as for :meth:`put`.
        The caller has checked every key and value against ``max_key_bytes`` /
        ``max_value_bytes``; the batch is not walked again. TypeError for anything else than
        a WriteBatch."""
        if type(batch) is not WriteBatch:
            raise TypeError(f"batch must be an lsmdb._core.batch.WriteBatch, not "
                            f"{type(batch).__name__}")
        self._check_writable()
        if batch.count:
            self._write(batch, sync)

    # ------------------------------------------------------------------ public API: reads

    def _fold_direct_writes(self, wal) -> None:
        """Add the direct path's writes on ``wal``, and the compiled synced path's, to the
        statistics (mutex held)."""
        self._stats.direct_writes(wal.tail.take_direct_counts())
        self._stats.synced_writes(self._front.take_synced_counts())

    def _publish(self) -> None:
        mem, imms, version = self._mem, tuple(self._imms), self._versions.current
        if self._debt_of is not None:
            self._pending_compaction_bytes = self._debt_of(VersionView(version, self.options))
        # The direct write path's stall test, redone only when the Version or debt changes.
        self._no_write_stall = (len(version.levels[0]) < self._l0_slowdown
                                and self._pending_compaction_bytes < self._debt_gate)
        old = self.__dict__.get("_sv")  # (a FrontField: getattr would find the descriptor)
        if old is not None and old[0] is mem and old[1] == imms and old[2] is version:
            view = old[4]
        else:
            view = self._build_read_view(mem, imms, version)
        # The superversion: (active memtable, immutable memtables newest first, Version,
        # last visible sequence, ReadView). A plain tuple on purpose: a named structure
        # measured 140-200 ns more per uncontended put (issue 13); readers unpack it by
        # position, sv[3] the sequence and sv[4] the ReadView.
        self._sv = (mem, imms, version, self._last_seq, view)
        if self._charge_step:
            self._charge_memtables()

    def _charge_memtables(self) -> None:
        """Reserve the memtables' malloc'd arena bytes in the block cache (evicting blocks to
        make room) and stop the direct write path's bound at the next recharge point, so the
        active memtable's growth comes back here through _make_room_for_write every
        ``_charge_step`` bytes. Mutex held (or the DB not yet shared)."""
        refs = (self._mem, *self._imms)
        self._block_cache.set_reserved(sum(r.mem.arena_reserved_bytes for r in refs))
        self._memtable_limit = min(self.options.memtable_bytes,
                                   self._mem.mem.approximate_bytes + self._charge_step)

    def _build_read_view(self, mem, imms, version):
        from lsmdb._core.readpath import ReadView, SortedRun

        tables = self._tables

        def loader(meta):
            return tables.get(meta), tables.tombstones(meta)

        runs = [SortedRun([f], loader) for f in version.levels[0]]
        for level in range(1, version.num_levels):
            for run in version.runs(level):
                runs.append(SortedRun(sorted(run, key=lambda f: f.smallest_user_key), loader))
        return ReadView([mem, *imms], runs)

    # DB.get(key, default=None, *, snapshot=None): compiled; db.get is the method of the DB's
    # WriteFront, which reads the DB's state as C fields (lsmdb/_core/writefront.pyx,
    # "Reads"); DB.get on the class is dbread.get, which calls it.
    get = FrontMethod(dbread.get, "get")

    def multi_get(self, keys: Iterable[_Key], *, snapshot: Snapshot | None = None
                  ) -> list[bytes | None]:
        """``[db.get(k, snapshot=snapshot) for k in keys]`` in one call: the values (None
        when absent) in the order of ``keys``, all read at one sequence number. The keys are
        looked up in sorted order, so keys sharing a data block fetch it once."""
        if self._closed:
            raise ClosedError("database is closed")
        keys = [k if type(k) is bytes else _as_bytes(k, "key") for k in keys]
        sv = self._sv
        seq = sv[3] if snapshot is None else self._snapshot_seqno(snapshot)
        return sv[4].get_many(keys, seq, None)

    # DB.get_at(key, seqno=None, default=None): compiled, see get.
    get_at = FrontMethod(dbread.get_at, "get_at")

    @property
    def last_sequence(self) -> int:
        """The sequence number of the newest visible write."""
        return self._sv[3]

    def memtable_bytes(self) -> int:
        """Approximate bytes held by the active and immutable memtables."""
        sv = self._sv
        return sum(r.mem.approximate_bytes for r in (sv[0], *sv[1]))

    def _snapshot_seqno(self, snapshot: Snapshot) -> int:
        """The sequence number a read at ``snapshot`` sees, once the snapshot is checked:
        a Snapshot of this DB (InvalidArgumentError otherwise), not closed (ClosedError)."""
        if not isinstance(snapshot, Snapshot):
            raise InvalidArgumentError(
                f"snapshot must be an lsmdb Snapshot (from db.snapshot()) or None, "
                f"not {type(snapshot).__name__}")
        if snapshot._db is not self:
            raise InvalidArgumentError(
                f"snapshot belongs to another database ({snapshot._db.path}), not {self.path}")
        snapshot._check()
        return snapshot.seqno

    def __getitem__(self, key):
        """``db[key]``: the value, or ``KeyError`` when absent."""
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __contains__(self, key) -> bool:
        """``key in db``: whether ``key`` holds a live value."""
        return self.get(key, _MISSING) is not _MISSING

    def snapshot(self) -> Snapshot:
        """A consistent read view at the current sequence number (a context manager; close it
        to let compaction drop the versions it pins)."""
        self._check_open()
        with self._mutex:
            seq = self._last_seq
            self._snapshots[seq] = self._snapshots.get(seq, 0) + 1
        return Snapshot(self, seq)

    def _release_snapshot(self, seq: int) -> None:
        with self._mutex:
            n = self._snapshots.get(seq, 0) - 1
            if n <= 0:
                self._snapshots.pop(seq, None)
            else:
                self._snapshots[seq] = n

    def _iter_plan(self, version):
        """Per-Version cache: L0 files, (largest keys, files) per sorted run, and every
        range tombstone stored in the Version's tables."""
        plan = version.iter_plan
        if plan is None:
            tables = self._tables
            runs = []
            for level in range(1, version.num_levels):
                for run in version.runs(level):
                    files = sorted(run, key=lambda f: f.smallest_user_key)
                    runs.append(([f.largest for f in files], files))
            tombstones = []
            for _, f in version.files():
                if f.range_deletions:
                    tombstones.extend(tables.get(f).range_tombstones())
            plan = version.iter_plan = (list(version.levels[0]), runs, tombstones)
        return plan

    def _internal_sources(self, seq: int):
        """(children iterators newest first, tombstones, pins) for a consistent read view."""
        mem, imms, version = self._sv[:3]
        l0, runs, tombstones = self._iter_plan(version)
        children = [mem.mem.iterator()]
        tombstones = list(tombstones)
        for ref in (mem, *imms):
            if ref is not mem:
                children.append(ref.mem.iterator())
            if ref.mem.num_range_deletes:
                tombstones.extend(ref.mem.range_tombstones())
        tables = self._tables
        for f in l0:
            children.append(tables.get(f).iterator())
        for largest, files in runs:

            def opener(i, files=files):
                return tables.get(files[i]).iterator()

            children.append(LevelIterator(largest, opener))
        return children, tombstones, (mem, imms, version)

    def iterator(self, start: _Key | None = None, stop: _Key | None = None, *,
                 prefix: _Key | None = None, reverse: bool = False,
                 snapshot: Snapshot | None = None) -> DBIterator:
        """An ordered iterator over the live keys in the bounds (all of them by default).

        Bounds (the same for :meth:`items`, :meth:`keys`, :meth:`values` and snapshots):

        - ``start`` is inclusive, ``stop`` exclusive: keys ``start <= k < stop``; either may
          be None (unbounded). ``start >= stop`` is an empty range, not an error.
        - ``prefix`` keeps the keys that start with it, intersected with ``start``/``stop``:
          ``prefix=b"user:", start=b"user:m"`` yields the ``user:`` keys from ``user:m`` on.
          A ``start`` below every key with the prefix changes nothing, one above them all
          leaves nothing (and the mirror for ``stop``). ``prefix=b""`` is every key.
        - ``reverse=True`` yields the same keys in descending order: it starts at the last
          key below ``stop`` and ends at ``start`` (still inclusive).
        - ``it.seek(k)`` / ``it.seek_for_prev(k)`` stay inside the bounds: a target below
          the range lands on its first key, one above it leaves the iterator invalid
          (``seek_for_prev`` mirrors this: above the range lands on the last key).

        The iterator reads one consistent view (``snapshot``, or now) and keeps it across
        flushes and compactions; close it (or use ``with``) to release the files it pins.
        """
        self._check_open()
        seq = self._sv[3] if snapshot is None else self._snapshot_seqno(snapshot)
        lower = None if start is None else _as_bytes(start, "start")
        upper = None if stop is None else _as_bytes(stop, "stop")
        if prefix is not None:
            prefix = _as_bytes(prefix, "prefix")
            lower = prefix if lower is None or prefix > lower else lower
            succ = prefix_successor(prefix)
            if succ is not None and (upper is None or succ < upper):
                upper = succ
        children, tombstones, pins = self._internal_sources(seq)
        it = DBIterator(self, children, seq, tombstones, pins, lower, upper, reverse)
        return it

    def items(self, start: _Key | None = None, stop: _Key | None = None, *,
              prefix: _Key | None = None, reverse: bool = False,
              snapshot: Snapshot | None = None) -> Iterator[tuple[bytes, bytes]]:
        """``(key, value)`` pairs in the bounds; see :meth:`iterator` for their meaning."""
        return self.iterator(start, stop, prefix=prefix, reverse=reverse,
                             snapshot=snapshot).items()

    def keys(self, start: _Key | None = None, stop: _Key | None = None, *,
             prefix: _Key | None = None, reverse: bool = False,
             snapshot: Snapshot | None = None) -> Iterator[bytes]:
        """Keys in the bounds; see :meth:`iterator` for their meaning."""
        return _keys_of(self.iterator(start, stop, prefix=prefix, reverse=reverse,
                                      snapshot=snapshot))

    def values(self, start: _Key | None = None, stop: _Key | None = None, *,
               prefix: _Key | None = None, reverse: bool = False,
               snapshot: Snapshot | None = None) -> Iterator[bytes]:
        """Values in the bounds, in key order; see :meth:`iterator` for their meaning."""
        return _values_of(self.iterator(start, stop, prefix=prefix, reverse=reverse,
                                        snapshot=snapshot))

    def __iter__(self) -> Iterator[bytes]:
        """The live keys in order (as ``keys()``)."""
        return self.keys()

    def count(self) -> int:
        """Exact number of live keys; the same full scan as ``len(db)``."""
        return self._count_live(None)

    def _count_live(self, snapshot: Snapshot | None) -> int:
        with self.iterator(snapshot=snapshot) as it:
            return sum(1 for _ in it)

    def _any_live(self, snapshot: Snapshot | None) -> bool:
        with self.iterator(snapshot=snapshot) as it:
            return it.valid()

    def __len__(self) -> int:
        """Exact number of live keys. Cost: a full scan of the DB with the Cython iterator
        (every table read, overwritten and deleted versions skipped on the way), O(entries)
        — millions of keys a second, but not free on a big DB. For a cheap figure use
        :meth:`estimate_num_keys`; to test emptiness use ``bool(db)`` (one seek)."""
        return self._count_live(None)

    def __bool__(self) -> bool:
        """True if any live key exists: exact, and cheap (positions on the first key)."""
        return self._any_live(None)

    def estimate_num_keys(self) -> int:
        """A cheap ESTIMATE of the live keys from table and memtable counters (entries minus
        point deletes); overwrites and range deletes make it too high. O(tables), no I/O.
        ``len(db)`` is the exact count."""
        self._check_open()
        mem, imms, version = self._sv[:3]
        n = sum(r.mem.num_entries - 2 * r.mem.num_deletes for r in (mem, *imms))
        for _, f in version.files():
            n += f.entries - 2 * f.deletions
        return max(0, n)

    def memtable_entries(self) -> int:
        """Entries (puts, deletes, range deletes) in the active and immutable memtables: what
        a :meth:`flush` now would write to SSTables."""
        sv = self._sv
        return sum(r.mem.num_entries for r in (sv[0], *sv[1]))

    # ------------------------------------------------------------------ flush / compaction

    def flush(self, *, wait: bool = True) -> None:
        """Make the memtable an SSTable now (and wait for it unless wait=False).

        ClosedError if close() starts meanwhile: the memtable's writes stay in the WAL."""
        self._check_writable()
        with self._operation(), self._cv:
            self._raise_bg_error()
            # Take a turn in the writer queue: no write may be between its WAL append and
            # its memtable insert while the memtable is switched.
            with self._write_barrier():
                if self._mem.mem.num_entries or self._mem.mem.num_range_deletes:
                    while len(self._imms) >= self.options.max_immutable_memtables:
                        if self._inline:
                            self._run_background_inline()
                        else:
                            self._cv.wait(0.5)
                            self._check_not_closing()
                            self._raise_bg_error()
                    self._switch_memtable()
            if self._inline:
                self._run_background_inline()
            elif wait:
                while self._imms:
                    self._cv.wait(0.5)
                    self._check_not_closing()  # background threads stop at close
                    self._raise_bg_error()

    @contextlib.contextmanager
    def _write_barrier(self):
        """With the mutex held: wait until every earlier writer is done, keep later ones
        queued behind us for the duration of the block."""
        me = _Writer(None, False)
        self._writers.append(me)
        try:
            while self._writers[0] is not me:
                self._cv.wait()
            yield
        finally:
            self._writers.remove(me)
            self._cv.notify_all()

    def _wake_all(self) -> None:
        """Mutex held: the tree or the memtables changed; wake writers and background."""
        self._cv.notify_all()
        self._bg_cv.notify_all()

    def _raise_bg_error(self) -> None:
        if self._bg_error is not None:
            raise BackgroundError(
                f"a background error stopped writes: {describe_error(self._bg_error)}; "
                "call resume()") from self._bg_error

    def _check_not_closing(self) -> None:
        """Mutex held: refuse new work once close() has started (it waits for the rest)."""
        if self._closing:
            raise ClosedError("database is closed")

    @contextlib.contextmanager
    def _operation(self):
        """Fence for a call that works outside the writer queue (flush, compact_range,
        resume, checkpoint): refused once close() started; close() waits for it to end."""
        with self._cv:
            self._check_not_closing()
            self._active_ops += 1
        try:
            yield
        finally:
            with self._cv:
                self._active_ops -= 1
                self._cv.notify_all()

    def compact_range(self, start=None, end=None) -> None:
        """Compact every file overlapping [start, end] (None: unbounded) into the last level,
        in one pass: each byte is rewritten once, files that overlap nothing else are moved
        by a MANIFEST edit alone (see :func:`lsmdb.lsm.compaction.manual_jobs`)."""
        self._check_writable()
        lo = None if start is None else _as_bytes(start, "start")
        hi = None if end is None else _as_bytes(end, "end")
        with self._operation():
            self.flush()
            with self._cv:
                # One manual compaction at a time: two would compact the same input files
                # and install overlapping outputs in one level (found by lsmdb.testing.stress).
                while self._manual_compaction:
                    self._cv.wait(0.5)
                    self._check_not_closing()
                self._manual_compaction = True
            try:
                with self._cv:
                    while self._running_compactions:
                        self._cv.wait(0.5)
                for job in self._manual_jobs(lo, hi):
                    with self._cv:
                        self._check_not_closing()  # close() waits for the job under way only
                    self._execute_job(job)
            finally:
                with self._cv:
                    self._manual_compaction = False
                    self._wake_all()
            self._raise_bg_error()
            self._delete_obsolete_files()

    def _manual_jobs(self, lo: bytes | None, hi: bytes | None) -> list[CompactionJob]:
        """The jobs taking every file overlapping [lo, hi] to the last level in one pass.
        A function of its own so no Version outlives it (a live Version pins its files)."""
        return manual_jobs(VersionView(self._versions.current, self.options), lo, hi)

    # background machinery ---------------------------------------------------------------

    def _start_background(self) -> None:
        if self._inline:
            return
        for i in range(max(1, self.options.background_threads)):
            t = threading.Thread(target=self._bg_loop, name=f"lsmdb-bg-{i}", daemon=True)
            self._bg_threads.append(t)
            t.start()

    def _bg_loop(self) -> None:
        while True:
            with self._cv:
                while True:
                    if self._closing:
                        return
                    if self._bg_error is None:
                        work = self._next_work()
                        if work is not None:
                            break
                    self._bg_cv.wait()
            try:
                self._do_work(work)
            except BaseException as exc:  # surfaced to writers; resume() clears it
                with self._cv:
                    if self._bg_error is None and not self._closing:
                        self._bg_error = exc
                    self._wake_all()

    def _next_work(self):
        """Pick the next background task (mutex held): flushes first, then compaction."""
        if self._imms and not self._bg_flushing:
            self._bg_flushing = True
            return ("flush", self._imms[-1])
        if self._manual_compaction:
            return None
        view = VersionView(self._versions.current, self.options, frozenset(self._busy),
                           smallest_snapshot=min(self._snapshots, default=None))
        job = self._policy.pick(view)
        if job is None:
            return None
        for f in job.input_files():
            self._busy.add(f.number)
        self._running_compactions += 1
        return ("compact", job)

    def _do_work(self, work) -> None:
        kind, arg = work
        if kind == "flush":
            try:
                self._flush_immutable(arg)
            finally:
                with self._cv:
                    self._bg_flushing = False
                    self._wake_all()
        else:
            try:
                self._execute_job(arg)
            finally:
                with self._cv:
                    for f in arg.input_files():
                        self._busy.discard(f.number)
                    self._running_compactions -= 1
                    self._wake_all()

    def _run_background_inline(self) -> None:
        """Deterministic mode: run every pending flush and compaction now (mutex held)."""
        while True:
            self._check_not_closing()
            self._raise_bg_error()
            work = self._next_work()
            if work is None:
                if not (self._bg_flushing or self._running_compactions):
                    return
                # Another thread runs a flush/compaction inline and needs the mutex to
                # finish it: wait for it instead of spinning with the mutex held.
                self._cv.wait(0.1)
                continue
            self._mutex.release()
            try:
                self._do_work(work)
            except Exception as exc:
                self._bg_error = exc
            finally:
                # An interrupt propagates: the work it cut short left no partial state
                # (unfinished outputs are abandoned, the memtable stays immutable).
                self._mutex.acquire()

    def _build_l0(self, ref: _MemRef) -> tuple[list, int]:
        from lsmdb.lsm.bloom_alloc import output_bits_per_key

        bits = output_bits_per_key(self.options, self._versions.current, 0, ref.mem.num_entries)
        out = TableOutput(self.env, self.path, self.options, 0, self._new_output_number,
                          target_file_bytes=1 << 62, tombstones=ref.mem.range_tombstones(),
                          bits_per_key=bits)
        try:
            it = ref.mem.iterator()
            it.seek_to_first()
            out.copy_from(it)
            files = out.finish()
        except BaseException:
            for n in out.abandon():
                self._remove_quietly(table_path(self.path, n))
            raise
        return files, out.bytes_written

    def _new_output_number(self) -> int:
        with self._mutex:  # allocation and pending mark are one step for _delete_obsolete_files
            n = self._versions.new_file_number()
            self._pending_outputs.add(n)
        return n

    def _flush_immutable(self, ref: _MemRef) -> None:
        files, nbytes = self._build_l0(ref)
        with self._mutex:
            idx = self._imms.index(ref)
            newer = self._imms[idx - 1] if idx > 0 else self._mem
            log_number = newer.wal_number
        edit = VersionEdit(log_number=log_number)
        for m in files:
            edit.add_file(0, m)
        kill_point("flush.install:before")
        self._apply_edit(edit, remove_imm=ref)
        kill_point("flush.install:after")
        self._stats.flush(nbytes, len(files))
        self._delete_obsolete_files()

    def _apply_edit(self, edit: VersionEdit, remove_imm: _MemRef | None = None) -> None:
        with self._version_lock:
            with self._mutex:
                edit.last_sequence = max(self._last_seq, self._versions.last_sequence)
            if not self._versions.manifest_ok:
                self._versions.reopen_manifest()
            self._versions.log_and_apply(edit)
            with self._mutex:
                for _, m in edit.new_files:
                    self._pending_outputs.discard(m.number)
                if remove_imm is not None:
                    self._imms.remove(remove_imm)
                self._publish()
                self._wake_all()

    def _execute_job(self, job: CompactionJob) -> None:
        with self._mutex:
            snapshots = sorted(self._snapshots)
        edit, stats = run_compaction(self, job, snapshots)
        kill_point("compaction.install:before")
        self._apply_edit(edit)
        kill_point("compaction.install:after")
        self._stats.compaction(job, stats)
        self._delete_obsolete_files()

    def _remove_quietly(self, path: str) -> None:
        try:
            if self.env.exists(path):
                self.env.remove(path)
        except OSError:
            pass

    def _delete_obsolete_files(self, full_scan: bool = False) -> None:
        """Remove SSTables no live Version lists and WAL segments older than log_number,
        except the newest ``Options.wal_keep_segments`` of those segments (never replayed:
        replay starts at log_number)."""
        with self._mutex:
            live = self._versions.live_file_numbers() | set(self._pending_outputs)
            # Files numbered from here on were created after this snapshot of `live`.
            horizon = self._versions.next_file_number
            log_number = self._versions.log_number
            active_wals = {r.wal_number for r in (self._mem, *self._imms)}
        sst_dir = os.path.join(self.path, "sst")
        for name in self.env.listdir(sst_dir):
            if not name.endswith(".sst"):
                continue
            try:
                number = int(name[:-4])
            except ValueError:
                continue
            if number not in live and number < horizon and number not in self._kept_tables:
                kill_point("obsolete.delete_sst")
                self._tables.evict(number)
                self._remove_quietly(os.path.join(sst_dir, name))
        obsolete = [n for n in walmod.list_segments(self.env, self.path)
                    if n < log_number and n not in active_wals]
        keep = self.options.wal_keep_segments
        for number in obsolete[:max(0, len(obsolete) - keep)]:
            kill_point("obsolete.delete_wal")
            self._remove_quietly(walmod.segment_path(self.path, number))

    def _unpin_version(self, version) -> None:
        """An iterator let go of ``version``: its files may now be deletable."""
        if version is not self._versions.current and not self.read_only and not self._closing:
            try:
                with self._operation():
                    self._delete_obsolete_files()
            except (OSError, ClosedError):
                pass  # retried after the next flush or compaction (or the next open)

    def resume(self) -> None:
        """Clear a background error and restart work (RocksDB's DB::Resume)."""
        self._check_writable()
        with self._operation():
            self._resume()

    def _resume(self) -> None:
        with self._cv:
            if self._bg_error is None:
                return
            while self._writers:
                self._cv.wait(0.1)
            if getattr(self, "_wal_failed", False):
                # The WAL tail may be torn: seal it by switching to a fresh segment.
                error = self._bg_error
                self._wal_failed = False
                self._bg_error = None
                try:
                    self._switch_memtable()
                except BaseException:
                    # Still on the damaged segment: writes stay stopped.
                    self._bg_error = self._bg_error or error
                    self._wal_failed = True
                    raise
            self._bg_error = None
            self._wake_all()
        with self._version_lock:
            if not self._versions.manifest_ok:
                self._versions.reopen_manifest()
        self._delete_obsolete_files()
        if self._inline:
            with self._cv:
                self._run_background_inline()

    # ------------------------------------------------------------------ checkpoint / stats

    def checkpoint(self, target: _Path) -> None:
        """A consistent copy openable as a DB: SSTables hard-linked, MANIFEST rewritten,
        the WAL tail copied."""
        from lsmdb.lsm.checkpoint import CheckpointSource, make_checkpoint

        self._check_open()
        with self._operation():
            make_checkpoint(CheckpointSource(self.env, self.path, self.options, self.read_only,
                                             self.flush, self._versions, self._version_lock),
                            fs_path(target, "checkpoint target"))

    def stats(self, *, exact: bool = False) -> DBStats:
        """Per-level and whole-DB statistics (amplification, filters, stalls, cache) beside the
        cost model; ``exact=True`` counts live bytes by a full scan instead of estimating."""
        self._check_open()
        if not self.read_only:
            with self._mutex:
                self._fold_direct_writes(self._wal)
        sources = StatsSources(self._versions.current, self.options, self._tables.readers(),
                               self._block_cache, self._policy, self.items)
        return self._stats.snapshot(sources, exact=exact)

    def open_table_readers(self) -> list:
        """The table files the table cache holds open now, each with its read counters
        (``bloom_checks``, ``data_blocks_read``, ``cache_hits``, ...): a read-only view for
        tools measuring read amplification, such as ``lsmdb bench``."""
        return self._tables.readers()

    def wal_counters(self) -> tuple[int, int]:
        """(bytes appended to the WAL, fsyncs of it) since open: the two WAL totals of
        :meth:`stats`, without building the rest of the report (a caller polling them, as
        the storage engine's metrics do)."""
        self._check_open()
        if not self.read_only:
            with self._mutex:
                self._fold_direct_writes(self._wal)
        return self._stats.wal_bytes, self._stats.wal_syncs

    def delete_obsolete_files(self) -> None:
        """Delete now the SSTables no version lists and the WAL segments every write of which
        is in an SSTable (all but the newest ``Options.wal_keep_segments`` of them). Flushes
        and compactions do this themselves, in the background thread; a caller that must
        know it is done (a checkpoint trimming the WAL) calls this after :meth:`flush`."""
        self._check_writable()
        with self._operation():
            self._delete_obsolete_files()

    # ------------------------------------------------------------------ close

    def close(self) -> None:
        """Close the database; safe from any thread, any number of times.

        From its first step new writes and operations get ClosedError. It waits for the
        writes already queued (a group inside its WAL append included) and for running
        flush/compact_range/resume/checkpoint calls, stops the background threads (each
        finishes the flush or compaction it is running), then closes the files. A second
        close() returns when the first is done. Every write acknowledged before close()
        returned is in the WAL or an SSTable."""
        with self._cv:
            if self._closing:
                first = False
            elif self._closed:
                return  # never opened
            else:
                first = True
                self._closing = True
                self._wake_all()
                while self._writers or self._active_ops:
                    self._cv.wait()
        if not first:
            self._close_done.wait()
            return
        try:
            for t in self._bg_threads:
                t.join()
            self._closed = True
            self._release_resources()
        finally:
            self._closed = True
            self._close_done.set()

    def _release_resources(self) -> None:
        try:
            if self._wal is not None:
                try:
                    if (self._wal.unsynced_records
                            and not self._commit_schedule.never_syncs):
                        self._wal.sync()
                finally:
                    self._wal.close()
                    self._wal = None
            versions = getattr(self, "_versions", None)
            if versions is not None:
                versions.close()
            tables = getattr(self, "_tables", None)
            if tables is not None:
                tables.close()
        finally:
            if self._lock_handle is not None:
                self._lock_handle.release()
                self._lock_handle = None
            self._unregister()

    def _unregister(self) -> None:
        if self._registered:
            with _OPEN_DIRS_LOCK:
                _OPEN_DIRS.discard(self.path)
            self._registered = False

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closed

    @property
    def recovery_info(self) -> walmod.WalRecoveryInfo:
        """What the WAL replay at open found (zeros and False for a new database)."""
        return self._recovery_info

    def __enter__(self) -> DB:
        """The DB itself (``ClosedError`` if closed); leaving the block closes it."""
        self._check_open()
        return self

    def __exit__(self, *exc):
        """Close the DB."""
        self.close()

    def __del__(self):
        try:
            if not self._closed:
                self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("read-only" if self.read_only else "open")
        return f"<lsmdb.DB {self.path!r} {state}>"


_MISSING = object()


def _keys_of(it: DBIterator) -> Iterator[bytes]:
    for k, _ in it:
        yield k


def _values_of(it: DBIterator) -> Iterator[bytes]:
    for _, v in it:
        yield v


def _merge_batches(group: list[_Writer]) -> WriteBatch:
    merged = WriteBatch()
    for w in group:
        merged.append(w.batch)
    return merged


def open(path: _Path, options: Options | None = None, *, create: bool = True,  # noqa: A001
         read_only: bool = False, error_if_exists: bool = False, env: Env | None = None,
         inline_background: bool = False, accept_default_options: bool = False,
         **overrides) -> DB:
    """Open (or create) the database at ``path`` (str, bytes or os.PathLike; "" is refused).

    Which options apply (docs/options.md, "Reopening a database"): an ``options`` object is
    used whole; without one, an existing database starts from the options it stored
    (``OPTIONS-<n>.json``) and a new one from ``Options()``. ``overrides`` then change only
    the fields they name, spelled plainly (``wal_sync="always"``), dotted
    (``**{"compaction.style": "tiered"}``) or as a dict per group (``compaction={"style":
    "tiered"}``); see :func:`lsmdb.options.keyword_overrides`. A damaged stored file raises
    CorruptionError and a stored compaction policy that cannot be imported raises
    InvalidOptionsError, unless ``accept_default_options=True`` (then: the defaults, or the
    built-in policy of the stored style).
    ``inline_background=True`` runs flushes and compactions synchronously inside the write
    that triggers them (deterministic mode for tests and replays).

    ``read_only=True`` takes no lock, writes nothing and may run beside a writer process.
    It is a point-in-time view: the tables the MANIFEST lists at open (all opened at once,
    so a writer's compactions cannot pull them away) plus the WAL records present then;
    later writes are not seen until the next open. A race with the writer replacing files
    is retried; ``BusyError`` (a ``LockError``) if the writer kept replacing them through
    every retry, ``CorruptionError`` only for damage that reads the same twice. Writes raise
    ``FeatureNotSupportedError``. See docs/reliability.md, "Read-only opens".
    """
    return DB(path, options, create=create, read_only=read_only,
              error_if_exists=error_if_exists, env=env, inline_background=inline_background,
              overrides=keyword_overrides(overrides),
              accept_default_options=accept_default_options)


__all__ = ["DB", "open", "Snapshot", "DBIterator", "MAX_SEQNO", "CorruptionError"]
