# The user view of internal entries at a snapshot (visible_iterator.pyx).
from libc.stdint cimport uint8_t, uint64_t

from lsmdb._core.coding cimport ByteBuf
from lsmdb._core.iterator cimport InternalIterator
from lsmdb._core.rangedel cimport FragmentedRangeTombstones


cdef class VisibleIterator:
    cdef InternalIterator _src
    cdef uint64_t _snapshot
    cdef FragmentedRangeTombstones _tombstones
    cdef bytes _lower
    cdef bytes _upper
    cdef bint _valid
    cdef bint _forward
    cdef bint _positioned
    cdef ByteBuf _skey             # reverse: current key; forward: key being skipped
    cdef ByteBuf _sval             # reverse: current value
    cdef ByteBuf _target

    cdef int c_seek_to_first(self) except -1
    cdef int c_seek_to_last(self) except -1
    cdef int c_seek(self, const uint8_t *user_key, Py_ssize_t n) except -1
    cdef int c_seek_for_prev(self, const uint8_t *user_key, Py_ssize_t n) except -1
    cdef int c_next(self) except -1
    cdef int c_prev(self) except -1
    cdef const uint8_t *c_key(self, Py_ssize_t *n) noexcept
    cdef const uint8_t *c_value(self, Py_ssize_t *n) noexcept
    cdef bint _range_deleted(self, const uint8_t *uk, Py_ssize_t n, uint64_t seq) noexcept
    cdef bint _below_lower(self, const uint8_t *uk, Py_ssize_t n) noexcept
    cdef bint _at_or_above_upper(self, const uint8_t *uk, Py_ssize_t n) noexcept
    cdef int _find_next(self, bint skipping) except -1
    cdef int _find_prev(self) except -1
    cdef int _seek_before_upper(self) except -1
    cdef int _set_target(self, const uint8_t *uk, Py_ssize_t n, uint64_t seq,
                         int vtype) except -1
