import bisect
import functools
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lsmdb._core.block import Block, BlockBuilder, BlockIterator, decode_kv_block
from lsmdb._core.ikey import MAX_SEQNO, compare_internal_keys, make_internal_key
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


# ---- seek exactness against an independent model ----------------------------------------
# The seek compares only the bytes past what a key shares with its predecessor and the part
# the previous key already matched of the target; these tests pin it to a plain sort of
# (user key, -trailer) tuples, with user keys built to share long prefixes (up to and past
# the 8-byte compare steps), to be prefixes of each other, empty, or repeated with several
# seqnos/types, and blocks on both sides of the whole-block prefetch threshold.

def _model_order(ikey):
    trailer = struct.unpack("<Q", ikey[-8:])[0]
    return (ikey[:-8], -trailer)


_stems = st.sampled_from([b"", b"a", b"ab", b"abcdefg", b"abcdefgh", b"abcdefghi",
                          b"0000000000001", b"0000000000001234", b"\xff" * 9])
_user_keys = st.builds(lambda stem, tail: stem + tail, _stems,
                       st.binary(max_size=3).map(lambda b: bytes(x % 3 * 127 for x in b)))
_seqnos = st.sampled_from([0, 1, 2, 255, 256, 1 << 40, MAX_SEQNO - 1, MAX_SEQNO])


def _seek_targets(keys, extra):
    out = list(extra) + [b"" + struct.pack("<Q", (MAX_SEQNO << 8) | 2), b"\xff" * 30]
    for k in keys:
        uk, trailer = k[:-8], struct.unpack("<Q", k[-8:])[0]
        seq, t = trailer >> 8, trailer & 0xFF
        out.append(k)
        for s2, t2 in ((seq + 1, t), (seq - 1, t), (seq, t + 1), (seq, t - 1), (MAX_SEQNO, 2),
                       (0, 0)):
            if 0 <= s2 <= MAX_SEQNO and 0 <= t2 <= 2:
                out.append(make_internal_key(uk, s2, t2))
        for uk2 in (uk + b"\x00", uk + b"\xff", uk[:-1], uk[:-1] + b"\xff" * 9):
            out.append(make_internal_key(uk2, MAX_SEQNO, 2))
    return out


def _check_seeks(entries, interval, targets):
    order = [_model_order(k) for k, _ in entries]
    it = BlockIterator(Block(_build(entries, interval)))
    for t in targets:
        i = bisect.bisect_left(order, _model_order(t))
        it.seek(t)
        if i == len(entries):
            assert not it.valid()
            continue
        assert it.valid() and (it.key(), it.value()) == entries[i]
        assert it.restart_index == i // interval
        # prev from the seek position walks the model back to the first entry (this relies
        # on the restart index the seek left), next walks it forward to the end
        for j in range(i - 1, -1, -1):
            it.prev()
            assert it.valid() and (it.key(), it.value()) == entries[j]
        it.prev()
        assert not it.valid()
        it.seek(t)
        for j in range(i + 1, len(entries)):
            it.next()
            assert it.valid() and (it.key(), it.value()) == entries[j]
        it.next()
        assert not it.valid()


@given(st.lists(st.tuples(_user_keys, _seqnos, st.integers(0, 2)), max_size=80),
       st.sampled_from([1, 2, 16]), st.integers(0, 150),
       st.lists(st.tuples(_user_keys, _seqnos, st.integers(0, 2)), max_size=10))
@settings(max_examples=200, deadline=None)
def test_seek_is_exact_against_a_model(raw, interval, value_len, extra):
    keys = sorted({make_internal_key(*r) for r in raw}, key=_model_order)
    entries = [(k, b"%d:" % i + b"v" * value_len) for i, k in enumerate(keys)]
    _check_seeks(entries, interval, _seek_targets(keys, [make_internal_key(*r)
                                                          for r in extra]))


@pytest.mark.parametrize("interval", [1, 2, 16])
def test_seek_on_blocks_past_the_whole_block_prefetch(interval):
    # 16-byte db_bench keys with 100-byte values: ~35 entries are a 4 KiB block, 300 are 35 KiB
    for n in (35, 300):
        keys = [make_internal_key(b"%016d" % (2 * i), 7 + i % 3, 1) for i in range(n)]
        entries = [(k, b"%d" % i + bytes(100)) for i, k in enumerate(keys)]
        targets = [make_internal_key(b"%016d" % i, s, 2) for i in range(-1, 2 * n + 1)
                   for s in (0, 8, MAX_SEQNO)]
        _check_seeks(entries, interval, targets[::7] if n > 100 else targets)
