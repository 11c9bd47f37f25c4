"""lsmdb/backends/memory.py: snapshots, range deletes, live-byte accounting, compaction."""

from lsmdb._core.batch import WriteBatch
from lsmdb.backends.keyspace import KeySpace
from lsmdb.backends.memory import MemoryKeySpace


def batch(*ops):
    b = WriteBatch()
    for op in ops:
        if op[0] == "put":
            b.put(op[1], op[2])
        elif op[0] == "del":
            b.delete(op[1])
        else:
            b.delete_range(op[1], op[2])
    return b


def test_snapshots_scans_and_range_deletes():
    m = MemoryKeySpace()
    assert isinstance(m, KeySpace)
    m.write(batch(("put", b"a", b"1"), ("put", b"b", b"2"), ("put", b"c", b"3")), False)
    s = m.snapshot()
    m.write(batch(("range", b"a", b"c"), ("put", b"d", b"4")), False)
    assert list(m.scan(b"", b"\xff")) == [(b"c", b"3"), (b"d", b"4")]
    assert list(m.scan(b"", b"\xff", snapshot=s)) == [(b"a", b"1"), (b"b", b"2"), (b"c", b"3")]
    assert list(m.scan(b"b", b"d", reverse=True)) == [(b"c", b"3")]
    assert m.get(b"a") is None and m.get(b"a", s) == b"1"
    assert m.live_bytes == 4
    m.compact_range(b"", b"\xff")  # an older snapshot is live: versions kept
    assert m.get(b"a", s) == b"1"
    s.release()
    before = m.approximate_memory()
    m.compact_range(b"", b"\xff")
    assert m.approximate_memory() <= before
    assert list(m.scan(b"", b"\xff")) == [(b"c", b"3"), (b"d", b"4")]
    m.write(batch(("del", b"c"),), False)
    assert m.live_bytes == 2 and m.last_sequence() > 0
