"""Typed row/key codec: per-type round trips and boundaries, key order against a pure-Python
reference comparator (PostgreSQL semantics), prefix property, corruption handling."""

import datetime as dt
import functools
import math
import pickle
import struct
import uuid
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lsmdb._core import rowcodec as rc
from lsmdb._core.rowcodec import (
    JSON_NULL,
    check_spec,
    decode_key,
    decode_row,
    decode_row_columns,
    encode_key,
    encode_row,
    format_spec,
    normalize,
    prefix_successor,
)
from lsmdb.errors import CorruptionError, InvalidArgumentError

BOOLEAN, INT, BIGINT, REAL, DOUBLE = (rc.T_BOOLEAN,), (rc.T_INT,), (rc.T_BIGINT,), (rc.T_REAL,), (rc.T_DOUBLE,)
NUMERIC, TEXT, BLOB, DATE, TIME = (rc.T_NUMERIC,), (rc.T_TEXT,), (rc.T_BLOB,), (rc.T_DATE,), (rc.T_TIME,)
TIMESTAMP, TIMESTAMPTZ, INTERVAL = (rc.T_TIMESTAMP,), (rc.T_TIMESTAMPTZ,), (rc.T_INTERVAL,)
UUID, JSONB = (rc.T_UUID,), (rc.T_JSONB,)


def VECTOR(d):
    return (rc.T_VECTOR, d)


def ARRAY(e):
    return (rc.T_ARRAY, e)


def nested_array_spec(depth, leaf=INT):
    spec = leaf
    for _ in range(depth):
        spec = ARRAY(spec)
    return spec


def nested_list(depth, leaf=1):
    v = leaf
    for _ in range(depth):
        v = [v]
    return v


def row_rt(spec, value):
    return decode_row((spec,), encode_row((spec,), (value,)))[0]


def key_rt(spec, value, flag=0):
    data = encode_key((spec,), (value,), (flag,))
    values, used = decode_key((spec,), (flag,), data, 1)
    assert used == len(data)
    return values[0]


# Reference order (PostgreSQL semantics), written independently of the encoding ------------

def cmp(a, b):
    return (a > b) - (a < b)


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def float_cmp(a, b):
    """PostgreSQL float order: NaN equals NaN and sorts above everything; -0.0 == 0.0."""
    an, bn = math.isnan(a), math.isnan(b)
    if an or bn:
        return cmp(an, bn)
    return cmp(a, b)


def numeric_cmp(a, b):
    a, b = Decimal(a), Decimal(b)
    if a.is_nan() or b.is_nan():
        return cmp(a.is_nan(), b.is_nan())
    return cmp(a, b)


def json_type(v):
    if v is None or v is JSON_NULL:
        return 0
    if isinstance(v, str):
        return 1
    if isinstance(v, bool):
        return 3
    if isinstance(v, (int, float)):
        return 2
    if isinstance(v, (list, tuple)):
        return 4
    return 5


def json_number(v):
    return Decimal(repr(v)) if isinstance(v, float) else Decimal(v)


def storage_order(d):
    return sorted(d.items(), key=lambda kv: (len(kv[0].encode()), kv[0].encode()))


def jsonb_cmp(a, b, top=True):
    if top:
        # PostgreSQL: an empty top-level array sorts below every other jsonb value.
        ae = isinstance(a, (list, tuple)) and len(a) == 0
        be = isinstance(b, (list, tuple)) and len(b) == 0
        if ae or be:
            return cmp(not ae, not be)
    ta, tb = json_type(a), json_type(b)
    if ta != tb:
        return cmp(ta, tb)
    if ta == 0:
        return 0
    if ta == 1:
        return cmp(a.encode(), b.encode())
    if ta == 2:
        return cmp(json_number(a), json_number(b))
    if ta == 3:
        return cmp(a, b)
    if ta == 4:
        if len(a) != len(b):
            return cmp(len(a), len(b))
        for x, y in zip(a, b, strict=True):
            c = jsonb_cmp(x, y, False)
            if c:
                return c
        return 0
    if len(a) != len(b):
        return cmp(len(a), len(b))
    for (ka, va), (kb, vb) in zip(storage_order(a), storage_order(b), strict=True):
        c = cmp(ka.encode(), kb.encode()) or jsonb_cmp(va, vb, False)
        if c:
            return c
    return 0


def ref_cmp(spec, a, b):
    """Natural order of two non-NULL values of one type."""
    code = spec[0]
    if code == rc.T_REAL:
        return float_cmp(f32(a), f32(b))
    if code == rc.T_DOUBLE:
        return float_cmp(float(a), float(b))
    if code == rc.T_NUMERIC:
        return numeric_cmp(a, b)
    if code == rc.T_TEXT:
        return cmp(a.encode(), b.encode())
    if code == rc.T_BLOB:
        return cmp(bytes(a), bytes(b))
    if code == rc.T_UUID:
        return cmp(a.bytes, b.bytes)
    if code == rc.T_JSONB:
        return jsonb_cmp(a, b)
    if code == rc.T_VECTOR:
        for x, y in zip(a, b, strict=False):
            c = float_cmp(f32(float(x)), f32(float(y)))
            if c:
                return c
        return cmp(len(a), len(b))
    if code == rc.T_ARRAY:
        for x, y in zip(a, b, strict=False):
            if x is None or y is None:
                c = cmp(x is None, y is None)   # NULL elements after values
            else:
                c = ref_cmp(spec[1], x, y)
            if c:
                return c
        return cmp(len(a), len(b))
    return cmp(a, b)   # BOOLEAN, ints, DATE, TIME, TIMESTAMP(TZ) by instant, INTERVAL


def col_cmp(spec, flag, a, b):
    if a is None or b is None:
        if a is None and b is None:
            return 0
        first = bool(flag & rc.NULLS_FIRST)
        return (-1 if first else 1) if a is None else (1 if first else -1)
    c = ref_cmp(spec, a, b)
    return -c if flag & rc.DESC else c


def row_cmp(specs, flags, a, b):
    for spec, flag, x, y in zip(specs, flags, a, b, strict=False):
        c = col_cmp(spec, flag, x, y)
        if c:
            return c
    return cmp(len(a), len(b))


def same(spec, a, b):
    """Row round trip equality: exact, NaN equal to NaN, -0.0 kept, arrays element-wise."""
    if a is None or b is None:
        return a is None and b is None
    code = spec[0]
    if code in (rc.T_REAL, rc.T_DOUBLE):
        return math.isnan(a) and math.isnan(b) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if code == rc.T_NUMERIC:
        return (a.is_nan() and b.is_nan()) or (a == b and str(a) == str(b))
    if code == rc.T_VECTOR:
        return isinstance(b, np.ndarray) and b.dtype == np.float32 and np.array_equal(a, b)
    if code == rc.T_ARRAY:
        return len(a) == len(b) and all(same(spec[1], x, y) for x, y in zip(a, b, strict=True))
    if code == rc.T_TIMESTAMPTZ:
        return a == b and b.tzinfo is dt.UTC
    return type(b) is type(a) and a == b


# Value strategies per type spec ------------------------------------------------------------

offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
json_scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=4)
                | st.sampled_from([0, 0.0, -0.0, 1, 1.0, 1.5, "", "a", "aa", "b", 10**20]))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
).map(lambda v: JSON_NULL if v is None else v)
decimals = st.one_of(
    st.builds(lambda i, e: Decimal(f"{i}E{e}"), st.integers(-(10**25), 10**25), st.integers(-30, 30)),
    st.sampled_from([Decimal(x) for x in ("NaN", "Infinity", "-Infinity", "0", "-0", "0.00", "1",
                                         "1.0", "1.00", "-1", "0.01", "0.1", "10", "100", "1E+2",
                                         "99.99", "-99.99", "0.5", "123456789.123456789")]),
    st.integers(-(10**30), 10**30),
)

SCALAR_VALUES = {
    rc.T_BOOLEAN: st.booleans(),
    rc.T_INT: st.integers(-(2**31), 2**31 - 1),
    rc.T_BIGINT: st.integers(-(2**63), 2**63 - 1),
    rc.T_REAL: st.floats(width=32) | st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan]),
    rc.T_DOUBLE: st.floats() | st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan]),
    rc.T_NUMERIC: decimals,
    rc.T_TEXT: st.text(max_size=6) | st.sampled_from(["", "\x00", "a\x00", "a", "a\x00b", "ab", "é"]),
    rc.T_BLOB: st.binary(max_size=6) | st.sampled_from([b"", b"\x00", b"\x00\xff", b"\xff", b"\x00\x01"]),
    rc.T_DATE: st.dates(),
    rc.T_TIME: st.times(),
    rc.T_TIMESTAMP: st.datetimes(),
    rc.T_TIMESTAMPTZ: st.builds(lambda d, tz: d.replace(tzinfo=tz),
                                st.datetimes(min_value=dt.datetime(2, 1, 1),
                                             max_value=dt.datetime(9998, 12, 31)),
                                offsets | st.just(dt.UTC)),
    rc.T_INTERVAL: st.timedeltas() | st.sampled_from([dt.timedelta.min, dt.timedelta.max, dt.timedelta(0)]),
    rc.T_UUID: st.uuids(),
    rc.T_JSONB: json_values,
}

scalar_specs = st.sampled_from([(code,) for code in SCALAR_VALUES])
type_specs = st.recursive(
    scalar_specs | st.integers(1, 3).map(VECTOR),
    lambda inner: inner.map(ARRAY),
    max_leaves=3,
)


def values_of(spec):
    code = spec[0]
    if code == rc.T_VECTOR:
        return st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False),
                        min_size=spec[1], max_size=spec[1])
    if code == rc.T_ARRAY:
        return st.lists(st.none() | values_of(spec[1]), max_size=4)
    return SCALAR_VALUES[code]


flags_st = st.integers(0, 3)


# Specs ----------------------------------------------------------------------------------

def test_type_codes_are_frozen():
    assert [rc.T_BOOLEAN, rc.T_INT, rc.T_BIGINT, rc.T_REAL, rc.T_DOUBLE, rc.T_NUMERIC,
            rc.T_TEXT, rc.T_BLOB, rc.T_DATE, rc.T_TIME, rc.T_TIMESTAMP, rc.T_TIMESTAMPTZ,
            rc.T_INTERVAL, rc.T_UUID, rc.T_JSONB, rc.T_VECTOR, rc.T_ARRAY] == list(range(1, 18))


@pytest.mark.parametrize("spec", [INT, VECTOR(1), VECTOR(rc.MAX_VECTOR_DIMS), ARRAY(JSONB),
                                  nested_array_spec(rc.MAX_ARRAY_DEPTH)])
def test_check_spec_accepts(spec):
    assert check_spec(spec) is spec


@pytest.mark.parametrize("spec", [(), [2], (0,), (18,), (True,), (2, 3), (rc.T_VECTOR,),
                                  VECTOR(0), VECTOR(rc.MAX_VECTOR_DIMS + 1), VECTOR(2.0),
                                  (rc.T_ARRAY,), ARRAY((99,)), (rc.T_ARRAY, [2]), "INT",
                                  nested_array_spec(rc.MAX_ARRAY_DEPTH + 1)])
def test_check_spec_rejects(spec):
    with pytest.raises(InvalidArgumentError):
        check_spec(spec)


def test_format_spec():
    assert format_spec(ARRAY(VECTOR(3))) == "ARRAY(VECTOR(3))"
    assert format_spec(TIMESTAMPTZ) == "TIMESTAMPTZ"


# Per-type round trips and boundaries ----------------------------------------------------

ROUND_TRIPS = [
    (BOOLEAN, [True, False]),
    (INT, [0, -(2**31), 2**31 - 1, 7]),
    (BIGINT, [0, -(2**63), 2**63 - 1]),
    (REAL, [0.0, -0.0, 1.5, f32(0.1), math.inf, -math.inf, f32(3.4028234663852886e38)]),
    (DOUBLE, [0.0, -0.0, 0.1, 1e308, -5e-324, math.inf, -math.inf]),
    (NUMERIC, [Decimal("1.50"), Decimal("-0.00"), Decimal("1E+5"), Decimal("NaN"),
               Decimal("Infinity"), Decimal("-Infinity"), Decimal("1E-16383"),
               Decimal("9" * 40 + ".5")]),
    (TEXT, ["", "\x00", "a\x00b\x00", "héllo ✓ 𝄞", "x" * 1000]),
    (BLOB, [b"", b"\x00", b"\x00\xff\x00", bytes(range(256))]),
    (DATE, [dt.date.min, dt.date.max, dt.date(2000, 2, 29), dt.date(1900, 3, 1)]),
    (TIME, [dt.time.min, dt.time.max, dt.time(12, 30, 1, 5)]),
    (TIMESTAMP, [dt.datetime.min, dt.datetime.max, dt.datetime(2024, 2, 29, 23, 59, 59, 1)]),
    (INTERVAL, [dt.timedelta.min, dt.timedelta.max, dt.timedelta(0), dt.timedelta(days=-1, microseconds=1)]),
    (UUID, [uuid.UUID(int=0), uuid.UUID(int=2**128 - 1), uuid.uuid4()]),
    (JSONB, [JSON_NULL, {}, [], "", 0, -1.5, 2**64, -(2**80), True, False,
             {"a": [1, None, {"b": "x\x00"}], "": 2.5}, [[[]]]]),
    (VECTOR(3), [np.array([1, -0.5, 3e38], np.float32)]),
    (ARRAY(INT), [[], [None], [1, None, 3]]),
    (ARRAY(ARRAY(TEXT)), [[[], None, ["a", None]], []]),
]


@pytest.mark.parametrize("spec,values", ROUND_TRIPS, ids=lambda x: format_spec(x) if isinstance(x, tuple) else "")
def test_row_round_trip_and_normalize(spec, values):
    for v in values:
        out = row_rt(spec, v)
        assert same(spec, v, out), (v, out)
        assert same(spec, out, normalize(spec, v))


def test_int_ranges_and_bool_rejected():
    for spec, lo, hi in ((INT, -(2**31), 2**31 - 1), (BIGINT, -(2**63), 2**63 - 1)):
        for bad in (lo - 1, hi + 1, True, False, 1.0, "1", Decimal(1), np.bool_(True)):
            with pytest.raises(InvalidArgumentError):
                encode_row((spec,), (bad,))
            with pytest.raises(InvalidArgumentError):
                encode_key((spec,), (bad,), (0,))
            with pytest.raises(InvalidArgumentError):
                normalize(spec, bad)
    assert normalize(INT, np.int16(-5)) == -5 and type(normalize(INT, np.int16(-5))) is int


def test_real_rounds_to_float32_and_rejects_finite_overflow():
    assert row_rt(REAL, 0.1) == f32(0.1) == normalize(REAL, 0.1)
    assert row_rt(REAL, 3) == 3.0
    for bad in (3.5e38, -1e39, 2**200, True, "1.0", Decimal("1.5")):
        with pytest.raises(InvalidArgumentError):
            encode_row((REAL,), (bad,))
    assert math.isnan(row_rt(REAL, math.nan))
    with pytest.raises(InvalidArgumentError):
        encode_row((DOUBLE,), (2**1100,))
    with pytest.raises(InvalidArgumentError):
        encode_row((DOUBLE,), (False,))


def test_float_nan_and_negative_zero_in_keys():
    for spec in (REAL, DOUBLE):
        k = {v: encode_key((spec,), (v,), (0,)) for v in (-math.inf, -1.0, -0.0, 0.0, 1.0, math.inf)}
        nan1 = encode_key((spec,), (math.nan,), (0,))
        nan2 = encode_key((spec,), (-math.nan,), (0,))
        assert nan1 == nan2 > k[math.inf]
        assert k[-0.0] == k[0.0]
        assert k[-math.inf] < k[-1.0] < k[0.0] < k[1.0] < k[math.inf]
        assert math.copysign(1, key_rt(spec, -0.0)) == 1.0
        assert math.copysign(1, row_rt(spec, -0.0)) == -1.0


def test_numeric_specials_scale_and_normalized_keys():
    assert str(row_rt(NUMERIC, Decimal("1.500"))) == "1.500"
    assert row_rt(NUMERIC, 12) == Decimal(12)
    keys = [encode_key((NUMERIC,), (Decimal(v),), (0,)) for v in ("1", "1.0", "1.00", "1E+0")]
    assert len(set(keys)) == 1
    assert str(key_rt(NUMERIC, Decimal("1.50"))) == "1.5"
    assert str(key_rt(NUMERIC, Decimal("1E+2"))) == "100"
    assert str(key_rt(NUMERIC, Decimal("-0.00"))) == "0"
    order = [Decimal(x) for x in ("-Infinity", "-1E+100", "-2", "-1.5", "-0.001", "0", "1E-10",
                                  "0.5", "1", "10", "1E+100", "Infinity", "NaN")]
    encoded = [encode_key((NUMERIC,), (v,), (0,)) for v in order]
    assert encoded == sorted(encoded) and len(set(encoded)) == len(encoded)
    assert encode_key((NUMERIC,), (Decimal("-NaN"),), (0,)) == encoded[-1]
    assert key_rt(NUMERIC, Decimal("NaN")).is_nan()
    for bad in (Decimal("sNaN"), 1.5, "1", True, Decimal("1E-16384"), Decimal("1E+131072")):
        with pytest.raises(InvalidArgumentError):
            encode_row((NUMERIC,), (bad,))
        with pytest.raises(InvalidArgumentError):
            encode_key((NUMERIC,), (bad,), (0,))
    assert row_rt(NUMERIC, Decimal("1E+131071")) == Decimal("1E+131071")
    assert key_rt(NUMERIC, Decimal("-1E-16383")) == Decimal("-1E-16383")


def test_text_and_blob():
    keys = [encode_key((TEXT,), (s,), (0,)) for s in ("", "\x00", "a", "a\x00", "a\x00b", "ab", "é")]
    assert keys == sorted(keys)
    for bad in ("\ud800", b"x", 5):
        with pytest.raises(InvalidArgumentError):
            encode_row((TEXT,), (bad,))
    assert row_rt(BLOB, bytearray(b"a\x00")) == b"a\x00"
    assert row_rt(BLOB, memoryview(b"abcd")[::2]) == b"ac"
    assert key_rt(BLOB, memoryview(b"\x00\x01")) == b"\x00\x01"
    with pytest.raises(InvalidArgumentError):
        encode_row((BLOB,), ("text",))


def test_dates_times_and_zones():
    with pytest.raises(InvalidArgumentError):
        encode_row((DATE,), (dt.datetime(2020, 1, 1),))
    with pytest.raises(InvalidArgumentError):
        encode_row((TIME,), (dt.time(1, tzinfo=dt.UTC),))
    with pytest.raises(InvalidArgumentError):
        encode_row((TIMESTAMP,), (dt.datetime(2020, 1, 1, tzinfo=dt.UTC),))
    with pytest.raises(InvalidArgumentError):
        encode_key((TIMESTAMPTZ,), (dt.datetime(2020, 1, 1),), (0,))
    with pytest.raises(InvalidArgumentError):
        encode_row((TIMESTAMP,), (dt.date(2020, 1, 1),))
    east = dt.timezone(dt.timedelta(hours=5, minutes=30))
    aware = dt.datetime(2020, 1, 1, 3, 0, tzinfo=east)
    out = row_rt(TIMESTAMPTZ, aware)
    assert out == aware and out.tzinfo is dt.UTC and out.hour == 21
    assert normalize(TIMESTAMPTZ, aware) == out and normalize(TIMESTAMPTZ, aware).tzinfo is dt.UTC
    # In range locally, outside datetime's range in UTC.
    with pytest.raises(InvalidArgumentError):
        encode_row((TIMESTAMPTZ,), (dt.datetime.min.replace(tzinfo=east),))
    assert key_rt(TIME, dt.time(23, 59, 59, 999999)) == dt.time(23, 59, 59, 999999)
    assert key_rt(INTERVAL, dt.timedelta.min) == dt.timedelta.min
    for bad in (5, "1 day"):
        with pytest.raises(InvalidArgumentError):
            encode_row((INTERVAL,), (bad,))
    with pytest.raises(InvalidArgumentError):
        encode_row((UUID,), (str(uuid.uuid4()),))


def test_jsonb_values():
    assert row_rt(JSONB, JSON_NULL) is JSON_NULL
    assert key_rt(JSONB, JSON_NULL) is JSON_NULL
    assert decode_row((JSONB,), encode_row((JSONB,), (None,))) == (None,)
    assert row_rt(JSONB, ("a", (1, None))) == ["a", [1, None]]
    assert row_rt(JSONB, [JSON_NULL]) == [None]
    assert key_rt(JSONB, {"bb": 1, "a": 2.5, "c": [None, True]}) == {"bb": 1, "a": 2.5, "c": [None, True]}
    assert type(key_rt(JSONB, 3.0)) is int and type(key_rt(JSONB, 0.25)) is float
    assert pickle.loads(pickle.dumps(JSON_NULL)) is JSON_NULL and not JSON_NULL
    for bad in ({1: "x"}, math.nan, math.inf, {"a": math.nan}, b"x", "\ud800", {"\ud800": 1},
                Decimal(1), {"a": object()}, 10**200000):
        with pytest.raises(InvalidArgumentError):
            encode_row((JSONB,), (bad,))
        with pytest.raises(InvalidArgumentError):
            encode_key((JSONB,), (bad,), (0,))


def test_jsonb_depth_limit():
    ok = nested_list(rc.MAX_JSON_DEPTH, "leaf")
    assert row_rt(JSONB, ok) == ok and key_rt(JSONB, ok) == ok
    too_deep = nested_list(rc.MAX_JSON_DEPTH + 1, "leaf")
    with pytest.raises(InvalidArgumentError):
        encode_row((JSONB,), (too_deep,))
    with pytest.raises(InvalidArgumentError):
        encode_key((JSONB,), (too_deep,), (0,))
    cyclic = []
    cyclic.append(cyclic)
    with pytest.raises(InvalidArgumentError):
        encode_row((JSONB,), (cyclic,))
    # Hand-built encodings one level too deep are corrupt, not a crash.
    body = b"\x07\x01" * (rc.MAX_JSON_DEPTH + 1) + b"\x00"
    raw = b"\x01\x01\x00" + _varint(len(body)) + body
    with pytest.raises(CorruptionError):
        decode_row((JSONB,), raw)
    key = b"\x02" + b"\x50\x00\x00\x00\x01" * (rc.MAX_JSON_DEPTH + 1) + b"\x10"
    with pytest.raises(CorruptionError):
        decode_key((JSONB,), (0,), key, 1)


def _varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def test_vectors():
    spec = VECTOR(3)
    out = row_rt(spec, [1, 2.5, -3])
    assert out.dtype == np.float32 and out.tolist() == [1.0, 2.5, -3.0]
    src = np.array([1, 2, 3], np.float64)
    assert key_rt(spec, src).tolist() == [1.0, 2.0, 3.0]
    normalized = normalize(spec, np.array([1, 2, 3], np.float32))
    assert normalized.dtype == np.float32
    for bad in ([1, 2], [1, 2, 3, 4], np.zeros((3, 1), np.float32), [1, math.nan, 2],
                [1, math.inf, 2], [1, 2, 1e39], "abc", [1, "2", 3], [True, 1, 2], 5,
                np.array(["a", "b", "c"])):
        with pytest.raises(InvalidArgumentError):
            encode_row((spec,), (bad,))
        with pytest.raises(InvalidArgumentError):
            encode_key((spec,), (bad,), (0,))


def test_arrays_empty_nulls_and_depth():
    assert row_rt(ARRAY(TEXT), []) == [] and key_rt(ARRAY(TEXT), []) == []
    assert key_rt(ARRAY(TEXT), [None, "a", None]) == [None, "a", None]
    assert row_rt(ARRAY(JSONB), [None, JSON_NULL, {"a": None}]) == [None, JSON_NULL, {"a": None}]
    assert key_rt(ARRAY(JSONB), [None, JSON_NULL, []]) == [None, JSON_NULL, []]
    deepest = nested_array_spec(rc.MAX_ARRAY_DEPTH)
    value = nested_list(rc.MAX_ARRAY_DEPTH, 42)
    assert row_rt(deepest, value) == value
    for flag in range(4):
        assert key_rt(deepest, value, flag) == value
    with pytest.raises(InvalidArgumentError):
        encode_row((nested_array_spec(rc.MAX_ARRAY_DEPTH + 1),), (None,))
    for bad in ("abc", b"ab", {1: 2}, 5, [1, "x"]):
        with pytest.raises(InvalidArgumentError):
            encode_row((ARRAY(INT),), (bad,))
    with pytest.raises(InvalidArgumentError):
        encode_row((ARRAY(ARRAY(INT)),), ([1],))


# Rows as a whole ------------------------------------------------------------------------

FIVE = (INT, TEXT, DOUBLE, TIMESTAMP, BIGINT)
ROW5 = (5, "hello", 2.5, dt.datetime(2024, 5, 6, 7, 8, 9, 123456), -(2**63))


def test_row_layout_and_errors():
    data = encode_row(FIVE, ROW5)
    assert data[0] == rc.ROW_FORMAT_VERSION == 1 and data[1] == 5
    assert decode_row(FIVE, data) == ROW5
    assert decode_row(FIVE, bytearray(data)) == ROW5 == decode_row(FIVE, memoryview(data))
    assert decode_row((), encode_row((), ())) == ()
    nulls = encode_row(FIVE, (None,) * 5)
    assert nulls == bytes([1, 5, 0x1F]) and decode_row(FIVE, nulls) == (None,) * 5
    with pytest.raises(InvalidArgumentError):
        encode_row(FIVE, ROW5[:4])
    with pytest.raises(InvalidArgumentError):
        encode_row(FIVE, "abcde")
    with pytest.raises(InvalidArgumentError) as info:
        encode_row(FIVE, (5, "x", "not a float", None, None))
    assert info.value.column == 2 and "column 2" in str(info.value) and "DOUBLE" in str(info.value)
    with pytest.raises(InvalidArgumentError):
        decode_row(FIVE, "text")
    with pytest.raises(CorruptionError, match="version"):
        decode_row(FIVE, b"\x02" + data[1:])
    with pytest.raises(CorruptionError, match="columns"):
        decode_row(FIVE[:4], data)
    with pytest.raises(CorruptionError, match="after the last column"):
        decode_row(FIVE, data + b"\x00")
    with pytest.raises(CorruptionError, match="past the last column"):
        decode_row(FIVE, bytes([1, 5, 0x20]))
    for cut in range(len(data)):
        with pytest.raises(CorruptionError):
            decode_row(FIVE, data[:cut])


def test_decode_row_columns():
    specs = FIVE + (ARRAY(TEXT), JSONB)
    row = ROW5[:1] + (None,) + ROW5[2:] + (["x", None], {"k": 1})
    data = encode_row(specs, row)
    assert decode_row_columns(specs, data, (6, 0, 1, 5, 5)) == (row[6], row[0], None, row[5], row[5])
    assert decode_row_columns(specs, data, ()) == ()
    assert decode_row_columns(specs, data, list(range(7))) == decode_row(specs, data)
    for bad in ((7,), (-1,), ("0",), (True,)):
        with pytest.raises(InvalidArgumentError):
            decode_row_columns(specs, data, bad)
    with pytest.raises(CorruptionError):
        decode_row_columns(specs, data[:12], (6,))


# Keys as a whole -------------------------------------------------------------------------

def test_key_markers_flags_and_prefix():
    specs = (INT, TEXT)
    assert encode_key(specs, (None,), (0,)) == b"\x03"
    assert encode_key(specs, (None,), (rc.NULLS_FIRST,)) == b"\x01"
    assert encode_key(specs, (None,), (rc.DESC | rc.NULLS_FIRST,)) == b"\x01"
    asc = encode_key(specs, (1, "ab"), (0, 0))
    desc = encode_key(specs, (1, "ab"), (0, rc.DESC))
    assert asc[:5] == desc[:5] and desc[6:] == bytes(255 - b for b in asc[6:])
    assert encode_key(specs, (), (0, 0)) == b""
    key = encode_key(specs, (1, "ab"), (0, 0))
    assert decode_key(specs, (0, 0), key + b"tuple-id", 2) == ((1, "ab"), len(key))
    assert decode_key(specs, (0, 0), key, 1) == ((1,), 5)
    with pytest.raises(InvalidArgumentError):
        encode_key(specs, (1, "a", 2), (0, 0, 0))
    with pytest.raises(InvalidArgumentError):
        encode_key(specs, (1, "a"), (0,))
    for bad_flags in ((4, 0), (-1, 0), ("0", 0), 0):
        with pytest.raises(InvalidArgumentError):
            encode_key(specs, (1, "a"), bad_flags)
    with pytest.raises(InvalidArgumentError) as info:
        encode_key(specs, (1, 2), (0, 0))
    assert info.value.column == 1
    with pytest.raises(InvalidArgumentError):
        decode_key(specs, (0, 0), key, 3)
    with pytest.raises(CorruptionError, match="marker"):
        decode_key(specs, (rc.NULLS_FIRST, 0), b"\x03", 1)


def test_prefix_successor():
    assert prefix_successor(b"\x02\x80") == b"\x02\x81"
    assert prefix_successor(b"a\xff\xff") == b"b"
    assert prefix_successor(b"\xff\xff") is None
    assert prefix_successor(b"") is None


def test_jsonb_order_examples_from_postgresql_docs():
    order = [[], JSON_NULL, "", "a", "b", -1, 0, 1.5, 2, False, True, [1], [JSON_NULL, 1], [1, 2],
             {"b": 1}, {"aa": 1, "c": 1}]
    keys = [encode_key((JSONB,), (v,), (0,)) for v in order]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    # "{"aa": 1, "c": 1} > {"b": 1, "d": 1}": keys compare in storage order (c before aa).
    assert encode_key((JSONB,), ({"aa": 1, "c": 1},), (0,)) > encode_key((JSONB,), ({"b": 1, "d": 1},), (0,))
    assert encode_key((JSONB,), (1,), (0,)) == encode_key((JSONB,), (1.0,), (0,))
    # The empty-array exception is for the top level only.
    assert encode_key((JSONB,), ([[]],), (0,)) > encode_key((JSONB,), ("x",), (0,))
    assert encode_key((JSONB,), ([[]],), (0,)) < encode_key((JSONB,), ([{}],), (0,))


# Properties ------------------------------------------------------------------------------

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def typed_values(draw):
    spec = draw(type_specs)
    values = draw(st.lists(st.none() | values_of(spec), min_size=2, max_size=6))
    return spec, values


@PROPS
@given(typed_values(), flags_st)
def test_key_order_matches_reference(sv, flag):
    spec, values = sv
    keys = [encode_key((spec,), (v,), (flag,)) for v in values]
    for a, ka in zip(values, keys, strict=True):
        for b, kb in zip(values, keys, strict=True):
            assert cmp(ka, kb) == col_cmp(spec, flag, a, b), (spec, flag, a, b, ka.hex(), kb.hex())


@PROPS
@given(st.data())
def test_composite_key_order_and_prefix(data):
    specs = tuple(data.draw(st.lists(type_specs, min_size=1, max_size=3)))
    flags = tuple(data.draw(st.lists(flags_st, min_size=len(specs), max_size=len(specs))))
    row_st = st.tuples(*[st.none() | values_of(s) for s in specs])
    rows = data.draw(st.lists(row_st, min_size=2, max_size=5))
    # Prefixes of the rows too: encode_key of k columns must sort like the k-tuple.
    cut = [r[: data.draw(st.integers(0, len(specs)))] for r in rows]
    every = rows + cut
    keys = [encode_key(specs, r, flags) for r in every]
    for a, ka in zip(every, keys, strict=True):
        for b, kb in zip(every, keys, strict=True):
            assert cmp(ka, kb) == row_cmp(specs, flags, a, b)
    for r, k in zip(rows, keys, strict=False):
        for n in range(len(specs) + 1):
            part = encode_key(specs, r[:n], flags)
            assert k.startswith(part)
            full, used = decode_key(specs, flags, k, n)
            alone, used_alone = decode_key(specs, flags, part, n)
            assert used == used_alone == len(part)
            assert all(same(s, x, y) or ref_cmp(s, x, y) == 0
                       for s, x, y in zip(specs, full, alone, strict=False))
            succ = prefix_successor(part)
            assert succ is None or part <= k < succ


@PROPS
@given(typed_values(), flags_st)
def test_key_round_trip(sv, flag):
    spec, values = sv
    for v in values:
        back = key_rt(spec, v, flag)
        assert (back is None) == (v is None)
        if v is not None:
            assert ref_cmp(spec, v, back) == 0, (v, back)
            assert encode_key((spec,), (back,), (flag,)) == encode_key((spec,), (v,), (flag,))


@PROPS
@given(st.data())
def test_row_round_trip(data):
    specs = tuple(data.draw(st.lists(type_specs, max_size=12)))
    row = data.draw(st.tuples(*[st.none() | values_of(s) for s in specs]))
    out = decode_row(specs, encode_row(specs, row))
    assert len(out) == len(row)
    for spec, v, got in zip(specs, row, out, strict=True):
        want = normalize(spec, v)
        assert same(spec, want, got), (spec, v, want, got)
        if v is not None:
            assert ref_cmp(spec, v, got) == 0
    positions = data.draw(st.lists(st.integers(0, max(len(specs) - 1, 0)), max_size=4)) if specs else []
    picked = decode_row_columns(specs, encode_row(specs, row), positions)
    assert all(same(specs[p], out[p], x) for p, x in zip(positions, picked, strict=True))


def _only_corruption(fn, *args):
    try:
        fn(*args)
    except CorruptionError:
        pass


@PROPS
@given(st.lists(type_specs, max_size=4), st.binary(max_size=64), st.lists(flags_st, min_size=4, max_size=4))
def test_decoding_arbitrary_bytes_raises_only_corruption(specs, blob, flags):
    specs = tuple(specs)
    _only_corruption(decode_row, specs, blob)
    _only_corruption(decode_row_columns, specs, blob, tuple(range(len(specs))))
    for n in range(len(specs) + 1):
        _only_corruption(decode_key, specs, tuple(flags), blob, n)


@PROPS
@given(st.data())
def test_decoding_damaged_encodings_raises_only_corruption(data):
    specs = tuple(data.draw(st.lists(type_specs, min_size=1, max_size=3)))
    row = data.draw(st.tuples(*[st.none() | values_of(s) for s in specs]))
    flags = tuple(data.draw(st.lists(flags_st, min_size=len(specs), max_size=len(specs))))
    for blob in (encode_row(specs, row), encode_key(specs, row, flags)):
        damaged = bytearray(blob)
        for _ in range(data.draw(st.integers(1, 3))):
            if damaged:
                i = data.draw(st.integers(0, len(damaged) - 1))
                damaged[i] = data.draw(st.integers(0, 255))
        cut = data.draw(st.integers(0, len(damaged)))
        for b in (bytes(damaged), bytes(damaged[:cut])):
            _only_corruption(decode_row, specs, b)
            _only_corruption(decode_key, specs, flags, b, len(specs))


def test_sorting_matches_reference_for_mixed_jsonb():
    values = [JSON_NULL, [], [[]], {}, {"a": []}, "x", 1, 1.0, -2.5, True, [None], [1, "a"],
              {"a": 1, "b": 2}, {"a": 1, "bb": 1}, {"b": 1, "aa": 1}, 10**30, 1e30]
    by_key = sorted(values, key=lambda v: encode_key((JSONB,), (v,), (0,)))
    by_ref = sorted(values, key=functools.cmp_to_key(jsonb_cmp))
    assert [jsonb_cmp(a, b) for a, b in zip(by_key, by_ref, strict=True)] == [0] * len(values)


def test_key_decoding_accepts_only_canonical_forms():
    # -0.0 and NaN payloads are never written (the encoder folds them), so they are corrupt.
    neg_zero_double = b"\x02" + bytes(255 - b for b in struct.pack(">d", -0.0))
    with pytest.raises(CorruptionError, match="non-canonical"):
        decode_key((DOUBLE,), (0,), neg_zero_double, 1)
    with pytest.raises(CorruptionError, match="non-canonical"):
        decode_key((DOUBLE,), (0,), b"\x02\xff\xf8\x00\x00\x00\x00\x00\x01", 1)
    with pytest.raises(CorruptionError, match="non-canonical"):
        decode_key((REAL,), (0,), b"\x02\x7f\xff\xff\xff", 1)
    with pytest.raises(CorruptionError, match="non-canonical"):
        decode_key((VECTOR(1),), (0,), b"\x02\x7f\xff\xff\xff", 1)
    # A JSON fraction that is not the shortest form of a float would not read back as itself.
    num = encode_key((NUMERIC,), (Decimal("0.1000000000000000000001"),), (0,))
    with pytest.raises(CorruptionError, match="shortest"):
        decode_key((JSONB,), (0,), b"\x02\x30" + num[1:], 1)
    assert key_rt(JSONB, 0.1) == 0.1


def test_sequence_subclasses_are_encoded_as_they_iterate():
    class Lying(list):
        """len() says one element, iteration yields three."""

        def __iter__(self):
            return iter([1, 2, 3])

    assert row_rt(JSONB, Lying([9])) == [1, 2, 3]
    assert key_rt(JSONB, Lying([9])) == [1, 2, 3]
    assert row_rt(ARRAY(INT), Lying([9])) == [1, 2, 3]
