"""Python-visible helpers for internal keys (layout in ikey.pxd).

An internal key is ``user_key + fixed64_le((seqno << 8) | type)``; internal order is user
key ascending, then seqno descending, then type descending.
"""

from libc.stdint cimport uint8_t, uint64_t

from lsmdb._core.coding cimport store_u64_le

from lsmdb.errors import CorruptionError, InvalidArgumentError

MAX_SEQNO = (1 << 56) - 1
DELETE = TYPE_DELETE
PUT = TYPE_PUT
RANGE_DELETE = TYPE_RANGE_DELETE


def make_internal_key(user_key, uint64_t seqno, int vtype) -> bytes:
    """Encode ``user_key`` with its trailer. seqno must be <= MAX_SEQNO."""
    if seqno > MAX_SEQNO:
        raise InvalidArgumentError(f"seqno {seqno} exceeds MAX_SEQNO")
    if vtype < 0 or vtype > TYPE_MAX:
        raise InvalidArgumentError(f"unknown value type {vtype}")
    cdef bytes uk = bytes(user_key)
    cdef bytearray out = bytearray(len(uk) + 8)
    out[:len(uk)] = uk
    cdef uint8_t *p = <uint8_t *>(<char *>out)
    store_u64_le(p + len(uk), pack_trailer(seqno, vtype))
    return bytes(out)


def seek_key(user_key, uint64_t seqno=MAX_SEQNO) -> bytes:
    """The internal key that sorts first among entries of ``user_key`` visible at seqno."""
    return make_internal_key(user_key, seqno, TYPE_MAX)


def parse_internal_key(key, file=None, offset=None) -> tuple:
    """Split into (user_key, seqno, type); CorruptionError if malformed."""
    cdef const uint8_t[::1] v = memoryview(key).cast("B")
    cdef Py_ssize_t n = v.shape[0]
    if n < 8:
        raise CorruptionError(f"internal key of {n} bytes is shorter than its trailer", file, offset)
    cdef uint64_t trailer = load_u64_le(&v[n - 8])
    cdef int vtype = <int>(trailer & 0xFF)
    if vtype > TYPE_MAX:
        raise CorruptionError(f"unknown value type {vtype} in internal key", file, offset)
    return bytes(v[:n - 8]), trailer >> 8, vtype


cdef int raise_malformed_internal_key(Py_ssize_t n, int vtype) except -1:
    if vtype < 0:
        raise CorruptionError(f"internal key of {n} bytes is shorter than its trailer")
    raise CorruptionError(f"unknown value type {vtype} in internal key")


def compare_internal_keys(a, b) -> int:
    """-1, 0 or 1 by internal order. Both must be >= 8 bytes."""
    cdef const uint8_t[::1] va = memoryview(a).cast("B")
    cdef const uint8_t[::1] vb = memoryview(b).cast("B")
    if va.shape[0] < 8 or vb.shape[0] < 8:
        raise InvalidArgumentError("internal keys are at least 8 bytes")
    cdef int r = compare_internal(&va[0], va.shape[0], &vb[0], vb.shape[0])
    return (r > 0) - (r < 0)
