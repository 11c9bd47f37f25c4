"""DB.open_table_readers: the read-only view of the open table files and their read counters
(what `lsmdb bench` measures read amplification with, instead of the DB's private fields)."""

import lsmdb
from lsmdb.testing.presets import small_options


def test_open_table_readers_count_the_reads_of_each_table(tmp_path):
    # A memtable that holds all 200 entries: exactly one flush, one table, no compaction
    # (with 16 KiB memtables the puts filled one early on some runs: two tables and a
    # background compaction reading blocks beside the test's get).
    with lsmdb.open(tmp_path / "db", small_options(memtable_bytes=1 << 20)) as db:
        assert db.open_table_readers() == []
        for i in range(200):
            db.put(b"k%04d" % i, b"v" * 50)
        db.flush()
        assert db.get(b"k0007") == b"v" * 50
        readers = db.open_table_readers()
        assert readers
        # One table, one lookup of a key it holds: one filter check, one data block.
        assert [r.bloom_checks for r in readers] == [1]
        assert [r.data_blocks_read + r.cache_hits for r in readers] == [1]
