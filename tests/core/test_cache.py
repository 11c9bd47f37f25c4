import random
import threading
from collections import OrderedDict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lsmdb._core.cache import BlockCache
from lsmdb.errors import InvalidArgumentError


def test_lru_eviction_and_accounting():
    c = BlockCache(100)
    for i in range(4):
        c.insert(1, i * 10, f"b{i}", 30)
    # 4 * 30 > 100: block 0 was evicted
    assert c.usage == 90 and len(c) == 3 and c.evictions == 1
    assert c.lookup(1, 0) is None
    assert c.lookup(1, 10) == "b1"          # now most recent
    c.insert(2, 0, "x", 30)                 # evicts LRU = (1, 20)
    assert c.keys_lru_order() == [(2, 0), (1, 10), (1, 30)]
    assert (c.hits, c.misses) == (1, 1) and c.hit_rate == 0.5
    assert (1, 10) in c and (1, 20) not in c


def test_replace_same_key_adjusts_usage():
    c = BlockCache(100)
    c.insert(1, 0, "a", 40)
    c.insert(1, 0, "b", 10)
    assert c.usage == 10 and len(c) == 1 and c.lookup(1, 0) == "b"


def test_oversized_entry_is_not_cached_and_zero_capacity_caches_nothing():
    c = BlockCache(100)
    c.insert(1, 0, "a", 40)
    c.insert(1, 0, "huge", 101)
    assert len(c) == 0 and c.usage == 0
    z = BlockCache(0)
    z.insert(1, 0, "a", 1)
    assert z.lookup(1, 0) is None and z.usage == 0


def test_erase_file_clear_and_set_capacity():
    c = BlockCache(1000)
    for f in (1, 2):
        for off in range(5):
            c.insert(f, off, (f, off), 10)
    assert c.erase_file(1) == 5 and c.erase_file(1) == 0 and c.erase_file(99) == 0
    assert len(c) == 5 and c.usage == 50
    assert all(c.lookup(1, off) is None for off in range(5))
    c.set_capacity(25)
    assert c.usage == 20 and c.capacity == 25
    c.clear()
    assert len(c) == 0 and c.usage == 0 and c.keys_lru_order() == []


def test_invalid_arguments():
    with pytest.raises(InvalidArgumentError):
        BlockCache(-1)
    with pytest.raises(InvalidArgumentError):
        BlockCache(10).insert(1, 0, "a", -5)


def test_reserved_bytes_take_room_from_blocks():
    c = BlockCache(100)
    for i in range(5):
        c.insert(1, i, i, 20)
    assert c.usage == 100 and c.reserved == 0
    c.set_reserved(50)          # evicts the LRU blocks until usage + reserved <= capacity
    assert c.reserved == 50 and c.usage == 40 and c.keys_lru_order() == [(1, 4), (1, 3)]
    assert c.evictions == 3
    c.insert(2, 0, "x", 20)     # room for blocks is 50: evicts (1, 3)
    assert c.usage == 40 and (1, 3) not in c
    c.insert(2, 1, "big", 51)   # larger than what the reservation leaves: not cached
    assert (2, 1) not in c and c.usage == 40
    c.set_reserved(0)           # the room comes back for later inserts
    for i in range(3):
        c.insert(3, i, i, 20)
    assert c.usage == 100 and len(c) == 5
    c.set_reserved(150)         # above the capacity: no block stays
    assert c.usage == 0 and len(c) == 0
    c.insert(4, 0, "y", 1)
    assert len(c) == 0
    c.set_reserved(10)
    c.set_capacity(30)          # a smaller capacity keeps the reservation
    c.insert(4, 0, "y", 20)
    c.insert(4, 1, "z", 20)
    assert c.usage == 20 and c.reserved == 10 and c.keys_lru_order() == [(4, 1)]
    with pytest.raises(InvalidArgumentError, match="reserved_bytes"):
        c.set_reserved(-1)
    assert c.reserved == 10


@given(st.integers(0, 200), st.lists(
    st.tuples(st.sampled_from(["get", "put", "erase", "reserve", "capacity"]),
              st.integers(0, 3), st.integers(0, 9), st.integers(0, 60)), max_size=200))
@settings(max_examples=300)
def test_matches_a_second_chance_ring_model(capacity, ops):
    """The cache against a plain model of its policy: a ring from the new end to the old
    end; eviction takes the old end, except that an entry hit since it was inserted or
    last moved goes back to the new end once, unmarked."""
    c = BlockCache(capacity)
    model: OrderedDict = OrderedDict()   # key -> [value, charge, hit]; last = newest
    reserved = 0

    def evict_to(room):
        while model and sum(e[1] for e in model.values()) > room:
            key, entry = next(iter(model.items()))
            if entry[2]:
                entry[2] = False
                model.move_to_end(key)
            else:
                del model[key]

    for op, f, off, charge in ops:
        key = (f, off)
        if op == "reserve":
            reserved = charge * 2
            c.set_reserved(reserved)
            evict_to(capacity - reserved)
        elif op == "capacity":
            capacity = charge * 3
            c.set_capacity(capacity)
            evict_to(capacity - reserved)
        elif op == "get":
            got = c.lookup(f, off)
            if key in model:
                model[key][2] = True
                assert got == model[key][0]
            else:
                assert got is None
        elif op == "put":
            model.pop(key, None)
            if charge <= capacity - reserved:
                evict_to(capacity - reserved - charge)
                model[key] = [f"v{f}.{off}.{charge}", charge, False]
            c.insert(f, off, f"v{f}.{off}.{charge}", charge)
        else:
            gone = [k for k in model if k[0] == f]
            for k in gone:
                del model[k]
            assert c.erase_file(f) == len(gone)
        assert c.usage == sum(e[1] for e in model.values()) <= max(0, capacity - reserved)
        assert c.reserved == reserved and len(c) == len(model)
        assert c.keys_lru_order() == list(reversed(model))
        assert all(key in c for key in model)


def test_index_survives_heavy_churn_of_colliding_keys():
    # Many inserts and removals through a small, often-grown table: backward-shift deletion
    # must keep every live key reachable and every removed one gone.
    rnd = random.Random(7)
    c = BlockCache(300)
    live: dict = {}
    for step in range(30_000):
        f, off = rnd.randrange(3), rnd.randrange(0, 1 << 16, 4096) + rnd.randrange(3)
        if rnd.random() < 0.7:
            c.insert(f, off, (f, off, step), 1)
            live[(f, off)] = (f, off, step)
            if len(live) > 300:
                # the cache evicted as it must; resync the model with what it kept
                live = {k: v for k, v in live.items() if k in c}
        elif rnd.random() < 0.02:
            c.erase_file(f)
            live = {k: v for k, v in live.items() if k[0] != f}
        got = c.lookup(f, off)
        assert got == live.get((f, off)) or ((f, off) not in c and got is None)
    assert len(c) == len(live) == len(c.keys_lru_order())
    assert all(c.lookup(*k) == v for k, v in live.items())


def test_concurrent_use_keeps_accounting_consistent():
    c = BlockCache(5000)
    errors = []

    def worker(seed):
        rnd = random.Random(seed)
        try:
            for _ in range(20_000):
                f, off = rnd.randrange(4), rnd.randrange(200)
                if rnd.random() < 0.5:
                    c.insert(f, off, (f, off), rnd.randrange(1, 100))
                else:
                    v = c.lookup(f, off)
                    assert v is None or v == (f, off)
                if rnd.random() < 0.001:
                    c.erase_file(f)
        except Exception as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(c.keys_lru_order()) == len(c) and c.usage <= c.capacity


def test_many_entries_grow_the_hash_table_and_full_range_keys():
    # Past the initial 1024 chains the table doubles; every entry stays reachable, LRU order
    # and per-file erasure survive the rehash; keys use the whole unsigned 64-bit range.
    c = BlockCache(1 << 30)
    big = (1 << 64) - 1
    keys = [(f, off) for f in (0, 7, big) for off in (*range(0, 4000 * 4096, 4096), big)]
    for i, (f, off) in enumerate(keys):
        c.insert(f, off, i, 1)
    assert len(c) == len(keys) and c.usage == len(keys)
    assert all(c.lookup(f, off) == i for i, (f, off) in enumerate(keys))
    assert c.keys_lru_order() == keys[::-1]
    assert (big, big) in c and (-1, 0) not in c and (big, 1) not in c
    assert c.erase_file(7) == 4001 and c.lookup(7, 4096) is None and c.lookup(0, 4096) == 1
    assert len(c) == len(keys) - 4001
    with pytest.raises(OverflowError):
        c.insert(-1, 0, "x", 1)
    c.clear()
    assert len(c) == 0 and c.usage == 0


def test_values_are_released_on_eviction_erase_and_cache_deletion():
    import gc
    import weakref

    class Value:
        pass

    c = BlockCache(2)
    vals = [Value() for _ in range(4)]
    refs = [weakref.ref(v) for v in vals]
    for i, v in enumerate(vals):
        c.insert(1 + i % 2, i, v, 1)
    del vals, v
    gc.collect()
    assert [r() is None for r in refs] == [True, True, False, False]   # two evicted
    c.erase_file(1)
    assert refs[2]() is None and refs[3]() is not None
    del c
    assert refs[3]() is None
