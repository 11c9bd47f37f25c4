# LevelDB block format (layout documented in block.pyx and docs/format/sstable.md).
from libc.stdint cimport uint8_t, uint32_t

from lsmdb._core.iterator cimport InternalIterator


# A seek on a block whose entries take at most this many bytes prefetches all of them at once:
# a cached block is usually not in the CPU caches, and the seek's loads (restart array, then
# restart entries, then the scanned interval) would otherwise each wait for DRAM in turn.
# Bigger blocks (a larger block_size) get only the lines the seek will need: prefetching 16 KiB
# costs more than the misses it saves.
cdef enum:
    PREFETCH_WHOLE_BLOCK = 8192


# A position inside a validated Block. Plain C so that get() can keep one on the stack;
# `key` is either caller-provided scratch (owned = 0, e.g. a stack array) or a malloc'd
# buffer the cursor owns (owned = 1); cursor_attach grows it, cursor_release frees it.
cdef struct BlockCursor:
    const uint8_t *data
    uint32_t limit          # offset of the restart array == end of the entries
    uint32_t num_restarts
    uint32_t cur            # offset of the current entry; == limit when not valid
    uint32_t nxt            # offset of the entry after the current one
    uint32_t restart_idx    # restart interval holding `cur`
    uint8_t *key
    size_t key_len
    size_t key_cap
    bint owned
    const uint8_t *val
    uint32_t val_len


cdef inline bytes as_bytes(object o):
    if type(o) is bytes:
        return <bytes>o
    return memoryview(o).tobytes()


cdef class Block:
    cdef object _owner                  # bytes whose buffer `data` points into, or None
    cdef Py_buffer _buf                 # else the held buffer of another object
    cdef bint _has_buf
    cdef const uint8_t *data
    cdef readonly uint32_t size
    cdef uint32_t limit
    cdef readonly uint32_t num_restarts
    cdef uint32_t max_key_len
    cdef uint32_t num_entries
    cdef readonly object file
    cdef readonly object offset
    cdef readonly bint internal_keys
    cdef int _validate(self) except -1


cdef int cursor_attach(BlockCursor *c, Block b) except -1


# Start a cursor with optional scratch space for its key (buf may be NULL, cap 0).
cdef inline void cursor_init(BlockCursor *c, uint8_t *buf, size_t cap) noexcept nogil:
    c.key = buf
    c.key_cap = cap if buf != NULL else 0
    c.owned = False
    c.limit = 0
    c.cur = 0
    c.nxt = 0
    c.key_len = 0
    c.val = NULL
    c.val_len = 0

cdef void cursor_release(BlockCursor *c) noexcept nogil
cdef void cursor_seek_to_first(BlockCursor *c) noexcept nogil
cdef void cursor_seek_to_last(BlockCursor *c) noexcept nogil
cdef void cursor_seek(BlockCursor *c, const uint8_t *target, size_t n) noexcept nogil
# Position on restart point i (invalid past the last): the i-th entry of a restart-interval-1
# block.
cdef void cursor_seek_to_restart_point(BlockCursor *c, uint32_t i) noexcept nogil
cdef void cursor_seek_for_prev(BlockCursor *c, const uint8_t *target, size_t n) noexcept nogil
cdef void cursor_next(BlockCursor *c) noexcept nogil
cdef void cursor_prev(BlockCursor *c) noexcept nogil


cdef inline bint cursor_valid(const BlockCursor *c) noexcept nogil:
    return c.cur < c.limit


cdef class BlockBuilder:
    cdef uint8_t *buf
    cdef size_t buf_len
    cdef size_t buf_cap
    cdef uint32_t *restarts
    cdef size_t num_restarts
    cdef size_t restarts_cap
    cdef uint8_t *last_key
    cdef size_t last_len
    cdef size_t last_cap
    cdef int counter
    cdef readonly int restart_interval
    cdef readonly size_t num_entries
    cdef bint finished
    cdef int c_add(self, const uint8_t *k, size_t kn, const uint8_t *v, size_t vn) except -1
    cdef bytes c_finish(self)
    cdef void c_reset(self) noexcept
    cdef inline size_t c_estimated_size(self) noexcept:
        return self.buf_len + 4 * self.num_restarts + 4


cdef class BlockIterator(InternalIterator):
    cdef Block block
    cdef BlockCursor cur
