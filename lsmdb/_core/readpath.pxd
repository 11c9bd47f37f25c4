# ReadView and SortedRun (readpath.pyx): dbread.pyx calls ReadView._get directly.
from libc.stdint cimport uint8_t, uint64_t

from lsmdb._core.sstable_reader cimport SSTableReader


cdef class SortedRun:
    cdef list smallest
    cdef list largest
    cdef list exclusive
    cdef list metas
    cdef list readers
    cdef list frags
    cdef list has_tombstones
    cdef object loader
    cdef Py_ssize_t find(self, const uint8_t *k, size_t n) except -2
    cdef SSTableReader reader(self, Py_ssize_t i)


cdef class ReadView:
    cdef list mem_refs
    cdef list mems
    cdef list runs
    cpdef object get(self, bytes key, uint64_t seq, object default)
    cdef object _get(self, const uint8_t *k, size_t n, uint64_t seq, object default,
                     list hints)
