"""DBIterator: the user-facing ordered iterator of lsmdb.DB, in Cython.

It wraps a VisibleIterator over a MergingIterator of every source of one consistent read
view, and holds ``pins`` (the memtables and Version it was built from) so the iterator keeps
seeing one state, and the files it reads stay on disk, across flushes and compactions.
Every call checks that neither the iterator nor its DB was closed (ClosedError).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint8_t, uint64_t

from lsmdb._core.merging_iterator cimport MergingIterator
from lsmdb._core.visible_iterator cimport VisibleIterator
from lsmdb._core.rangedel import FragmentedRangeTombstones

from lsmdb.errors import ClosedError, InvalidArgumentError


cdef const uint8_t[::1] _key_view(object key) except *:
    if isinstance(key, str):
        raise TypeError("key must be bytes-like, not str")
    try:
        return memoryview(key).cast("B")
    except TypeError:
        raise TypeError(f"key must be bytes-like, not {type(key).__name__}") from None


cdef class DBIterator:
    """Ordered iteration over live keys. An unpositioned iterator starts at the first key
    (the last with ``reverse=True``); ``next(it)`` returns ``(key, value)`` and advances in
    the iterator's direction; ``it.next()`` / ``it.prev()`` move in key order."""

    cdef VisibleIterator _it
    cdef object __weakref__
    cdef object _db
    cdef object _pins
    cdef readonly uint64_t seqno
    cdef readonly bint reverse
    cdef bint _positioned
    cdef bint _closed

    def __init__(self, db, list children, uint64_t seqno, tombstones, pins, lower, upper,
                 bint reverse):
        frag = FragmentedRangeTombstones(tombstones) if tombstones else None
        self._db = db
        self._pins = pins
        self.seqno = seqno
        self.reverse = reverse
        self._it = VisibleIterator(MergingIterator(children), seqno, frag,
                                   lower_bound=lower, upper_bound=upper)
        self._positioned = False
        self._closed = False

    cdef inline int _check(self) except -1:
        if self._closed:
            raise ClosedError("iterator is closed")
        if self._db._closed:
            raise ClosedError("database is closed")
        if not self._positioned:
            if self.reverse:
                self._it.c_seek_to_last()
            else:
                self._it.c_seek_to_first()
            self._positioned = True
        return 0

    cdef inline int _check_valid(self) except -1:
        self._check()
        if not self._it._valid:
            raise InvalidArgumentError("iterator is not positioned on a key")
        return 0

    # positioning ---------------------------------------------------------------------
    def seek_to_first(self) -> None:
        self._positioned = True
        self._check()
        self._it.c_seek_to_first()

    def seek_to_last(self) -> None:
        self._positioned = True
        self._check()
        self._it.c_seek_to_last()

    def seek(self, key) -> None:
        """Position at the first key >= key."""
        cdef const uint8_t[::1] v
        if type(key) is bytes:
            # The common case without a memoryview: a seek loop pays for every object.
            self._positioned = True
            self._check()
            self._it.c_seek(<const uint8_t *>PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key))
            return
        v = _key_view(key)
        self._positioned = True
        self._check()
        self._it.c_seek(&v[0] if v.shape[0] else <const uint8_t *>b"", v.shape[0])

    def seek_for_prev(self, key) -> None:
        """Position at the last key <= key."""
        cdef const uint8_t[::1] v
        if type(key) is bytes:
            self._positioned = True
            self._check()
            self._it.c_seek_for_prev(<const uint8_t *>PyBytes_AS_STRING(key),
                                     PyBytes_GET_SIZE(key))
            return
        v = _key_view(key)
        self._positioned = True
        self._check()
        self._it.c_seek_for_prev(&v[0] if v.shape[0] else <const uint8_t *>b"", v.shape[0])

    def valid(self) -> bool:
        self._check()
        return self._it._valid

    def key(self) -> bytes:
        cdef Py_ssize_t n
        self._check_valid()
        cdef const uint8_t *p = self._it.c_key(&n)
        return PyBytes_FromStringAndSize(<const char *>p, n)

    def value(self) -> bytes:
        cdef Py_ssize_t n
        self._check_valid()
        cdef const uint8_t *p = self._it.c_value(&n)
        return PyBytes_FromStringAndSize(<const char *>p, n)

    def item(self) -> tuple:
        """(key, value) at the current position."""
        cdef Py_ssize_t kn, vn
        self._check_valid()
        cdef const uint8_t *k = self._it.c_key(&kn)
        cdef const uint8_t *v = self._it.c_value(&vn)
        return (PyBytes_FromStringAndSize(<const char *>k, kn),
                PyBytes_FromStringAndSize(<const char *>v, vn))

    def next(self) -> None:
        """Move to the next key (key order, whatever ``reverse`` says)."""
        self._check_valid()
        self._it.c_next()

    def prev(self) -> None:
        self._check_valid()
        self._it.c_prev()

    # Python iteration ----------------------------------------------------------------
    def __iter__(self):
        return self

    def __next__(self):
        cdef Py_ssize_t kn, vn
        self._check()
        if not self._it._valid:
            raise StopIteration
        cdef const uint8_t *k = self._it.c_key(&kn)
        cdef const uint8_t *v = self._it.c_value(&vn)
        item = (PyBytes_FromStringAndSize(<const char *>k, kn),
                PyBytes_FromStringAndSize(<const char *>v, vn))
        if self.reverse:
            self._it.c_prev()
        else:
            self._it.c_next()
        return item

    def items(self):
        """(key, value) pairs from the current position in the iterator's direction."""
        return self

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        pins, self._pins = self._pins, None
        if pins is not None and not self._db._closed:
            self._db._unpin_version(pins[2])

    @property
    def closed(self) -> bool:
        return self._closed

    def __del__(self):
        # Releasing the pinned Version lets its obsolete files be deleted now.
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        if self._closed:
            raise ClosedError("iterator is closed")
        if self._db._closed:
            raise ClosedError("database is closed")
        return self

    def __exit__(self, *exc):
        self.close()
