# Internal keys: user_key | trailer, trailer = little-endian fixed64 of (seqno << 8) | type.
# Order: user key ascending (bytewise), then trailer descending (newest first).
# The type values are persisted in WAL, SSTables and MANIFEST: never change them.
from libc.stdint cimport uint8_t, uint64_t
from libc.string cimport memcmp

cdef enum:
    TYPE_DELETE = 0
    TYPE_PUT = 1
    TYPE_RANGE_DELETE = 2
    TYPE_MAX = 2            # highest valid type; also the type used for seek targets
    TRAILER_BYTES = 8



cdef inline uint64_t load_u64_le(const uint8_t *p) noexcept nogil:
    return (<uint64_t>p[0] | (<uint64_t>p[1] << 8) | (<uint64_t>p[2] << 16) |
            (<uint64_t>p[3] << 24) | (<uint64_t>p[4] << 32) | (<uint64_t>p[5] << 40) |
            (<uint64_t>p[6] << 48) | (<uint64_t>p[7] << 56))

cdef inline void store_u64_le(uint8_t *p, uint64_t v) noexcept nogil:
    cdef int i
    for i in range(8):
        p[i] = <uint8_t>(v >> (8 * i))

cdef inline uint64_t pack_trailer(uint64_t seqno, int vtype) noexcept nogil:
    return (seqno << 8) | <uint64_t>vtype

cdef inline int compare_user(const uint8_t *a, size_t alen,
                             const uint8_t *b, size_t blen) noexcept nogil:
    cdef size_t n = alen if alen < blen else blen
    cdef int r = memcmp(a, b, n) if n else 0
    if r != 0:
        return r
    return -1 if alen < blen else (1 if alen > blen else 0)

# Both arguments must be well-formed internal keys (length >= 8).
cdef inline int compare_internal(const uint8_t *a, size_t alen,
                                 const uint8_t *b, size_t blen) noexcept nogil:
    cdef int r = compare_user(a, alen - 8, b, blen - 8)
    if r != 0:
        return r
    cdef uint64_t ta = load_u64_le(a + alen - 8)
    cdef uint64_t tb = load_u64_le(b + blen - 8)
    return -1 if ta > tb else (1 if ta < tb else 0)

cdef inline uint64_t max_seqno() noexcept nogil:
    return (<uint64_t>1 << 56) - 1
