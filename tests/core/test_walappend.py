"""WalTail.append_op: the one-op WAL record written straight to a descriptor, byte for byte
what LogWriter.add_record makes of the same one-op WriteBatch, and the same memtable entry."""

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lsmdb._core.batch import WriteBatch
from lsmdb._core.ikey import DELETE, MAX_SEQNO, PUT, RANGE_DELETE
from lsmdb._core.logformat import BLOCK_BYTES, LogReader, LogWriter
from lsmdb._core.memtable import Memtable
from lsmdb._core.walappend import WalTail
from lsmdb.env import default_env
from lsmdb.errors import ClosedError, InvalidArgumentError, StorageIOError
from lsmdb.testing.walrecord import one_op_record


def entries(mem):
    it = mem.iterator()
    it.seek_to_first()
    return list(it.entries())


def open_tail(path, initial=b""):
    env = default_env()
    if initial:
        with open(path, "wb") as f:
            f.write(initial)
        wf = env.open_appendable(path)
    else:
        wf = env.open_writable(path)
    return wf, WalTail(LogWriter(wf, len(initial)), wf, wf.direct_append_fd())


ops_st = st.lists(st.tuples(st.sampled_from([PUT, DELETE]), st.binary(max_size=40),
                            st.one_of(st.binary(max_size=300),
                                      st.integers(0, 3 * BLOCK_BYTES).map(lambda n: b"v" * n))),
                  min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(ops=ops_st, lead=st.integers(0, BLOCK_BYTES + 40))
def test_append_op_writes_the_general_paths_record_and_memtable_entry(tmp_path_factory, ops,
                                                                       lead):
    path = str(tmp_path_factory.mktemp("wal") / "000001.log")
    initial = b"\0" * lead  # any starting block offset, including a block's last 6 bytes
    wf, tail = open_tail(path, initial)
    mem, ref_mem = Memtable(), Memtable()
    expected = bytearray(initial)
    payload_bytes = 0
    for i, (vtype, key, value) in enumerate(ops):
        value = value if vtype == PUT else b""
        rec, batch = one_op_record(10 + i, vtype, key, value, len(expected))
        n = tail.append_op(10 + i, vtype, key, value, mem)
        assert n == len(rec)
        payload_bytes += batch.byte_size
        expected += rec
        ref_mem.add_batch(batch)
    wf.close()
    with open(path, "rb") as f:
        assert f.read() == bytes(expected)
    assert tail.log.offset == wf.size == len(expected)
    assert tail.bytes_written == len(expected) - lead
    assert tail.unsynced_records == len(ops)
    assert tail.take_direct_counts() == (len(ops), payload_bytes, len(expected) - lead)
    assert tail.take_direct_counts() == (0, 0, 0)
    assert entries(mem) == entries(ref_mem)
    assert (mem.num_entries, mem.num_deletes, mem.first_seqno, mem.last_seqno) == (
        ref_mem.num_entries, ref_mem.num_deletes, ref_mem.first_seqno, ref_mem.last_seqno)


def test_the_records_read_back_as_one_op_batches(tmp_path):
    path = str(tmp_path / "000001.log")
    wf, tail = open_tail(path)
    mem = Memtable()
    tail.append_op(7, PUT, b"k", b"v" * 40000, mem)  # fragmented across two blocks
    tail.append_op(8, DELETE, b"k", b"", mem)
    wf.close()
    with open(path, "rb") as f:
        records = [WriteBatch.from_bytes(p) for _, p in LogReader(f.read())]
    assert [(b.sequence, b.count, list(b.ops())) for b in records] == [
        (7, 1, [(PUT, b"k", b"v" * 40000)]), (8, 1, [(DELETE, b"k", None)])]


@pytest.mark.parametrize("args, message", [
    ((1, RANGE_DELETE, b"a", b"b"), "PUT or DELETE"),
    ((1, DELETE, b"a", b"x"), "DELETE carries no value"),
    ((MAX_SEQNO + 1, PUT, b"a", b"b"), "exceeds MAX_SEQNO"),
])
def test_refusals_write_and_insert_nothing(tmp_path, args, message):
    path = str(tmp_path / "000001.log")
    wf, tail = open_tail(path)
    mem = Memtable()
    with pytest.raises(InvalidArgumentError, match=message):
        tail.append_op(*args, mem)
    assert os.path.getsize(path) == 0 and tail.log.offset == 0 and tail.bytes_written == 0
    assert mem.num_entries == 0 and tail.unsynced_records == 0
    wf.close()


def test_a_detached_tail_refuses_to_append(tmp_path):
    wf, tail = open_tail(str(tmp_path / "000001.log"))
    assert tail.direct
    tail.detach()
    assert not tail.direct
    with pytest.raises(ClosedError):
        tail.append_op(1, PUT, b"a", b"b", Memtable())
    wf.close()


def test_a_failed_write_raises_storage_io_error_naming_the_file(tmp_path):
    path = str(tmp_path / "000001.log")
    wf = default_env().open_writable(path)
    read_only_fd = os.open(path, os.O_RDONLY)  # write(2) fails with EBADF
    tail = WalTail(LogWriter(wf), wf, read_only_fd)
    mem = Memtable()
    try:
        with pytest.raises(StorageIOError) as info:
            tail.append_op(1, PUT, b"a", b"b", mem)
    finally:
        os.close(read_only_fd)
        wf.close()
    assert info.value.path == path
    assert tail.log.offset == 0 and tail.bytes_written == 0 and mem.num_entries == 0
