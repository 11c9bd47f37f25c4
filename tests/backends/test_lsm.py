"""lsmdb/backends/lsm.py: the adapter over lsmdb.DB keeps the key-space contract."""

from lsmdb._core.batch import WriteBatch
from lsmdb.backends.keyspace import KeySpace
from lsmdb.backends.lsm import LsmKeySpace


def test_adapter_roundtrip(tmp_path):
    ks = LsmKeySpace(str(tmp_path / "db"))
    assert isinstance(ks, KeySpace) and ks.durable
    b = WriteBatch()
    b.put(b"k1", b"v1")
    b.put(b"k2", b"v2")
    ks.write(b, True)
    s = ks.snapshot()
    b = WriteBatch()
    b.delete_range(b"k1", b"k2")
    ks.write(b, False)
    assert ks.get(b"k1") is None and ks.get(b"k1", s) == b"v1"
    assert list(ks.scan(b"k", b"l", True, s)) == [(b"k2", b"v2"), (b"k1", b"v1")]
    s.release()
    assert ks.flush() >= 1 and ks.stats().wal_syncs >= 1
    ks.compact_range(b"k", b"l")
    assert list(ks.scan(b"k", b"l")) == [(b"k2", b"v2")]
    assert ks.recovery_info()["records_replayed"] == 0
    ks.close()
    ks = LsmKeySpace(str(tmp_path / "db"))
    assert ks.get(b"k2") == b"v2"
    ks.close()


def test_flush_counts_entries_and_trims_the_wal_at_once(tmp_path):
    import os

    from lsmdb.testing.presets import small_options

    path = tmp_path / "db"
    ks = LsmKeySpace(str(path), small_options(wal_keep_segments=1))
    for i in range(3):
        b = WriteBatch()
        b.put(b"k%d" % i, b"v")
        b.delete(b"gone")
        ks.write(b, False)
        assert ks.flush() == 2  # both entries of the batch
        # one kept segment beside the live one, trimmed before flush() returned
        assert len(os.listdir(path / "wal")) == 1 + min(1, i + 1)
    assert ks.flush() == 0
    nbytes, syncs = ks.db.wal_counters()
    assert (ks.stats().wal_bytes, ks.stats().wal_syncs) == (nbytes, syncs) and nbytes > 0
    ks.close()


def test_the_adapter_uses_only_public_db_calls():
    """The backend is a client of lsmdb.DB like any other: no ``db._private`` access."""
    import inspect
    import re

    import lsmdb.backends.lsm as mod

    assert not re.findall(r"\.db\._\w+", inspect.getsource(mod))
