# The union of several InternalIterators in internal order (merging_iterator.pyx).
from libc.stdint cimport uint8_t

from lsmdb._core.iterator cimport InternalIterator


cdef class MergingIterator(InternalIterator):
    cdef list _children
    cdef Py_ssize_t _n
    cdef Py_ssize_t *_heap        # child indices; heap order depends on _forward
    cdef Py_ssize_t _hsize
    cdef const uint8_t **_kp      # each child's current key (valid while it does not move)
    cdef Py_ssize_t *_kn
    cdef bint _forward

    cdef bint _before(self, Py_ssize_t a, Py_ssize_t b) noexcept
    cdef int _cache_key(self, Py_ssize_t i) except -1
    cdef int _rebuild(self) except -1
    cdef void _sift_down(self, Py_ssize_t i) noexcept
    cdef int _after_top_moved(self) except -1
