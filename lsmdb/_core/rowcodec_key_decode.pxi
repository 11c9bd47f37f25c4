# Part of lsmdb._core.rowcodec: key format decoding (decode_key).
# Textually included by rowcodec.pyx (one extension module, one C namespace), in order;
# the byte layouts are documented at the top of rowcodec.pyx and in docs/format/rowcodec.md.


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
