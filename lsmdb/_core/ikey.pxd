# Internal keys: user_key | trailer, trailer = little-endian fixed64 of (seqno << 8) | type.
# Order: user key ascending (bytewise), then trailer descending (newest first).
# The type values are persisted in WAL, SSTables and MANIFEST: never change them.
from libc.stdint cimport uint8_t, uint64_t
from libc.string cimport memcmp

from lsmdb._core.coding cimport load_u64_le

cdef enum:
    TYPE_DELETE = 0
    TYPE_PUT = 1
    TYPE_RANGE_DELETE = 2
    TYPE_MAX = 2            # highest valid type; also the type used for seek targets
    TRAILER_BYTES = 8


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

# CorruptionError for an internal key of n bytes (shorter than its trailer when vtype < 0,
# else of unknown type vtype). Out of line: only the failing path calls it.
cdef int raise_malformed_internal_key(Py_ssize_t n, int vtype) except -1

# Split an internal key of n bytes into its user key's length, seqno and type, or raise
# CorruptionError. Inline: the merge loops call it once per entry.
cdef inline int split_internal_key(const uint8_t *k, Py_ssize_t n, Py_ssize_t *ulen,
                                   uint64_t *seq, int *vtype) except -1:
    cdef uint64_t trailer
    if n < 8:
        raise_malformed_internal_key(n, -1)
        return -1
    trailer = load_u64_le(k + n - 8)
    vtype[0] = <int>(trailer & 0xFF)
    if vtype[0] > TYPE_MAX:
        raise_malformed_internal_key(n, vtype[0])
        return -1
    seq[0] = trailer >> 8
    ulen[0] = n - 8
    return 0

cdef inline uint64_t max_seqno() noexcept nogil:
    return (<uint64_t>1 << 56) - 1
