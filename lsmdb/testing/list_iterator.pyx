"""An InternalIterator over a sorted in-memory list: sources for tests and benchmarks of the
composing iterators (MergingIterator, VisibleIterator, CompactionIterator).

Test machinery, not engine code: it is a Cython class only because the composing iterators
call their children through InternalIterator's C vtable, which a Python class cannot fill.
"""

from libc.stdint cimport uint8_t
from libc.stdlib cimport free, malloc

from lsmdb._core.ikey cimport compare_internal
from lsmdb._core.iterator cimport InternalIterator

from lsmdb.errors import InvalidArgumentError


def _internal_sort_key(entry):
    k = entry[0]
    n = len(k) - 8
    return (k[:n], -int.from_bytes(k[n:], "little"))


cdef class ListIterator(InternalIterator):
    """An InternalIterator over ``entries``, a sequence of (internal_key, value) in strictly
    ascending internal order (``sort=True`` sorts them first). Keys must be >= 8 bytes."""

    cdef list _keys               # own the bytes that _kp / _vp point into
    cdef list _values
    cdef const uint8_t **_kp
    cdef Py_ssize_t *_kn
    cdef const uint8_t **_vp
    cdef Py_ssize_t *_vn
    cdef Py_ssize_t _n
    cdef Py_ssize_t _pos          # current entry; -1 or _n when invalid

    def __cinit__(self):
        self._kp = NULL
        self._kn = NULL
        self._vp = NULL
        self._vn = NULL
        self._n = 0
        self._pos = -1

    def __dealloc__(self):
        free(self._kp)
        free(self._kn)
        free(self._vp)
        free(self._vn)

    def __init__(self, entries, *, bint sort=False):
        cdef list keys = []
        cdef list values = []
        cdef Py_ssize_t i, n
        cdef bytes k, v
        items = [(bytes(e[0]), bytes(e[1])) for e in entries]
        for k, _ in items:
            if len(k) < 8:
                raise InvalidArgumentError(f"internal key {k!r} is shorter than 8 bytes")
        if sort:
            items.sort(key=_internal_sort_key)
        n = len(items)
        if self._kp != NULL:
            raise InvalidArgumentError("ListIterator is already initialised")
        self._kp = <const uint8_t **>malloc(max(n, 1) * sizeof(uint8_t *))
        self._kn = <Py_ssize_t *>malloc(max(n, 1) * sizeof(Py_ssize_t))
        self._vp = <const uint8_t **>malloc(max(n, 1) * sizeof(uint8_t *))
        self._vn = <Py_ssize_t *>malloc(max(n, 1) * sizeof(Py_ssize_t))
        if self._kp == NULL or self._kn == NULL or self._vp == NULL or self._vn == NULL:
            raise MemoryError()
        for i in range(n):
            k, v = items[i]
            keys.append(k)
            values.append(v)
            self._kp[i] = <const uint8_t *>(<char *>k)
            self._kn[i] = len(k)
            self._vp[i] = <const uint8_t *>(<char *>v)
            self._vn[i] = len(v)
            if i and compare_internal(self._kp[i - 1], self._kn[i - 1],
                                      self._kp[i], self._kn[i]) >= 0:
                raise InvalidArgumentError(
                    f"entries are not in strictly ascending internal order at index {i}")
        self._keys = keys
        self._values = values
        self._n = n
        self._pos = -1

    def __len__(self) -> int:
        return self._n

    cdef Py_ssize_t _lower_bound(self, const uint8_t *t, Py_ssize_t n) noexcept:
        cdef Py_ssize_t lo = 0, hi = self._n, mid
        while lo < hi:
            mid = (lo + hi) >> 1
            if compare_internal(self._kp[mid], self._kn[mid], t, n) < 0:
                lo = mid + 1
            else:
                hi = mid
        return lo

    cdef int c_seek_to_first(self) except -1:
        self._pos = 0 if self._n else -1
        return 0

    cdef int c_seek_to_last(self) except -1:
        self._pos = self._n - 1
        return 0

    cdef int c_seek(self, const uint8_t *target, Py_ssize_t n) except -1:
        self._pos = self._lower_bound(target, n)
        return 0

    cdef int c_seek_for_prev(self, const uint8_t *target, Py_ssize_t n) except -1:
        cdef Py_ssize_t i = self._lower_bound(target, n)
        if i < self._n and compare_internal(self._kp[i], self._kn[i], target, n) == 0:
            self._pos = i
        else:
            self._pos = i - 1
        return 0

    cdef int c_next(self) except -1:
        if self._pos >= 0 and self._pos < self._n:
            self._pos += 1
        return 0

    cdef int c_prev(self) except -1:
        if self._pos >= 0 and self._pos < self._n:
            self._pos -= 1
        return 0

    cdef bint c_valid(self) noexcept:
        return self._pos >= 0 and self._pos < self._n

    cdef const uint8_t *c_key(self, Py_ssize_t *n) noexcept:
        n[0] = self._kn[self._pos]
        return self._kp[self._pos]

    cdef const uint8_t *c_value(self, Py_ssize_t *n) noexcept:
        n[0] = self._vn[self._pos]
        return self._vp[self._pos]
