"""MergingIterator, VisibleIterator and CompactionIterator against brute-force models."""

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lsmdb._core.compaction_iterator import CompactionIterator
from lsmdb._core.ikey import (
    DELETE,
    MAX_SEQNO,
    PUT,
    RANGE_DELETE,
    make_internal_key,
    parse_internal_key,
    seek_key,
)
from lsmdb._core.merging_iterator import MergingIterator
from lsmdb._core.rangedel import FragmentedRangeTombstones, compaction_tombstones_to_keep
from lsmdb._core.visible_iterator import VisibleIterator
from lsmdb.errors import CorruptionError, InvalidArgumentError
from lsmdb.testing.list_iterator import ListIterator

KEYS = [b"", b"a", b"a\x00", b"ab", b"b", b"ba", b"c", b"d\xff"]
key_st = st.sampled_from(KEYS)
# (kind, key, end key, source index); seqno = position + 1
op_st = st.tuples(st.sampled_from(["put", "put", "put", "del", "rdel"]), key_st, key_st,
                  st.integers(0, 3))
ops_st = st.lists(op_st, max_size=40)


def ikey_sort(entry):
    uk, seq, vtype = parse_internal_key(entry[0])
    return (uk, -seq, -vtype)


def build(ops, first_seq=1):
    """Sources (lists of (ikey, value)) and tombstones from a list of ops."""
    sources = [[] for _ in range(4)]
    tombstones = []
    for i, (kind, key, end, src) in enumerate(ops):
        seq = first_seq + i
        if kind == "put":
            sources[src].append((make_internal_key(key, seq, PUT), b"v%d" % seq))
        elif kind == "del":
            sources[src].append((make_internal_key(key, seq, DELETE), b""))
        else:
            tombstones.append((key, end, seq))
            # Range tombstones may also appear inline in a source: they must be ignored.
            sources[src].append((make_internal_key(key, seq, RANGE_DELETE), end))
    return [sorted(s, key=ikey_sort) for s in sources], tombstones


def model_view(entries, tombstones, snap, lower=None, upper=None):
    """Brute force: [(user_key, value)] visible at snap within [lower, upper)."""
    newest = {}
    for ikey, value in entries:
        uk, seq, vtype = parse_internal_key(ikey)
        if vtype == RANGE_DELETE or seq > snap:
            continue
        if uk not in newest or newest[uk][0] < seq:
            newest[uk] = (seq, vtype, value)
    out = []
    for uk in sorted(newest):
        seq, vtype, value = newest[uk]
        if vtype != PUT:
            continue
        if any(s <= uk < e and seq < t <= snap for s, e, t in tombstones):
            continue
        if (lower is not None and uk < lower) or (upper is not None and uk >= upper):
            continue
        out.append((uk, value))
    return out


def merged(sources):
    return MergingIterator([ListIterator(s) for s in sources])


def backward(it):
    out = []
    it.seek_to_last()
    while it.valid():
        out.append((it.key(), it.value()))
        it.prev()
    return out


# MergingIterator ------------------------------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(ops_st, st.randoms(use_true_random=False))
def test_merging_iterator_matches_sorted_union(ops, rnd):
    sources, _ = build(ops)
    expected = sorted([e for s in sources for e in s], key=ikey_sort)
    it = merged(sources)
    it.seek_to_first()
    assert list(it.entries()) == expected
    assert backward(it) == expected[::-1]
    # Random walk with seeks and direction switches.
    pos = None
    for _ in range(30):
        action = rnd.choice(["next", "prev", "seek", "seek_for_prev", "first", "last"])
        if action in ("next", "prev") and pos is None:
            continue
        if action == "next":
            it.next()
            pos += 1
        elif action == "prev":
            it.prev()
            pos -= 1
        elif action in ("seek", "seek_for_prev"):
            target = make_internal_key(rnd.choice(KEYS), rnd.randint(0, len(ops) + 1),
                                       rnd.randint(0, 2))
            if action == "seek":
                it.seek(target)
                pos = sum(1 for e in expected if ikey_sort(e) < ikey_sort((target,)))
            else:
                it.seek_for_prev(target)
                pos = sum(1 for e in expected if ikey_sort(e) <= ikey_sort((target,))) - 1
        elif action == "first":
            it.seek_to_first()
            pos = 0
        else:
            it.seek_to_last()
            pos = len(expected) - 1
        if 0 <= pos < len(expected):
            assert it.valid()
            assert (it.key(), it.value()) == expected[pos]
        else:
            assert not it.valid()
            pos = None


def test_merging_iterator_ties_prefer_lower_child_index():
    k = make_internal_key(b"k", 5, PUT)
    before = make_internal_key(b"a", 1, PUT)
    after = make_internal_key(b"z", 1, PUT)
    kids = [ListIterator([(k, b"new")]), ListIterator([(before, b"a"), (k, b"old"),
                                                       (after, b"z")])]
    it = MergingIterator(kids)
    it.seek_to_first()
    assert [v for _, v in it.entries()] == [b"a", b"new", b"old", b"z"]
    assert [v for _, v in backward(it)] == [b"z", b"old", b"new", b"a"]
    # Switch direction on each tied entry.
    it.seek(k)
    assert it.value() == b"new"
    it.next()
    assert it.value() == b"old"
    it.prev()
    assert it.value() == b"new"
    it.prev()
    assert it.value() == b"a"
    it.next()
    assert it.value() == b"new"
    it.next()
    it.next()
    assert it.value() == b"z"
    it.prev()
    assert it.value() == b"old"
    it.prev()
    assert it.value() == b"new"


def test_merging_iterator_edge_cases():
    it = MergingIterator([])
    it.seek_to_first()
    assert not it.valid()
    it = MergingIterator([ListIterator([]), ListIterator([])])
    it.seek_to_last()
    assert not it.valid()
    with pytest.raises(TypeError):
        MergingIterator([object()])


# VisibleIterator ------------------------------------------------------------------------

bound_st = st.one_of(st.none(), key_st)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops_st, st.integers(0, 45), bound_st, bound_st, st.randoms(use_true_random=False))
def test_visible_iterator_matches_model(ops, snap, lower, upper, rnd):
    sources, tombstones = build(ops)
    all_entries = [e for s in sources for e in s]
    expected = model_view(all_entries, tombstones, snap, lower, upper)
    frt = FragmentedRangeTombstones(tombstones)

    def make():
        return VisibleIterator(merged(sources), snap, frt, lower_bound=lower,
                               upper_bound=upper)

    assert list(make()) == expected
    assert backward(make()) == expected[::-1]
    it = make()
    keys = [k for k, _ in expected]
    pos = None
    for _ in range(30):
        action = rnd.choice(["next", "prev", "next", "prev", "seek", "seek_for_prev",
                             "first", "last"])
        if action in ("next", "prev") and pos is None:
            continue
        if action == "next":
            it.next()
            pos += 1
        elif action == "prev":
            it.prev()
            pos -= 1
        elif action == "seek":
            target = rnd.choice(KEYS)
            it.seek(target)
            pos = sum(1 for k in keys if k < target)
        elif action == "seek_for_prev":
            target = rnd.choice(KEYS)
            it.seek_for_prev(target)
            pos = sum(1 for k in keys if k <= target) - 1
        elif action == "first":
            it.seek_to_first()
            pos = 0
        else:
            it.seek_to_last()
            pos = len(keys) - 1
        if 0 <= pos < len(keys):
            assert it.valid(), (action, pos)
            assert (it.key(), it.value()) == expected[pos]
        else:
            assert not it.valid()
            pos = None


def test_visible_iterator_reverse_with_many_versions():
    entries = [
        (make_internal_key(b"a", 9, PUT), b"a9"),
        (make_internal_key(b"a", 7, DELETE), b""),
        (make_internal_key(b"a", 3, PUT), b"a3"),
        (make_internal_key(b"b", 8, DELETE), b""),
        (make_internal_key(b"b", 2, PUT), b"b2"),
        (make_internal_key(b"c", 6, PUT), b"c6"),
        (make_internal_key(b"c", 5, PUT), b"c5"),
        (make_internal_key(b"c", 1, PUT), b"c1"),
    ]
    for snap, want in [(10, [(b"a", b"a9"), (b"c", b"c6")]),
                       (7, [(b"b", b"b2"), (b"c", b"c6")]),
                       (5, [(b"a", b"a3"), (b"b", b"b2"), (b"c", b"c5")]),
                       (1, [(b"c", b"c1")]),
                       (0, [])]:
        it = VisibleIterator(ListIterator(entries), snap)
        assert list(it) == want
        assert backward(it) == want[::-1]


def test_visible_iterator_range_tombstone_and_python_iteration():
    entries = [(make_internal_key(k, s, PUT), v) for k, s, v in
               [(b"a", 1, b"1"), (b"b", 2, b"2"), (b"c", 5, b"5"), (b"d", 3, b"3")]]
    frt = FragmentedRangeTombstones([(b"b", b"d", 4)])
    it = VisibleIterator(ListIterator(entries), MAX_SEQNO, frt)
    assert list(it) == [(b"a", b"1"), (b"c", b"5"), (b"d", b"3")]
    it = VisibleIterator(ListIterator(entries), 3, frt)   # tombstone not visible at 3
    assert [k for k, _ in it] == [b"a", b"b", b"d"]
    it = VisibleIterator(ListIterator(entries), MAX_SEQNO, None, lower_bound=b"b",
                         upper_bound=b"d")
    it.seek(b"a")
    assert it.key() == b"b"
    it.seek_for_prev(b"z")
    assert it.key() == b"c"
    it.next()
    assert not it.valid()
    with pytest.raises(InvalidArgumentError):
        it.next()
    with pytest.raises(InvalidArgumentError):
        VisibleIterator(ListIterator(entries), MAX_SEQNO + 1)


def test_visible_iterator_rejects_malformed_internal_keys():
    bad = b"k" + (5).to_bytes(8, "little")                  # value type 5 is unknown
    it = VisibleIterator(ListIterator([(bad, b"")]))
    with pytest.raises(CorruptionError):
        it.seek_to_first()


# CompactionIterator ---------------------------------------------------------------------

@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops_st, ops_st, st.lists(st.integers(0, 85), max_size=5), st.booleans())
def test_compaction_never_changes_what_a_snapshot_sees(lower_ops, ops, snapshots, bottommost):
    # Older data below the compaction's level (absent when the output is bottommost).
    below = [] if bottommost else lower_ops
    below_sources, below_tombs = build(below)
    sources, tombstones = build(ops, first_seq=len(below) + 1)
    frt = FragmentedRangeTombstones(tombstones)
    comp = CompactionIterator(merged(sources), snapshots, frt, bottommost)
    out = list(comp)
    inputs = sorted([e for s in sources for e in s], key=ikey_sort)
    point_inputs = [e for e in inputs if parse_internal_key(e[0])[2] != RANGE_DELETE]
    assert out == [e for e in point_inputs if e in out]              # an ordered subset
    assert (comp.kept + comp.dropped_overwritten + comp.dropped_deleted
            + comp.dropped_range_deleted) == len(point_inputs)
    assert comp.kept == len(out)
    kept_tombs = compaction_tombstones_to_keep(frt, snapshots, bottommost)
    below_entries = [e for s in below_sources for e in s]
    for snap in sorted(set(snapshots)) + [MAX_SEQNO]:
        want = model_view(inputs + below_entries, tombstones + below_tombs, snap)
        got = list(VisibleIterator(
            MergingIterator([ListIterator(out), ListIterator(sorted(below_entries,
                                                                    key=ikey_sort))]),
            snap, FragmentedRangeTombstones(kept_tombs + below_tombs)))
        assert got == want, snap


def test_compaction_counters_and_drain_into():
    entries = [
        (make_internal_key(b"a", 9, PUT), b"a9"),
        (make_internal_key(b"a", 8, PUT), b"a8"),
        (make_internal_key(b"a", 4, PUT), b"a4"),
        (make_internal_key(b"b", 7, DELETE), b""),
        (make_internal_key(b"b", 2, PUT), b"b2"),
        (make_internal_key(b"c", 3, DELETE), b""),
        (make_internal_key(b"d", 1, PUT), b"d1"),
    ]
    frt = FragmentedRangeTombstones([(b"d", b"e", 6)])
    comp = CompactionIterator(ListIterator(entries), [5], frt, bottommost=True)
    got = []
    assert comp.drain_into(lambda k, v: got.append(v)) == 5
    # a9 (stripe >5), a4 (stripe <=5), b DELETE@7 (keeps b2 hidden), b2 (seen by snapshot
    # 5), d1 (the tombstone @6 is in a newer stripe); c's DELETE@3 is dropped (bottommost).
    assert got == [b"a9", b"a4", b"", b"b2", b"d1"]
    assert comp.stats() == {"kept": 5, "dropped_overwritten": 1, "dropped_deleted": 1,
                            "dropped_range_deleted": 0}
    batches = []
    assert comp.drain_into(batches.append, batch=3) == 5
    assert [len(b) for b in batches] == [3, 2]
    # Not bottommost: the delete of c and the range-deleted d1 (other stripe) stay.
    comp = CompactionIterator(ListIterator(entries), [], frt, bottommost=False)
    assert [v for _, v in comp] == [b"a9", b"", b""]
    assert comp.dropped_range_deleted == 1 and comp.dropped_deleted == 0
    with pytest.raises(TypeError):
        comp.seek_to_last()
    with pytest.raises(InvalidArgumentError):
        CompactionIterator(ListIterator(entries), [-1])


def test_merge_random_large_sources_agree_with_sorted():
    rnd = random.Random(7)
    seq = iter(rnd.sample(range(1, 10**6), 5000))
    sources = []
    for _ in range(8):
        entries = {make_internal_key(b"%05d" % rnd.randrange(2000), next(seq), PUT): b"v"
                   for _ in range(600)}
        sources.append(sorted(entries.items(), key=ikey_sort))
    it = merged(sources)
    it.seek_to_first()
    assert [k for k, _ in it.entries()] == sorted(
        (k for s in sources for k, _ in s), key=lambda k: ikey_sort((k,)))
    it.seek(seek_key(b"01000"))
    assert parse_internal_key(it.key())[0] >= b"01000"
