"""DB.multi_get against DB.get: same answers in input order, at the latest write and at
snapshots, across memtables, several levels, point deletes and range deletes."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lsmdb
from lsmdb.errors import ClosedError, InvalidArgumentError
from lsmdb.testing.presets import small_options

keys = st.binary(min_size=0, max_size=2).map(lambda b: b"k" + b)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("put"), keys, st.binary(max_size=40)),
        st.tuples(st.just("del"), keys, st.none()),
        st.tuples(st.just("range"), keys, keys),
        st.tuples(st.just("flush"), st.none(), st.none()),
        st.tuples(st.just("compact"), st.none(), st.none()),
        st.tuples(st.just("snap"), st.none(), st.none()),
    ),
    max_size=80,
)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=ops, probe=st.lists(keys, max_size=40))
def test_multi_get_matches_get(tmp_path_factory, ops, probe):
    path = tmp_path_factory.mktemp("mg") / "db"
    with lsmdb.open(path, small_options(memtable_bytes=1024, block_bytes=256),
                    inline_background=True) as db:
        snaps = []
        for op, a, b in ops:
            if op == "put":
                db.put(a, b)
            elif op == "del":
                db.delete(a)
            elif op == "range":
                db.delete_range(*sorted((a, b)))
            elif op == "flush":
                db.flush()
            elif op == "compact":
                db.compact_range()
            else:
                snaps.append(db.snapshot())
        assert db.multi_get(probe) == [db.get(k) for k in probe]
        for snap in snaps:
            assert db.multi_get(probe, snapshot=snap) == [db.get(k, snapshot=snap)
                                                          for k in probe]
            assert snap.multi_get(probe) == [snap.get(k) for k in probe]
            snap.close()


def _levels_db(path):
    db = lsmdb.open(path, small_options(), inline_background=True)
    for i in range(3000):
        db.put(b"key%05d" % i, b"old%05d" % i)
    db.compact_range()                      # the bottom level
    for i in range(0, 3000, 7):
        db.put(b"key%05d" % i, b"new%05d" % i)
    db.flush()                              # L0 over the bottom level
    db.delete_range(b"key00100", b"key00200")
    db.delete(b"key00500")
    db.put(b"key00600", b"mem")             # the memtable
    return db


def test_multi_get_over_memtable_levels_and_deletes(tmp_path):
    with _levels_db(tmp_path / "db") as db:
        assert len({level for level, _ in db._versions.current.files()}) >= 2
        probe = [b"key%05d" % i for i in range(3000, -1, -13)] + [b"nokey", b"key00600"]
        want = [db.get(k) for k in probe]
        assert db.multi_get(probe) == want
        assert db.multi_get(probe[::-1]) == want[::-1]
        assert want[-1] == b"mem" and db.multi_get([b"key00150", b"key00500"]) == [None, None]


def test_multi_get_fetches_each_block_once(tmp_path):
    with _levels_db(tmp_path / "db") as db:
        db.compact_range()
        cache = db._tables.block_cache
        probe = [b"key%05d" % i for i in range(1000, 1400)]
        before = cache.hits + cache.misses
        db.multi_get(probe)
        fetched = cache.hits + cache.misses - before
        assert 0 < fetched < len(probe) // 4, fetched


def test_multi_get_edge_cases(tmp_path):
    db = lsmdb.open(tmp_path / "db", small_options())
    db.put(b"a", b"1")
    assert db.multi_get([]) == []
    assert db.multi_get([b"a", b"a", bytearray(b"a"), memoryview(b"b")]) == [b"1", b"1", b"1",
                                                                             None]
    assert db.multi_get(iter([b"a"])) == [b"1"]
    with pytest.raises(TypeError):
        db.multi_get([b"a", "b"])
    with pytest.raises(InvalidArgumentError):
        db.multi_get([b"a"], snapshot=object())
    db.close()
    with pytest.raises(ClosedError):
        db.multi_get([b"a"])
