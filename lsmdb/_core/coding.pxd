# Shared byte codecs for the Cython core: little-endian fixed32/fixed64, LevelDB-style varints
# (7 bits per byte, low groups first, high bit = "more follows") and a growable byte buffer.
# Inline only: cimporting this file adds no module to import at run time.
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, realloc
from libc.string cimport memcpy


cdef struct ByteBuf:
    uint8_t *p
    size_t n       # bytes in use (callers that keep one value use it as that value's length)
    size_t cap


cdef inline int buf_reserve(ByteBuf *b, size_t need) except -1:
    """Grow ``b`` (doubling, from 64 bytes) so it holds at least ``need`` bytes in all."""
    cdef size_t cap
    cdef uint8_t *q
    if need <= b.cap and b.p != NULL:
        return 0
    cap = b.cap * 2 if b.cap else 64
    while cap < need:
        cap *= 2
    q = <uint8_t *>realloc(b.p, cap)
    if q == NULL:
        raise MemoryError()
    b.p = q
    b.cap = cap
    return 0


cdef inline int buf_set(ByteBuf *b, const uint8_t *p, size_t n) except -1:
    """Make ``b`` hold exactly the ``n`` bytes at ``p``."""
    if n > b.cap or b.p == NULL:
        buf_reserve(b, n)
    if n:
        memcpy(b.p, p, n)
    b.n = n
    return 0


cdef inline void buf_free(ByteBuf *b) noexcept:
    free(b.p)
    b.p = NULL
    b.n = 0
    b.cap = 0


cdef inline uint32_t load_u32_le(const uint8_t *p) noexcept nogil:
    return (<uint32_t>p[0] | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16) |
            (<uint32_t>p[3] << 24))


cdef inline void store_u32_le(uint8_t *p, uint32_t v) noexcept nogil:
    p[0] = <uint8_t>v
    p[1] = <uint8_t>(v >> 8)
    p[2] = <uint8_t>(v >> 16)
    p[3] = <uint8_t>(v >> 24)


cdef inline uint64_t load_u64_le(const uint8_t *p) noexcept nogil:
    return (<uint64_t>p[0] | (<uint64_t>p[1] << 8) | (<uint64_t>p[2] << 16) |
            (<uint64_t>p[3] << 24) | (<uint64_t>p[4] << 32) | (<uint64_t>p[5] << 40) |
            (<uint64_t>p[6] << 48) | (<uint64_t>p[7] << 56))


cdef inline void store_u64_le(uint8_t *p, uint64_t v) noexcept nogil:
    cdef int i
    for i in range(8):
        p[i] = <uint8_t>(v >> (8 * i))


cdef inline const uint8_t *decode_varint32(const uint8_t *p, const uint8_t *limit,
                                           uint32_t *out) noexcept nogil:
    """Decode a varint32 in [p, limit): the byte after it, or NULL if it is truncated or
    longer than 5 bytes / 32 bits."""
    cdef uint32_t result = 0
    cdef uint32_t b
    cdef int shift = 0
    while shift <= 28 and p < limit:
        b = p[0]
        p += 1
        if shift == 28 and b > 0x0F:
            return NULL
        result |= (b & 0x7F) << shift
        if not (b & 0x80):
            out[0] = result
            return p
        shift += 7
    return NULL


cdef inline const uint8_t *decode_varint64(const uint8_t *p, const uint8_t *limit,
                                           uint64_t *out) noexcept nogil:
    """Decode a varint64 in [p, limit): the byte after it, or NULL if it is truncated or
    longer than 10 bytes / 64 bits."""
    cdef uint64_t result = 0, b
    cdef int shift = 0
    while shift <= 63 and p < limit:
        b = p[0]
        p += 1
        if shift == 63 and b > 1:
            return NULL
        result |= (b & 0x7F) << shift
        if not (b & 0x80):
            out[0] = result
            return p
        shift += 7
    return NULL


cdef inline uint8_t *encode_varint64(uint8_t *p, uint64_t v) noexcept nogil:
    """Write ``v`` at ``p`` (at most 10 bytes); returns the byte after it."""
    while v >= 0x80:
        p[0] = <uint8_t>(v | 0x80)
        v >>= 7
        p += 1
    p[0] = <uint8_t>v
    return p + 1


cdef inline uint8_t *encode_varint32(uint8_t *p, uint32_t v) noexcept nogil:
    """Write ``v`` at ``p`` (at most 5 bytes); returns the byte after it."""
    return encode_varint64(p, v)
