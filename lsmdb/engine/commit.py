"""Commit: validation (first committer wins, SERIALIZABLE read-set validation), commit-ts
assignment and group commit with ordered publication.

Validation runs under one lock: a transaction conflicts when a key it writes (or a catalog
key it depends on) was committed by another transaction after the snapshot its write was
based on. ``ConflictTracker`` remembers recent commits (key -> commit ts, plus per-commit key
lists for SERIALIZABLE), pruned below the oldest active snapshot.

Group commit (LevelDB's leader/follower): validated commits queue in commit-ts order; a
waiting committer leads when no one does, merges every queued batch into one key-space write
(one fsync under WalCommitPolicy.ALWAYS), then publishes them all, in order, so a snapshot
never sees a later commit without an earlier one.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import deque

from lsmdb._core.batch import WriteBatch
from lsmdb._core.rowstage import deleted_keys
from lsmdb.wal.commit_policy import CommitSchedule

__all__ = ["ConflictTracker", "CommitQueue", "PendingCommit"]


class ConflictTracker:
    """Recent commits' written keys. Costs are per commit, not per key, where it can be: a
    commit records its keys with one C-level dict update and the keys it deleted with one C
    loop (to tell puts from deletes on demand), and a prune that drops every commit clears
    the maps outright; a single writer's tracker so stays one or two commits long."""

    def __init__(self) -> None:
        self.recent: dict[bytes, int] = {}  # key -> ts of its last commit
        self.log: deque[tuple[int, list[bytes]]] = deque()  # (ts, keys) per commit
        self._deleted: dict[int, frozenset] = {}  # ts -> the keys that commit deleted

    def conflicts(self, keys_ts):
        """The first (key, ts) in ``keys_ts`` (key -> snapshot ts) committed after its ts."""
        recent = self.recent
        if not recent:
            return None
        for key, ts in keys_ts:
            c = recent.get(key)
            if c is not None and c > ts:
                return key, c
        return None

    def first_conflict(self, keys: dict, ts: int, wts: dict | None = None):
        """Like ``conflicts`` over the keys of ``keys`` (in its order), each against ``ts``
        or its own ``wts`` entry, walking whichever of ``keys`` and the recent map is
        smaller."""
        recent = self.recent
        if not recent:
            return None
        if len(recent) < len(keys):
            hits = {k for k in recent if k in keys}
            if not hits:
                return None
            keys = {k: None for k in keys if k in hits}  # overlay order
        for key in keys:
            c = recent.get(key)
            if c is not None and c > (ts if wts is None else wts.get(key, ts)):
                return key, c
        return None

    def wrote_put(self, key: bytes) -> bool:
        """Whether the last recorded commit of ``key`` wrote it (rather than deleted it)."""
        ts = self.recent.get(key)
        return ts is not None and key not in self._deleted.get(ts, ())

    def read_conflict(self, since_ts: int, points: set[bytes],
                      ranges: list[tuple[bytes, bytes]]) -> bytes | None:
        """A key written by a commit after ``since_ts`` that the reader read or scanned over."""
        if not points and not ranges:
            return None
        merged = _merge_ranges(ranges)
        starts = [a for a, _ in merged]
        for ts, keys in reversed(self.log):
            if ts <= since_ts:
                break
            for k in keys:
                if k in points:
                    return k
                i = bisect_right(starts, k) - 1
                if i >= 0 and k < merged[i][1]:
                    return k
        return None

    def record(self, ts: int, writes: dict, marks) -> None:
        """Record commit ``ts``: ``writes`` is its overlay (key -> value, None = deleted),
        ``marks`` its extra conflict keys."""
        keys = list(writes)
        keys.extend(marks)
        self.recent.update(dict.fromkeys(keys, ts))
        self._deleted[ts] = deleted_keys(writes)
        self.log.append((ts, keys))

    def prune(self, horizon: int) -> None:
        """Forget commits at or below ``horizon`` (no active snapshot is older)."""
        log, recent, deleted = self.log, self.recent, self._deleted
        if log and log[-1][0] <= horizon:  # every commit goes: no per-key work
            log.clear()
            recent.clear()
            deleted.clear()
            return
        while log and log[0][0] <= horizon:
            ts, keys = log.popleft()
            deleted.pop(ts, None)
            for k in keys:
                if recent.get(k) == ts:
                    del recent[k]


def _merge_ranges(ranges):
    out: list[tuple[bytes, bytes]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


class PendingCommit:
    __slots__ = ("batch", "ts", "catalog", "done", "error", "on_published")

    def __init__(self, batch: WriteBatch, ts: int, catalog, on_published=None):
        self.batch = batch
        self.ts = ts
        self.catalog = catalog
        self.done = False
        self.error: BaseException | None = None
        self.on_published = on_published


class CommitQueue:
    """Leader/follower group commit over a key space (see module doc)."""

    def __init__(self, backend, schedule: CommitSchedule, publish):
        self._backend = backend
        self._schedule = schedule  # the WAL commit policy's count (only the leader asks)
        self._publish = publish  # publish(last_ts, catalog or None) under the engine's lock
        self._cv = threading.Condition(threading.Lock())
        self._queue: deque[PendingCommit] = deque()
        self._leading = False
        self._waiters = 0  # threads waiting for their turn (notify only when there are some)
        self.groups = 0
        self.depth_peak = 0
        self.syncs = 0

    @property
    def writing(self) -> bool:
        """Whether a leader is writing a group (set before its write, cleared after its
        publication)."""
        return self._leading

    def enqueue(self, p: PendingCommit) -> None:
        """Called under the validation lock, so the queue is in commit-ts order."""
        with self._cv:
            self._queue.append(p)
            if len(self._queue) > self.depth_peak:
                self.depth_peak = len(self._queue)

    def wait(self, p: PendingCommit) -> None:
        """Return when ``p`` is durable per policy and published; raise its write error.

        Any waiter leads when no one does, writing the whole queue (the commits queued
        before its own included), not only the one at the front: a commit whose thread left
        between enqueue and wait (an exception there, an interrupt while it waited) must not
        hold every later commit back forever."""
        cv = self._cv
        with cv:
            while not p.done and self._leading:
                self._waiters += 1
                try:
                    cv.wait()
                finally:
                    self._waiters -= 1
            if p.done:
                if p.error is not None:
                    raise p.error
                return
            self._leading = True
            group = list(self._queue)
        error: BaseException | None = None
        try:
            if len(group) == 1:
                merged = group[0].batch
            else:
                merged = WriteBatch()
                for g in group:
                    merged.append(g.batch)
            schedule = self._schedule
            sync = schedule.commit_needs_sync(schedule.syncs_by_default, len(group))
            self._backend.write(merged, sync)
            if sync:
                self.syncs += 1
        except BaseException as exc:  # the key space refused the write: nothing published
            error = exc
        with cv:
            if error is None:
                catalog = None
                for g in group:
                    if g.catalog is not None:
                        catalog = g.catalog
                self._publish(group[-1].ts, catalog)
                self.groups += 1
            for g in group:
                self._queue.popleft()
                g.done = True
                g.error = error
            self._leading = False
            if self._waiters:
                cv.notify_all()
        if error is not None:
            raise error
