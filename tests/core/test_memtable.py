import bisect
import gc
import random
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lsmdb._core.batch import WriteBatch
from lsmdb._core.ikey import (
    DELETE,
    MAX_SEQNO,
    PUT,
    RANGE_DELETE,
    make_internal_key,
    parse_internal_key,
)
from lsmdb._core.iterator import InternalIterator
from lsmdb._core.memtable import Memtable, MemtableIterator
from lsmdb.errors import InvalidArgumentError

user_keys = st.binary(max_size=3)
ops = st.one_of(
    st.tuples(st.just(PUT), user_keys, st.binary(max_size=12)),
    st.tuples(st.just(DELETE), user_keys, st.none()),
    st.tuples(st.just(RANGE_DELETE), user_keys, user_keys),
)


@st.composite
def workloads(draw):
    """Chunks of ops with consecutive seqnos inside a chunk and gaps between chunks; each
    chunk is applied either as one WriteBatch or entry by entry."""
    chunks = draw(st.lists(st.lists(ops, max_size=12), max_size=8))
    seq = draw(st.integers(1, 50))
    out = []
    for chunk in chunks:
        seq += draw(st.integers(0, 3))
        out.append((seq, chunk, draw(st.booleans())))
        seq += len(chunk)
    return out


def apply(mt, workload):
    """Apply to ``mt``; return the model: point entries (sort key order) and tombstones."""
    points, tombs = [], []
    for seq, chunk, as_batch in workload:
        if as_batch:
            wb = WriteBatch()
            wb.sequence = seq
            for vtype, key, value in chunk:
                if vtype == PUT:
                    wb.put(key, value)
                elif vtype == DELETE:
                    wb.delete(key)
                else:
                    wb.delete_range(key, value)
            mt.add_batch(wb)
        for i, (vtype, key, value) in enumerate(chunk):
            if not as_batch:
                mt.add(seq + i, vtype, key, value)
            if vtype == RANGE_DELETE:
                tombs.append((key, value, seq + i))
            else:
                points.append((key, seq + i, vtype, value if vtype == PUT else b""))
    points.sort(key=lambda e: (e[0], -e[1], -e[2]))
    return points, tombs


def model_get(points, key, snapshot):
    best = None
    for k, seq, vtype, value in points:
        if k == key and seq <= snapshot and (best is None or seq > best[1]):
            best = (k, seq, vtype, value)
    if best is None:
        return (0, None, 0)
    return (1, best[3], best[1]) if best[2] == PUT else (2, None, best[1])


def sort_key(uk, seq, vtype):
    return (uk, -seq, -vtype)


def entries(it):
    return [(*parse_internal_key(k), v) for k, v in it.entries()]


def as_model(e):
    uk, seq, vtype, value = e
    return (uk, seq, vtype, value)


@settings(max_examples=150, deadline=None)
@given(workloads(), st.data())
def test_memtable_matches_sorted_list_model(workload, data):
    mt = Memtable(arena_block_bytes=4096)
    points, tombs = apply(mt, workload)
    all_seqs = [e[1] for e in points] + [t[2] for t in tombs]

    assert len(mt) == mt.num_entries == len(points) + len(tombs)
    assert mt.num_deletes == sum(e[2] == DELETE for e in points)
    assert mt.num_range_deletes == len(tombs)
    assert mt.first_seqno == (min(all_seqs) if all_seqs else 0)
    assert mt.last_seqno == (max(all_seqs) if all_seqs else 0)
    assert mt.range_tombstones() == tombs

    # Point lookups at random snapshots, single and batched.
    probes = data.draw(st.lists(st.tuples(user_keys, st.integers(0, 200)), max_size=20))
    for key, snap in probes:
        assert mt.get(key, snap) == model_get(points, key, snap)
    keys = [k for k, _ in probes]
    assert mt.get_many(keys) == [model_get(points, k, MAX_SEQNO) for k in keys]
    assert mt.get_many(keys, 60) == [model_get(points, k, 60) for k in keys]

    # Full scans both ways.
    it = mt.iterator()
    it.seek_to_first()
    assert entries(it) == points
    backward = []
    it.seek_to_last()
    while it.valid():
        backward.append((*parse_internal_key(it.key()), it.value()))
        it.prev()
    assert backward == points[::-1]

    # Seeks against bisect on the model.
    order = [sort_key(e[0], e[1], e[2]) for e in points]
    targets = data.draw(st.lists(
        st.tuples(user_keys, st.integers(0, 200), st.sampled_from([DELETE, PUT, RANGE_DELETE])),
        max_size=10))
    for uk, seq, vtype in targets:
        target = make_internal_key(uk, seq, vtype)
        i = bisect.bisect_left(order, sort_key(uk, seq, vtype))
        it.seek(target)
        assert it.valid() == (i < len(points))
        if it.valid():
            assert (*parse_internal_key(it.key()), it.value()) == points[i]
            it.prev()
            assert it.valid() == (i > 0)
            if i > 0:
                assert (*parse_internal_key(it.key()), it.value()) == points[i - 1]
        j = bisect.bisect_right(order, sort_key(uk, seq, vtype)) - 1
        it.seek_for_prev(target)
        assert it.valid() == (j >= 0)
        if j >= 0:
            assert (*parse_internal_key(it.key()), it.value()) == points[j]
            it.next()
            assert it.valid() == (j + 1 < len(points))
            if it.valid():
                assert (*parse_internal_key(it.key()), it.value()) == points[j + 1]


@settings(max_examples=50, deadline=None)
@given(st.lists(ops, max_size=200), st.integers(1, 1000), st.sampled_from([0, 300, 1 << 20]))
def test_add_batch_equals_individual_adds(op_list, seq, front_bytes):
    by_batch, by_add = Memtable(front_bytes=front_bytes), Memtable(front_bytes=front_bytes)
    wb = WriteBatch()
    wb.sequence = seq
    for i, (vtype, key, value) in enumerate(op_list):
        if vtype == PUT:
            wb.put(key, value)
        elif vtype == DELETE:
            wb.delete(key)
        else:
            wb.delete_range(key, value)
        by_add.add(seq + i, vtype, key, value)
    by_batch.add_batch(wb)
    a, b = by_batch.iterator(), by_add.iterator()
    a.seek_to_first()
    b.seek_to_first()
    assert list(a.entries()) == list(b.entries())
    assert by_batch.range_tombstones() == by_add.range_tombstones()
    for name in ("num_entries", "num_deletes", "num_range_deletes", "first_seqno",
                 "last_seqno"):
        assert getattr(by_batch, name) == getattr(by_add, name), name
    if front_bytes == 0:
        # One list, one height generator: the very same nodes. (With a front, entries are
        # split over two lists whose generators draw different heights.)
        assert by_batch.approximate_bytes == by_add.approximate_bytes


def test_large_random_batches_keep_order_and_visibility():
    rnd = random.Random(7)
    mt = Memtable(arena_block_bytes=1 << 16)
    latest = {}
    seq = 1
    for _ in range(20):
        wb = WriteBatch()
        wb.sequence = seq
        for _ in range(rnd.randrange(1, 400)):          # mixes the GIL and no-GIL paths
            key = rnd.randbytes(rnd.randrange(0, 6))
            if rnd.random() < 0.2:
                wb.delete(key)
                latest[key] = (2, None, seq)
            else:
                value = rnd.randbytes(rnd.randrange(0, 40))
                wb.put(key, value)
                latest[key] = (1, value, seq)
            seq += 1
        mt.add_batch(wb)
        wb.put(b"after", b"apply")                       # the batch is usable again
    keys = list(latest)
    assert mt.get_many(keys) == [latest[k] for k in keys]
    assert [mt.get(k) for k in keys] == [latest[k] for k in keys]
    it = mt.iterator()
    it.seek_to_first()
    parsed = [parse_internal_key(k) for k, _ in it.entries()]
    assert parsed == sorted(parsed, key=lambda e: (e[0], -e[1], -e[2]))
    assert len(parsed) == mt.num_entries == seq - 1


def test_get_statuses_and_snapshots():
    mt = Memtable()
    assert mt.get(b"k") == (0, None, 0)
    assert (mt.first_seqno, mt.last_seqno, len(mt)) == (0, 0, 0)
    mt.add(5, PUT, b"k", b"v5")
    mt.add(7, DELETE, b"k")
    mt.add(9, PUT, b"k", b"v9")
    mt.add(8, RANGE_DELETE, b"a", b"z")
    assert mt.get(b"k") == (1, b"v9", 9)
    assert mt.get(b"k", 8) == (2, None, 7)
    assert mt.get(b"k", 6) == (1, b"v5", 5)
    assert mt.get(b"k", 4) == (0, None, 0)
    assert mt.get(b"j") == (0, None, 0) and mt.get(b"k\0") == (0, None, 0)
    assert mt.range_tombstones() == [(b"a", b"z", 8)]
    assert (mt.first_seqno, mt.last_seqno, mt.num_deletes, mt.num_range_deletes) == (5, 9, 1, 1)


def test_empty_keys_and_values():
    mt = Memtable()
    mt.add(1, PUT, b"", b"")
    mt.add(2, PUT, bytearray(b"k"), memoryview(b""))
    assert mt.get(b"") == (1, b"", 1)
    assert mt.get_many([b"", memoryview(b"k"), bytearray()]) == [
        (1, b"", 1), (1, b"", 2), (1, b"", 1)]


def test_arguments_are_validated():
    mt = Memtable()
    with pytest.raises(TypeError, match="^key must be"):
        mt.add(1, PUT, "k", b"v")
    with pytest.raises(TypeError, match="^value must be"):
        mt.add(1, PUT, b"k", None)
    with pytest.raises(TypeError, match="^end must be"):
        mt.add(1, RANGE_DELETE, b"k", 3)
    with pytest.raises(TypeError, match="^user_key must be"):
        mt.get(1)
    with pytest.raises(TypeError, match=r"^keys\[1\] must be"):
        mt.get_many([b"a", "b"])
    with pytest.raises(InvalidArgumentError):
        mt.add(1, DELETE, b"k", b"not empty")
    with pytest.raises(InvalidArgumentError):
        mt.add(1, 3, b"k", b"v")
    with pytest.raises(InvalidArgumentError):
        mt.add(MAX_SEQNO + 1, PUT, b"k", b"v")
    with pytest.raises(InvalidArgumentError):
        mt.get(b"k", MAX_SEQNO + 1)
    with pytest.raises(InvalidArgumentError):
        Memtable(arena_block_bytes=0)
    wb = WriteBatch()
    wb.sequence = MAX_SEQNO
    wb.put(b"a", b"1")
    wb.put(b"b", b"2")
    with pytest.raises(InvalidArgumentError, match="exceeds MAX_SEQNO"):
        mt.add_batch(wb)
    assert len(mt) == 0
    mt.add_batch(WriteBatch())                          # empty batch: nothing happens
    assert len(mt) == 0 and mt.get(b"a") == (0, None, 0)


def test_big_values_and_memory_accounting():
    mt = Memtable(arena_block_bytes=4096)
    base = mt.approximate_bytes
    big = bytes(range(256)) * 4096                       # 1 MiB: a dedicated arena block
    mt.add(1, PUT, b"big", big)
    mt.add(2, PUT, b"small", b"x")
    assert mt.get(b"big") == (1, big, 1)
    assert mt.get(b"small") == (1, b"x", 2)
    assert mt.approximate_bytes - base >= len(big) + 3 + 8
    assert mt.arena_reserved_bytes >= mt.approximate_bytes


def test_iterator_protocol_and_lifetime():
    mt = Memtable()
    for i in range(100):
        mt.add(i + 1, PUT, b"%03d" % i, b"v%d" % i)
    it = mt.iterator()
    assert isinstance(it, MemtableIterator) and isinstance(it, InternalIterator)
    assert not it.valid()
    with pytest.raises(InvalidArgumentError):
        it.next()
    with pytest.raises(InvalidArgumentError):
        it.seek(b"short")
    del mt
    gc.collect()
    it.seek_to_last()                                    # the iterator keeps mt alive
    assert parse_internal_key(it.key()) == (b"099", 100, PUT) and it.value() == b"v99"
    it.seek(make_internal_key(b"050", MAX_SEQNO, RANGE_DELETE))
    assert it.value() == b"v50"
    it.seek(make_internal_key(b"050", 1, DELETE))        # past 050@51: lands on 051
    assert it.value() == b"v51"
    it.seek_for_prev(make_internal_key(b"050", 1, DELETE))
    assert it.value() == b"v50"
    it.seek_to_first()
    it.prev()
    assert not it.valid()
    empty = Memtable().iterator()
    for move in (empty.seek_to_first, empty.seek_to_last):
        move()
        assert not empty.valid()
    empty.seek_for_prev(make_internal_key(b"z", 1, PUT))
    assert not empty.valid()


def test_range_tombstones_are_not_point_entries():
    mt = Memtable()
    mt.add(1, RANGE_DELETE, b"a", b"c")
    mt.add(2, PUT, b"b", b"v")
    mt.add(3, RANGE_DELETE, b"b", b"bb")
    it = mt.iterator()
    it.seek_to_first()
    assert entries(it) == [(b"b", 2, PUT, b"v")]
    assert mt.get(b"a") == (0, None, 0)                   # tombstones are the DB's business
    assert mt.range_tombstones() == [(b"a", b"c", 1), (b"b", b"bb", 3)]


def test_replayed_batch_shadows_identical_entries():
    mt = Memtable()
    wb = WriteBatch()
    wb.sequence = 10
    wb.put(b"k", b"v")
    mt.add_batch(wb)
    mt.add_batch(wb)
    assert mt.get(b"k") == (1, b"v", 10)
    it = mt.iterator()
    it.seek_to_first()
    assert [parse_internal_key(k) for k, _ in it.entries()] == [(b"k", 10, PUT)] * 2


def test_one_writer_many_lock_free_readers():
    """A writer applies batches (large enough to run without the GIL) while readers get and
    scan: every visible entry is complete, per-key seqnos never go backwards, scans are sorted
    and see a growing prefix of the writes."""
    mt = Memtable(arena_block_bytes=1 << 16)
    n_keys, n_batches, per_batch = 300, 150, 128
    done = threading.Event()
    errors = []

    def writer():
        try:
            rnd = random.Random(1)
            seq = 1
            for _ in range(n_batches):
                wb = WriteBatch()
                wb.sequence = seq
                for _ in range(per_batch):
                    key = b"key%05d" % rnd.randrange(n_keys)
                    wb.put(key, key + b"@%d" % seq)
                    seq += 1
                mt.add_batch(wb)
        except BaseException as e:          # reported by the main thread
            errors.append(e)
        finally:
            done.set()

    def reader(seed):
        rnd = random.Random(seed)
        seen = {}
        scans = 0
        try:
            while not done.is_set() or scans < 2:
                keys = [b"key%05d" % rnd.randrange(n_keys) for _ in range(64)]
                for key, (status, value, seq) in zip(keys, mt.get_many(keys), strict=True):
                    if status:
                        assert status == 1 and value == key + b"@%d" % seq
                        assert seq >= seen.get(key, 0)
                        seen[key] = seq
                it = mt.iterator()
                it.seek_to_first()
                last = None
                count = 0
                while it.valid():
                    uk, seq, vtype = parse_internal_key(it.key())
                    assert vtype == PUT and it.value() == uk + b"@%d" % seq
                    cur = (uk, -seq)
                    assert last is None or cur > last
                    last = cur
                    count += 1
                    it.next()
                assert count <= n_batches * per_batch
                scans += 1
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(3)]
    threads.append(threading.Thread(target=writer))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[0]
    assert len(mt) == n_batches * per_batch


def test_memory_per_entry_stays_within_1_3x_the_raw_bytes():
    # Issue 15's goal for db_bench's shape (16-byte keys, 100-byte values): the 8-byte node
    # header (skiplist.h) keeps the arena at ~1.27x the raw key and value bytes.
    mt = Memtable()
    n = 20000
    for i in range(n):
        mt.add(i + 1, PUT, b"%016d" % (i * 7919 % n), b"v" * 100)
    raw = n * (16 + 100)
    assert 0 < mt.front_entries < n  # some were folded already (memtable.pyx, "The front")
    assert mt.approximate_bytes <= 1.3 * raw
    # plus one partly used arena block in each list (the front's and the large list's)
    assert mt.arena_reserved_bytes <= 1.3 * raw + 2 * (1 << 20)
    folds = mt.num_folds
    assert folds >= 1
    mt.fold()  # the rest into the large list; the emptied front keeps only its head
    assert mt.front_entries == 0 and mt.num_folds == folds + 1
    assert mt.approximate_bytes <= 1.3 * raw
    assert mt.arena_reserved_bytes <= 1.3 * raw + 2 * (1 << 20)
