# Part of lsmdb._core.rowcodec: type specs (compiled and cached), error helpers, the decoding cursor, calendar arithmetic.
# Textually included by rowcodec.pyx (one extension module, one C namespace), in order;
# the byte layouts are documented at the top of rowcodec.pyx and in docs/format/rowcodec.md.


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
