"""lsmdb/indexes/btree.py: entry layout (unique slots, tuple id suffix), key ranges."""

from lsmdb import (
    UNBOUNDED,
    DataType,
    Excluded,
    Included,
    IndexKeyColumn,
    IndexStorageDescriptor,
    KeyRange,
    StorageColumn,
    TableStorageDescriptor,
)
from lsmdb.errors import FeatureNotSupportedError
from lsmdb.indexes.base import kind_for
from lsmdb.indexes.btree import BTreeIndex
from lsmdb.storage_keys import pack_u64

TABLE = TableStorageDescriptor(1, (StorageColumn(1, DataType.INT), StorageColumn(2, DataType.TEXT),
                                   StorageColumn(3, DataType.BIGINT)))


def make(unique=False, nnd=False, include=(), desc=False):
    d = IndexStorageDescriptor(7, 1, (IndexKeyColumn(1, desc), IndexKeyColumn(2)), unique, nnd,
                               include_columns=include)
    return BTreeIndex(d, TABLE)


def test_non_unique_entries_carry_the_tuple_id_in_the_key():
    ix = make(include=(3,))
    k, v = ix.entry((1, "a", 9), 5)
    assert k.startswith(ix.prefix) and k.endswith(pack_u64(5))
    assert ix.entry_tuple_id(k, v) == 5 and v != b""
    assert ix.on_update((1, "a", 9), (1, "a", 9), 5) == ([], [])
    dels, puts = ix.on_update((1, "a", 9), (1, "a", 10), 5)
    assert dels == [] and puts[0][0] == k  # include change: same key, new value
    dels, puts = ix.on_update((1, "a", 9), (2, "a", 9), 5)
    assert dels == [k] and puts[0][0] != k


def test_unique_slot_is_the_key_itself_unless_null_and_distinct():
    ix = make(unique=True)
    k, v = ix.entry((1, "a", 0), 5)
    assert not k.endswith(pack_u64(5)) and v[:8] == pack_u64(5)
    assert ix.is_slot((1, "a", 0)) and not ix.is_slot((1, None, 0))
    k2, _ = ix.entry((1, None, 0), 5)
    assert k2.endswith(pack_u64(5))
    nnd = make(unique=True, nnd=True)
    assert nnd.is_slot((None, None, 0))
    assert nnd.entry((None, None, 0), 1)[0] == nnd.entry((None, None, 0), 2)[0]


def test_key_ranges_respect_prefixes_and_direction():
    ix = make()
    keys = sorted(ix.entry((a, b, 0), 1)[0] for a in (1, 2, 3) for b in ("a", "b"))
    start, stop = ix.key_range_bytes(KeyRange.point([2]))
    assert [k for k in keys if start <= k < stop] == keys[2:4]
    start, stop = ix.key_range_bytes(KeyRange(Excluded([1]), Excluded([3])))
    assert [k for k in keys if start <= k < stop] == keys[2:4]
    start, stop = ix.key_range_bytes(KeyRange())
    assert (start, stop) == (ix.prefix, ix.end)
    desc = make(desc=True)
    keys = sorted(desc.entry((a, "x", 0), 1)[0] for a in (1, 2, 3))
    assert [desc.decode_leading(k)[0] for k in keys] == [3, 2, 1]
    start, stop = desc.value_range_bytes(Included(2), UNBOUNDED)  # values >= 2
    assert [desc.decode_leading(k)[0] for k in keys if start <= k < stop] == [3, 2]


def test_kinds_not_built_refused():
    d = IndexStorageDescriptor(7, 1, (IndexKeyColumn(2),), gin=True)
    try:
        kind_for(d, TABLE)
    except FeatureNotSupportedError as exc:
        assert "gin" in str(exc)
    else:
        raise AssertionError("gin accepted")
