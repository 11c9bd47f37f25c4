"""The memtable's front (memtable.pyx, "The front"): single entries go to a small skip list
that is folded into the large one in sorted groups. Every read must be what one list would
give, whatever the front's size, the order of seqnos, and when the folds happen."""

import gc
import random
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_memtable import model_get  # the one-list model's get (a sibling test module)

from lsmdb._core.batch import WriteBatch
from lsmdb._core.ikey import DELETE, MAX_SEQNO, PUT, make_internal_key, parse_internal_key
from lsmdb._core.memtable import FOLD_NOGIL_ENTRIES, Memtable
from lsmdb.errors import InvalidArgumentError

keys = st.binary(max_size=2)
# (op, key, value, seqno): single adds at any seqno (out of order too), batches, folds.
steps = st.one_of(
    st.tuples(st.just("add"), keys, st.one_of(st.none(), st.binary(max_size=6)),
              st.integers(1, 60)),
    st.tuples(st.just("batch"), st.lists(st.tuples(keys, st.binary(max_size=6)), max_size=4),
              st.none(), st.integers(1, 60)),
    st.tuples(st.just("fold"), st.none(), st.none(), st.none()),
    st.tuples(st.just("iterator"), st.none(), st.none(), st.none()),
)


def scan_forward(it):
    it.seek_to_first()
    return [(*parse_internal_key(k), v) for k, v in it.entries()]


def scan_backward(it):
    out = []
    it.seek_to_last()
    while it.valid():
        out.append((*parse_internal_key(it.key()), it.value()))
        it.prev()
    return out[::-1]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([0, 1, 150, 400, 4096, 1 << 20]), st.lists(steps, max_size=40),
       st.data())
def test_reads_equal_the_one_list_model(front_bytes, script, data):
    mt = Memtable(arena_block_bytes=4096, front_bytes=front_bytes)
    points = []
    iterators = []
    next_batch_seq = 100    # batches use seqnos above every single add's
    used = set()            # (key, seqno) pairs: no identical internal keys in this model
    for op, a, b, seq in script:
        if op == "add" and (a, seq) not in used:
            used.add((a, seq))
            vtype = PUT if b is not None else DELETE
            mt.add(seq, vtype, a, b)
            points.append((a, seq, vtype, b if vtype == PUT else b""))
        elif op == "batch" and a:
            wb = WriteBatch()
            wb.sequence = next_batch_seq
            for i, (k, v) in enumerate(a):
                wb.put(k, v)
                points.append((k, next_batch_seq + i, PUT, v))
            mt.add_batch(wb)
            next_batch_seq += len(a)
        elif op == "fold":
            mt.fold()
            assert mt.front_entries == 0
        elif op == "iterator":
            it = mt.iterator()
            it.seek_to_first()
            iterators.append(it)
    want = sorted(points, key=lambda e: (e[0], -e[1], -e[2]))
    if front_bytes == 0:
        assert mt.front_entries == 0 and mt.num_folds == 0

    for key in {p[0] for p in points} | {b"", b"zz"}:
        for snap in (0, 5, 30, 99, 120, MAX_SEQNO):
            assert mt.get(key, snap) == model_get(points, key, snap), (key, snap)
    probe = sorted({p[0] for p in points} | {b"x"})
    assert mt.get_many(probe) == [model_get(points, k, MAX_SEQNO) for k in probe]
    assert mt.get_many(probe * 8, 40) == [model_get(points, k, 40) for k in probe * 8]

    assert scan_forward(mt.iterator()) == want
    assert scan_backward(mt.iterator()) == want
    # Iterators made earlier and then left behind by folds: a new seek sees everything.
    for it in iterators:
        assert scan_forward(it) == want
        assert scan_backward(it) == want
    # Seeks and direction changes against the model.
    order = [(k, -s, -t) for k, s, t, _ in want]
    it = mt.iterator()
    for _ in range(data.draw(st.integers(0, 6))):
        k = data.draw(keys)
        s = data.draw(st.integers(0, 130))
        target = make_internal_key(k, s, PUT)
        i = _bisect(order, (k, -s, -PUT))
        it.seek(target)
        assert it.valid() == (i < len(want))
        if i < len(want):
            assert (*parse_internal_key(it.key()), it.value()) == want[i]
            it.prev()
            assert it.valid() == (i > 0)
            if i > 0:
                assert (*parse_internal_key(it.key()), it.value()) == want[i - 1]
                it.next()
                assert (*parse_internal_key(it.key()), it.value()) == want[i]


def _bisect(order, x):
    """First index whose entry is >= x."""
    lo = 0
    while lo < len(order) and order[lo] < x:
        lo += 1
    return lo


def test_single_adds_stay_in_the_front_until_it_fills():
    mt = Memtable(front_bytes=64 * 1024)
    n = 0
    while mt.num_folds == 0:
        n += 1
        mt.add(n, PUT, b"%08d" % (n * 7919 % 100003), b"v" * 100)
    assert mt.front_entries == 0  # the fold emptied it
    mt.add(n + 1, PUT, b"0", b"x")  # sorts before the end: to the front
    assert mt.front_entries == 1
    assert mt.get(b"0") == (1, b"x", n + 1)
    assert len(mt) == n + 1


def test_a_batch_folds_the_front_first_so_front_entries_stay_newest():
    mt = Memtable()
    mt.add(1, PUT, b"z", b"tail")
    mt.add(1, PUT, b"k", b"old")  # before the end: to the front
    assert mt.front_entries == 1
    wb = WriteBatch()
    wb.sequence = 2
    wb.put(b"k", b"new")
    mt.add_batch(wb)
    assert mt.front_entries == 0 and mt.num_folds == 1
    assert mt.get(b"k") == (1, b"new", 2)
    mt.add(3, DELETE, b"k")
    assert mt.get(b"k") == (2, None, 3)
    assert mt.get(b"k", 2) == (1, b"new", 2)


def test_out_of_order_seqnos_search_both_lists():
    mt = Memtable()
    mt.add(10, PUT, b"k", b"ten")
    mt.add(11, PUT, b"z", b"tail")
    mt.add(5, PUT, b"k", b"five")  # to the front, older than what the large list holds
    assert mt.front_entries == 1
    assert mt.get(b"k") == (1, b"ten", 10)
    assert mt.get(b"k", 7) == (1, b"five", 5)
    assert mt.get_many([b"k"] * 40) == [(1, b"ten", 10)] * 40


def test_an_iterator_keeps_its_front_across_a_fold():
    mt = Memtable(front_bytes=1 << 20)
    order = list(range(1000))
    random.Random(5).shuffle(order)
    for seq, i in enumerate(order, 1):
        mt.add(seq, PUT, b"%04d" % i, b"v%d" % i)
    assert mt.front_entries > 900  # all but the first few, which appended to the large list
    it = mt.iterator()
    it.seek(make_internal_key(b"0500", MAX_SEQNO, PUT))
    mt.fold()  # the iterator's front is now also in the large list
    assert mt.front_entries == 0
    for i in range(100):  # "0000x".."0099x": inside the list, so to the new front
        mt.add(1001 + i, PUT, b"%04dx" % i, b"late%d" % i)
    assert mt.front_entries == 100
    seen = []
    while it.valid():
        seen.append(parse_internal_key(it.key())[0])
        it.next()
    # Folded entries are yielded once, in order.
    assert seen == [b"%04d" % i for i in range(500, 1000)]
    it.seek_to_first()  # a new seek merges the new front
    want = sorted([b"%04d" % i for i in range(1000)] + [b"%04dx" % i for i in range(100)])
    assert [parse_internal_key(k)[0] for k, _ in it.entries()] == want
    del mt
    gc.collect()
    it.seek(make_internal_key(b"0099x", MAX_SEQNO, PUT))  # memtable and front kept alive
    assert it.value() == b"late99"


def test_fold_without_the_gil_beside_readers():
    """Folds of more than FOLD_NOGIL_ENTRIES entries release the GIL: readers running then see
    every entry written before they started, complete and in order."""
    mt = Memtable(front_bytes=256 * 1024)
    n = 40_000
    order = list(range(n))
    random.Random(3).shuffle(order)
    written = [0]
    errors = []
    stop = threading.Event()

    def reader():
        try:
            rng = random.Random(threading.get_ident())
            while not stop.is_set():
                upto = written[0]
                if upto == 0:
                    continue
                j = rng.randrange(upto)
                k = b"%08d" % order[j]
                assert mt.get(k) == (1, k * 4, j + 1)
                it = mt.iterator()
                it.seek(make_internal_key(k, MAX_SEQNO, PUT))
                last = None
                for _ in range(20):
                    if not it.valid():
                        break
                    uk, seq, vtype = parse_internal_key(it.key())
                    assert it.value() == uk * 4 and (last is None or uk > last)
                    last = uk
                    it.next()
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for j, i in enumerate(order):
            k = b"%08d" % i
            mt.add(j + 1, PUT, k, k * 4)
            written[0] = j + 1
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not errors, errors[0]
    assert mt.num_folds >= 5
    assert n // mt.num_folds > FOLD_NOGIL_ENTRIES  # so the folds ran without the GIL
    it = mt.iterator()
    it.seek_to_first()
    assert [parse_internal_key(k)[0] for k, _ in it.entries()] == [
        b"%08d" % i for i in range(n)]


def test_front_bytes_is_validated_and_reported():
    with pytest.raises(InvalidArgumentError):
        Memtable(front_bytes=-1)
    assert Memtable(front_bytes=0).front_bytes == 0
    assert Memtable().front_bytes == 2 << 20
    mt = Memtable(front_bytes=0)
    mt.add(1, PUT, b"k", b"v")
    mt.fold()  # nothing to fold: a no-op
    assert mt.front_entries == 0 and mt.num_folds == 0 and mt.get(b"k") == (1, b"v", 1)


def test_appends_bypass_an_empty_front():
    """Keys in ascending order go straight to the large list (their insert walks its cached
    right edge); the front takes entries only once something lands before the end."""
    mt = Memtable(front_bytes=4096)
    for i in range(2000):
        mt.add(i + 1, PUT, b"%06d" % i, b"v" * 50)
    assert mt.front_entries == 0 and mt.num_folds == 0
    mt.add(2001, PUT, b"000500x", b"mid")        # lands inside: to the front
    mt.add(2002, PUT, b"999999", b"end")          # an append, but the front is not empty
    assert mt.front_entries == 2
    mt.fold()
    mt.add(2003, PUT, b"9999999", b"end2")        # after a fold the tail is found again
    assert mt.front_entries == 0
    mt.add(2004, DELETE, b"000001")               # before the end: to the front
    assert mt.front_entries == 1
    assert mt.get(b"000500x") == (1, b"mid", 2001) and mt.get(b"000001") == (2, None, 2004)
    it = mt.iterator()
    it.seek_to_last()
    assert it.value() == b"end2"
    it.seek_to_first()
    assert len(list(it.entries())) == 2004
