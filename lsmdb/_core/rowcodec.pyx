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


# Type specs ------------------------------------------------------------------------------

cdef class _Spec:
    """A validated type spec in the shape the codec loops use."""
    cdef int code
    cdef int width          # fixed row payload width, 0 = length-prefixed
    cdef Py_ssize_t dims    # VECTOR
    cdef _Spec elem         # ARRAY
    cdef object spec


cdef dict _spec_cache = {}
cdef dict _specs_cache = {}
cdef tuple _last_specs = (object(), ())   # (specs, compiled), swapped as one object


cdef str _spec_repr(object spec):
    cdef str r = repr(spec)
    return r if len(r) <= 80 else r[:77] + "..."


cdef _Spec _compile(object spec, int depth):
    cdef _Spec s
    cdef object code, dims
    if not isinstance(spec, tuple) or len(<tuple>spec) == 0:
        raise InvalidArgumentError(f"a type spec is a non-empty tuple such as (T_INT,), "
                                   f"got {_spec_repr(spec)}")
    code = (<tuple>spec)[0]
    if type(code) is not int or code not in _NAMES:
        raise InvalidArgumentError(f"unknown type code in type spec {_spec_repr(spec)}")
    s = _Spec()
    s.code = code
    s.spec = spec
    s.width = _WIDTH[s.code]
    if s.code == C_VECTOR:
        if len(<tuple>spec) != 2:
            raise InvalidArgumentError(f"a VECTOR spec is (T_VECTOR, dims), got "
                                       f"{_spec_repr(spec)}")
        dims = (<tuple>spec)[1]
        if type(dims) is not int or not 1 <= dims <= VECTOR_DIMS_LIMIT:
            raise InvalidArgumentError(f"VECTOR dims must be an int in [1, "
                                       f"{VECTOR_DIMS_LIMIT}], got {dims!r}")
        s.dims = dims
        s.width = 4 * s.dims
    elif s.code == C_ARRAY:
        if len(<tuple>spec) != 2:
            raise InvalidArgumentError(f"an ARRAY spec is (T_ARRAY, element_spec), got "
                                       f"{_spec_repr(spec)}")
        if depth >= ARRAY_DEPTH_LIMIT:
            raise InvalidArgumentError(f"ARRAY types nest at most {ARRAY_DEPTH_LIMIT} levels")
        s.elem = _compile((<tuple>spec)[1], depth + 1)
    elif len(<tuple>spec) != 1:
        raise InvalidArgumentError(f"a {_NAMES[s.code]} spec is ({_NAMES[s.code]} code,), "
                                   f"got {_spec_repr(spec)}")
    return s


cdef bint _identical(object a, object b):
    """Equal with the same types throughout: (True,) == (1,) in Python, but True is not a
    type code, so the caches must not treat them as the same spec."""
    cdef Py_ssize_t i
    if type(a) is not type(b):
        return False
    if type(a) is tuple:
        if len(<tuple>a) != len(<tuple>b):
            return False
        for i in range(len(<tuple>a)):
            if not _identical((<tuple>a)[i], (<tuple>b)[i]):
                return False
        return True
    return a == b


cdef _Spec _spec_of(object spec):
    cdef object s = None
    if isinstance(spec, tuple):
        try:
            s = _spec_cache.get(spec)
            if s is not None and not _identical((<_Spec>s).spec, spec):
                s = None
        except TypeError:
            raise InvalidArgumentError(f"a type spec is a tuple of ints and specs, got "
                                       f"{_spec_repr(spec)}") from None
    if s is None:
        s = _compile(spec, 0)
        if len(_spec_cache) > 4096:
            _spec_cache.clear()
        if _spec_cache.get(spec) is None:
            _spec_cache[spec] = s
    return <_Spec>s


cdef tuple _specs_of(object specs):
    """The compiled tuple of _Spec for a tuple of type specs (cached: engines pass the same
    tuple object for every row of a table)."""
    global _last_specs
    cdef tuple last = _last_specs
    cdef object compiled
    if last[0] is specs:
        return <tuple>last[1]
    if not isinstance(specs, tuple):
        raise InvalidArgumentError(f"specs must be a tuple of type specs, got "
                                   f"{type(specs).__name__}")
    try:
        compiled = _specs_cache.get(specs)
    except TypeError:
        compiled = None
    if compiled is not None and not _identical(
            tuple([(<_Spec>c).spec for c in <tuple>compiled]), specs):
        compiled = None
    if compiled is None:
        compiled = tuple([_spec_of(s) for s in <tuple>specs])
        if len(_specs_cache) > 4096:
            _specs_cache.clear()
        try:
            if _specs_cache.get(specs) is None:
                _specs_cache[specs] = compiled
        except TypeError:
            pass    # unhashable but valid (a list inside): compiled, just not cached
    _last_specs = (specs, compiled)
    return <tuple>compiled


cdef str _name(_Spec s):
    if s.code == C_VECTOR:
        return f"VECTOR({s.dims})"
    if s.code == C_ARRAY:
        return f"ARRAY({_name(s.elem)})"
    return _NAMES[s.code]


def check_spec(spec):
    """Validate a type spec; returns it unchanged."""
    _spec_of(spec)
    return spec


def format_spec(spec) -> str:
    """The SQL-ish name of a type spec, e.g. 'ARRAY(VECTOR(3))'."""
    return _name(_spec_of(spec))


# Errors ----------------------------------------------------------------------------------

cdef str _value_repr(object v):
    cdef str r
    try:
        r = repr(v)
    except Exception:
        r = f"<{type(v).__name__} object>"
    return r if len(r) <= 80 else r[:77] + "..."


cdef int _bad(_Spec s, object v, str why=None) except -1:
    cdef str exp = f"expected {_name(s)} ({_EXPECTED[s.code]})"
    if why is not None:
        exp = f"{exp}: {why}"
    raise InvalidArgumentError(f"{exp}, got {_value_repr(v)} ({type(v).__name__})")


# Decoding cursor: every read checks the bytes left; a bad byte raises CorruptionError naming
# its offset. mask is 0xFF while reading a descending key column (its bytes are complemented).
cdef struct Cur:
    const uint8_t *p
    Py_ssize_t n
    Py_ssize_t pos
    uint8_t mask


cdef int _corrupt(str msg, Py_ssize_t at) except -1:
    raise CorruptionError(msg, None, at)


cdef inline int _need(Cur *c, Py_ssize_t k, const char *what) except -1:
    if c.n - c.pos < k:
        _corrupt(f"{what.decode()} truncated ({c.n - c.pos} of {k} bytes)", c.pos)
    return 0


cdef inline uint8_t _byte(Cur *c, const char *what) except? 0xAB:
    _need(c, 1, what)
    c.pos += 1
    return c.p[c.pos - 1] ^ c.mask


cdef inline int _take(Cur *c, Py_ssize_t k, uint8_t *out, const char *what) except -1:
    cdef Py_ssize_t i
    _need(c, k, what)
    for i in range(k):
        out[i] = c.p[c.pos + i] ^ c.mask
    c.pos += k
    return 0


cdef inline uint32_t _varint32(Cur *c, const char *what) except? 0xFFFFFFFF:
    cdef uint32_t v = 0
    cdef const uint8_t *q = decode_varint32(c.p + c.pos, c.p + c.n, &v)
    if q == NULL:
        _corrupt(f"bad or truncated {what.decode()}", c.pos)
    c.pos = q - c.p
    return v


cdef inline Py_ssize_t _length(Cur *c, const char *what) except -1:
    """A varint32 length, checked against the bytes left."""
    cdef Py_ssize_t at = c.pos
    cdef Py_ssize_t k = _varint32(c, what)
    if k > c.n - c.pos:
        _corrupt(f"{what.decode()} {k} runs past the end ({c.n - c.pos} bytes left)", at)
    return k


cdef bytes _view(object data, Cur *c):
    """Point ``c`` at bytes-like ``data``; returns the bytes object to keep alive while ``c``
    is in use (``data`` itself unless it is not bytes, then a copy)."""
    cdef object b = data
    if type(b) is not bytes:
        if not isinstance(b, (bytes, bytearray, memoryview)):
            raise InvalidArgumentError(f"data must be bytes, bytearray or memoryview, got "
                                       f"{type(data).__name__}")
        b = b.tobytes() if isinstance(b, memoryview) else bytes(b)
    c.p = <const uint8_t *>PyBytes_AS_STRING(b)
    c.n = PyBytes_GET_SIZE(b)
    c.pos = 0
    c.mask = 0
    return <bytes>b


# Calendar arithmetic (proleptic Gregorian, H. Hinnant's days_from_civil / civil_from_days),
# so dates and timestamps never go through Python-level date arithmetic.

cdef inline int64_t _ordinal(int64_t y, int64_t m, int64_t d) noexcept nogil:
    """date(y, m, d).toordinal() for 1 <= y <= 9999."""
    cdef int64_t era, yoe, doy, doe
    y -= 1 if m <= 2 else 0
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 305


cdef inline void _civil(int64_t ordinal, int *y, int *m, int *d) noexcept nogil:
    """Inverse of _ordinal for 1 <= ordinal <= MAX_ORDINAL."""
    cdef int64_t z = ordinal + 305, era, doe, yoe, doy, mp
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d[0] = <int>(doy - (153 * mp + 2) // 5 + 1)
    m[0] = <int>(mp + 3 if mp < 10 else mp - 9)
    y[0] = <int>(yoe + era * 400 + (1 if m[0] <= 2 else 0))


# Value coercion: Python value -> C value, or InvalidArgumentError ---------------------------

cdef int64_t _as_int(_Spec s, object v) except? -1:
    cdef int overflow = 0
    cdef long long iv
    if type(v) is not int:
        if isinstance(v, bool) or type(v).__name__ == "bool_":
            _bad(s, v)
        if not isinstance(v, int):
            try:
                v = _index(v)
            except TypeError:
                _bad(s, v)
    iv = PyLong_AsLongLongAndOverflow(v, &overflow)
    if overflow or (s.code == C_INT and not (-2147483648 <= iv <= 2147483647)):
        _bad(s, v, "out of range")
    return iv


cdef double _as_float(_Spec s, object v) except? -1.0:
    """DOUBLE: the value as a double; REAL: rounded to float32 (finite overflow rejected)."""
    cdef double d = 0.0
    cdef float f
    if type(v) is float:
        d = v
    elif isinstance(v, bool) or type(v).__name__ == "bool_" or not isinstance(v, _Real):
        _bad(s, v)
    else:
        try:
            d = float(v)
        except (OverflowError, ValueError, TypeError):
            _bad(s, v, "out of range")
    if s.code == C_REAL:
        f = <float>d
        if isinf(f) and isfinite(d):
            _bad(s, v, "out of float32 range")
        return <double>f
    return d


cdef int64_t _date_ordinal(_Spec s, object v) except -1:
    if not PyDate_Check(v) or PyDateTime_Check(v):
        _bad(s, v)
    return _ordinal(date_year(v), date_month(v), date_day(v))


cdef int64_t _time_us(_Spec s, object v) except -1:
    if not PyTime_Check(v):
        _bad(s, v)
    if time_tzinfo(v) is not None and v.utcoffset() is not None:
        _bad(s, v, "TIME is naive; it has a UTC offset")
    return (((<int64_t>time_hour(v) * 60 + time_minute(v)) * 60 + time_second(v)) * 1000000
            + time_microsecond(v))


cdef inline int64_t _local_us(object v) noexcept:
    return ((_ordinal(datetime_year(v), datetime_month(v), datetime_day(v)) - 1) * US_PER_DAY
            + ((<int64_t>datetime_hour(v) * 60 + datetime_minute(v)) * 60
               + datetime_second(v)) * 1000000 + datetime_microsecond(v))


cdef int64_t _timestamp_us(_Spec s, object v) except -1:
    cdef object off
    cdef int64_t us
    if not PyDateTime_Check(v):
        _bad(s, v)
    off = None if datetime_tzinfo(v) is None else v.utcoffset()
    if s.code == C_TIMESTAMP:
        if off is not None:
            _bad(s, v, "TIMESTAMP is naive; use TIMESTAMPTZ for aware datetimes")
        return _local_us(v)
    if off is None:
        _bad(s, v, "TIMESTAMPTZ needs a timezone-aware datetime")
    us = _local_us(v) - (timedelta_days(off) * US_PER_DAY
                         + <int64_t>timedelta_seconds(off) * 1000000
                         + timedelta_microseconds(off))
    if not 0 <= us <= MAX_TS_US:
        _bad(s, v, "outside datetime's range in UTC")
    return us


cdef int _interval(_Spec s, object v, int64_t *days, int64_t *us) except -1:
    if not PyDelta_Check(v):
        _bad(s, v)
    days[0] = timedelta_days(v)
    us[0] = <int64_t>timedelta_seconds(v) * 1000000 + timedelta_microseconds(v)
    return 0


cdef bytes _uuid_bytes(_Spec s, object v):
    if not isinstance(v, _UUID):
        _bad(s, v)
    return v.bytes


cdef const char *_utf8(_Spec s, object v, Py_ssize_t *n) except NULL:
    cdef const char *p = NULL
    if not isinstance(v, str):
        _bad(s, v)
    try:
        p = PyUnicode_AsUTF8AndSize(v, n)
    except UnicodeEncodeError:
        _bad(s, v, "not valid UTF-8 (lone surrogate)")
    return p


cdef bytes _blob(_Spec s, object v):
    if type(v) is bytes:
        return <bytes>v
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    if isinstance(v, memoryview):
        return (<object>v).tobytes()
    _bad(s, v)


cdef tuple _numeric_parts(_Spec s, object v):
    """(kind, negative, digits as bytes of 0..9, exponent) of a NUMERIC value, within
    PostgreSQL's limits; kind is one of NROW_*."""
    cdef object t, exp
    cdef bytes digits
    if isinstance(v, _Decimal):
        t = v.as_tuple()
    elif isinstance(v, int) and not isinstance(v, bool):
        t = _Decimal(v).as_tuple()
    else:
        _bad(s, v)
    exp = t.exponent
    if exp == "n":
        return (NROW_NAN, False, b"", 0)
    if exp == "N":
        _bad(s, v, "signaling NaN is not a value")
    if exp == "F":
        return (NROW_NEG_INF if t.sign else NROW_POS_INF, bool(t.sign), b"", 0)
    digits = bytes(t.digits)
    if exp < -NUMERIC_FRAC_DIGITS or len(digits) + exp > NUMERIC_INT_DIGITS:
        _bad(s, v, f"outside NUMERIC's range ({NUMERIC_INT_DIGITS} digits before the point, "
                   f"{NUMERIC_FRAC_DIGITS} after)")
    return (NROW_NEG if t.sign else NROW_POS, bool(t.sign), digits, exp)


cdef object _make_decimal(bint neg, const uint8_t *digits, Py_ssize_t nd, int64_t exp):
    """Decimal from digit values 0..9 (exact, independent of the decimal context)."""
    cdef bytes text = PyBytes_FromStringAndSize(NULL, nd + 1)
    cdef char *t = PyBytes_AS_STRING(text)
    cdef Py_ssize_t i
    t[0] = b"-" if neg else b"+"
    for i in range(nd):
        t[i + 1] = <char>(digits[i] + 48)
    return _Decimal(f"{text.decode('ascii')}E{exp}")


cdef object _vector_array(_Spec s, object v):
    """``v`` as a fresh little-endian float32 array of s.dims finite values."""
    cdef object a
    if isinstance(v, np.ndarray):
        if v.dtype.kind not in "fiu":
            _bad(s, v, f"numpy dtype {v.dtype} is not numeric")
    elif isinstance(v, (list, tuple)):
        for x in v:
            if isinstance(x, bool) or not isinstance(x, _Real):
                _bad(s, v, f"element {_value_repr(x)} is not a number")
    else:
        _bad(s, v)
    try:
        with np.errstate(all="ignore"):
            a = np.array(v, dtype="<f4")
    except (ValueError, TypeError, OverflowError):
        _bad(s, v)
    if a.ndim != 1 or a.shape[0] != s.dims:
        _bad(s, v, f"wrong shape {a.shape}, need ({s.dims},)")
    if not np.isfinite(a).all():
        _bad(s, v, "non-finite element (or a value beyond float32 range)")
    return a


cdef object _array_items(_Spec s, object v):
    if not isinstance(v, (list, tuple)):
        _bad(s, v)
    return _exact_sequence(v)


# Row format: encoding ---------------------------------------------------------------------

cdef inline int _put_le(ByteBuf *b, uint64_t v, int width) except -1:
    cdef int i
    buf_reserve(b, b.n + width)
    for i in range(width):
        b.p[b.n + i] = <uint8_t>(v >> (8 * i))
    b.n += width
    return 0


cdef inline uint64_t _zigzag(int64_t v) noexcept nogil:
    return (<uint64_t>v << 1) ^ <uint64_t>(v >> 63)


cdef inline int64_t _unzigzag(uint64_t u) noexcept nogil:
    return <int64_t>(u >> 1) ^ -(<int64_t>(u & 1))


cdef int _put_len_prefixed(ByteBuf *b, const uint8_t *p, size_t n) except -1:
    buf_put_varint64(b, n)
    buf_put_bytes(b, p, n)
    return 0


cdef int _begin_len(ByteBuf *b) except -1:
    """Reserve 5 bytes for a varint32 length patched by _end_len; returns the body start."""
    buf_reserve(b, b.n + 5)
    b.n += 5
    return 0


cdef int _end_len(ByteBuf *b, size_t mark) except -1:
    """Write the length of the body after the 5 bytes at ``mark`` as a varint and close the
    gap (bodies are usually short, so the move is small)."""
    cdef size_t body = b.n - (mark + 5)
    cdef uint8_t tmp[5]
    cdef uint8_t *e
    cdef size_t k
    if body > 0xFFFFFFFF:
        raise InvalidArgumentError(f"a value of {body} bytes is too large (limit 4 GiB)")
    e = encode_varint32(tmp, <uint32_t>body)
    k = e - tmp
    if k < 5:
        memmove(b.p + mark + k, b.p + mark + 5, body)
    memcpy(b.p + mark, tmp, k)
    b.n = mark + k + body
    return 0


cdef int _put_numeric_row(ByteBuf *b, _Spec s, object v) except -1:
    cdef tuple parts = _numeric_parts(s, v)
    cdef int kind = parts[0]
    cdef bytes digits = parts[2]
    cdef const uint8_t *d = <const uint8_t *>PyBytes_AS_STRING(digits)
    cdef Py_ssize_t nd = PyBytes_GET_SIZE(digits), i
    cdef uint8_t hi, lo
    cdef size_t mark = b.n
    _begin_len(b)
    buf_put_u8(b, kind)
    if kind == NROW_POS or kind == NROW_NEG:
        buf_put_varint64(b, _zigzag(<int64_t>parts[3]))
        i = 0
        while i < nd:
            hi = d[i]
            lo = d[i + 1] if i + 1 < nd else 0x0F
            buf_put_u8(b, <uint8_t>((hi << 4) | lo))
            i += 2
    _end_len(b, mark)
    return 0


cdef int _put_json_row(ByteBuf *b, object v, int depth) except -1:
    cdef int overflow = 0
    cdef long long iv
    cdef double d
    cdef const char *s
    cdef Py_ssize_t n
    cdef bytes raw
    if v is None or v is _JSON_NULL:
        buf_put_u8(b, JR_NULL)
    elif v is True:
        buf_put_u8(b, JR_TRUE)
    elif v is False:
        buf_put_u8(b, JR_FALSE)
    elif isinstance(v, str):
        try:
            s = PyUnicode_AsUTF8AndSize(v, &n)
        except UnicodeEncodeError:
            raise InvalidArgumentError(f"JSONB string is not valid UTF-8 (lone surrogate): "
                                       f"{_value_repr(v)}") from None
        buf_put_u8(b, JR_STRING)
        _put_len_prefixed(b, <const uint8_t *>s, n)
    elif isinstance(v, int):
        iv = PyLong_AsLongLongAndOverflow(v, &overflow)
        if not overflow:
            buf_put_u8(b, JR_INT)
            buf_put_varint64(b, _zigzag(iv))
        else:
            _check_json_int(v)
            raw = int(v).to_bytes((v.bit_length() + 8) // 8, "little", signed=True)
            buf_put_u8(b, JR_BIGINT)
            _put_len_prefixed(b, <const uint8_t *>PyBytes_AS_STRING(raw), len(raw))
    elif isinstance(v, float):
        d = v
        if not isfinite(d):
            raise InvalidArgumentError(f"JSONB numbers are finite, got {v!r}")
        buf_put_u8(b, JR_FLOAT)
        buf_reserve(b, b.n + 8)
        memcpy(b.p + b.n, &d, 8)
        b.n += 8
    elif isinstance(v, (list, tuple)):
        _check_json_depth(depth)
        v = _exact_sequence(v)
        buf_put_u8(b, JR_ARRAY)
        buf_put_varint64(b, len(v))
        for x in v:
            _put_json_row(b, x, depth + 1)
    elif isinstance(v, dict):
        _check_json_depth(depth)
        buf_put_u8(b, JR_OBJECT)
        buf_put_varint64(b, len(<dict>v))
        for k, x in (<dict>v).items():
            if not isinstance(k, str):
                raise InvalidArgumentError(f"JSONB object keys are str, got {_value_repr(k)}")
            try:
                s = PyUnicode_AsUTF8AndSize(k, &n)
            except UnicodeEncodeError:
                raise InvalidArgumentError(f"JSONB key is not valid UTF-8 (lone surrogate): "
                                           f"{_value_repr(k)}") from None
            _put_len_prefixed(b, <const uint8_t *>s, n)
            _put_json_row(b, x, depth + 1)
    else:
        raise InvalidArgumentError(f"expected JSONB (dict, list, str, int, float, bool or "
                                   f"JSON_NULL), got {_value_repr(v)} ({type(v).__name__})")
    return 0


cdef object _exact_sequence(object v):
    """``v`` itself if it is a plain list or tuple, else a list copy: a subclass could
    iterate over other items than its len() counts, and the count is written first."""
    if type(v) is list or type(v) is tuple:
        return v
    return list(v)


cdef int _check_json_depth(int depth) except -1:
    if depth > JSON_DEPTH_LIMIT:
        raise InvalidArgumentError(f"JSONB containers nest deeper than {JSON_DEPTH_LIMIT} "
                                   f"levels")
    return 0


cdef int _check_json_int(object v) except -1:
    """JSON integers share NUMERIC's limit (their key form is NUMERIC's)."""
    if v.bit_length() > 435412 or _Decimal(v).adjusted() >= NUMERIC_INT_DIGITS:
        raise InvalidArgumentError(f"JSONB integer of {v.bit_length()} bits is outside "
                                   f"NUMERIC's range ({NUMERIC_INT_DIGITS} digits)")
    return 0


cdef int _put_row_value(ByteBuf *b, _Spec s, object v) except -1:
    """Append the row payload of non-NULL ``v``."""
    cdef int code = s.code
    cdef int64_t iv, days
    cdef double d
    cdef float f
    cdef const char *p
    cdef Py_ssize_t n, i, count
    cdef bytes raw
    cdef object items, a
    cdef size_t mark, nulls
    if code == C_INT:
        _put_le(b, <uint64_t>_as_int(s, v), 4)
    elif code == C_BIGINT:
        _put_le(b, <uint64_t>_as_int(s, v), 8)
    elif code == C_DOUBLE:
        d = _as_float(s, v)
        buf_put_bytes(b, <const uint8_t *>&d, 8)
    elif code == C_TEXT:
        p = _utf8(s, v, &n)
        _put_len_prefixed(b, <const uint8_t *>p, n)
    elif code == C_TIMESTAMP or code == C_TIMESTAMPTZ:
        _put_le(b, <uint64_t>_timestamp_us(s, v), 8)
    elif code == C_BOOLEAN:
        if v is True:
            buf_put_u8(b, 1)
        elif v is False:
            buf_put_u8(b, 0)
        else:
            _bad(s, v)
    elif code == C_REAL:
        f = <float>_as_float(s, v)
        buf_put_bytes(b, <const uint8_t *>&f, 4)
    elif code == C_NUMERIC:
        _put_numeric_row(b, s, v)
    elif code == C_BLOB:
        raw = _blob(s, v)
        _put_len_prefixed(b, <const uint8_t *>PyBytes_AS_STRING(raw), len(raw))
    elif code == C_DATE:
        _put_le(b, <uint64_t>_date_ordinal(s, v), 4)
    elif code == C_TIME:
        _put_le(b, <uint64_t>_time_us(s, v), 8)
    elif code == C_INTERVAL:
        _interval(s, v, &days, &iv)
        _put_le(b, <uint64_t>days, 4)
        _put_le(b, <uint64_t>iv, 8)
    elif code == C_UUID:
        raw = _uuid_bytes(s, v)
        buf_put_bytes(b, <const uint8_t *>PyBytes_AS_STRING(raw), 16)
    elif code == C_JSONB:
        if not isinstance(v, (dict, list, tuple, str, int, float)) and v is not _JSON_NULL:
            _bad(s, v)
        mark = b.n
        _begin_len(b)
        _put_json_row(b, v, 1)
        _end_len(b, mark)
    elif code == C_VECTOR:
        raw = _vector_array(s, v).tobytes()
        buf_put_bytes(b, <const uint8_t *>PyBytes_AS_STRING(raw), 4 * s.dims)
    elif code == C_ARRAY:
        items = _array_items(s, v)
        count = len(items)
        mark = b.n
        _begin_len(b)
        buf_put_varint64(b, count)
        nulls = b.n
        buf_reserve(b, b.n + (count + 7) // 8)
        memset(b.p + nulls, 0, (count + 7) // 8)
        b.n += (count + 7) // 8
        for i in range(count):
            a = items[i]
            if a is None:
                b.p[nulls + (i >> 3)] |= <uint8_t>(1 << (i & 7))
            else:
                _put_row_value(b, s.elem, a)
        _end_len(b, mark)
    else:
        raise AssertionError(f"unhandled type code {code}")
    return 0


cdef int _encode_row(ByteBuf *b, tuple cs, object row) except -1:
    cdef Py_ssize_t ncols = len(cs), i = 0
    cdef size_t nulls
    cdef object v
    if not isinstance(row, (tuple, list)):
        raise InvalidArgumentError(f"a row is a tuple, got {type(row).__name__}")
    if len(row) != ncols:
        raise InvalidArgumentError(f"row has {len(row)} values for {ncols} columns")
    buf_reserve(b, 16 + (ncols + 7) // 8)
    b.p[0] = FORMAT_V1
    b.n = 1
    buf_put_varint64(b, ncols)
    nulls = b.n
    memset(b.p + nulls, 0, (ncols + 7) // 8)
    b.n += (ncols + 7) // 8
    try:
        for i in range(ncols):
            v = row[i]
            if v is None:
                b.p[nulls + (i >> 3)] |= <uint8_t>(1 << (i & 7))
            else:
                _put_row_value(b, <_Spec>cs[i], v)
    except InvalidArgumentError as exc:
        err = InvalidArgumentError(f"column {i}: {exc}")
        err.column = i
        raise err from None
    return 0


def encode_row(specs, row) -> bytes:
    """The row (value) format of ``row`` (one value or None per column of ``specs``)."""
    cdef tuple cs = _specs_of(specs)
    cdef ByteBuf b
    b.p = NULL
    b.n = 0
    b.cap = 0
    try:
        _encode_row(&b, cs, row)
        return PyBytes_FromStringAndSize(<const char *>b.p, b.n)
    finally:
        free(b.p)


# Row format: decoding ---------------------------------------------------------------------

cdef inline uint64_t _le(const uint8_t *p, int width) noexcept nogil:
    cdef uint64_t v = 0
    cdef int i
    for i in range(width):
        v |= (<uint64_t>p[i]) << (8 * i)
    return v


cdef object _datetime_from_us(int64_t us, object tz):
    cdef int y, m, d
    cdef int64_t tod = us % US_PER_DAY
    _civil(us // US_PER_DAY + 1, &y, &m, &d)
    return datetime_new(y, m, d, <int>(tod // 3600000000LL), <int>(tod // 60000000 % 60),
                        <int>(tod // 1000000 % 60), <int>(tod % 1000000), tz)


cdef object _date_from_ordinal(int64_t o):
    cdef int y, m, d
    _civil(o, &y, &m, &d)
    return date_new(y, m, d)


cdef object _time_from_us(int64_t us):
    return time_new(<int>(us // 3600000000LL), <int>(us // 60000000 % 60),
                    <int>(us // 1000000 % 60), <int>(us % 1000000), None)


cdef object _text(const uint8_t *p, Py_ssize_t n, Py_ssize_t at):
    if n == 0:
        return ""
    try:
        return PyUnicode_DecodeUTF8(<const char *>p, n, "strict")
    except UnicodeDecodeError as exc:
        _corrupt(f"invalid UTF-8 in text ({exc.reason})", at)


cdef object _get_numeric_row(Cur *c, Py_ssize_t end):
    cdef Py_ssize_t at = c.pos, nd = 0, i
    cdef uint8_t kind = _byte(c, "NUMERIC kind")
    cdef uint64_t zz = 0
    cdef int64_t exp
    cdef const uint8_t *q
    cdef uint8_t hi, lo
    cdef ByteBuf digits
    if kind == NROW_NAN or kind == NROW_POS_INF or kind == NROW_NEG_INF:
        if c.pos != end:
            _corrupt("NUMERIC special value with trailing bytes", at)
        return _Decimal("NaN" if kind == NROW_NAN else
                        ("Infinity" if kind == NROW_POS_INF else "-Infinity"))
    if kind != NROW_POS and kind != NROW_NEG:
        _corrupt(f"unknown NUMERIC kind {kind}", at)
    q = decode_varint64(c.p + c.pos, c.p + end, &zz)
    if q == NULL:
        _corrupt("bad NUMERIC exponent", c.pos)
    c.pos = q - c.p
    exp = _unzigzag(zz)
    if c.pos == end:
        _corrupt("NUMERIC without digits", at)
    digits.p = NULL
    digits.n = 0
    digits.cap = 0
    try:
        buf_reserve(&digits, 2 * (end - c.pos))
        for i in range(c.pos, end):
            hi = c.p[i] >> 4
            lo = c.p[i] & 0x0F
            if hi > 9 or (lo > 9 and not (lo == 0x0F and i == end - 1)):
                _corrupt("bad NUMERIC digit", i)
            digits.p[nd] = hi
            nd += 1
            if lo <= 9:
                digits.p[nd] = lo
                nd += 1
        if nd > 1 and digits.p[0] == 0:
            _corrupt("NUMERIC coefficient with a leading zero", c.pos)
        if exp < -NUMERIC_FRAC_DIGITS or nd + exp > NUMERIC_INT_DIGITS:
            _corrupt("NUMERIC outside the representable range", at)
        c.pos = end
        return _make_decimal(kind == NROW_NEG, digits.p, nd, exp)
    finally:
        free(digits.p)


cdef object _get_json_row(Cur *c, int depth):
    cdef Py_ssize_t at = c.pos, k, i, i2
    cdef uint8_t tag
    cdef uint64_t zz = 0
    cdef const uint8_t *q
    cdef double d
    cdef object v, key
    cdef list items
    cdef dict obj
    tag = _byte(c, "JSONB value")
    if (tag == JR_ARRAY or tag == JR_OBJECT) and depth > JSON_DEPTH_LIMIT:
        _corrupt(f"JSONB nested deeper than {JSON_DEPTH_LIMIT} levels", at)
    if tag == JR_NULL:
        return None
    if tag == JR_FALSE:
        return False
    if tag == JR_TRUE:
        return True
    if tag == JR_INT:
        q = decode_varint64(c.p + c.pos, c.p + c.n, &zz)
        if q == NULL:
            _corrupt("bad JSONB integer", c.pos)
        c.pos = q - c.p
        return _unzigzag(zz)
    if tag == JR_BIGINT:
        k = _length(c, "JSONB integer length")
        v = int.from_bytes(PyBytes_FromStringAndSize(<const char *>c.p + c.pos, k), "little",
                           signed=True)
        if k == 0 or (v.bit_length() + 8) // 8 != k or -(2**63) <= v < 2**63 \
                or v.bit_length() > 435412 or _Decimal(v).adjusted() >= NUMERIC_INT_DIGITS:
            _corrupt("non-canonical JSONB integer", at)
        c.pos += k
        return v
    if tag == JR_FLOAT:
        _need(c, 8, "JSONB number")
        memcpy(&d, c.p + c.pos, 8)
        if not isfinite(d):
            _corrupt("non-finite JSONB number", at)
        c.pos += 8
        return d
    if tag == JR_STRING:
        k = _length(c, "JSONB string length")
        c.pos += k
        return _text(c.p + c.pos - k, k, at)
    if tag == JR_ARRAY:
        k = _varint32(c, "JSONB array length")
        if k > c.n - c.pos:
            _corrupt("JSONB array longer than the bytes left", at)
        items = []
        for i in range(k):
            items.append(_get_json_row(c, depth + 1))
        return items
    if tag == JR_OBJECT:
        k = _varint32(c, "JSONB object size")
        if k > c.n - c.pos:
            _corrupt("JSONB object larger than the bytes left", at)
        obj = {}
        for i in range(k):
            i2 = _length(c, "JSONB key length")
            key = _text(c.p + c.pos, i2, c.pos)
            c.pos += i2
            if key in obj:
                _corrupt("duplicate JSONB key", at)
            obj[key] = _get_json_row(c, depth + 1)
        return obj
    _corrupt(f"unknown JSONB tag 0x{tag:02x}", at)


cdef object _get_row_value(Cur *c, _Spec s):
    """Decode the row payload of one non-NULL value of type ``s``."""
    cdef int code = s.code
    cdef Py_ssize_t at = c.pos, k, end, i, count, nb, saved
    cdef int64_t iv, days
    cdef double d
    cdef float f
    cdef list items
    cdef const uint8_t *nulls
    cdef object arr
    if s.width:
        _need(c, s.width, "value")
    if code == C_INT:
        c.pos += 4
        return <int32_t>load_u32_le(c.p + at)
    if code == C_BIGINT:
        c.pos += 8
        return <int64_t>_le(c.p + at, 8)
    if code == C_DOUBLE:
        memcpy(&d, c.p + at, 8)
        c.pos += 8
        return d
    if code == C_TEXT:
        k = _length(c, "text length")
        c.pos += k
        return _text(c.p + c.pos - k, k, at)
    if code == C_TIMESTAMP or code == C_TIMESTAMPTZ:
        iv = <int64_t>_le(c.p + at, 8)
        if not 0 <= iv <= MAX_TS_US:
            _corrupt("timestamp out of range", at)
        c.pos += 8
        return _datetime_from_us(iv, None if code == C_TIMESTAMP else _UTC)
    if code == C_BOOLEAN:
        if c.p[at] > 1:
            _corrupt(f"bad BOOLEAN byte {c.p[at]}", at)
        c.pos += 1
        return c.p[at] == 1
    if code == C_REAL:
        memcpy(&f, c.p + at, 4)
        c.pos += 4
        return <double>f
    if code == C_NUMERIC:
        k = _length(c, "NUMERIC length")
        return _get_numeric_row(c, c.pos + k)
    if code == C_BLOB:
        k = _length(c, "blob length")
        c.pos += k
        return PyBytes_FromStringAndSize(<const char *>c.p + c.pos - k, k)
    if code == C_DATE:
        iv = <int32_t>load_u32_le(c.p + at)
        if not 1 <= iv <= MAX_ORDINAL:
            _corrupt("date out of range", at)
        c.pos += 4
        return _date_from_ordinal(iv)
    if code == C_TIME:
        iv = <int64_t>_le(c.p + at, 8)
        if not 0 <= iv < US_PER_DAY:
            _corrupt("time of day out of range", at)
        c.pos += 8
        return _time_from_us(iv)
    if code == C_INTERVAL:
        days = <int32_t>load_u32_le(c.p + at)
        iv = <int64_t>_le(c.p + at + 4, 8)
        if not -MAX_DELTA_DAYS <= days <= MAX_DELTA_DAYS or not 0 <= iv < US_PER_DAY:
            _corrupt("interval out of range", at)
        c.pos += 12
        return timedelta_new(<int>days, <int>(iv // 1000000), <int>(iv % 1000000))
    if code == C_UUID:
        c.pos += 16
        return _UUID(bytes=PyBytes_FromStringAndSize(<const char *>c.p + at, 16))
    if code == C_JSONB:
        k = _length(c, "JSONB length")
        end = c.pos + k
        saved = c.n
        c.n = end
        try:
            arr = _get_json_row(c, 1)
        finally:
            c.n = saved
        if c.pos != end:
            _corrupt("JSONB value shorter than its length", at)
        return _JSON_NULL if arr is None else arr
    if code == C_VECTOR:
        arr = np.frombuffer(PyBytes_FromStringAndSize(<const char *>c.p + at, s.width),
                            dtype="<f4").astype(np.float32)
        if not np.isfinite(arr).all():
            _corrupt("non-finite VECTOR element", at)
        c.pos += s.width
        return arr
    if code == C_ARRAY:
        k = _length(c, "ARRAY length")
        end = c.pos + k
        count = _varint32(c, "ARRAY element count")
        nb = (count + 7) // 8
        if c.pos + nb > end or count > 8 * k:
            _corrupt("ARRAY element count larger than its bytes", at)
        nulls = c.p + c.pos
        if count & 7 and nulls[nb - 1] >> (count & 7):
            _corrupt("ARRAY null map has bits past the last element", at)
        c.pos += nb
        items = []
        saved = c.n
        c.n = end     # elements may not run past the array
        try:
            for i in range(count):
                if nulls[i >> 3] & (1 << (i & 7)):
                    items.append(None)
                else:
                    items.append(_get_row_value(c, s.elem))
        finally:
            c.n = saved
        if c.pos != end:
            _corrupt("ARRAY has bytes after its last element", c.pos)
        return items
    raise AssertionError(f"unhandled type code {code}")


cdef Py_ssize_t _skip_row_value(Cur *c, _Spec s) except -1:
    """Step over one non-NULL value without decoding it (projections)."""
    if s.width:
        _need(c, s.width, "value")
        c.pos += s.width
    else:
        c.pos += _length(c, "value length")
    return 0


cdef const uint8_t *_row_header(Cur *c, Py_ssize_t ncols) except NULL:
    """Check version and column count; returns the null map (cursor after it)."""
    cdef uint8_t version = _byte(c, "row format version")
    cdef uint32_t stored
    cdef const uint8_t *nulls
    cdef Py_ssize_t nb = (ncols + 7) // 8
    if version != FORMAT_V1:
        _corrupt(f"unknown row format version {version}", 0)
    stored = _varint32(c, "column count")
    if stored != ncols:
        _corrupt(f"row has {stored} columns, the table {ncols}", 1)
    _need(c, nb, "null map")
    nulls = c.p + c.pos
    if ncols & 7 and nulls[nb - 1] >> (ncols & 7):
        _corrupt("null map has bits past the last column", c.pos + nb - 1)
    c.pos += nb
    return nulls if nb else c.p + c.pos


def decode_row(specs, data) -> tuple:
    """Inverse of :func:`encode_row`; CorruptionError naming the offset on bad bytes."""
    cdef tuple cs = _specs_of(specs)
    cdef Py_ssize_t ncols = len(cs), i
    cdef Cur c
    cdef object keep, v
    cdef const uint8_t *nulls
    cdef tuple out
    keep = _view(data, &c)
    c.pos = 0
    c.mask = 0
    nulls = _row_header(&c, ncols)
    out = PyTuple_New(ncols)
    for i in range(ncols):
        if nulls[i >> 3] & (1 << (i & 7)):
            v = None
        else:
            v = _get_row_value(&c, <_Spec>cs[i])
        Py_INCREF(v)
        PyTuple_SET_ITEM(out, i, v)
    if c.pos != c.n:
        _corrupt(f"{c.n - c.pos} bytes after the last column", c.pos)
    return out


def decode_row_columns(specs, data, positions) -> tuple:
    """Decode only the columns at ``positions`` (any order, repeats allowed); the others are
    stepped over by length without being validated."""
    cdef tuple cs = _specs_of(specs)
    cdef Py_ssize_t ncols = len(cs), i, last = -1, j
    cdef Cur c
    cdef object keep, v
    cdef const uint8_t *nulls
    cdef list starts
    cdef tuple pos
    cdef tuple out
    if not isinstance(positions, (tuple, list)):
        raise InvalidArgumentError(f"positions must be a tuple of ints, got "
                                   f"{type(positions).__name__}")
    pos = tuple(positions)
    for v in pos:
        if type(v) is not int or not 0 <= v < ncols:
            raise InvalidArgumentError(f"column position {v!r} is not in [0, {ncols})")
        if v > last:
            last = v
    keep = _view(data, &c)
    c.pos = 0
    c.mask = 0
    nulls = _row_header(&c, ncols)
    starts = [None] * (last + 1)
    for i in range(last + 1):
        if not (nulls[i >> 3] & (1 << (i & 7))):
            starts[i] = c.pos
            _skip_row_value(&c, <_Spec>cs[i])
    out = PyTuple_New(len(pos))
    for j in range(len(pos)):
        i = pos[j]
        if starts[i] is None:
            v = None
        else:
            c.pos = starts[i]
            v = _get_row_value(&c, <_Spec>cs[i])
        Py_INCREF(v)
        PyTuple_SET_ITEM(out, j, v)
    return out


# Key format: encoding ---------------------------------------------------------------------

cdef inline uint32_t _f32_key(float f) noexcept nogil:
    cdef uint32_t bits
    if f != f:
        bits = 0x7FC00000
    elif f == 0.0:
        bits = 0
    else:
        memcpy(&bits, &f, 4)
    return (~bits) if (bits & SIGN32) else (bits | SIGN32)


cdef inline uint64_t _f64_key(double d) noexcept nogil:
    cdef uint64_t bits
    if d != d:
        bits = 0x7FF8000000000000ULL
    elif d == 0.0:
        bits = 0
    else:
        memcpy(&bits, &d, 8)
    return (~bits) if (bits & SIGN64) else (bits | SIGN64)


cdef int _put_numeric_key(ByteBuf *b, int kind, bint neg, const uint8_t *d, Py_ssize_t nd,
                          int64_t exp) except -1:
    """nkey of kind/sign/digits (values 0..9)/exponent: value = digits x 10^exp."""
    cdef Py_ssize_t i0 = 0, i1 = nd - 1, k, lead, total, m, j, idx
    cdef int64_t e10, e100
    cdef uint8_t hi, lo, cent
    cdef size_t start
    if kind == NROW_NAN:
        return buf_put_u8(b, NUM_NAN)
    if kind == NROW_POS_INF:
        return buf_put_u8(b, NUM_POS_INF)
    if kind == NROW_NEG_INF:
        return buf_put_u8(b, NUM_NEG_INF)
    while i0 < nd and d[i0] == 0:
        i0 += 1
    if i0 == nd:
        return buf_put_u8(b, NUM_ZERO)
    while d[i1] == 0:
        i1 -= 1
    exp += nd - 1 - i1
    k = i1 - i0 + 1
    e10 = k + exp
    lead = 1 if (e10 & 1) else 0
    e10 += lead
    e100 = e10 // 2
    buf_put_u8(b, NUM_NEG if neg else NUM_POS)
    start = b.n
    buf_put_u32_be(b, (<uint32_t>(<int32_t>e100)) ^ SIGN32)
    total = lead + k
    m = (total + 1) // 2
    buf_reserve(b, b.n + m)
    for j in range(m):
        idx = 2 * j - lead
        hi = d[i0 + idx] if 0 <= idx < k else 0
        lo = d[i0 + idx + 1] if 0 <= idx + 1 < k else 0
        cent = hi * 10 + lo
        b.p[b.n + j] = <uint8_t>(2 * cent + (1 if j < m - 1 else 0))
    b.n += m
    if neg:
        for j in range(<Py_ssize_t>start, <Py_ssize_t>b.n):
            b.p[j] = ~b.p[j]
    return 0


cdef int _put_number_key_obj(ByteBuf *b, _Spec s, object dec) except -1:
    cdef tuple parts = _numeric_parts(s, dec)
    cdef bytes digits = parts[2]
    return _put_numeric_key(b, parts[0], parts[1],
                            <const uint8_t *>PyBytes_AS_STRING(digits),
                            PyBytes_GET_SIZE(digits), <int64_t>parts[3])


cdef _Spec _NUMERIC_SPEC = _compile((C_NUMERIC,), 0)
cdef _Spec _JSONB_SPEC = _compile((C_JSONB,), 0)


cdef bytes _json_key_utf8(object k):
    if not isinstance(k, str):
        raise InvalidArgumentError(f"JSONB object keys are str, got {_value_repr(k)}")
    try:
        return (<str>k).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgumentError(f"JSONB string is not valid UTF-8 (lone surrogate): "
                                   f"{_value_repr(k)}") from None


cdef object _storage_order(tuple kv):
    return (len(<bytes>kv[0]), kv[0])


cdef int _put_json_key(ByteBuf *b, object v, int depth, bint top) except -1:
    cdef bytes raw
    cdef list pairs
    if v is None or v is _JSON_NULL:
        buf_put_u8(b, JK_NULL)
    elif v is True:
        buf_put_u8(b, JK_TRUE)
    elif v is False:
        buf_put_u8(b, JK_FALSE)
    elif isinstance(v, str):
        raw = _json_key_utf8(v)
        buf_put_u8(b, JK_STRING)
        buf_put_escaped(b, <const uint8_t *>PyBytes_AS_STRING(raw), len(raw))
    elif isinstance(v, int):
        if not -(2**63) <= v < 2**63:
            _check_json_int(v)
        buf_put_u8(b, JK_NUMBER)
        _put_number_key_obj(b, _NUMERIC_SPEC, _Decimal(v))
    elif isinstance(v, float):
        if not isfinite(<double>v):
            raise InvalidArgumentError(f"JSONB numbers are finite, got {v!r}")
        buf_put_u8(b, JK_NUMBER)
        # repr: the shortest decimal that reads back as v, i.e. the number JSON text
        # would carry, so 0.1 sorts as 0.1 (as in PostgreSQL) and distinct floats stay
        # distinct.
        _put_number_key_obj(b, _NUMERIC_SPEC, _Decimal(repr(v)))
    elif isinstance(v, (list, tuple)):
        _check_json_depth(depth)
        v = _exact_sequence(v)
        if top and len(v) == 0:
            buf_put_u8(b, JK_EMPTY_TOP_ARRAY)
            return 0
        buf_put_u8(b, JK_ARRAY)
        buf_put_u32_be(b, len(v))
        for x in v:
            _put_json_key(b, x, depth + 1, False)
    elif isinstance(v, dict):
        _check_json_depth(depth)
        pairs = [(_json_key_utf8(k), x) for k, x in (<dict>v).items()]
        pairs.sort(key=_storage_order)
        buf_put_u8(b, JK_OBJECT)
        buf_put_u32_be(b, len(pairs))
        for kv in pairs:
            raw = (<tuple>kv)[0]
            buf_put_escaped(b, <const uint8_t *>PyBytes_AS_STRING(raw), len(raw))
            _put_json_key(b, (<tuple>kv)[1], depth + 1, False)
    else:
        raise InvalidArgumentError(f"expected JSONB (dict, list, str, int, float, bool or "
                                   f"JSON_NULL), got {_value_repr(v)} ({type(v).__name__})")
    return 0


cdef int _put_key_value(ByteBuf *b, _Spec s, object v) except -1:
    """Append the ascending kbody of non-NULL ``v``."""
    cdef int code = s.code
    cdef int64_t iv, days
    cdef const char *p
    cdef Py_ssize_t n, i
    cdef bytes raw
    cdef const uint8_t *r
    cdef object items
    cdef float f
    if code == C_INT:
        buf_put_u32_be(b, (<uint32_t>(<int32_t>_as_int(s, v))) ^ SIGN32)
    elif code == C_BIGINT:
        buf_put_u64_be(b, (<uint64_t>_as_int(s, v)) ^ SIGN64)
    elif code == C_DOUBLE:
        buf_put_u64_be(b, _f64_key(_as_float(s, v)))
    elif code == C_TEXT:
        p = _utf8(s, v, &n)
        buf_put_escaped(b, <const uint8_t *>p, n)
    elif code == C_TIMESTAMP or code == C_TIMESTAMPTZ:
        buf_put_u64_be(b, <uint64_t>_timestamp_us(s, v))
    elif code == C_BOOLEAN:
        if v is True:
            buf_put_u8(b, 1)
        elif v is False:
            buf_put_u8(b, 0)
        else:
            _bad(s, v)
    elif code == C_REAL:
        buf_put_u32_be(b, _f32_key(<float>_as_float(s, v)))
    elif code == C_NUMERIC:
        _put_number_key_obj(b, s, v)
    elif code == C_BLOB:
        raw = _blob(s, v)
        buf_put_escaped(b, <const uint8_t *>PyBytes_AS_STRING(raw), len(raw))
    elif code == C_DATE:
        buf_put_u32_be(b, <uint32_t>_date_ordinal(s, v))
    elif code == C_TIME:
        buf_put_u64_be(b, <uint64_t>_time_us(s, v))
    elif code == C_INTERVAL:
        _interval(s, v, &days, &iv)
        buf_put_u32_be(b, (<uint32_t>(<int32_t>days)) ^ SIGN32)
        buf_put_u64_be(b, <uint64_t>iv)
    elif code == C_UUID:
        raw = _uuid_bytes(s, v)
        buf_put_bytes(b, <const uint8_t *>PyBytes_AS_STRING(raw), 16)
    elif code == C_JSONB:
        if not isinstance(v, (dict, list, tuple, str, int, float)) and v is not _JSON_NULL:
            _bad(s, v)
        _put_json_key(b, v, 1, True)
    elif code == C_VECTOR:
        raw = _vector_array(s, v).tobytes()
        r = <const uint8_t *>PyBytes_AS_STRING(raw)
        for i in range(s.dims):
            memcpy(&f, r + 4 * i, 4)
            buf_put_u32_be(b, _f32_key(f))
    elif code == C_ARRAY:
        items = _array_items(s, v)
        for x in items:
            if x is None:
                buf_put_u8(b, ARR_NULL)
            else:
                buf_put_u8(b, ARR_ELEM)
                _put_key_value(b, s.elem, x)
        buf_put_u8(b, ARR_END)
    else:
        raise AssertionError(f"unhandled type code {code}")
    return 0


cdef int _flag(object flags, Py_ssize_t i) except -1:
    cdef object f = flags[i]
    if type(f) is not int or not 0 <= f <= 3:
        raise InvalidArgumentError(f"key flags are ints in [0, 3] (1 = DESC, 2 = NULLS FIRST), "
                                   f"got {f!r} for column {i}")
    return f


cdef tuple _key_args(object specs, object values, object flags, Py_ssize_t *n):
    cdef tuple cs = _specs_of(specs)
    if not isinstance(flags, (tuple, list)):
        raise InvalidArgumentError(f"flags must be a tuple of ints, got {type(flags).__name__}")
    if n[0] > len(cs):
        raise InvalidArgumentError(f"{n[0]} key values for {len(cs)} key columns")
    if len(flags) < n[0]:
        raise InvalidArgumentError(f"{len(flags)} flags for {n[0]} key columns")
    return cs


def encode_key(specs, values, flags) -> bytes:
    """Order-preserving composite key of ``values`` (a prefix of the columns of ``specs``);
    flags per column: 1 = DESC, 2 = NULLS FIRST."""
    cdef Py_ssize_t n, i = 0
    cdef tuple cs
    cdef int fl
    cdef size_t start, j
    cdef object v
    cdef ByteBuf b
    if not isinstance(values, (tuple, list)):
        raise InvalidArgumentError(f"key values must be a tuple, got {type(values).__name__}")
    n = len(values)
    cs = _key_args(specs, values, flags, &n)
    b.p = NULL
    b.n = 0
    b.cap = 0
    try:
        buf_reserve(&b, 64)
        try:
            for i in range(n):
                fl = _flag(flags, i)
                v = values[i]
                if v is None:
                    buf_put_u8(&b, KEY_NULL_FIRST if fl & 2 else KEY_NULL_LAST)
                    continue
                buf_put_u8(&b, KEY_VALUE)
                start = b.n
                _put_key_value(&b, <_Spec>cs[i], v)
                if fl & 1:
                    for j in range(start, b.n):
                        b.p[j] = ~b.p[j]
        except InvalidArgumentError as exc:
            err = InvalidArgumentError(f"key column {i}: {exc}")
            err.column = i
            raise err from None
        return PyBytes_FromStringAndSize(<const char *>b.p, b.n)
    finally:
        free(b.p)


# Key format: decoding ---------------------------------------------------------------------

cdef int _get_escaped(Cur *c, ByteBuf *out) except -1:
    """Unescape the terminated string at the cursor into ``out`` (mask-aware)."""
    cdef Py_ssize_t start = c.pos, run, i
    cdef const uint8_t *z
    cdef uint8_t zero = c.mask, nxt
    out.n = 0
    while True:
        z = <const uint8_t *>memchr(c.p + c.pos, zero, c.n - c.pos)
        if z == NULL:
            _corrupt("unterminated string", start)
        run = z - (c.p + c.pos)
        buf_reserve(out, out.n + run + 1)
        if c.mask:
            for i in range(run):
                out.p[out.n + i] = c.p[c.pos + i] ^ 0xFF
        else:
            memcpy(out.p + out.n, c.p + c.pos, run)
        out.n += run
        c.pos += run
        if c.pos + 1 >= c.n:
            _corrupt("unterminated string", start)
        nxt = c.p[c.pos + 1] ^ c.mask
        if nxt == 0x01:
            c.pos += 2
            return 0
        if nxt != 0xFF:
            _corrupt(f"bad string escape 0x00 0x{nxt:02x}", c.pos)
        out.p[out.n] = 0
        out.n += 1
        c.pos += 2


cdef object _get_numeric_key(Cur *c, ByteBuf *scratch, bint as_json):
    """Decode an nkey: a Decimal, or for JSONB an int (integral values) or float."""
    cdef Py_ssize_t at = c.pos, m = 0, nd, lo, hi_
    cdef uint8_t tag = _byte(c, "number")
    cdef uint8_t saved = c.mask, byte, cent
    cdef uint8_t e4[4]
    cdef int64_t e100, exp
    cdef object dec, f
    if tag == NUM_ZERO:
        return 0 if as_json else _Decimal(0)
    if not as_json:
        if tag == NUM_NAN:
            return _Decimal("NaN")
        if tag == NUM_POS_INF:
            return _Decimal("Infinity")
        if tag == NUM_NEG_INF:
            return _Decimal("-Infinity")
    if tag != NUM_POS and tag != NUM_NEG:
        _corrupt(f"unknown number tag 0x{tag:02x}", at)
    if tag == NUM_NEG:
        c.mask ^= 0xFF
    try:
        _take(c, 4, e4, "number exponent")
        e100 = <int32_t>(load_u32_be(e4) ^ SIGN32)
        if not E100_MIN <= e100 <= E100_MAX:
            _corrupt("number exponent out of range", at + 1)
        scratch.n = 0
        while True:
            byte = _byte(c, "number digits")
            cent = byte >> 1
            if cent > 99 or (m == 0 and cent == 0) or (not (byte & 1) and cent == 0):
                _corrupt(f"bad number digit byte 0x{byte:02x}", c.pos - 1)
            if m > (NUMERIC_INT_DIGITS + NUMERIC_FRAC_DIGITS) // 2 + 2:
                _corrupt("number has too many digits", at)
            buf_reserve(scratch, scratch.n + 2)
            scratch.p[scratch.n] = cent // 10
            scratch.p[scratch.n + 1] = cent % 10
            scratch.n += 2
            m += 1
            if not (byte & 1):
                break
    finally:
        c.mask = saved
    # value = 0.D x 100^e100 = int(D) x 10^(2 e100 - 2m); drop the one possible leading and
    # trailing zero digit.
    lo = 1 if scratch.p[0] == 0 else 0
    nd = scratch.n - lo
    exp = 2 * e100 - scratch.n
    if scratch.p[scratch.n - 1] == 0:
        nd -= 1
        exp += 1
    if exp < -NUMERIC_FRAC_DIGITS or nd + exp > NUMERIC_INT_DIGITS:
        _corrupt("number outside the representable range", at)
    if exp > 0:
        # Integral: written out with exponent 0 (Decimal('100'), not Decimal('1E+2')).
        buf_reserve(scratch, lo + nd + exp)
        memset(scratch.p + lo + nd, 0, exp)
        nd += exp
        exp = 0
    dec = _make_decimal(tag == NUM_NEG, scratch.p + lo, nd, exp)
    if as_json:
        if exp == 0:
            return int(dec)
        # JSON fractions are Python floats, written as repr(float): any other decimal is
        # not a key this codec writes (and would not read back as itself).
        f = float(dec)
        if _Decimal(repr(f)) != dec:
            _corrupt("JSONB number is not the shortest form of a float", at)
        return f
    return dec


cdef object _get_json_key(Cur *c, ByteBuf *scratch, int depth, bint top):
    cdef Py_ssize_t at = c.pos, i, count
    cdef uint8_t tag
    cdef uint8_t c4[4]
    cdef list items
    cdef dict obj
    cdef bytes key, prev
    tag = _byte(c, "JSONB value")
    if (tag == JK_ARRAY or tag == JK_OBJECT) and depth > JSON_DEPTH_LIMIT:
        _corrupt(f"JSONB nested deeper than {JSON_DEPTH_LIMIT} levels", at)
    if tag == JK_NULL:
        return _JSON_NULL if top else None
    if tag == JK_TRUE:
        return True
    if tag == JK_FALSE:
        return False
    if tag == JK_STRING:
        _get_escaped(c, scratch)
        return _text(scratch.p, scratch.n, at)
    if tag == JK_NUMBER:
        return _get_numeric_key(c, scratch, True)
    if tag == JK_EMPTY_TOP_ARRAY and top:
        return []
    if tag == JK_ARRAY or tag == JK_OBJECT:
        _take(c, 4, c4, "JSONB container size")
        count = load_u32_be(c4)
        if count > c.n - c.pos:
            _corrupt("JSONB container larger than the bytes left", at)
        if tag == JK_ARRAY:
            if top and count == 0:
                _corrupt("top-level empty JSONB array in the general form", at)
            items = []
            for i in range(count):
                items.append(_get_json_key(c, scratch, depth + 1, False))
            return items
        obj = {}
        prev = None
        for i in range(count):
            _get_escaped(c, scratch)
            key = PyBytes_FromStringAndSize(<const char *>scratch.p, scratch.n)
            if prev is not None and (len(key), key) <= (len(prev), prev):
                _corrupt("JSONB object keys out of order", at)
            prev = key
            obj[_text(<const uint8_t *>PyBytes_AS_STRING(key), len(key), at)] = \
                _get_json_key(c, scratch, depth + 1, False)
        return obj
    _corrupt(f"unknown JSONB key tag 0x{tag:02x}", at)


cdef float _f32_from_key(uint32_t u32, Py_ssize_t at) except? -1.0:
    """Inverse of _f32_key; only the forms it writes (one NaN, no -0.0) are accepted."""
    cdef float f
    u32 = (u32 & ~SIGN32) if (u32 & SIGN32) else ~u32
    if u32 == SIGN32 or ((u32 & 0x7F800000) == 0x7F800000 and (u32 & 0x007FFFFF)
                         and u32 != 0x7FC00000):
        _corrupt("non-canonical REAL (-0.0 or a NaN payload)", at)
    memcpy(&f, &u32, 4)
    return f


cdef object _get_key_value(Cur *c, _Spec s, ByteBuf *scratch):
    """Decode the kbody of one non-NULL value (the cursor's mask undoes DESC)."""
    cdef int code = s.code
    cdef Py_ssize_t at = c.pos, i
    cdef uint8_t v[16]
    cdef uint32_t u32
    cdef uint64_t u64
    cdef int64_t iv
    cdef float f
    cdef double d
    cdef list items
    cdef object arr
    cdef float[::1] out
    cdef uint8_t marker
    if code == C_INT:
        _take(c, 4, v, "INT")
        return <int32_t>(load_u32_be(v) ^ SIGN32)
    if code == C_BIGINT:
        _take(c, 8, v, "BIGINT")
        return <int64_t>(load_u64_be(v) ^ SIGN64)
    if code == C_REAL or code == C_DOUBLE:
        if code == C_REAL:
            _take(c, 4, v, "REAL")
            f = _f32_from_key(load_u32_be(v), at)
            return <double>f
        _take(c, 8, v, "DOUBLE")
        u64 = load_u64_be(v)
        u64 = (u64 & ~SIGN64) if (u64 & SIGN64) else ~u64
        # Only the forms the encoder writes: one NaN, no -0.0.
        if u64 == SIGN64 or ((u64 & 0x7FF0000000000000ULL) == 0x7FF0000000000000ULL
                             and (u64 & 0x000FFFFFFFFFFFFFULL)
                             and u64 != 0x7FF8000000000000ULL):
            _corrupt("non-canonical DOUBLE (-0.0 or a NaN payload)", at)
        memcpy(&d, &u64, 8)
        return d
    if code == C_TEXT or code == C_BLOB:
        _get_escaped(c, scratch)
        if code == C_BLOB:
            return PyBytes_FromStringAndSize(<const char *>scratch.p, scratch.n)
        return _text(scratch.p, scratch.n, at)
    if code == C_TIMESTAMP or code == C_TIMESTAMPTZ:
        _take(c, 8, v, "timestamp")
        iv = <int64_t>load_u64_be(v)
        if not 0 <= iv <= MAX_TS_US:
            _corrupt("timestamp out of range", at)
        return _datetime_from_us(iv, None if code == C_TIMESTAMP else _UTC)
    if code == C_BOOLEAN:
        _take(c, 1, v, "BOOLEAN")
        if v[0] > 1:
            _corrupt(f"bad BOOLEAN byte {v[0]}", at)
        return v[0] == 1
    if code == C_NUMERIC:
        return _get_numeric_key(c, scratch, False)
    if code == C_DATE:
        _take(c, 4, v, "DATE")
        iv = load_u32_be(v)
        if not 1 <= iv <= MAX_ORDINAL:
            _corrupt("date out of range", at)
        return _date_from_ordinal(iv)
    if code == C_TIME:
        _take(c, 8, v, "TIME")
        u64 = load_u64_be(v)
        if u64 >= <uint64_t>US_PER_DAY:
            _corrupt("time of day out of range", at)
        return _time_from_us(<int64_t>u64)
    if code == C_INTERVAL:
        _take(c, 12, v, "INTERVAL")
        iv = <int32_t>(load_u32_be(v) ^ SIGN32)
        u64 = load_u64_be(v + 4)
        if not -MAX_DELTA_DAYS <= iv <= MAX_DELTA_DAYS or u64 >= <uint64_t>US_PER_DAY:
            _corrupt("interval out of range", at)
        return timedelta_new(<int>iv, <int>(u64 // 1000000), <int>(u64 % 1000000))
    if code == C_UUID:
        _take(c, 16, v, "UUID")
        return _UUID(bytes=PyBytes_FromStringAndSize(<const char *>v, 16))
    if code == C_JSONB:
        return _get_json_key(c, scratch, 1, True)
    if code == C_VECTOR:
        _need(c, 4 * s.dims, "VECTOR")
        arr = np.empty(s.dims, dtype=np.float32)
        out = arr
        for i in range(s.dims):
            _take(c, 4, v, "VECTOR")
            f = _f32_from_key(load_u32_be(v), c.pos - 4)
            if not isfinite(f):
                _corrupt("non-finite VECTOR element", c.pos - 4)
            out[i] = f
        return arr
    if code == C_ARRAY:
        items = []
        while True:
            marker = _byte(c, "ARRAY element marker")
            if marker == ARR_END:
                return items
            if marker == ARR_NULL:
                items.append(None)
            elif marker == ARR_ELEM:
                items.append(_get_key_value(c, s.elem, scratch))
            else:
                _corrupt(f"bad ARRAY element marker 0x{marker:02x}", c.pos - 1)
    raise AssertionError(f"unhandled type code {code}")


def decode_key(specs, flags, data, ncols) -> tuple:
    """Decode the first ``ncols`` columns of a key: (values, bytes consumed). NUMERIC values
    come back normalized (scale lost); JSONB numbers as int when integral, else float."""
    cdef Py_ssize_t n, i
    cdef tuple cs
    cdef int fl
    cdef uint8_t marker
    cdef Cur c
    cdef object keep, v
    cdef list out
    cdef ByteBuf scratch
    if type(ncols) is not int or ncols < 0:
        raise InvalidArgumentError(f"ncols must be a non-negative int, got {ncols!r}")
    n = ncols
    cs = _key_args(specs, None, flags, &n)
    keep = _view(data, &c)
    c.pos = 0
    scratch.p = NULL
    scratch.n = 0
    scratch.cap = 0
    out = [None] * n
    try:
        for i in range(n):
            fl = _flag(flags, i)
            c.mask = 0
            marker = _byte(&c, "key column marker")
            if marker == (KEY_NULL_FIRST if fl & 2 else KEY_NULL_LAST):
                continue
            if marker != KEY_VALUE:
                _corrupt(f"bad key column marker 0x{marker:02x}", c.pos - 1)
            c.mask = 0xFF if fl & 1 else 0
            out[i] = _get_key_value(&c, <_Spec>cs[i], &scratch)
        return (tuple(out), c.pos)
    finally:
        free(scratch.p)


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
