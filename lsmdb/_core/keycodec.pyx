# Order-preserving encoding of key tuples (rows, index entries, catalog keys).
#
# A key is the concatenation of its elements' encodings, so encode(t[:k]) is a byte prefix
# of encode(t) and bytewise order of encodings equals the tuple order defined below.
# Each element starts with a type tag; elements of different types order by tag:
#
#   None < False < True < int < float < str < bytes < tuple      (ints before all floats)
#
#   0x05                              None
#   0x10 / 0x11                       False / True
#   0x21 u64_be(v XOR 2^63)           int in [-2^63, 2^63)
#   0x22 n:u8 magnitude[n]            int >= 2^63  (n = minimal big-endian bytes, 8..255)
#   0x20 (255-n):u8 ~magnitude[n]     int < -2^63  (magnitude of -v, bytes complemented)
#   0x30 u64_be(f(bits))              float: +0.0 for -0.0, one NaN (sorts after +inf);
#                                     f = bits | 2^63 if sign clear else ~bits
#   0x40 escaped(utf8) 0x00 0x01      str (strict UTF-8; lone surrogates are rejected)
#   0x50 escaped(bytes) 0x00 0x01     bytes (bytearray/memoryview accepted, decode as bytes)
#   0x60 element* 0x00                nested tuple (depth <= 32)
#   escaped: 0x00 -> 0x00 0xFF; every other byte as is.
#
# Tags are persisted in every row and index key: never change them. docs/format/keycodec.md.

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, PyUnicode_DecodeUTF8
from libc.stdint cimport int64_t, uint8_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memchr, memcpy

from lsmdb._core.coding cimport (
    ByteBuf,
    buf_put_escaped,
    buf_put_u8,
    buf_put_u64_be,
    buf_reserve,
)

from lsmdb.errors import CorruptionError, InvalidArgumentError

# On-disk tags: never change them.
cdef enum:
    TAG_END = 0x00
    TAG_NULL = 0x05
    TAG_FALSE = 0x10
    TAG_TRUE = 0x11
    TAG_INT_NEG = 0x20
    TAG_INT = 0x21
    TAG_INT_POS = 0x22
    TAG_FLOAT = 0x30
    TAG_STR = 0x40
    TAG_BYTES = 0x50
    TAG_TUPLE = 0x60
    ESC_ZERO = 0xFF
    ESC_TERM = 0x01
    MAX_DEPTH = 32
    MAX_INT_BYTES = 255

cdef uint64_t SIGN_BIT = (<uint64_t>1) << 63
cdef uint64_t CANONICAL_NAN = 0x7FF8000000000000ULL

MAX_TUPLE_DEPTH = MAX_DEPTH


cdef inline int _reserve(ByteBuf *b, size_t extra) except -1:
    """Room for ``extra`` more bytes after the ``b.n`` in use."""
    return buf_reserve(b, b.n + extra)


cdef int _put_bigint(ByteBuf *b, object v) except -1:
    cdef bint neg = v < 0
    cdef object mag = -v if neg else v
    cdef Py_ssize_t nbytes = (mag.bit_length() + 7) // 8
    cdef bytes raw
    cdef const uint8_t *r
    cdef Py_ssize_t i
    if nbytes > MAX_INT_BYTES:
        raise InvalidArgumentError(f"integer key element of {mag.bit_length()} bits is too "
                                   f"large (limit {MAX_INT_BYTES * 8} bits)")
    raw = mag.to_bytes(nbytes, "big")
    r = <const uint8_t *>PyBytes_AS_STRING(raw)
    _reserve(b, 2 + nbytes)
    b.p[b.n] = TAG_INT_NEG if neg else TAG_INT_POS
    b.p[b.n + 1] = <uint8_t>(MAX_INT_BYTES - nbytes if neg else nbytes)
    for i in range(nbytes):
        b.p[b.n + 2 + i] = <uint8_t>(0xFF - r[i]) if neg else r[i]
    b.n += 2 + nbytes
    return 0


cdef int _encode_element(ByteBuf *b, object x, Py_ssize_t index, int depth) except -1:
    cdef int overflow = 0
    cdef long long iv
    cdef double d
    cdef uint64_t bits
    cdef const char *s
    cdef Py_ssize_t slen
    cdef const uint8_t[::1] view
    if x is None:
        buf_put_u8(b, TAG_NULL)
    elif x is True:
        buf_put_u8(b, TAG_TRUE)
    elif x is False:
        buf_put_u8(b, TAG_FALSE)
    elif isinstance(x, int):
        iv = PyLong_AsLongLongAndOverflow(x, &overflow)
        if overflow == 0:
            buf_put_u8(b, TAG_INT)
            buf_put_u64_be(b, (<uint64_t>iv) ^ SIGN_BIT)
        else:
            _put_bigint(b, int(x))
    elif isinstance(x, float):
        d = x
        if d != d:
            bits = CANONICAL_NAN
        elif d == 0.0:
            bits = 0
        else:
            memcpy(&bits, &d, 8)
        bits = (~bits) if (bits & SIGN_BIT) else (bits | SIGN_BIT)
        buf_put_u8(b, TAG_FLOAT)
        buf_put_u64_be(b, bits)
    elif isinstance(x, str):
        try:
            s = PyUnicode_AsUTF8AndSize(x, &slen)
        except UnicodeEncodeError:
            raise InvalidArgumentError(
                f"key element {index} is a str that is not valid UTF-8 (lone surrogate)"
            ) from None
        buf_put_u8(b, TAG_STR)
        buf_put_escaped(b, <const uint8_t *>s, <size_t>slen)
    elif isinstance(x, (bytes, bytearray, memoryview)):
        view = memoryview(x).cast("B")
        buf_put_u8(b, TAG_BYTES)
        buf_put_escaped(b, &view[0] if view.shape[0] else NULL, <size_t>view.shape[0])
    elif isinstance(x, tuple):
        if depth >= MAX_DEPTH:
            raise InvalidArgumentError(f"key tuples nest deeper than {MAX_DEPTH} levels")
        buf_put_u8(b, TAG_TUPLE)
        for sub in <tuple>x:
            _encode_element(b, sub, index, depth + 1)
        buf_put_u8(b, TAG_END)
    else:
        raise TypeError(f"key element {index} has unsupported type {type(x).__name__}: "
                        f"{x!r:.60}")
    return 0


cdef int _encode_tuple(ByteBuf *b, object tup) except -1:
    cdef Py_ssize_t i = 0
    if not isinstance(tup, tuple):
        raise TypeError(f"key must be a tuple, not {type(tup).__name__}")
    for x in <tuple>tup:
        _encode_element(b, x, i, 0)
        i += 1
    return 0


def encode_key(tup) -> bytes:
    """The order-preserving encoding of a tuple of None/bool/int/float/str/bytes/tuple."""
    cdef ByteBuf b
    b.p = NULL
    b.n = 0
    b.cap = 0
    try:
        _encode_tuple(&b, tup)
        return PyBytes_FromStringAndSize(<const char *>b.p, b.n)
    finally:
        free(b.p)


def encode_key_into(bytearray out, tup) -> int:
    """Appends the encoding of ``tup`` to ``out``; returns the number of bytes appended."""
    cdef ByteBuf b
    b.p = NULL
    b.n = 0
    b.cap = 0
    try:
        _encode_tuple(&b, tup)
        out += PyBytes_FromStringAndSize(<const char *>b.p, b.n)
        return b.n
    finally:
        free(b.p)


# Decoding -------------------------------------------------------------------------------

cdef class _Decoder:
    cdef const uint8_t *p
    cdef Py_ssize_t n
    cdef Py_ssize_t pos
    cdef object file
    cdef Py_ssize_t base
    cdef ByteBuf scratch
    cdef const uint8_t *sp
    cdef Py_ssize_t sn

    def __dealloc__(self):
        free(self.scratch.p)

    cdef int fail(self, str msg, Py_ssize_t at) except -1:
        raise CorruptionError(f"malformed key: {msg}", self.file, self.base + at)

    cdef uint64_t u64_be(self) except? 0:
        cdef uint64_t v = 0
        cdef int i
        if self.n - self.pos < 8:
            self.fail(f"number truncated ({self.n - self.pos} of 8 bytes)", self.pos)
        for i in range(8):
            v = (v << 8) | self.p[self.pos + i]
        self.pos += 8
        return v

    cdef int unescape(self) except -1:
        """Unescapes the terminated string at pos; the result is (sp, sn): a slice of the
        input when it has no escapes, else scratch. Advances past the terminator."""
        cdef const uint8_t *z
        cdef Py_ssize_t run, start = self.pos
        z = <const uint8_t *>memchr(self.p + self.pos, 0, self.n - self.pos)
        if z != NULL and z + 1 < self.p + self.n and z[1] == ESC_TERM:
            self.sp = self.p + self.pos
            self.sn = z - self.sp
            self.pos += self.sn + 2
            return 0
        self.scratch.n = 0
        while True:
            z = <const uint8_t *>memchr(self.p + self.pos, 0, self.n - self.pos)
            if z == NULL:
                self.fail("unterminated string", start)
            run = z - (self.p + self.pos)
            _reserve(&self.scratch, run + 1)
            memcpy(self.scratch.p + self.scratch.n, self.p + self.pos, run)
            self.scratch.n += run
            self.pos += run
            if self.pos + 1 >= self.n:
                self.fail("unterminated string", start)
            if self.p[self.pos + 1] == ESC_TERM:
                self.pos += 2
                self.sp = self.scratch.p
                self.sn = self.scratch.n
                return 0
            if self.p[self.pos + 1] != ESC_ZERO:
                self.fail(f"bad escape 0x00 0x{self.p[self.pos + 1]:02x}", self.pos)
            self.scratch.p[self.scratch.n] = 0
            self.scratch.n += 1
            self.pos += 2

    cdef object bigint(self, bint neg):
        cdef Py_ssize_t start = self.pos - 1, nbytes, i
        cdef bytes raw
        cdef uint8_t *r
        if self.pos >= self.n:
            self.fail("integer length truncated", start)
        nbytes = self.p[self.pos]
        if neg:
            nbytes = MAX_INT_BYTES - nbytes
        self.pos += 1
        if nbytes > self.n - self.pos:
            self.fail(f"integer truncated ({self.n - self.pos} of {nbytes} bytes)", start)
        raw = PyBytes_FromStringAndSize(NULL, nbytes)
        r = <uint8_t *>PyBytes_AS_STRING(raw)
        for i in range(nbytes):
            r[i] = <uint8_t>(0xFF - self.p[self.pos + i]) if neg else self.p[self.pos + i]
        self.pos += nbytes
        mag = int.from_bytes(raw, "big")
        # Canonical form only: no leading zero byte, and outside the int64 range.
        if nbytes == 0 or r[0] == 0 or (mag <= 0x7FFFFFFFFFFFFFFF if not neg
                                        else mag <= 0x8000000000000000):
            self.fail("non-canonical big integer", start)
        return -mag if neg else mag

    cdef object element(self, int depth):
        cdef Py_ssize_t at = self.pos
        cdef uint8_t tag = self.p[self.pos]
        cdef uint64_t bits
        cdef double d
        cdef list items
        self.pos += 1
        if tag == TAG_NULL:
            return None
        if tag == TAG_FALSE:
            return False
        if tag == TAG_TRUE:
            return True
        if tag == TAG_INT:
            return <int64_t>(self.u64_be() ^ SIGN_BIT)
        if tag == TAG_INT_POS or tag == TAG_INT_NEG:
            return self.bigint(tag == TAG_INT_NEG)
        if tag == TAG_FLOAT:
            bits = self.u64_be()
            bits = (bits & ~SIGN_BIT) if (bits & SIGN_BIT) else ~bits
            memcpy(&d, &bits, 8)
            return d
        if tag == TAG_STR:
            self.unescape()
            try:
                if self.sn == 0:
                    return ""
                return PyUnicode_DecodeUTF8(<const char *>self.sp, self.sn, "strict")
            except UnicodeDecodeError as exc:
                self.fail(f"invalid UTF-8 in string ({exc.reason})", at)
        if tag == TAG_BYTES:
            self.unescape()
            if self.sn == 0:
                return b""
            return PyBytes_FromStringAndSize(<const char *>self.sp, self.sn)
        if tag == TAG_TUPLE:
            if depth >= MAX_DEPTH:
                self.fail(f"tuples nested deeper than {MAX_DEPTH} levels", at)
            items = []
            while True:
                if self.pos >= self.n:
                    self.fail("unterminated nested tuple", at)
                if self.p[self.pos] == TAG_END:
                    self.pos += 1
                    return tuple(items)
                items.append(self.element(depth + 1))
        self.fail(f"unknown type tag 0x{tag:02x}", at)


def decode_key(data, file=None, offset=None) -> tuple:
    """Inverse of :func:`encode_key`. Malformed input raises CorruptionError naming
    ``file`` and ``offset`` (+ the position of the bad element)."""
    cdef const uint8_t[::1] view = memoryview(data).cast("B")
    cdef _Decoder d = _Decoder()
    cdef list items = []
    d.n = view.shape[0]
    d.pos = 0
    if d.n:
        d.p = &view[0]
    d.file = file
    d.base = offset if offset is not None else 0
    while d.pos < d.n:
        items.append(d.element(0))
    return tuple(items)


def prefix_successor(prefix) -> bytes | None:
    """The smallest byte string greater than every string starting with ``prefix``, or
    None when there is none (empty prefix or all 0xFF): the exclusive end of a prefix scan."""
    cdef bytes p = bytes(prefix)
    cdef Py_ssize_t i = len(p) - 1
    while i >= 0 and p[i] == 0xFF:
        i -= 1
    if i < 0:
        return None
    return p[:i] + bytes((p[i] + 1,))
