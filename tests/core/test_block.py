import bisect
import functools
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lsmdb._core.block import Block, BlockBuilder, BlockIterator, decode_kv_block
from lsmdb._core.ikey import compare_internal_keys, make_internal_key
from lsmdb.errors import CorruptionError, InvalidArgumentError

ikey_sort = functools.cmp_to_key(compare_internal_keys)

entry_lists = st.lists(
    st.tuples(st.binary(max_size=12), st.integers(0, 1000), st.integers(0, 1),
              st.binary(max_size=30)),
    max_size=120,
)


def _sorted_entries(raw):
    seen = {}
    for uk, seq, t, v in raw:
        seen[make_internal_key(uk, seq, t)] = v
    keys = sorted(seen, key=ikey_sort)
    return [(k, seen[k]) for k in keys]


def _build(entries, restart_interval=16):
    b = BlockBuilder(restart_interval)
    for k, v in entries:
        b.add(k, v)
    return b.finish()


def _forward(it):
    it.seek_to_first()
    return list(it.entries())


def _backward(it):
    out = []
    it.seek_to_last()
    while it.valid():
        out.append((it.key(), it.value()))
        it.prev()
    return out


@given(entry_lists, st.integers(1, 20))
@settings(max_examples=150)
def test_round_trip_forward_backward(raw, interval):
    entries = _sorted_entries(raw)
    data = _build(entries, interval)
    block = Block(data)
    assert len(block) == len(entries)
    assert block.num_restarts == max(1, -(-len(entries) // interval))
    it = block.iterator()
    assert _forward(it) == entries
    assert _backward(it) == entries[::-1]


@given(entry_lists, st.integers(1, 8), st.lists(
    st.tuples(st.binary(max_size=12), st.integers(0, 1001), st.integers(0, 2)), max_size=20))
@settings(max_examples=150)
def test_seek_and_seek_for_prev_match_a_sorted_list(raw, interval, targets):
    entries = _sorted_entries(raw)
    keys = [k for k, _ in entries]
    it = BlockIterator(Block(_build(entries, interval)))
    probe = [make_internal_key(*t) for t in targets] + keys
    for t in probe:
        i = bisect.bisect_left([ikey_sort(k) for k in keys], ikey_sort(t))
        it.seek(t)
        if i < len(keys):
            assert it.valid() and it.key() == keys[i] and it.value() == entries[i][1]
            # next/prev from a seek position
            it.next()
            assert (it.key() if it.valid() else None) == (keys[i + 1] if i + 1 < len(keys)
                                                          else None)
        else:
            assert not it.valid()
        j = bisect.bisect_right([ikey_sort(k) for k in keys], ikey_sort(t)) - 1
        it.seek_for_prev(t)
        if j >= 0:
            assert it.valid() and it.key() == keys[j]
            it.prev()
            assert (it.key() if it.valid() else None) == (keys[j - 1] if j > 0 else None)
        else:
            assert not it.valid()


def test_empty_block():
    b = BlockBuilder()
    assert b.empty and b.estimated_size == 8
    data = b.finish()
    assert data == struct.pack("<II", 0, 1)
    block = Block(data)
    assert len(block) == 0
    it = block.iterator()
    it.seek_to_first()
    assert not it.valid()
    it.seek_to_last()
    assert not it.valid()
    it.seek(make_internal_key(b"a", 1, 1))
    assert not it.valid()
    it.seek_for_prev(make_internal_key(b"a", 1, 1))
    assert not it.valid()
    assert decode_kv_block(data) == []
    assert Block(struct.pack("<I", 0)).iterator().valid() is False


def test_prefix_compression_layout():
    k1, k2 = make_internal_key(b"apple", 1, 1), make_internal_key(b"apply", 1, 1)
    data = _build([(k1, b"x"), (k2, b"yz")], restart_interval=16)
    # entry 1: shared 0, non_shared 13, value 1; entry 2: shares "appl"
    assert data[:3] == bytes([0, 13, 1]) and data[3:16] == k1 and data[16:17] == b"x"
    assert data[17:20] == bytes([4, 9, 2]) and data[20:29] == k2[4:] and data[29:31] == b"yz"
    assert data[31:] == struct.pack("<II", 0, 1)


def test_builder_estimated_size_reset_and_finish_rules():
    b = BlockBuilder(2)
    keys = [make_internal_key(b"k%d" % i, 1, 1) for i in range(5)]
    sizes = []
    for k in keys:
        b.add(k, b"v")
        sizes.append(b.estimated_size)
    assert sizes == sorted(sizes) and sizes[0] > 8
    assert b.last_key == keys[-1] and b.num_entries == 5 and not b.empty
    expected = b.estimated_size
    data = b.finish()
    assert len(data) == expected and b.finish() == data
    with pytest.raises(InvalidArgumentError):
        b.add(keys[0], b"v")
    b.reset()
    assert b.empty and b.estimated_size == 8
    b.add(keys[0], b"w")
    assert _forward(Block(b.finish()).iterator()) == [(keys[0], b"w")]
    with pytest.raises(InvalidArgumentError):
        BlockBuilder(0)


def test_meta_blocks_with_arbitrary_keys():
    b = BlockBuilder(3)
    pairs = [(b"", b"empty"), (b"a", b""), (b"ab", b"1"), (b"abc", b"2"), (b"b", b"3")]
    for k, v in pairs:
        b.add(k, v)
    data = b.finish()
    assert decode_kv_block(data) == pairs
    with pytest.raises(CorruptionError, match="not an internal key"):
        Block(data)
    with pytest.raises(InvalidArgumentError):
        BlockIterator(Block(data, internal_keys=False))


def test_memoryview_input_is_pinned():
    entries = _sorted_entries([(b"k%d" % i, 1, 1, b"v%d" % i) for i in range(40)])
    buf = bytearray(b"xx" + _build(entries, 4))
    block = Block(memoryview(buf)[2:])
    assert _forward(block.iterator()) == entries


def _valid_block():
    return _build(_sorted_entries([(b"key%02d" % i, i, 1, b"val%d" % i) for i in range(30)]), 4)


def test_corruption_names_file_and_entry_offset():
    data = bytearray(_valid_block())
    with pytest.raises(CorruptionError, match="f.sst.*offset 1000"):
        Block(b"\x01\x00", "f.sst", 1000)
    bad = bytes(data[:-4]) + struct.pack("<I", 10_000)
    with pytest.raises(CorruptionError, match="restart count"):
        Block(bad, "f.sst", 1000)
    # the second entry (at offset 12) claims a value longer than the block
    k = make_internal_key(b"a", 1, 1)
    entries = bytes([0, 9, 0]) + k + bytes([0, 9, 100]) + k
    with pytest.raises(CorruptionError, match=r"overruns.*offset 1012\)"):
        Block(entries + struct.pack("<II", 0, 1), "f.sst", 1000)
    # a restart point that is not at an entry boundary
    with pytest.raises(CorruptionError, match="restart point"):
        Block(entries[:12] + bytes([0, 9, 0]) + k + struct.pack("<III", 0, 5, 2), "f.sst", 0)
    # out-of-order keys
    k1, k2 = make_internal_key(b"b", 1, 1), make_internal_key(b"a", 1, 1)
    b = BlockBuilder()
    b.add(k1, b"")
    b.add(k2, b"")
    with pytest.raises(CorruptionError, match="out of order"):
        Block(b.finish())


def _check_consistent(block):
    it = block.iterator()
    fwd = _forward(it)
    assert _backward(it) == fwd[::-1]
    keys = [k for k, _ in fwd]
    assert keys == sorted(keys, key=ikey_sort)
    for k in keys[:5]:
        it.seek(k)
        assert it.valid() and compare_internal_keys(it.key(), k) >= 0
        it.seek_for_prev(k)
        assert it.valid() and compare_internal_keys(it.key(), k) <= 0


@given(st.data())
@settings(max_examples=300)
def test_mutated_blocks_raise_corruption_or_stay_consistent(data):
    block_bytes = bytearray(_valid_block())
    action = data.draw(st.sampled_from(["flip", "truncate", "zero", "garbage"]))
    if action == "flip":
        for _ in range(data.draw(st.integers(1, 4))):
            i = data.draw(st.integers(0, len(block_bytes) - 1))
            block_bytes[i] ^= 1 << data.draw(st.integers(0, 7))
    elif action == "truncate":
        block_bytes = block_bytes[:data.draw(st.integers(0, len(block_bytes) - 1))]
    elif action == "zero":
        i = data.draw(st.integers(0, len(block_bytes) - 1))
        j = data.draw(st.integers(i, len(block_bytes)))
        block_bytes[i:j] = bytes(j - i)
    else:
        block_bytes = bytearray(data.draw(st.binary(max_size=200)))
    try:
        block = Block(bytes(block_bytes), "f.sst", 0)
    except CorruptionError as exc:
        assert exc.file == "f.sst" and exc.offset is not None
        return
    _check_consistent(block)
