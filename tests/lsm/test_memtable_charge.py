"""Options.charge_memtables_to_cache: the memtables' arena bytes are reserved in the block
cache, so blocks and memtables share block_cache_bytes (RocksDB's WriteBufferManager costed
to the block cache)."""

import os

import pytest

import lsmdb
from lsmdb.options import InvalidOptionsError
from lsmdb.testing.presets import small_options

MiB = 1 << 20


def charged_options(**kw):
    base = dict(memtable_bytes=2 * MiB, block_cache_bytes=8 * MiB, block_bytes=4096,
                charge_memtables_to_cache=True, memtable_front_bytes=0)
    base.update(kw)
    return small_options(**base)


def arena_bytes(db):
    return sum(r.mem.arena_reserved_bytes for r in (db._mem, *db._imms))


def check_budget(db):
    s = db.stats()
    assert s.block_cache_usage <= max(0, db.options.block_cache_bytes - s.block_cache_reserved)
    return s


def fill_cache(db, n):
    for i in range(0, n, 7):
        assert db.get(b"r%08d" % i) == b"v" * 200


def test_reservation_follows_the_memtables_and_evicts_blocks(tmp_path):
    with lsmdb.open(tmp_path / "db", charged_options(), inline_background=True) as db:
        assert check_budget(db).block_cache_reserved == arena_bytes(db) > 0
        n = 40_000  # ~8.6 MB of values in tables: more than the cache holds
        with db.write_batch() as wb:
            for i in range(n):
                wb.put(b"r%08d" % i, b"v" * 200)
        db.flush()
        db.compact_range()
        fill_cache(db, n)
        full = check_budget(db)
        assert full.block_cache_reserved == arena_bytes(db)
        # An emptied memtable leaves (nearly) the whole budget to blocks.
        assert full.block_cache_usage > 8 * MiB - full.block_cache_reserved - 64 * 1024
        # Single puts grow the active memtable through the direct path; every 256 KiB
        # (2 MiB // 16 is below the 256 KiB floor) the cache is recharged and evicts blocks.
        step = 256 << 10
        seen = []
        for i in range(6_000):
            db.put(b"w%08d" % i, b"x" * 200)
            if i % 500 == 499:
                s = check_budget(db)
                assert 0 <= arena_bytes(db) - s.block_cache_reserved <= step + 64 * 1024
                seen.append(s.block_cache_reserved)
        assert seen == sorted(seen) and seen[-1] - seen[0] >= 512 << 10
        evicted = db.stats()
        assert evicted.block_cache_usage < full.block_cache_usage - (512 << 10)
        # Reads still answer, and a read refills only the room the memtable leaves.
        fill_cache(db, n)
        check_budget(db)
        assert db.get(b"w%08d" % 5_999) == b"x" * 200
        # A flush hands the memtable's share back to the blocks.
        db.flush()
        after = check_budget(db)
        assert after.block_cache_reserved == arena_bytes(db) < seen[-1]
        fill_cache(db, n)
        assert db.stats().block_cache_usage > evicted.block_cache_usage


def test_memtable_switches_keep_the_budget(tmp_path):
    # Memtables larger than the cache: the blocks get no room, writes and reads go on.
    opts = charged_options(memtable_bytes=1 * MiB, block_cache_bytes=1 * MiB,
                           max_immutable_memtables=2)
    with lsmdb.open(tmp_path / "db", opts, inline_background=True) as db:
        for i in range(20_000):
            db.put(b"k%07d" % (i * 7919 % 20_000), b"%d" % i + b"y" * 150)
            if i % 2_000 == 0:
                check_budget(db)
                assert db.stats().block_cache_reserved == arena_bytes(db) or (
                    arena_bytes(db) - db.stats().block_cache_reserved <= 256 << 10)
        expect = {b"k%07d" % (i * 7919 % 20_000): b"%d" % i + b"y" * 150
                  for i in range(20_000)}
        for k, v in list(expect.items())[::37]:
            assert db.get(k) == v
        assert dict(db.items()) == expect
        assert db.stats().flushes >= 3


def test_uncharged_cache_has_no_reservation(tmp_path):
    with lsmdb.open(tmp_path / "db", charged_options(charge_memtables_to_cache=False),
                    inline_background=True) as db:
        for i in range(5_000):
            db.put(b"k%06d" % i, b"v" * 100)
        assert db.stats().block_cache_reserved == 0
        assert db._memtable_limit == db.options.memtable_bytes


def test_option_needs_a_cache_and_round_trips(tmp_path):
    with pytest.raises(InvalidOptionsError, match="charge_memtables_to_cache"):
        charged_options(block_cache_bytes=0)
    with pytest.raises(InvalidOptionsError, match="charge_memtables_to_cache"):
        charged_options(charge_memtables_to_cache=1)
    path = tmp_path / "db"
    with lsmdb.open(path, charged_options()) as db:
        db.put(b"a", b"1")
    assert any(n.startswith("OPTIONS") for n in os.listdir(path))
    with lsmdb.open(path) as db:  # the stored options come back
        assert db.options.charge_memtables_to_cache is True
        assert db.stats().block_cache_reserved > 0
        assert db.get(b"a") == b"1"
