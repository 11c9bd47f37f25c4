"""MappedAppender (the WAL's appends through a shared mapping) and the WAL reader's rule for
the preallocated zeros a mapped segment leaves when its writer dies before closing it."""

import os
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lsmdb._core.ikey import DELETE, PUT
from lsmdb._core.logformat import BLOCK_BYTES, LogReader, LogWriter, encode_records
from lsmdb._core.memtable import Memtable
from lsmdb._core.walappend import WalTail
from lsmdb._core.walmap import WINDOW_BYTES, MappedAppender
from lsmdb.errors import ClosedError, StorageIOError
from lsmdb.testing.walrecord import one_op_record


def open_rw(path, initial=b""):
    with open(path, "wb") as f:
        f.write(initial)
    return os.open(path, os.O_RDWR)


chunks_st = st.lists(st.one_of(st.binary(max_size=200),
                               st.integers(0, 2 * WINDOW_BYTES + 10).map(lambda n: b"x" * n)),
                     max_size=8)


@settings(max_examples=40, deadline=None)
@given(chunks=chunks_st,
       lead=st.one_of(st.integers(0, 300), st.integers(WINDOW_BYTES - 300, WINDOW_BYTES + 5)))
def test_appends_land_byte_for_byte_and_close_cuts_the_preallocation(tmp_path_factory, chunks,
                                                                     lead):
    path = str(tmp_path_factory.mktemp("m") / "000001.log")
    initial = os.urandom(lead)
    fd = open_rw(path, initial)
    try:
        m = MappedAppender(fd, path, lead)
        expected = bytearray(initial)
        for i, c in enumerate(chunks):
            # bytes and other buffers, copied or written (pwrite) into the same pages
            m.append(c if i % 2 else bytearray(c), pwrite=i % 3 == 2)
            expected += c
            assert m.size == len(expected)
            # Open: the file is preallocated in whole windows, zeros after the logical end.
            assert m.reserved_bytes % WINDOW_BYTES == 0 and m.reserved_bytes >= m.size
            assert os.fstat(fd).st_size == m.reserved_bytes
        with open(path, "rb") as f:
            data = f.read()
        assert data[:len(expected)] == bytes(expected)
        assert not any(data[len(expected):])
        m.close()
        m.close()  # idempotent
        assert m.closed
        assert os.fstat(fd).st_size == len(expected)
        with open(path, "rb") as f:
            assert f.read() == bytes(expected)
        with pytest.raises(ClosedError):
            m.append(b"more")
    finally:
        os.close(fd)


def test_a_descriptor_that_cannot_be_mapped_is_refused_at_once(tmp_path):
    path = str(tmp_path / "000001.log")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)  # mmap needs read access
    try:
        with pytest.raises(StorageIOError) as info:
            MappedAppender(fd, path)
        assert info.value.path == path
        assert os.fstat(fd).st_size == 0  # its preallocation cut back: write(2) from 0
    finally:
        os.close(fd)


def test_a_full_disk_fails_the_record_whole_before_any_byte_is_copied(tmp_path):
    # RLIMIT_FSIZE stands in for a full disk: posix_fallocate past it fails (EFBIG), as it
    # fails with ENOSPC on a full one. In a child, so the limit binds nothing else.
    path = str(tmp_path / "000001.log")
    code = textwrap.dedent(f"""
        import os, resource, signal
        from lsmdb._core.walmap import WINDOW_BYTES, MappedAppender
        from lsmdb.errors import StorageIOError
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (3 * WINDOW_BYTES, 3 * WINDOW_BYTES))
        fd = os.open({path!r}, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        m = MappedAppender(fd, {path!r})
        m.append(b"a" * (WINDOW_BYTES + 100))
        for pwrite in (False, True):
            try:
                m.append(b"b" * (2 * WINDOW_BYTES), pwrite=pwrite)  # would end past the limit
            except StorageIOError as exc:
                print("refused", exc.errno, m.size)
        m.append(b"c" * 10)  # what fits still goes in
        m.close()
        print("size", os.fstat(fd).st_size)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    import errno
    lines = out.stdout.split("\n")
    assert lines[0] == lines[1] == f"refused {errno.EFBIG} {WINDOW_BYTES + 100}"
    assert lines[2] == f"size {WINDOW_BYTES + 110}"
    with open(path, "rb") as f:
        assert f.read() == b"a" * (WINDOW_BYTES + 100) + b"c" * 10


@settings(max_examples=40, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from([PUT, DELETE]), st.binary(max_size=40),
                              st.one_of(st.binary(max_size=300),
                                        st.integers(0, 3 * BLOCK_BYTES).map(lambda n: b"v" * n))),
                    min_size=1, max_size=12),
       lead=st.one_of(st.integers(0, BLOCK_BYTES + 40),
                      st.integers(WINDOW_BYTES - 400, WINDOW_BYTES)))
def test_the_one_op_path_and_the_general_path_share_the_mapping(tmp_path_factory, ops, lead):
    """append_op into a mapping writes what LogWriter.add_record would, at the same offset,
    interleaved with the general path's records (both through one appender)."""
    path = str(tmp_path_factory.mktemp("wal") / "000001.log")
    initial = b"\0" * lead
    fd = open_rw(path, initial)
    m = MappedAppender(fd, path, lead)
    log = LogWriter(m, lead)
    tail = WalTail(log, None, fd, m)
    mem, ref_mem = Memtable(), Memtable()
    expected = bytearray(initial)
    for i, (vtype, key, value) in enumerate(ops):
        value = value if vtype == PUT else b""
        rec, batch = one_op_record(10 + i, vtype, key, value, len(expected))
        if i % 3 == 2:
            assert log.add_record(batch.data()) == len(rec)
            mem.add_batch(batch)
        else:
            assert tail.append_op(10 + i, vtype, key, value, mem) == len(rec)
        expected += rec
        ref_mem.add_batch(batch)
    assert log.offset == m.size == len(expected)
    m.close()
    os.close(fd)
    with open(path, "rb") as f:
        assert f.read() == bytes(expected)
    it, ref = mem.iterator(), ref_mem.iterator()
    it.seek_to_first()
    ref.seek_to_first()
    assert list(it.entries()) == list(ref.entries())


# -- the reader's zero-tail rule ------------------------------------------------------------

def records(*payloads):
    return encode_records(list(payloads))


def read(data, **kw):
    r = LogReader(data, "seg.log", **kw)
    return r, [p for _, p in r]


@pytest.mark.parametrize("zeros", [1, 6, 7, 100, BLOCK_BYTES, WINDOW_BYTES])
def test_zeros_after_the_last_record_end_a_wal_without_damage(zeros):
    body = records(b"one", b"two" * 20000, b"three")
    r, got = read(body + b"\0" * zeros, zero_tail_is_end=True)
    assert got == [b"one", b"two" * 20000, b"three"]
    assert r.tail_error is None and r.torn_tail_offset is None and not r.corruptions
    assert r.zero_tail_offset == len(body)
    # Without the flag (a MANIFEST) the same zeros are a torn tail, as before.
    r, got = read(body + b"\0" * zeros)
    assert got == [b"one", b"two" * 20000, b"three"]
    assert r.torn_tail_offset == len(body) and r.zero_tail_offset is None


def test_an_all_zero_segment_is_an_empty_log():
    r, got = read(b"\0" * WINDOW_BYTES, zero_tail_is_end=True)
    assert got == [] and r.tail_error is None and r.zero_tail_offset == 0


def test_a_torn_record_before_the_zeros_is_still_a_torn_tail():
    body = records(b"one", b"two")
    torn = records(b"x" * 500)[:200]  # a record cut in the middle, then preallocated zeros
    r, got = read(body + torn + b"\0" * 5000, zero_tail_is_end=True)
    assert got == [b"one", b"two"]
    assert r.torn_tail_offset == len(body) and r.tail_error is not None


def test_a_fragmented_record_cut_by_the_zeros_is_a_torn_tail():
    body = records(b"one")
    first = records(b"y" * (2 * BLOCK_BYTES))[:BLOCK_BYTES - len(body)]  # FIRST only
    r, got = read(body + first + b"\0" * BLOCK_BYTES, zero_tail_is_end=True)
    assert got == [b"one"]
    assert r.torn_tail_offset == len(body)


def test_zeros_followed_by_records_are_mid_log_corruption():
    from lsmdb.errors import CorruptionError
    body = records(b"one")
    data = body + b"\0" * BLOCK_BYTES
    data += b"\0" * (-len(data) % BLOCK_BYTES) + records(b"two")
    with pytest.raises(CorruptionError):
        read(data, zero_tail_is_end=True)
