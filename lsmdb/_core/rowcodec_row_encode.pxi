# Part of lsmdb._core.rowcodec: row format encoding (encode_row).
# Textually included by rowcodec.pyx (one extension module, one C namespace), in order;
# the byte layouts are documented at the top of rowcodec.pyx and in docs/format/rowcodec.md.


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
