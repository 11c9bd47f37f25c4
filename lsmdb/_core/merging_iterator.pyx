"""MergingIterator: the union of several InternalIterators in internal order, forward and
backward (a binary heap of child indices; LevelDB's MergingIterator semantics).

The per-entry loops call children through the C vtable and hold the GIL: children are
Python-level objects (memtable, SSTable readers) whose methods may raise.
"""

from libc.stdint cimport uint8_t
from libc.stdlib cimport free, malloc

from lsmdb._core.ikey cimport compare_internal
from lsmdb._core.iterator cimport InternalIterator

from lsmdb.errors import CorruptionError, InvalidArgumentError


cdef class MergingIterator(InternalIterator):
    """Union of ``children`` (InternalIterators) in internal order, both directions.

    Entries with identical internal keys come from the lower child index first (pass
    children newest first). Direction switches reposition every child around the current
    key, as LevelDB's MergingIterator does.
    """

    def __cinit__(self):
        self._heap = NULL
        self._kp = NULL
        self._kn = NULL
        self._hsize = 0
        self._forward = True

    def __dealloc__(self):
        free(self._heap)
        free(self._kp)
        free(self._kn)

    def __init__(self, children):
        cdef list kids = list(children)
        cdef Py_ssize_t n = len(kids)
        for c in kids:
            if not isinstance(c, InternalIterator):
                raise TypeError(f"MergingIterator child must be an InternalIterator, not "
                                f"{type(c).__name__}")
        if self._heap != NULL:
            raise InvalidArgumentError("MergingIterator is already initialised")
        self._heap = <Py_ssize_t *>malloc(max(n, 1) * sizeof(Py_ssize_t))
        self._kp = <const uint8_t **>malloc(max(n, 1) * sizeof(uint8_t *))
        self._kn = <Py_ssize_t *>malloc(max(n, 1) * sizeof(Py_ssize_t))
        if self._heap == NULL or self._kp == NULL or self._kn == NULL:
            raise MemoryError()
        self._children = kids
        self._n = n

    @property
    def children(self) -> list:
        return list(self._children)

    cdef bint _before(self, Py_ssize_t a, Py_ssize_t b) noexcept:
        """Whether child a's entry comes out before child b's in the current direction."""
        cdef int r = compare_internal(self._kp[a], self._kn[a], self._kp[b], self._kn[b])
        if self._forward:
            return r < 0 or (r == 0 and a < b)
        return r > 0 or (r == 0 and a > b)

    cdef void _sift_down(self, Py_ssize_t i) noexcept:
        cdef Py_ssize_t n = self._hsize, c, best
        cdef Py_ssize_t *h = self._heap
        cdef Py_ssize_t item = h[i]
        while True:
            c = 2 * i + 1
            if c >= n:
                break
            best = c
            if c + 1 < n and self._before(h[c + 1], h[c]):
                best = c + 1
            if not self._before(h[best], item):
                break
            h[i] = h[best]
            i = best
        h[i] = item

    cdef int _cache_key(self, Py_ssize_t i) except -1:
        cdef InternalIterator c = <InternalIterator>self._children[i]
        self._kp[i] = c.c_key(&self._kn[i])
        if self._kn[i] < 8:
            raise CorruptionError(f"child {i} returned an internal key of {self._kn[i]} bytes")
        return 0

    cdef int _rebuild(self) except -1:
        cdef Py_ssize_t i
        cdef InternalIterator c
        self._hsize = 0
        for i in range(self._n):
            c = <InternalIterator>self._children[i]
            if c.c_valid():
                self._cache_key(i)
                self._heap[self._hsize] = i
                self._hsize += 1
        i = self._hsize // 2 - 1
        while i >= 0:
            self._sift_down(i)
            i -= 1
        return 0

    cdef int _after_top_moved(self) except -1:
        cdef Py_ssize_t top = self._heap[0]
        if (<InternalIterator>self._children[top]).c_valid():
            self._cache_key(top)
        else:
            self._hsize -= 1
            self._heap[0] = self._heap[self._hsize]
        if self._hsize > 1:
            self._sift_down(0)
        return 0

    cdef int c_seek_to_first(self) except -1:
        cdef InternalIterator c
        self._hsize = 0
        for c in self._children:
            c.c_seek_to_first()
        self._forward = True
        return self._rebuild()

    cdef int c_seek_to_last(self) except -1:
        cdef InternalIterator c
        self._hsize = 0
        for c in self._children:
            c.c_seek_to_last()
        self._forward = False
        return self._rebuild()

    cdef int c_seek(self, const uint8_t *target, Py_ssize_t n) except -1:
        cdef InternalIterator c
        self._hsize = 0
        for c in self._children:
            c.c_seek(target, n)
        self._forward = True
        return self._rebuild()

    cdef int c_seek_for_prev(self, const uint8_t *target, Py_ssize_t n) except -1:
        cdef InternalIterator c
        self._hsize = 0
        for c in self._children:
            c.c_seek_for_prev(target, n)
        self._forward = False
        return self._rebuild()

    cdef int c_next(self) except -1:
        cdef Py_ssize_t cur, j, kn, hs = self._hsize
        cdef const uint8_t *kp
        cdef InternalIterator c
        if hs == 0:
            return 0
        cur = self._heap[0]
        self._hsize = 0         # invalid until consistent again (a child may raise)
        if not self._forward:
            # Every other child moves to its first entry after the current one; the
            # current child's key stays valid while only the others move.
            kp = self._kp[cur]
            kn = self._kn[cur]
            for j in range(self._n):
                if j == cur:
                    continue
                c = <InternalIterator>self._children[j]
                c.c_seek(kp, kn)
                if j < cur and c.c_valid():
                    self._cache_key(j)
                    if compare_internal(self._kp[j], self._kn[j], kp, kn) == 0:
                        c.c_next()
            (<InternalIterator>self._children[cur]).c_next()
            self._forward = True
            return self._rebuild()
        (<InternalIterator>self._children[cur]).c_next()
        self._hsize = hs
        return self._after_top_moved()

    cdef int c_prev(self) except -1:
        cdef Py_ssize_t cur, j, kn, hs = self._hsize
        cdef const uint8_t *kp
        cdef InternalIterator c
        if hs == 0:
            return 0
        cur = self._heap[0]
        self._hsize = 0
        if self._forward:
            # Every other child moves to its last entry before the current one.
            kp = self._kp[cur]
            kn = self._kn[cur]
            for j in range(self._n):
                if j == cur:
                    continue
                c = <InternalIterator>self._children[j]
                c.c_seek_for_prev(kp, kn)
                if j > cur and c.c_valid():
                    self._cache_key(j)
                    if compare_internal(self._kp[j], self._kn[j], kp, kn) == 0:
                        c.c_prev()
            (<InternalIterator>self._children[cur]).c_prev()
            self._forward = False
            return self._rebuild()
        (<InternalIterator>self._children[cur]).c_prev()
        self._hsize = hs
        return self._after_top_moved()

    cdef bint c_valid(self) noexcept:
        return self._hsize > 0

    cdef const uint8_t *c_key(self, Py_ssize_t *n) noexcept:
        cdef Py_ssize_t top = self._heap[0]
        n[0] = self._kn[top]
        return self._kp[top]

    cdef const uint8_t *c_value(self, Py_ssize_t *n) noexcept:
        return (<InternalIterator>self._children[self._heap[0]]).c_value(n)
