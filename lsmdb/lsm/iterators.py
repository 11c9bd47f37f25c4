"""User-facing read views: Snapshot and DBIterator.

A DBIterator holds the memtables and Version it was built from (``pins``), so it keeps
seeing one consistent state, and the files it reads stay on disk, across later flushes and
compactions. It is a thin shell over the Cython MergingIterator + VisibleIterator pair.
"""

from __future__ import annotations

from lsmdb.errors import ClosedError, InvalidArgumentError


def collect_tombstones(mem, imms, version, tables) -> list[tuple[bytes, bytes, int]]:
    out: list[tuple[bytes, bytes, int]] = []
    for ref in (mem, *imms):
        if ref.mem.num_range_deletes:
            out.extend(ref.mem.range_tombstones())
    for _, f in version.files():
        if f.range_deletions:
            out.extend(tables.get(f).range_tombstones())
    return out


def _key_arg(key, name: str = "key") -> bytes:
    if isinstance(key, bytes):
        return key
    if isinstance(key, str):
        raise TypeError(f"{name} must be bytes-like, not str")
    try:
        return bytes(memoryview(key))
    except TypeError:
        raise TypeError(f"{name} must be bytes-like, not {type(key).__name__}") from None


class DBIterator:
    """Ordered iteration over live keys. Unpositioned iterators start at the first key (the
    last with ``reverse=True``); ``next(it)`` returns ``(key, value)`` and advances."""

    def __init__(self, db, children, seqno: int, tombstones, pins, lower, upper, reverse):
        from lsmdb._core.merge import MergingIterator, VisibleIterator
        from lsmdb._core.rangedel import FragmentedRangeTombstones

        frag = FragmentedRangeTombstones(tombstones) if tombstones else None
        self._db = db
        self._pins = pins
        self.seqno = seqno
        self.reverse = reverse
        self._it = VisibleIterator(MergingIterator(children), seqno, frag,
                                   lower_bound=lower, upper_bound=upper)
        self._positioned = False
        self._closed = False

    def _check(self) -> None:
        if self._closed:
            raise ClosedError("iterator is closed")
        if self._db._closed:
            raise ClosedError("database is closed")

    def _ensure_positioned(self) -> None:
        if not self._positioned:
            if self.reverse:
                self._it.seek_to_last()
            else:
                self._it.seek_to_first()
            self._positioned = True

    # positioning ---------------------------------------------------------------------
    def seek_to_first(self) -> None:
        self._check()
        self._it.seek_to_first()
        self._positioned = True

    def seek_to_last(self) -> None:
        self._check()
        self._it.seek_to_last()
        self._positioned = True

    def seek(self, key) -> None:
        """Position at the first key >= key."""
        self._check()
        self._it.seek(_key_arg(key))
        self._positioned = True

    def seek_for_prev(self, key) -> None:
        """Position at the last key <= key."""
        self._check()
        self._it.seek_for_prev(_key_arg(key))
        self._positioned = True

    def valid(self) -> bool:
        self._check()
        self._ensure_positioned()
        return self._it.valid()

    def key(self) -> bytes:
        self._check()
        self._ensure_positioned()
        if not self._it.valid():
            raise InvalidArgumentError("iterator is not positioned on a key")
        return self._it.key()

    def value(self) -> bytes:
        self._check()
        self._ensure_positioned()
        if not self._it.valid():
            raise InvalidArgumentError("iterator is not positioned on a key")
        return self._it.value()

    def next(self) -> None:
        """Move to the next key (in key order, whatever ``reverse`` says)."""
        self._check()
        self._ensure_positioned()
        if not self._it.valid():
            raise InvalidArgumentError("iterator is not positioned on a key")
        self._it.next()

    def prev(self) -> None:
        self._check()
        self._ensure_positioned()
        if not self._it.valid():
            raise InvalidArgumentError("iterator is not positioned on a key")
        self._it.prev()

    # Python iteration ----------------------------------------------------------------
    def __iter__(self):
        return self

    def __next__(self) -> tuple[bytes, bytes]:
        self._check()
        self._ensure_positioned()
        it = self._it
        if not it.valid():
            raise StopIteration
        item = (it.key(), it.value())
        if self.reverse:
            it.prev()
        else:
            it.next()
        return item

    def items(self):
        """Generator of (key, value) from the current position in the iterator's direction."""
        self._check()
        self._ensure_positioned()
        it = self._it
        if self.reverse:
            while it.valid():
                item = (it.key(), it.value())
                it.prev()
                yield item
                if self._closed or self._db._closed:
                    raise ClosedError("iterator was closed during iteration")
        else:
            for item in it:
                yield item
                if self._closed or self._db._closed:
                    raise ClosedError("iterator was closed during iteration")
        self.close()  # exhausted: release the pinned version now

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        pins, self._pins, self._it = self._pins, None, None
        if pins is not None and not self._db._closed:
            self._db._unpin_version(pins[2])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


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
