"""Fragmented range tombstones against a brute-force model."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lsmdb._core.rangedel import (
    MAX_SEQNO,
    FragmentedRangeTombstones,
    compaction_tombstones_to_keep,
)
from lsmdb.errors import InvalidArgumentError

key_st = st.binary(max_size=3, min_size=0).map(lambda b: bytes(x % 4 for x in b))
tomb_st = st.tuples(key_st, key_st, st.integers(1, 50))


def brute_max(tombstones, key, snap):
    return max((t for s, e, t in tombstones if s <= key < e and t <= snap), default=0)


@settings(max_examples=300, deadline=None)
@given(st.lists(tomb_st, max_size=15), st.lists(key_st, max_size=20), st.integers(0, 60))
def test_max_covering_matches_brute_force(tombstones, probes, snap):
    frt = FragmentedRangeTombstones(tombstones)
    frags = frt.fragments()
    assert len(frt) == len(frags)
    assert frt.empty == (not frags)
    for (s1, e1, _), (s2, _, _) in zip(frags, frags[1:], strict=False):
        assert s1 < e1 <= s2                                   # sorted, non-overlapping
    for _, _, seqs in frags:
        assert seqs == sorted(set(seqs), reverse=True) and seqs
    for _, e, _ in frags:
        probes.append(e)
    for s, _, _ in tombstones:
        probes.append(s)
    for key in probes:
        want = brute_max(tombstones, key, snap)
        assert frt.max_covering_seqno(key, snap) == want
        assert frt.max_covering_seqno(key) == brute_max(tombstones, key, MAX_SEQNO)
        for entry_seq in (0, max(want - 1, 0), want, 30):
            assert frt.covers(key, entry_seq, snap) == (want > entry_seq)
    # tombstones() describes the same coverage as the input.
    again = FragmentedRangeTombstones(frt.tombstones())
    for key in probes:
        assert again.max_covering_seqno(key, snap) == frt.max_covering_seqno(key, snap)


def test_fragmentation_example():
    frt = FragmentedRangeTombstones([(b"a", b"m", 5), (b"c", b"e", 9), (b"x", b"b", 3),
                                     (b"d", b"z", 2), (b"q", b"q", 7)])
    assert frt.fragments() == [
        (b"a", b"c", [5]),
        (b"c", b"d", [9, 5]),
        (b"d", b"e", [9, 5, 2]),
        (b"e", b"m", [5, 2]),
        (b"m", b"z", [2]),
    ]
    assert frt.max_covering_seqno(b"d") == 9
    assert frt.max_covering_seqno(b"d", 8) == 5
    assert frt.max_covering_seqno(b"z") == 0
    assert frt.max_covering_seqno(b"") == 0
    assert frt.covers(b"q", 1) and not frt.covers(b"q", 2)
    empty = FragmentedRangeTombstones([])
    assert empty.empty and len(empty) == 0 and empty.max_covering_seqno(b"a") == 0
    with pytest.raises(InvalidArgumentError):
        FragmentedRangeTombstones([(b"a", b"b", -1)])
    with pytest.raises(InvalidArgumentError):
        FragmentedRangeTombstones([(b"a", b"b", MAX_SEQNO + 1)])


def test_compaction_tombstones_to_keep():
    ts = [(b"a", b"m", 5), (b"c", b"e", 9), (b"d", b"z", 2)]
    # No snapshots, not bottommost: one newest tombstone per fragment, coalesced.
    assert compaction_tombstones_to_keep(ts, [], False) == [
        (b"a", b"c", 5), (b"c", b"e", 9), (b"e", b"m", 5), (b"m", b"z", 2)]
    # Bottommost with no snapshots: everything they covered is gone, so are they.
    assert compaction_tombstones_to_keep(ts, [], True) == []
    # A snapshot at 4 keeps the tombstone at 5 (and 9) as they are newer than it.
    assert compaction_tombstones_to_keep(ts, [4], True) == [
        (b"a", b"c", 5), (b"c", b"e", 9), (b"e", b"m", 5)]
    assert compaction_tombstones_to_keep(ts, [3, 6], False) == [
        (b"a", b"m", 5), (b"c", b"e", 9), (b"d", b"z", 2)]
