# SSTableBuilder (sstable_builder.pyx): tablecopy.pyx feeds it entries through c_add.
from libc.stdint cimport uint8_t, uint64_t

from lsmdb._core.block cimport BlockBuilder
from lsmdb._core.coding cimport ByteBuf
from lsmdb._core.bloom cimport BloomFilterBuilder


cdef class SSTableBuilder:
    cdef object file
    cdef readonly object file_name
    cdef BlockBuilder data_block
    cdef BlockBuilder index_block
    cdef BloomFilterBuilder bloom
    cdef uint8_t *last_key
    cdef size_t last_len
    cdef size_t last_cap
    cdef bytes first_key
    cdef list tombstones
    cdef list pending
    cdef Py_ssize_t pending_bytes
    cdef object compressor
    cdef readonly object compression_level
    cdef readonly double bits_per_key
    cdef readonly int level
    cdef size_t block_bytes
    cdef readonly uint64_t num_entries
    cdef uint64_t num_deletions
    cdef uint64_t raw_key_bytes
    cdef uint64_t raw_value_bytes
    cdef uint64_t data_bytes
    cdef uint64_t num_data_blocks
    cdef uint64_t min_seqno
    cdef uint64_t max_seqno
    cdef uint64_t offset
    cdef bint closed
    cdef bint zeroing                  # zero the seqno of PUTs with seqno <= zero_upto
    cdef uint64_t zero_upto
    cdef ByteBuf zkey                  # scratch: the key with its seqno zeroed
    cdef readonly uint64_t zeroed_seqnos
    cdef uint64_t max_seqno_floor      # the max_seqno property is at least this
    cdef int c_add(self, const uint8_t *k, size_t kn, const uint8_t *v, size_t vn) except -1
    cdef int _flush_data_block(self) except -1
    cdef tuple _write_block(self, bytes payload, bint compress)
    cdef int _emit(self, bytes data) except -1
    cdef int _flush_pending(self) except -1
