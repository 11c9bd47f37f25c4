# Iterators that combine sources of internal entries (LevelDB merger.h / DBIter, RocksDB
# CompactionIterator). Every per-entry step runs through the C vtable of InternalIterator.
from libc.stdint cimport uint8_t, uint64_t

from lsmdb._core.coding cimport ByteBuf
from lsmdb._core.iterator cimport InternalIterator
from lsmdb._core.rangedel cimport FragmentedRangeTombstones


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


cdef class CompactionIterator(InternalIterator):
    cdef InternalIterator _src
    cdef uint64_t *_snaps
    cdef Py_ssize_t _nsnaps
    cdef FragmentedRangeTombstones _tombstones
    cdef bint _bottommost
    cdef ByteBuf _cur_user
    cdef bint _has_cur
    cdef Py_ssize_t _last_stripe
    cdef bint _valid
    cdef readonly Py_ssize_t kept
    cdef readonly Py_ssize_t dropped_overwritten
    cdef readonly Py_ssize_t dropped_deleted
    cdef readonly Py_ssize_t dropped_range_deleted

    cdef Py_ssize_t _stripe(self, uint64_t seq) noexcept
    cdef int _advance(self) except -1
