"""ListIterator, the in-memory source that tests and benchmarks feed the composing iterators."""

import pytest

from lsmdb._core.ikey import PUT, make_internal_key
from lsmdb.errors import InvalidArgumentError
from lsmdb.testing.list_iterator import ListIterator


def test_list_iterator_validates_order_and_keys():
    k1 = make_internal_key(b"a", 2, PUT)
    k2 = make_internal_key(b"a", 1, PUT)
    with pytest.raises(InvalidArgumentError):
        ListIterator([(k2, b""), (k1, b"")])
    with pytest.raises(InvalidArgumentError):
        ListIterator([(k1, b""), (k1, b"")])
    with pytest.raises(InvalidArgumentError):
        ListIterator([(b"short", b"")])
    it = ListIterator([(k2, b"2"), (k1, b"1")], sort=True)
    it.seek_to_first()
    assert list(it.entries()) == [(k1, b"1"), (k2, b"2")]
    empty = ListIterator([])
    empty.seek_to_first()
    assert not empty.valid()
    with pytest.raises(InvalidArgumentError):
        empty.key()
