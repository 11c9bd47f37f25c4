import pytest
from hypothesis import given
from hypothesis import strategies as st

from lsmdb._core.ikey import (
    MAX_SEQNO,
    PUT,
    compare_internal_keys,
    make_internal_key,
    parse_internal_key,
)
from lsmdb.errors import CorruptionError, InvalidArgumentError

entries = st.tuples(st.binary(max_size=8), st.integers(0, MAX_SEQNO), st.integers(0, 2))


@given(entries, entries)
def test_internal_order_is_user_key_then_seqno_descending(a, b):
    ka, kb = make_internal_key(*a), make_internal_key(*b)
    expected = (a[0], -a[1], -a[2]) > (b[0], -b[1], -b[2])
    expected = (expected > 0) - ((a[0], -a[1], -a[2]) < (b[0], -b[1], -b[2]))
    assert compare_internal_keys(ka, kb) == expected
    assert parse_internal_key(ka) == a


def test_bad_internal_keys():
    with pytest.raises(CorruptionError, match="offset 7"):
        parse_internal_key(b"abc", "f.sst", 7)
    with pytest.raises(CorruptionError):
        parse_internal_key(b"k" + bytes([9]) + b"\0" * 7)
    with pytest.raises(InvalidArgumentError):
        make_internal_key(b"k", MAX_SEQNO + 1, PUT)
