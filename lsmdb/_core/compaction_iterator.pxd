# The entries a compaction keeps given the live snapshots (compaction_iterator.pyx).
from libc.stdint cimport uint64_t

from lsmdb._core.coding cimport ByteBuf
from lsmdb._core.iterator cimport InternalIterator
from lsmdb._core.rangedel cimport FragmentedRangeTombstones


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
