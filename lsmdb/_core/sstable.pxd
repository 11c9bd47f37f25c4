# SSTable builder and reader (layout documented in sstable.pyx, docs/format/sstable.md).
from libc.stdint cimport uint8_t, uint64_t

from lsmdb._core.block cimport Block, BlockBuilder, BlockCursor
from lsmdb._core.bloom cimport BloomFilter, BloomFilterBuilder
from lsmdb._core.cache cimport BlockCache
from lsmdb._core.iterator cimport InternalIterator


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
    cdef int c_add(self, const uint8_t *k, size_t kn, const uint8_t *v, size_t vn) except -1
    cdef int _flush_data_block(self) except -1
    cdef tuple _write_block(self, bytes payload, bint compress)
    cdef int _emit(self, bytes data) except -1
    cdef int _flush_pending(self) except -1


cdef class SSTableReader:
    cdef object file
    cdef readonly object path
    cdef readonly object file_number
    cdef BlockCache cache
    cdef bint verify
    cdef object _mmap
    cdef readonly uint64_t file_size
    cdef Block index
    cdef BloomFilter bloom
    cdef readonly dict properties
    cdef readonly dict footer
    cdef list _tombstones
    cdef uint64_t data_end
    cdef bint closed
    cdef readonly unsigned long long bloom_checks
    cdef readonly unsigned long long bloom_negatives
    cdef readonly unsigned long long bloom_false_positives
    cdef readonly unsigned long long data_blocks_read
    cdef readonly unsigned long long cache_hits
    cdef int _check_index(self) except -1
    cdef object _read(self, uint64_t offset, uint64_t n)
    cdef object _read_block_payload(self, uint64_t offset, uint64_t size, bint verify)
    cdef Block c_data_block(self, uint64_t offset, uint64_t size)
    cdef object c_get(self, const uint8_t *uk, size_t n, uint64_t snapshot)


cdef class SSTableIterator(InternalIterator):
    cdef SSTableReader reader
    cdef Block index
    cdef BlockCursor ic
    cdef Block data
    cdef BlockCursor dc
    cdef int _load_current(self) except -1
    cdef void _clear_data(self) noexcept
    cdef int _skip_forward(self) except -1
    cdef int _skip_backward(self) except -1
