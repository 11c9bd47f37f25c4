# Part of lsmdb._core.rowcodec: value coercion, Python value -> C value.
# Textually included by rowcodec.pyx (one extension module, one C namespace), in order;
# the byte layouts are documented at the top of rowcodec.pyx and in docs/format/rowcodec.md.


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
