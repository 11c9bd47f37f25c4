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
