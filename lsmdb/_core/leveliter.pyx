"""LevelIterator: one InternalIterator over a sorted run of non-overlapping SSTables.

Files are opened lazily through ``opener(index) -> InternalIterator``, so iterating a level
of thousands of files opens only the ones the cursor reaches (LevelDB's two-level iterator
over the file list). ``largest`` holds each file's largest internal key, ascending.

A file's iterator, once opened, is kept for the life of the LevelIterator and reused when a
later seek comes back to that file: random seeks over a level of many files switch files on
almost every seek, and building an iterator (a Python call to ``opener``, a table-cache
lookup, a new object) cost ~0.45 us per switch. The iterator the cursor leaves is told to
``release()`` what it holds if it has that method (an SSTableIterator drops its data
block), so the kept iterators pin no blocks.
"""

from libc.stdint cimport uint8_t

from lsmdb._core.ikey cimport compare_internal
from lsmdb._core.iterator cimport InternalIterator


cdef class LevelIterator(InternalIterator):
    cdef list largest
    cdef object opener
    cdef dict opened          # file index -> its iterator, once opened
    cdef Py_ssize_t index
    cdef InternalIterator cur

    def __init__(self, list largest, opener):
        self.largest = largest if type(largest) is list else [bytes(k) for k in largest]
        self.opener = opener
        self.opened = {}          # not a list per file: creating an iterator stays O(1)
        self.index = -1
        self.cur = None

    cdef int _open(self, Py_ssize_t i) except -1:
        cdef object it
        if i == self.index and self.cur is not None:
            return 0
        if self.cur is not None:
            release = getattr(self.cur, "release", None)
            if release is not None:
                release()
        if i < 0 or i >= len(self.largest):
            self.index = -1
            self.cur = None
            return 0
        it = self.opened.get(i)
        if it is None:
            it = self.opener(i)
            if not isinstance(it, InternalIterator):
                raise TypeError("LevelIterator opener must return an InternalIterator")
            self.opened[i] = it
        self.cur = <InternalIterator>it
        self.index = i
        return 0

    cdef Py_ssize_t _find(self, const uint8_t *target, Py_ssize_t n):
        """Index of the first file whose largest key >= target (len if none)."""
        cdef Py_ssize_t lo = 0, hi = len(self.largest), mid
        cdef bytes k
        while lo < hi:
            mid = (lo + hi) >> 1
            k = <bytes>self.largest[mid]
            if compare_internal(<const uint8_t *><char *>k, len(k), target, n) < 0:
                lo = mid + 1
            else:
                hi = mid
        return lo

    cdef int _skip_forward(self) except -1:
        while self.cur is not None and not self.cur.c_valid():
            self._open(self.index + 1)
            if self.cur is not None:
                self.cur.c_seek_to_first()
        return 0

    cdef int _skip_backward(self) except -1:
        while self.cur is not None and not self.cur.c_valid():
            self._open(self.index - 1)
            if self.cur is not None:
                self.cur.c_seek_to_last()
        return 0

    cdef int c_seek_to_first(self) except -1:
        self._open(0)
        if self.cur is not None:
            self.cur.c_seek_to_first()
        return self._skip_forward()

    cdef int c_seek_to_last(self) except -1:
        self._open(len(self.largest) - 1)
        if self.cur is not None:
            self.cur.c_seek_to_last()
        return self._skip_backward()

    cdef int c_seek(self, const uint8_t *target, Py_ssize_t n) except -1:
        self._open(self._find(target, n))
        if self.cur is not None:
            self.cur.c_seek(target, n)
        return self._skip_forward()

    cdef int c_seek_for_prev(self, const uint8_t *target, Py_ssize_t n) except -1:
        cdef Py_ssize_t i = self._find(target, n)
        if i >= len(self.largest):
            i = len(self.largest) - 1
        self._open(i)
        if self.cur is not None:
            self.cur.c_seek_for_prev(target, n)
        return self._skip_backward()

    cdef int c_next(self) except -1:
        self.cur.c_next()
        return self._skip_forward()

    cdef int c_prev(self) except -1:
        self.cur.c_prev()
        return self._skip_backward()

    cdef bint c_valid(self) noexcept:
        return self.cur is not None and self.cur.c_valid()

    cdef const uint8_t *c_key(self, Py_ssize_t *n) noexcept:
        return self.cur.c_key(n)

    cdef const uint8_t *c_value(self, Py_ssize_t *n) noexcept:
        return self.cur.c_value(n)
