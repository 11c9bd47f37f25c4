# Shared byte codecs for the Cython core: little-endian fixed32/fixed64, LevelDB-style varints
# (7 bits per byte, low groups first, high bit = "more follows") and a growable byte buffer.
# Inline only: cimporting this file adds no module to import at run time.
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, realloc
from libc.string cimport memchr, memcpy


cdef extern from *:
    """
    #define LSMDB_PREFETCH(p) __builtin_prefetch((const void *)(p), 0, 3)
    """
    # A hint, never a fault: the address need not be mapped.
    void prefetch "LSMDB_PREFETCH"(const void *p) noexcept nogil


cdef inline void prefetch_range(const uint8_t *a, const uint8_t *b) noexcept nogil:
    """Prefetch every 64-byte line that holds a byte of [a, b)."""
    cdef size_t x = <size_t>a & ~(<size_t>63)
    while x < <size_t>b:
        prefetch(<const uint8_t *>x)
        x += 64


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


# Appending to a ByteBuf (b.n = bytes in use), and the big-endian fixed-width integers and
# zero-escaped strings of the order-preserving key codecs (keycodec, rowcodec): big-endian so
# that memcmp order is numeric order.

cdef inline int buf_put_u8(ByteBuf *b, uint8_t c) except -1:
    if b.n >= b.cap or b.p == NULL:
        buf_reserve(b, b.n + 1)
    b.p[b.n] = c
    b.n += 1
    return 0


cdef inline int buf_put_bytes(ByteBuf *b, const uint8_t *p, size_t n) except -1:
    buf_reserve(b, b.n + n)
    if n:
        memcpy(b.p + b.n, p, n)
    b.n += n
    return 0


cdef inline int buf_put_varint64(ByteBuf *b, uint64_t v) except -1:
    buf_reserve(b, b.n + 10)
    b.n = <size_t>(encode_varint64(b.p + b.n, v) - b.p)
    return 0


cdef inline void store_u32_be(uint8_t *p, uint32_t v) noexcept nogil:
    p[0] = <uint8_t>(v >> 24)
    p[1] = <uint8_t>(v >> 16)
    p[2] = <uint8_t>(v >> 8)
    p[3] = <uint8_t>v


cdef inline uint32_t load_u32_be(const uint8_t *p) noexcept nogil:
    return ((<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) |
            <uint32_t>p[3])


cdef inline void store_u64_be(uint8_t *p, uint64_t v) noexcept nogil:
    store_u32_be(p, <uint32_t>(v >> 32))
    store_u32_be(p + 4, <uint32_t>v)


cdef inline uint64_t load_u64_be(const uint8_t *p) noexcept nogil:
    return (<uint64_t>load_u32_be(p) << 32) | load_u32_be(p + 4)


cdef inline int buf_put_u32_be(ByteBuf *b, uint32_t v) except -1:
    buf_reserve(b, b.n + 4)
    store_u32_be(b.p + b.n, v)
    b.n += 4
    return 0


cdef inline int buf_put_u64_be(ByteBuf *b, uint64_t v) except -1:
    buf_reserve(b, b.n + 8)
    store_u64_be(b.p + b.n, v)
    b.n += 8
    return 0


cdef inline int buf_put_escaped(ByteBuf *b, const uint8_t *p, size_t n) except -1:
    """Append ``p[:n]`` with every 0x00 written as 0x00 0xFF, then the terminator 0x00 0x01:
    prefix-free, and memcmp order of the results is the bytewise order of the inputs (a
    string sorts before its extensions)."""
    cdef const uint8_t *z
    cdef size_t run
    buf_reserve(b, b.n + n + 2)
    while n:
        z = <const uint8_t *>memchr(p, 0, n)
        run = <size_t>(z - p) if z != NULL else n
        buf_reserve(b, b.n + run + 2)
        memcpy(b.p + b.n, p, run)
        b.n += run
        p += run
        n -= run
        if z != NULL:
            b.p[b.n] = 0
            b.p[b.n + 1] = 0xFF
            b.n += 2
            p += 1
            n -= 1
    buf_reserve(b, b.n + 2)
    b.p[b.n] = 0
    b.p[b.n + 1] = 0x01
    b.n += 2
    return 0
