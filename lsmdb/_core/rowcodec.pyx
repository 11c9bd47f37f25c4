# Typed row and key codec of the storage engine: rows (the value format of a table's heap) and
# order-preserving index keys, driven by per-column type specs. docs/format/rowcodec.md has the
# grammar and a worked example; the layouts in brief:
#
# Type spec (plain, hashable):  (code,) | (T_VECTOR, dims) | (T_ARRAY, element_spec)
# Type codes (persisted in the catalog: never change them):
#   1 BOOLEAN  2 INT  3 BIGINT  4 REAL  5 DOUBLE  6 NUMERIC  7 TEXT  8 BLOB  9 DATE  10 TIME
#   11 TIMESTAMP  12 TIMESTAMPTZ  13 INTERVAL  14 UUID  15 JSONB  16 VECTOR  17 ARRAY
#
# Row (value) format, version 1:
#   row     := 0x01 ncols:varint32 nullmap[ceil(ncols/8)] payload(col)*   (non-NULL columns,
#              in column order; nullmap bit i (byte i>>3, bit i&7) set = column i is NULL;
#              unused high bits zero)
#   payload := fixed-width little-endian for BOOLEAN u8 0/1 | INT i32 | BIGINT i64 |
#              REAL f32 | DOUBLE f64 | DATE i32 proleptic ordinal (0001-01-01 = 1) |
#              TIME i64 us since midnight | TIMESTAMP i64 us since 0001-01-01T00:00 |
#              TIMESTAMPTZ same, UTC | INTERVAL i32 days + i64 us of the day (0 <= us <
#              86400e6) | UUID 16 bytes | VECTOR(d) d x f32
#            | len:varint32 body  for NUMERIC, TEXT (UTF-8), BLOB, JSONB, ARRAY
#   NUMERIC body := kind:u8 (0 +finite, 1 -finite, 2 NaN, 3 +Infinity, 4 -Infinity)
#                   [exponent:zigzag varint64, coefficient digits packed 2 per byte, high
#                   nibble first, an odd count padded with a 0xF nibble]   (scale kept)
#   JSONB body   := jvalue;  jvalue := 0x00 null | 0x01 false | 0x02 true
#                   | 0x03 zigzag varint64 (int64) | 0x04 len:varint32 int, two's complement LE
#                   | 0x05 f64 LE | 0x06 len:varint32 utf8 | 0x07 count:varint32 jvalue*
#                   | 0x08 count:varint32 (len:varint32 utf8 key, jvalue)*   (insertion order)
#   ARRAY body   := count:varint32 nullmap[ceil(count/8)] payload(element)*
#
# Key format (memcmp order = the column types' natural order, PostgreSQL's):
#   key     := column*                 (so a key of the first k columns is a prefix)
#   column  := 0x01 (NULL, nulls first) | 0x03 (NULL, nulls last) | 0x02 kbody
#              kbody's bytes complemented for a DESC column; the markers never are
#   kbody   := BOOLEAN u8 | INT u32be(v ^ 2^31) | BIGINT u64be(v ^ 2^63)
#            | REAL u32be / DOUBLE u64be of the IEEE bits, sign set -> all bits flipped,
#              else sign bit set; -0.0 as +0.0, one NaN sorting above +Infinity
#            | NUMERIC nkey | TEXT/BLOB escaped(bytes) 0x00 0x01 (0x00 -> 0x00 0xFF)
#            | DATE u32be ordinal | TIME/TIMESTAMP/TIMESTAMPTZ u64be us
#            | INTERVAL u32be(days ^ 2^31) u64be(us of the day) | UUID 16 bytes
#            | JSONB jkey (top level) | VECTOR(d) d x REAL kbody
#            | ARRAY (0x02 kbody | 0x03 for a NULL element)* 0x01
#   nkey    := 0x01 -Infinity | 0x02 ~(e100 digits) negative | 0x03 zero
#            | 0x04 e100 digits positive | 0x05 +Infinity | 0x06 NaN
#              value = 0.c1c2...cm x 100^e, e100 = u32be(e ^ 2^31), centimal digit ci
#              (0..99, c1 and cm nonzero) as byte 2ci+1, except the last as 2cm
#   jkey    := 0x01 empty array at top level (PostgreSQL sorts it before everything)
#            | 0x10 null | 0x20 escaped(utf8) 0x00 0x01 | 0x30 nkey | 0x40 false | 0x41 true
#            | 0x50 count:u32be jkey* | 0x60 count:u32be (escaped(key) 0x00 0x01 jkey)*
#              (object keys in jsonb storage order: shorter first, then bytewise)

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.datetime cimport (
    PyDate_Check,
    PyDateTime_Check,
    PyDelta_Check,
    PyTime_Check,
    date_day,
    date_month,
    date_new,
    date_year,
    datetime_day,
    datetime_hour,
    datetime_microsecond,
    datetime_minute,
    datetime_month,
    datetime_new,
    datetime_second,
    datetime_tzinfo,
    datetime_year,
    import_datetime,
    time_hour,
    time_microsecond,
    time_minute,
    time_new,
    time_second,
    time_tzinfo,
    timedelta_days,
    timedelta_microseconds,
    timedelta_new,
    timedelta_seconds,
)
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, PyUnicode_DecodeUTF8
from libc.math cimport isfinite, isinf
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free
from libc.string cimport memchr, memcpy, memmove, memset

from lsmdb._core.coding cimport (
    ByteBuf,
    buf_put_bytes,
    buf_put_escaped,
    buf_put_u8,
    buf_put_u32_be,
    buf_put_u64_be,
    buf_put_varint64,
    buf_reserve,
    decode_varint32,
    decode_varint64,
    encode_varint32,
    load_u32_be,
    load_u32_le,
    load_u64_be,
)

import datetime as _dt
import decimal
import numbers
import operator
import uuid

import numpy as np

from lsmdb._core.keycodec import prefix_successor
from lsmdb.errors import CorruptionError, InvalidArgumentError

import_datetime()

__all__ = [
    "T_BOOLEAN", "T_INT", "T_BIGINT", "T_REAL", "T_DOUBLE", "T_NUMERIC", "T_TEXT", "T_BLOB",
    "T_DATE", "T_TIME", "T_TIMESTAMP", "T_TIMESTAMPTZ", "T_INTERVAL", "T_UUID", "T_JSONB",
    "T_VECTOR", "T_ARRAY", "JSON_NULL", "ROW_FORMAT_VERSION", "MAX_ARRAY_DEPTH",
    "MAX_JSON_DEPTH", "MAX_VECTOR_DIMS", "DESC", "NULLS_FIRST", "check_spec", "format_spec",
    "normalize", "encode_row", "decode_row", "decode_row_columns", "encode_key", "decode_key",
    "prefix_successor",
]

# Type codes: persisted in the catalog, never change them.
cdef enum:
    C_BOOLEAN = 1
    C_INT = 2
    C_BIGINT = 3
    C_REAL = 4
    C_DOUBLE = 5
    C_NUMERIC = 6
    C_TEXT = 7
    C_BLOB = 8
    C_DATE = 9
    C_TIME = 10
    C_TIMESTAMP = 11
    C_TIMESTAMPTZ = 12
    C_INTERVAL = 13
    C_UUID = 14
    C_JSONB = 15
    C_VECTOR = 16
    C_ARRAY = 17

# Format bytes: persisted in every row and key, never change them.
cdef enum:
    FORMAT_V1 = 1
    KEY_NULL_FIRST = 0x01
    KEY_VALUE = 0x02
    KEY_NULL_LAST = 0x03
    ARR_END = 0x01
    ARR_ELEM = 0x02
    ARR_NULL = 0x03
    NUM_NEG_INF = 0x01
    NUM_NEG = 0x02
    NUM_ZERO = 0x03
    NUM_POS = 0x04
    NUM_POS_INF = 0x05
    NUM_NAN = 0x06
    NROW_POS = 0
    NROW_NEG = 1
    NROW_NAN = 2
    NROW_POS_INF = 3
    NROW_NEG_INF = 4
    JK_EMPTY_TOP_ARRAY = 0x01
    JK_NULL = 0x10
    JK_STRING = 0x20
    JK_NUMBER = 0x30
    JK_FALSE = 0x40
    JK_TRUE = 0x41
    JK_ARRAY = 0x50
    JK_OBJECT = 0x60
    JR_NULL = 0x00
    JR_FALSE = 0x01
    JR_TRUE = 0x02
    JR_INT = 0x03
    JR_BIGINT = 0x04
    JR_FLOAT = 0x05
    JR_STRING = 0x06
    JR_ARRAY = 0x07
    JR_OBJECT = 0x08

# Limits (PostgreSQL's numeric: 131072 digits before the point, 16383 after).
cdef enum:
    ARRAY_DEPTH_LIMIT = 256
    JSON_DEPTH_LIMIT = 256
    VECTOR_DIMS_LIMIT = 65535
    NUMERIC_INT_DIGITS = 131072
    NUMERIC_FRAC_DIGITS = 16383
    E100_MIN = -8191            # ceil(-16382 / 2): 1E-16383 = 0.1 x 10^-16382
    E100_MAX = 65536            # 131072 / 2

cdef int64_t US_PER_DAY = 86400000000LL
cdef int64_t MAX_ORDINAL = 3652059              # date(9999, 12, 31).toordinal()
cdef int64_t MAX_TS_US = 3652059LL * 86400000000LL - 1
cdef int64_t MAX_DELTA_DAYS = 999999999
cdef uint64_t SIGN64 = (<uint64_t>1) << 63
cdef uint32_t SIGN32 = (<uint32_t>1) << 31

T_BOOLEAN = C_BOOLEAN
T_INT = C_INT
T_BIGINT = C_BIGINT
T_REAL = C_REAL
T_DOUBLE = C_DOUBLE
T_NUMERIC = C_NUMERIC
T_TEXT = C_TEXT
T_BLOB = C_BLOB
T_DATE = C_DATE
T_TIME = C_TIME
T_TIMESTAMP = C_TIMESTAMP
T_TIMESTAMPTZ = C_TIMESTAMPTZ
T_INTERVAL = C_INTERVAL
T_UUID = C_UUID
T_JSONB = C_JSONB
T_VECTOR = C_VECTOR
T_ARRAY = C_ARRAY
ROW_FORMAT_VERSION = FORMAT_V1
MAX_ARRAY_DEPTH = ARRAY_DEPTH_LIMIT
MAX_JSON_DEPTH = JSON_DEPTH_LIMIT
MAX_VECTOR_DIMS = VECTOR_DIMS_LIMIT
DESC = 1
NULLS_FIRST = 2

cdef dict _NAMES = {
    C_BOOLEAN: "BOOLEAN", C_INT: "INT", C_BIGINT: "BIGINT", C_REAL: "REAL",
    C_DOUBLE: "DOUBLE", C_NUMERIC: "NUMERIC", C_TEXT: "TEXT", C_BLOB: "BLOB",
    C_DATE: "DATE", C_TIME: "TIME", C_TIMESTAMP: "TIMESTAMP", C_TIMESTAMPTZ: "TIMESTAMPTZ",
    C_INTERVAL: "INTERVAL", C_UUID: "UUID", C_JSONB: "JSONB", C_VECTOR: "VECTOR",
    C_ARRAY: "ARRAY",
}
# What each type accepts, for error messages.
cdef dict _EXPECTED = {
    C_BOOLEAN: "bool", C_INT: "int in [-2**31, 2**31)", C_BIGINT: "int in [-2**63, 2**63)",
    C_REAL: "float or int within float32 range", C_DOUBLE: "float or int",
    C_NUMERIC: "decimal.Decimal or int", C_TEXT: "str (valid UTF-8)",
    C_BLOB: "bytes, bytearray or memoryview", C_DATE: "datetime.date (not a datetime)",
    C_TIME: "naive datetime.time", C_TIMESTAMP: "naive datetime.datetime",
    C_TIMESTAMPTZ: "timezone-aware datetime.datetime", C_INTERVAL: "datetime.timedelta",
    C_UUID: "uuid.UUID", C_JSONB: "dict, list, str, int, float, bool or JSON_NULL",
    C_VECTOR: "a 1-D sequence or numpy array of finite float32 values",
    C_ARRAY: "list or tuple",
}
# Row payload width of the fixed-width types; 0 = length-prefixed.
cdef int[18] _WIDTH
memset(_WIDTH, 0, sizeof(_WIDTH))
_WIDTH[C_BOOLEAN] = 1
_WIDTH[C_INT] = 4
_WIDTH[C_BIGINT] = 8
_WIDTH[C_REAL] = 4
_WIDTH[C_DOUBLE] = 8
_WIDTH[C_DATE] = 4
_WIDTH[C_TIME] = 8
_WIDTH[C_TIMESTAMP] = 8
_WIDTH[C_TIMESTAMPTZ] = 8
_WIDTH[C_INTERVAL] = 12
_WIDTH[C_UUID] = 16

cdef object _Decimal = decimal.Decimal
cdef object _UUID = uuid.UUID
cdef object _Real = numbers.Real
cdef object _index = operator.index
cdef object _UTC = _dt.timezone.utc
cdef object _date_type = _dt.date
cdef object _time_type = _dt.time
cdef object _datetime_type = _dt.datetime
cdef object _timedelta_type = _dt.timedelta


class _JsonNullType:
    """JSON null inside a JSONB column (Python None there is SQL NULL)."""

    __slots__ = ()
    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = object.__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "JSON_NULL"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self):
        return "JSON_NULL"


JSON_NULL = _JsonNullType()
cdef object _JSON_NULL = JSON_NULL


# The codec's parts, textually included in this order (each uses the ones before it).
include "rowcodec_specs.pxi"
include "rowcodec_coerce.pxi"
include "rowcodec_row_encode.pxi"
include "rowcodec_row_decode.pxi"
include "rowcodec_key_encode.pxi"
include "rowcodec_key_decode.pxi"


# normalize -----------------------------------------------------------------------------

cdef object _round_trip(_Spec s, object v):
    """decode(encode(v)) of one value: what a row read returns for it."""
    cdef ByteBuf b
    cdef Cur c
    b.p = NULL
    b.n = 0
    b.cap = 0
    try:
        _put_row_value(&b, s, v)
        c.p = b.p
        c.n = b.n
        c.pos = 0
        c.mask = 0
        return _get_row_value(&c, s)
    finally:
        free(b.p)


def normalize(spec, value):
    """Type-check ``value`` for ``spec`` and return it as a row read would (REAL rounded to
    float32, TIMESTAMPTZ in UTC, NUMERIC as Decimal, BLOB as bytes, VECTOR as a float32
    array, ...). None passes through; bad values raise InvalidArgumentError."""
    cdef _Spec s = _spec_of(spec)
    cdef int code = s.code
    cdef Py_ssize_t n
    cdef object t
    if value is None:
        return None
    t = type(value)
    # Exact builtin types that come back unchanged skip the round trip.
    if code == C_INT or code == C_BIGINT:
        _as_int(s, value)
        return value if t is int else int(_index(value))
    if code == C_DOUBLE:
        return _as_float(s, value)
    if code == C_TEXT and t is str:
        _utf8(s, value, &n)
        return value
    if code == C_BOOLEAN:
        if t is not bool:
            _bad(s, value)
        return value
    if code == C_TIMESTAMP and t is _datetime_type:
        _timestamp_us(s, value)
        return value
    if code == C_DATE and t is _date_type:
        return value
    if code == C_TIME and t is _time_type:
        _time_us(s, value)
        return value
    if code == C_INTERVAL and t is _timedelta_type:
        return value
    if code == C_BLOB and t is bytes:
        return value
    return _round_trip(s, value)
