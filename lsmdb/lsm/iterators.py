"""User-facing read views: Snapshot here, DBIterator in Cython (lsmdb/_core/dbiter.pyx)."""

from __future__ import annotations

from lsmdb._core.dbiter import DBIterator
from lsmdb.errors import ClosedError

__all__ = ["DBIterator", "Snapshot"]


class Snapshot:
    """A consistent read view at one sequence number; same read API as the DB."""

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
        return self._db.get(key, default, snapshot=self)

    def __getitem__(self, key):
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __contains__(self, key) -> bool:
        sentinel = object()
        return self.get(key, sentinel) is not sentinel

    def items(self, start=None, stop=None, *, reverse: bool = False, prefix=None):
        return self._db.items(start, stop, reverse=reverse, prefix=prefix, snapshot=self)

    def keys(self, start=None, stop=None, *, reverse: bool = False, prefix=None):
        return self._db.keys(start, stop, reverse=reverse, prefix=prefix, snapshot=self)

    def values(self, start=None, stop=None, *, reverse: bool = False, prefix=None):
        return self._db.values(start, stop, reverse=reverse, prefix=prefix, snapshot=self)

    def iterator(self, *, start=None, stop=None, prefix=None, reverse: bool = False):
        return self._db.iterator(start=start, stop=stop, prefix=prefix, reverse=reverse,
                                 snapshot=self)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if not self._db._closed:
                self._db._release_snapshot(self.seqno)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


_MISSING = object()
