"""Order-preserving key codec: ordering, round trip, prefix property, corruption."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lsmdb._core.keycodec import (
    MAX_TUPLE_DEPTH,
    decode_key,
    encode_key,
    encode_key_into,
    prefix_successor,
)
from lsmdb.errors import CorruptionError, InvalidArgumentError

# Documented cross-type order: None < False < True < int < float < str < bytes < tuple.
RANK = {type(None): 0, bool: 1, int: 2, float: 3, str: 4, bytes: 5, tuple: 6}


def order_key(t):
    """Sort key of a whole key tuple under the documented order."""
    return tuple(element_key(v) for v in t)


def element_key(value):
    rank = RANK[type(value)]
    if isinstance(value, tuple):
        return (rank, order_key(value))
    if isinstance(value, float):
        return (rank, (1, 0.0) if math.isnan(value) else (0, value))
    if value is None:
        return (rank, 0)
    return (rank, value)


def normalized(t):
    """What decode(encode(t)) returns: -0.0 -> 0.0; NaN compared via isnan below."""
    out = []
    for v in t:
        if isinstance(v, tuple):
            out.append(normalized(v))
        elif isinstance(v, float) and v == 0.0:
            out.append(0.0)
        else:
            out.append(v)
    return tuple(out)


def same(a, b):
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return type(a) is type(b) and a == b


scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(-(2**63), 2**63 - 1), st.integers(-(2**300), 2**300),
    st.sampled_from([0, -1, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 2**64]),
    st.floats(allow_nan=True), st.sampled_from([0.0, -0.0, math.inf, -math.inf]),
    st.text(max_size=8), st.sampled_from(["", "\x00", "a\x00", "a", "\x00\x00"]),
    st.binary(max_size=8), st.sampled_from([b"", b"\x00", b"\x00\xff", b"\xff", b"\x00\x01"]),
)
elements = st.recursive(scalars, lambda inner: st.tuples(inner, inner) | st.tuples(inner),
                        max_leaves=6)
keys = st.lists(elements, max_size=5).map(tuple)


@settings(max_examples=400, deadline=None)
@given(keys)
def test_round_trip(t):
    enc = encode_key(t)
    assert same(decode_key(enc), normalized(t))
    buf = bytearray(b"prefix")
    assert encode_key_into(buf, t) == len(enc)
    assert bytes(buf) == b"prefix" + enc


@settings(max_examples=150, deadline=None)
@given(st.lists(keys, min_size=2, max_size=12))
def test_bytewise_order_equals_tuple_order(ts):
    by_tuple = sorted(ts, key=order_key)
    by_bytes = sorted(ts, key=encode_key)
    assert [order_key(t) for t in by_tuple] == [order_key(t) for t in by_bytes]
    for a, b in zip(by_tuple, by_tuple[1:], strict=False):
        ka, kb = order_key(a), order_key(b)
        ea, eb = encode_key(a), encode_key(b)
        assert (ka < kb) == (ea < eb)
        assert (ka == kb) == (ea == eb)


@settings(max_examples=200, deadline=None)
@given(keys)
def test_tuple_prefix_is_byte_prefix(t):
    enc = encode_key(t)
    for k in range(len(t) + 1):
        head = encode_key(t[:k])
        assert enc.startswith(head)
        succ = prefix_successor(head)
        assert succ is None or enc < succ


def test_worked_example_bytes():
    assert encode_key((None, True, 1, "a", b"\x00")).hex() == (
        "05" "11" "21" "8000000000000001" "40" "61" "0001" "50" "00ff" "0001")
    assert encode_key((-1,)).hex() == "217fffffffffffffff"
    assert encode_key((2**64,)).hex() == "2209010000000000000000"
    assert encode_key((1.0,)).hex() == "30bff0000000000000"
    assert encode_key((-0.0,)) == encode_key((0.0,))
    assert encode_key((("x",),)).hex() == "6040780001" "00"


def test_specific_orders():
    ordered = [(), (None,), (False,), (True,), (-(2**70),), (-(2**63) - 1,), (-(2**63),),
               (-1,), (0,), (2**63 - 1,), (2**63,), (2**70,), (-math.inf,), (-1.5,), (0.0,),
               (math.inf,), (math.nan,), ("",), ("\x00",), ("a",), ("a", None), ("a\x00",),
               ("ab",), (b"",), (b"\x00",), (b"\xff",), ((),), ((1,),)]
    encs = [encode_key(t) for t in ordered]
    assert encs == sorted(encs)
    assert len(set(encs)) == len(encs)


def test_errors():
    with pytest.raises(TypeError, match="element 1 .*list"):
        encode_key((1, [2]))
    with pytest.raises(TypeError, match="must be a tuple"):
        encode_key([1])
    with pytest.raises(InvalidArgumentError, match="surrogate"):
        encode_key(("\ud800",))
    with pytest.raises(InvalidArgumentError, match="too large"):
        encode_key((2**2100,))
    deep = ()
    for _ in range(MAX_TUPLE_DEPTH + 1):
        deep = (deep,)
    with pytest.raises(InvalidArgumentError):
        encode_key(deep)
    bad = {
        b"\x99": "unknown type tag",
        b"\x21\x00\x01": "truncated",
        b"\x40abc": "unterminated",
        b"\x40ab\x00": "unterminated",
        b"\x40a\x00\x07": "bad escape",
        b"\x40\xff\xfe\x00\x01": "invalid UTF-8",
        b"\x22\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01": "non-canonical",
        b"\x22\x02\x01\x00": "non-canonical",
        b"\x22\x20\x01": "truncated",
        b"\x60\x05": "unterminated nested",
        b"\x60" * 40: "nested deeper",
    }
    for data, msg in bad.items():
        with pytest.raises(CorruptionError, match=msg):
            decode_key(data)
    with pytest.raises(CorruptionError, match=r"file idx/1\.sst, offset 103"):
        decode_key(b"\x05\x05\x05\x99", "idx/1.sst", 100)


def test_prefix_successor():
    assert prefix_successor(b"ab") == b"ac"
    assert prefix_successor(b"a\xff\xff") == b"b"
    assert prefix_successor(b"\xff\xff") is None
    assert prefix_successor(b"") is None


@settings(max_examples=400, deadline=None)
@given(keys, st.data())
def test_mutations_raise_corruption_or_decode_cleanly(t, data):
    enc = bytearray(encode_key(t))
    action = data.draw(st.sampled_from(["flip", "truncate", "garbage", "insert"]))
    if action == "flip" and enc:
        i = data.draw(st.integers(0, len(enc) - 1))
        enc[i] ^= 1 << data.draw(st.integers(0, 7))
    elif action == "truncate":
        enc = enc[:data.draw(st.integers(0, len(enc)))]
    elif action == "insert":
        i = data.draw(st.integers(0, len(enc)))
        enc[i:i] = data.draw(st.binary(min_size=1, max_size=4))
    else:
        enc = bytearray(data.draw(st.binary(max_size=40)))
    try:
        decoded = decode_key(bytes(enc))
    except CorruptionError:
        return
    # A successful decode is a real key: it re-encodes (canonical elements round-trip).
    assert isinstance(decoded, tuple)
    encode_key(decoded)
