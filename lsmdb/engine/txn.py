"""A transaction's private state: write overlay, savepoints (undo log), reads and snapshots.

Uncommitted writes never reach the key space. The overlay maps key -> value (None = deleted);
reads merge it over the transaction's snapshot (SNAPSHOT / SERIALIZABLE: taken at begin; READ
COMMITTED: a fresh one per statement). Commit writes the overlay as one atomic batch
(commit.py). A savepoint is a position in the undo log; the log holds the overlay's
before-images (and catalog states for DDL), recorded only while a savepoint exists.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from lsmdb.errors import TransactionError
from lsmdb.storage_api import IsolationLevel

__all__ = ["EngineSnapshot", "Transaction", "MISSING"]

MISSING = object()  # "not in the overlay" (None in the overlay means deleted)
_CATALOG = object()  # undo-log tag of a catalog state


class EngineSnapshot:
    """A key-space snapshot with the commit ts and catalog it shows; reference counted so a
    READ COMMITTED scan keeps its statement's snapshot while the next statement moves on."""

    __slots__ = ("ts", "keysnap", "catalog", "refs")

    def __init__(self, ts: int, keysnap, catalog):
        self.ts = ts
        self.keysnap = keysnap
        self.catalog = catalog
        self.refs = 1

    def acquire(self) -> EngineSnapshot:
        self.refs += 1
        return self

    def release(self) -> None:
        self.refs -= 1
        if self.refs == 0:
            self.keysnap.release()


class Transaction:
    def __init__(self, engine, txn_id: int, isolation: IsolationLevel, snap: EngineSnapshot):
        self.engine = engine
        self.backend = engine._backend
        self.txn_id = txn_id
        self.isolation = isolation
        self.rc = isolation is IsolationLevel.READ_COMMITTED
        self.serializable = isolation is IsolationLevel.SERIALIZABLE
        self.stmt = snap  # the snapshot reads use (one reference owned here)
        self.begin_ts = snap.ts
        self.catalog = snap.catalog
        self.own_ddl = False
        self.ddl_tables: dict = {}  # table_id -> TableInfo | None (dropped)
        self.ddl_indexes: dict = {}  # index_id -> index | None (dropped)
        self.masks: list[tuple[bytes, bytes]] = []  # ranges dropped by this txn's DDL
        self.overlay: dict[bytes, bytes | None] = {}
        self.wts: dict[bytes, int] = {}  # READ COMMITTED: snapshot ts of the first write
        self.heap_before: dict[bytes, int] = {}  # heap key -> committed row size (-1: none)
        self.checks: dict[bytes, int] = {}  # extra conflict keys (catalog deps) -> ts
        self.marks: set[bytes] = set()  # table DML markers published at commit
        self.reads: set[bytes] = set()  # SERIALIZABLE read set: keys ...
        self.read_ranges: list[tuple[bytes, bytes]] = []  # ... and ranges
        self.undo: list = []
        self.savepoints: dict[int, int] = {}
        self.next_savepoint = 0
        self.pending_bytes = 0  # bytes this txn adds (memory limit)
        self.active = True
        self._sorted: list[bytes] | None = None

    # ------------------------------------------------------------------ statements

    def statement(self) -> None:
        """Start a statement: READ COMMITTED reads the latest commit from here on."""
        if not self.active:
            raise TransactionError(f"transaction {self.txn_id} is not active")
        if self.rc:
            old = self.stmt
            self.stmt = self.engine._take_snapshot()
            old.release()
            if not self.own_ddl:
                self.catalog = self.stmt.catalog

    def write_ts(self) -> int:
        return self.stmt.ts

    # ------------------------------------------------------------------ overlay writes

    def put(self, key: bytes, value: bytes | None) -> None:
        ov = self.overlay
        if self.savepoints:
            self.undo.append((key, ov.get(key, MISSING)))
        if key not in ov:
            self._sorted = None
            if self.rc:
                self.wts.setdefault(key, self.stmt.ts)
        ov[key] = value

    def note_heap_before(self, key: bytes, size: int) -> None:
        if key not in self.heap_before:
            self.heap_before[key] = size

    def set_catalog(self, catalog, table_id: int | None = None, table=MISSING,
                    index_id: int | None = None, index=MISSING) -> None:
        if self.savepoints:
            self.undo.append((_CATALOG, (self.catalog, dict(self.ddl_tables),
                                         dict(self.ddl_indexes), len(self.masks),
                                         self.own_ddl)))
        self.catalog = catalog
        self.own_ddl = True
        if table is not MISSING:
            self.ddl_tables[table_id] = table
        if index is not MISSING:
            self.ddl_indexes[index_id] = index

    def mask(self, start: bytes, stop: bytes) -> None:
        """Hide a dropped key range from this transaction's snapshot reads; the commit batch
        deletes it (after set_catalog, so a savepoint rollback restores ``masks``)."""
        self.masks.append((start, stop))
        for k in [k for k in self.overlay if start <= k < stop]:
            self.put(k, None)

    # ------------------------------------------------------------------ reads

    def _masked(self, key: bytes) -> bool:
        return any(a <= key < b for a, b in self.masks)

    def get(self, key: bytes) -> bytes | None:
        v = self.overlay.get(key, MISSING)
        if v is not MISSING:
            return v  # type: ignore[return-value]
        if self.masks and self._masked(key):
            return None
        if self.serializable:
            self.reads.add(key)
        return self.backend.get(key, self.stmt.keysnap)

    def _sorted_keys(self) -> list[bytes]:
        if self._sorted is None:
            self._sorted = sorted(self.overlay)
        return self._sorted

    def scan(self, start: bytes, stop: bytes, reverse: bool = False
             ) -> Iterator[tuple[bytes, bytes]]:
        """Live (key, value) in [start, stop): the overlay as of this call over the snapshot."""
        if self.serializable:
            self.read_ranges.append((start, stop))
        snap = self.stmt.acquire()
        try:
            base = self.backend.scan(start, stop, reverse, snap.keysnap)
            if self.masks:
                masks = self.masks
                base = ((k, v) for k, v in base if not any(a <= k < b for a, b in masks))
            sel = None
            if self.overlay:
                keys = self._sorted_keys()
                lo = bisect_left(keys, start)
                hi = bisect_left(keys, stop, lo)
                if lo < hi:
                    sel = keys[lo:hi]
            if sel is None:
                yield from base
            else:
                ov = self.overlay
                vals = [ov[k] for k in sel]
                if reverse:
                    sel.reverse()
                    vals.reverse()
                yield from _merge(base, sel, vals, reverse)
        finally:
            snap.release()

    # ------------------------------------------------------------------ savepoints

    def create_savepoint(self) -> int:
        sp = self.next_savepoint
        self.next_savepoint += 1
        self.savepoints[sp] = len(self.undo)
        return sp

    def _check_savepoint(self, sp: int) -> int:
        if type(sp) is not int or sp not in self.savepoints:
            raise TransactionError(
                f"savepoint {sp!r} does not exist in transaction {self.txn_id}")
        return self.savepoints[sp]

    def rollback_to_savepoint(self, sp: int) -> None:
        n = self._check_savepoint(sp)
        undo, ov = self.undo, self.overlay
        while len(undo) > n:
            key, prev = undo.pop()
            if key is _CATALOG:
                (self.catalog, self.ddl_tables, self.ddl_indexes, nmasks,
                 self.own_ddl) = prev
                del self.masks[nmasks:]
            elif prev is MISSING:
                ov.pop(key, None)
                self._sorted = None
            else:
                ov[key] = prev
        for later in [s for s in self.savepoints if s > sp]:
            del self.savepoints[later]  # the savepoint itself stays valid

    def release_savepoint(self, sp: int) -> None:
        self._check_savepoint(sp)
        for later in [s for s in self.savepoints if s >= sp]:
            del self.savepoints[later]  # releasing releases the later ones too
        if not self.savepoints:
            self.undo.clear()

    # ------------------------------------------------------------------ end

    def finish(self) -> None:
        if self.active:
            self.active = False
            self.stmt.release()


def _merge(base, okeys: list[bytes], ovals: list, reverse: bool):
    """Merge the snapshot stream with the overlay's (key, value) lists; overlay wins, None
    values (deletes) are dropped."""
    i, n = 0, len(okeys)
    for k, v in base:
        while i < n and (okeys[i] > k if reverse else okeys[i] < k):
            if ovals[i] is not None:
                yield okeys[i], ovals[i]
            i += 1
        if i < n and okeys[i] == k:
            if ovals[i] is not None:
                yield k, ovals[i]
            i += 1
            continue
        yield k, v
    while i < n:
        if ovals[i] is not None:
            yield okeys[i], ovals[i]
        i += 1
