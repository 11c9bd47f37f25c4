# The SSTable format's shared pieces (layout in sstable_format.pyx, docs/format/sstable.md):
# block handles (varint64 offset | varint64 size, inline: the reader decodes one per block
# it visits) and block decompression.
from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport uint8_t, uint64_t

from lsmdb._core.coding cimport decode_varint64
from lsmdb._core.coding cimport encode_varint64 as put_varint64


cdef object decompress_block(object payload, object file, uint64_t offset)


cdef inline bytes encode_handle(uint64_t offset, uint64_t size):
    cdef uint8_t buf[20]
    cdef uint8_t *end = put_varint64(put_varint64(buf, offset), size)
    return PyBytes_FromStringAndSize(<const char *>buf, end - buf)


cdef inline bint decode_handle(const uint8_t *p, size_t n, uint64_t *offset,
                               uint64_t *size) noexcept nogil:
    cdef const uint8_t *q = decode_varint64(p, p + n, offset)
    if q == NULL:
        return False
    q = decode_varint64(q, p + n, size)
    return q != NULL and q == p + n
