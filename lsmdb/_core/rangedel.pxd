# Fragmented range tombstones (RocksDB's FragmentedRangeTombstoneList): the merging
# iterators ask "the newest tombstone visible at a snapshot covering this user key" per key.
from libc.stdint cimport uint8_t, uint64_t


cdef struct Fragment:
    Py_ssize_t start_off      # [start, end) user keys, slices of _keys
    Py_ssize_t start_len
    Py_ssize_t end_off
    Py_ssize_t end_len
    Py_ssize_t seq_begin      # seqnos _seqs[seq_begin:seq_end], strictly descending
    Py_ssize_t seq_end


cdef class FragmentedRangeTombstones:
    cdef bytes _keys
    cdef const uint8_t *_kp
    cdef Fragment *_frags
    cdef Py_ssize_t _n
    cdef uint64_t *_seqs
    cdef Py_ssize_t _nseqs

    cdef int _build(self, list frags) except -1
    # Largest tombstone seqno <= snapshot whose fragment covers key; 0 if none.
    cdef uint64_t c_max_covering(self, const uint8_t *key, size_t n,
                                 uint64_t snapshot) noexcept nogil
