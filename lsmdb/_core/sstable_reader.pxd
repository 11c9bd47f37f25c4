# SSTableReader and SSTableIterator (sstable_reader.pyx): readpath.pyx calls c_get directly.
from libc.stdint cimport uint8_t, uint32_t, uint64_t

from lsmdb._core.block cimport Block, BlockCursor
from lsmdb._core.bloom cimport BloomFilter
from lsmdb._core.cache cimport BlockCache
from lsmdb._core.iterator cimport InternalIterator


# One data block's index entry, decoded at open (the index block is pinned by the reader):
# `key` points into the index block; `head` is the big-endian value of the 8 user-key bytes
# after the prefix every index key shares (zero-padded), so most binary-search probes compare
# one integer without touching the key bytes.
cdef struct IndexEntry:
    const uint8_t *key
    uint32_t key_len
    uint64_t head
    uint64_t offset
    uint64_t size


# The data block the previous lookup of a sorted multi-key read landed on: the next key that
# lands on the same block reuses it without a cache lookup (each block is visited once).
cdef class BlockHint:
    cdef object reader
    cdef uint64_t offset
    cdef Block block


cdef class SSTableReader:
    cdef object file
    cdef readonly object path
    cdef readonly object file_number
    cdef uint64_t _cache_file         # file_number as the cache's key half
    cdef BlockCache cache
    cdef bint verify
    cdef object _mmap
    cdef readonly uint64_t file_size
    cdef Block index
    cdef IndexEntry *_ix              # NULL when the index block has shared key prefixes
    cdef Py_ssize_t _nix
    cdef const uint8_t *_ix_prefix    # the prefix every index user key starts with
    cdef size_t _ix_prefix_len
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
    cdef int _decode_index(self) except -1
    cdef Py_ssize_t _index_find(self, const uint8_t *target, size_t n) noexcept nogil
    cdef object _read(self, uint64_t offset, uint64_t n)
    cdef object _read_block_payload(self, uint64_t offset, uint64_t size, bint verify)
    cdef Block c_data_block(self, uint64_t offset, uint64_t size)
    cdef object c_get(self, const uint8_t *uk, size_t n, uint64_t snapshot,
                      BlockHint hint=*)
    cdef object c_lookup(self, const uint8_t *uk, size_t n, uint64_t snapshot, BlockHint hint,
                         int *status, uint64_t *seqno)


cdef class SSTableIterator(InternalIterator):
    cdef SSTableReader reader
    cdef Block index
    cdef IndexEntry *_ix              # NULL when the index block has shared key prefixes
    cdef Py_ssize_t _nix
    cdef const uint8_t *_ix_prefix    # the prefix every index user key starts with
    cdef size_t _ix_prefix_len
    cdef BlockCursor ic
    cdef Block data
    cdef uint64_t data_offset         # file offset of `data` (meaningful while it is not None)
    cdef BlockCursor dc
    cdef int _load_current(self) except -1
    cdef int _load_for_seek(self) except -1
    cdef void _clear_data(self) noexcept
    cdef void _seek_index(self, const uint8_t *target, Py_ssize_t n) noexcept
    cdef int _skip_forward(self) except -1
    cdef int _skip_backward(self) except -1
