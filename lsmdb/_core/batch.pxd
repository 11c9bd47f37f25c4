# Write batch: the WAL payload and the unit of atomic application (layout in batch.pyx and
# docs/format/write_batch.md). The memtable walks a batch in C with batch_decode_op.
from libc.stdint cimport uint8_t, uint32_t, uint64_t

from lsmdb._core.coding cimport decode_varint32
from lsmdb._core.ikey cimport TYPE_DELETE, TYPE_MAX

cdef enum:
    BATCH_HEADER_BYTES = 12         # seqno fixed64 + count fixed32: never change
    BATCH_COUNT_OFFSET = 8

# batch_decode_op failure codes (all negative; a non-negative result is the next offset).
cdef enum:
    BATCH_ERR_TYPE = -1             # unknown op type byte
    BATCH_ERR_LENGTH = -2           # truncated or over-long varint32 length
    BATCH_ERR_KEY = -3              # key (or range start) runs past the end
    BATCH_ERR_VALUE = -4            # value (or range end) runs past the end
    BATCH_ERR_MISSING = -5          # the batch ends before this op


cdef class WriteBatch:
    # buf[0:length] is always a complete, valid encoding (header included).
    cdef uint8_t *buf
    cdef Py_ssize_t length
    cdef Py_ssize_t capacity
    cdef uint32_t n_ops
    cdef uint64_t generation        # bumped by clear(), so ops() can detect it
    cdef int pins                   # > 0 while a memtable applies buf without the GIL

    cdef int c_reserve(self, Py_ssize_t extra) except -1
    cdef int c_add(self, int vtype, const uint8_t *key, Py_ssize_t klen,
                   const uint8_t *value, Py_ssize_t vlen) except -1


# A pointer + length borrowed from a Python buffer. The returned object keeps the memory alive
# (hold it as long as the pointer is used). TypeError naming ``name`` for non-buffers.
cdef object borrow_bytes(object obj, str name, const uint8_t **ptr, Py_ssize_t *n)


cdef inline Py_ssize_t get_varint32(const uint8_t *p, Py_ssize_t pos, Py_ssize_t end,
                                    uint32_t *out) noexcept nogil:
    """Decode a varint32 at p[pos:end]; the offset after it, or BATCH_ERR_LENGTH."""
    cdef const uint8_t *q = decode_varint32(p + pos, p + end, out)
    return BATCH_ERR_LENGTH if q == NULL else q - p


cdef inline Py_ssize_t batch_decode_op(const uint8_t *p, Py_ssize_t pos, Py_ssize_t end,
                                       int *vtype, const uint8_t **key, uint32_t *klen,
                                       const uint8_t **value, uint32_t *vlen) noexcept nogil:
    """Decode the op at p[pos:end] without reading outside it.

    Returns the offset of the next op, or a BATCH_ERR_* code. For DELETE the value is empty
    (NULL, 0); for RANGE_DELETE key/value are the start/end keys.
    """
    if pos >= end:
        return BATCH_ERR_MISSING
    cdef int t = p[pos]
    if t > TYPE_MAX:
        return BATCH_ERR_TYPE
    pos = get_varint32(p, pos + 1, end, klen)
    if pos < 0:
        return pos
    if klen[0] > <uint64_t>(end - pos):
        return BATCH_ERR_KEY
    key[0] = p + pos
    pos += klen[0]
    vtype[0] = t
    if t == TYPE_DELETE:
        value[0] = NULL
        vlen[0] = 0
        return pos
    pos = get_varint32(p, pos, end, vlen)
    if pos < 0:
        return pos
    if vlen[0] > <uint64_t>(end - pos):
        return BATCH_ERR_VALUE
    value[0] = p + pos
    return pos + vlen[0]
