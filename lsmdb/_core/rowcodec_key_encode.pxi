# Part of lsmdb._core.rowcodec: key format encoding (encode_key: scalar kbody, NUMERIC nkey, JSONB jkey).
# Textually included by rowcodec.pyx (one extension module, one C namespace), in order;
# the byte layouts are documented at the top of rowcodec.pyx and in docs/format/rowcodec.md.


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
