# Part of lsmdb._core.rowcodec: row format decoding (decode_row, decode_row_columns).
# Textually included by rowcodec.pyx (one extension module, one C namespace), in order;
# the byte layouts are documented at the top of rowcodec.pyx and in docs/format/rowcodec.md.


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
