"""User-facing read views: Snapshot here, DBIterator in Cython (lsmdb/_core/dbiter.pyx)."""

from __future__ import annotations

from collections.abc import Iterator

from lsmdb._core.dbiter import DBIterator
from lsmdb.errors import ClosedError

__all__ = ["DBIterator", "Snapshot"]


class Snapshot:
    """A consistent read view at one sequence number; same read API as the DB (get, [],
    in, items/keys/values/iterator, exact len() and bool()). Close it (or use ``with``) to let
    compaction drop the versions it pins; a closed snapshot raises ClosedError."""

    def __init__(self, db, seqno: int):
        self._db = db
        self.seqno = seqno
        self._closed = False

    def _check(self) -> None:
        if self._closed:
            raise ClosedError("snapshot is closed")
        if self._db._closed:
            raise ClosedError("database is closed")

    def get(self, key, default=None):
        """The value of ``key`` at this snapshot, or ``default`` when absent."""
        return self._db.get(key, default, snapshot=self)

    def multi_get(self, keys) -> list:
        """The values of ``keys`` at this snapshot (None when absent), in input order."""
        return self._db.multi_get(keys, snapshot=self)

    def __getitem__(self, key):
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __contains__(self, key) -> bool:
        sentinel = object()
        return self.get(key, sentinel) is not sentinel

    def items(self, start=None, stop=None, *, prefix=None, reverse: bool = False
              ) -> Iterator[tuple[bytes, bytes]]:
        """``(key, value)`` pairs in the bounds, as :meth:`lsmdb.DB.iterator` defines them."""
        return self._db.items(start, stop, prefix=prefix, reverse=reverse, snapshot=self)

    def keys(self, start=None, stop=None, *, prefix=None, reverse: bool = False
             ) -> Iterator[bytes]:
        """Keys in the bounds, as :meth:`lsmdb.DB.iterator` defines them."""
        return self._db.keys(start, stop, prefix=prefix, reverse=reverse, snapshot=self)

    def values(self, start=None, stop=None, *, prefix=None, reverse: bool = False
               ) -> Iterator[bytes]:
        """Values in the bounds, in key order, as :meth:`lsmdb.DB.iterator` defines them."""
        return self._db.values(start, stop, prefix=prefix, reverse=reverse, snapshot=self)

    def iterator(self, start=None, stop=None, *, prefix=None, reverse: bool = False
                 ) -> DBIterator:
        """An iterator over this snapshot; bounds as :meth:`lsmdb.DB.iterator` defines them."""
        return self._db.iterator(start, stop, prefix=prefix, reverse=reverse, snapshot=self)

    def __iter__(self) -> Iterator[bytes]:
        return self.keys()

    def count(self) -> int:
        """Exact number of live keys the snapshot sees (a full scan, as ``len(snapshot)``)."""
        self._check()
        return self._db._count_live(self)

    def __len__(self) -> int:
        """Exact number of live keys the snapshot sees: a full scan, like ``len(db)``."""
        return self.count()

    def __bool__(self) -> bool:
        """True if the snapshot sees any live key (one seek)."""
        self._check()
        return self._db._any_live(self)

    def close(self) -> None:
        """Release the snapshot (idempotent): compaction may then drop the versions it pinned."""
        if not self._closed:
            self._closed = True
            if not self._db._closed:
                self._db._release_snapshot(self.seqno)

    def __enter__(self) -> Snapshot:
        self._check()
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


_MISSING = object()
