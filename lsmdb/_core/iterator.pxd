# The one iterator protocol of lsmdb's read path (LevelDB's Iterator): every source of
# internal entries (memtable, block, SSTable, merging iterator) subclasses InternalIterator
# and overrides the cdef methods; composing iterators call them through the C vtable, so no
# Python dispatch happens per key. Keys are internal keys (see ikey.pxd).
from libc.stdint cimport uint8_t


cdef class InternalIterator:
    # Position on the first / last entry (invalid if empty).
    cdef int c_seek_to_first(self) except -1
    cdef int c_seek_to_last(self) except -1
    # First entry >= target / last entry <= target, by internal order.
    cdef int c_seek(self, const uint8_t *target, Py_ssize_t n) except -1
    cdef int c_seek_for_prev(self, const uint8_t *target, Py_ssize_t n) except -1
    cdef int c_next(self) except -1
    cdef int c_prev(self) except -1
    cdef bint c_valid(self) noexcept
    # Pointers stay valid until the iterator moves or is released.
    cdef const uint8_t *c_key(self, Py_ssize_t *n) noexcept
    cdef const uint8_t *c_value(self, Py_ssize_t *n) noexcept
