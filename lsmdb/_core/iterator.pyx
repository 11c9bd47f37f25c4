"""Base class of every internal iterator (protocol in iterator.pxd).

The Python methods below are thin wrappers so tests and Python orchestration code can drive
any iterator; hot paths use the cdef methods. Subclasses must override every cdef method.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport uint8_t

from lsmdb.errors import InvalidArgumentError


cdef class InternalIterator:
    cdef int c_seek_to_first(self) except -1:
        raise TypeError(f"{type(self).__name__} does not implement seek_to_first")

    cdef int c_seek_to_last(self) except -1:
        raise TypeError(f"{type(self).__name__} does not implement seek_to_last")

    cdef int c_seek(self, const uint8_t *target, Py_ssize_t n) except -1:
        raise TypeError(f"{type(self).__name__} does not implement seek")

    cdef int c_seek_for_prev(self, const uint8_t *target, Py_ssize_t n) except -1:
        raise TypeError(f"{type(self).__name__} does not implement seek_for_prev")

    cdef int c_next(self) except -1:
        raise TypeError(f"{type(self).__name__} does not implement next")

    cdef int c_prev(self) except -1:
        raise TypeError(f"{type(self).__name__} does not implement prev")

    cdef bint c_valid(self) noexcept:
        return False

    cdef const uint8_t *c_key(self, Py_ssize_t *n) noexcept:
        n[0] = 0
        return NULL

    cdef const uint8_t *c_value(self, Py_ssize_t *n) noexcept:
        n[0] = 0
        return NULL

    # Python-visible API ---------------------------------------------------------------

    def valid(self) -> bool:
        return self.c_valid()

    def seek_to_first(self) -> None:
        self.c_seek_to_first()

    def seek_to_last(self) -> None:
        self.c_seek_to_last()

    def seek(self, target) -> None:
        """Position at the first entry >= target (an internal key, >= 8 bytes)."""
        cdef const uint8_t[::1] v = _internal_target(target)
        self.c_seek(&v[0], v.shape[0])

    def seek_for_prev(self, target) -> None:
        """Position at the last entry <= target (an internal key, >= 8 bytes)."""
        cdef const uint8_t[::1] v = _internal_target(target)
        self.c_seek_for_prev(&v[0], v.shape[0])

    def next(self) -> None:
        self._require_valid()
        self.c_next()

    def prev(self) -> None:
        self._require_valid()
        self.c_prev()

    def key(self) -> bytes:
        cdef Py_ssize_t n
        self._require_valid()
        cdef const uint8_t *p = self.c_key(&n)
        return PyBytes_FromStringAndSize(<const char *>p, n)

    def value(self) -> bytes:
        cdef Py_ssize_t n
        self._require_valid()
        cdef const uint8_t *p = self.c_value(&n)
        return PyBytes_FromStringAndSize(<const char *>p, n)

    def entries(self):
        """Yield (internal_key, value) from the current position forward."""
        while self.c_valid():
            yield self.key(), self.value()
            self.c_next()

    def _require_valid(self):
        if not self.c_valid():
            raise InvalidArgumentError("iterator is not positioned on an entry")


cdef const uint8_t[::1] _internal_target(object target):
    cdef const uint8_t[::1] v = memoryview(target).cast("B")
    if v.shape[0] < 8:
        raise InvalidArgumentError("seek target must be an internal key (>= 8 bytes)")
    return v
