"""Log format (WAL and MANIFEST): round trip, block layout, torn tails, mid-log corruption."""

import struct
import zlib

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from lsmdb._core.logformat import (
    BLOCK_BYTES,
    FIRST,
    FULL,
    HEADER_BYTES,
    LAST,
    MIDDLE,
    LogReader,
    LogWriter,
    encode_records,
)
from lsmdb.env import default_env
from lsmdb.errors import CorruptionError, InvalidArgumentError


class MemFile:
    def __init__(self):
        self.data = bytearray()
        self.appends = 0
        self.syncs = 0

    def append(self, data):
        self.data += data
        self.appends += 1

    def sync(self):
        self.syncs += 1


def write_log(payloads, initial=b""):
    f = MemFile()
    f.data += initial
    w = LogWriter(f, len(initial))
    spans = []
    for p in payloads:
        start = w.offset
        w.add_record(p)
        spans.append((start, w.offset))
    return bytes(f.data), spans


def payload_of(i, n):
    return bytes((i * 7 + j) % 251 for j in range(n))


SIZES = [0, 1, 100, BLOCK_BYTES - 2 * HEADER_BYTES, BLOCK_BYTES - HEADER_BYTES,
         BLOCK_BYTES, 3 * BLOCK_BYTES + 5, 17]
sizes_st = st.lists(st.one_of(st.integers(0, 300), st.sampled_from(SIZES),
                              st.integers(0, 3 * BLOCK_BYTES)), max_size=12)


def test_record_header_layout():
    data, _ = write_log([b"hi"])
    crc = zlib.crc32(bytes([FULL]) + b"hi")
    assert data == struct.pack("<IHB", crc, 2, FULL) + b"hi"
    assert data.hex() == "768bc9670200016869"


def test_fragmentation_types_and_trailer_padding():
    # Leave exactly 6 bytes at the end of the first block: they become zero padding.
    first = BLOCK_BYTES - HEADER_BYTES - 6
    data, spans = write_log([b"x" * first, b"y" * 10])
    assert spans[1] == (BLOCK_BYTES - 6, BLOCK_BYTES + HEADER_BYTES + 10)
    assert data[BLOCK_BYTES - 6:BLOCK_BYTES] == b"\0" * 6
    assert data[BLOCK_BYTES + 6] == FULL
    big, _ = write_log([b"z" * (2 * BLOCK_BYTES)])
    types = [big[6], big[BLOCK_BYTES + 6], big[2 * BLOCK_BYTES + 6]]
    assert types == [FIRST, MIDDLE, LAST]
    assert [p for _, p in LogReader(big)] == [b"z" * (2 * BLOCK_BYTES)]


def first_fragment(start: int) -> int:
    """Where a record the writer began at ``start`` has its first header: a block's last
    bytes too few for a header are zero padding, and the record starts at the next block
    (the reader reports that offset, as LevelDB's does)."""
    left = BLOCK_BYTES - start % BLOCK_BYTES
    return start + left if left < HEADER_BYTES else start


@settings(max_examples=60, deadline=None)
@given(sizes_st, st.integers(0, 2 * BLOCK_BYTES))
# A record ending 6 bytes before a block boundary: the next one starts after the padding.
@example([0, 0, 0, 0, 0, 0, 220, 98309, 98309, 97942, 0], 1)
def test_round_trip_and_group_encoding(sizes, prefix_len):
    payloads = [payload_of(i, n) for i, n in enumerate(sizes)]
    initial = bytes(prefix_len)    # stands for earlier content; only its length matters
    data, spans = write_log(payloads, initial)
    assert data[prefix_len:] == encode_records(payloads, prefix_len)
    if prefix_len % BLOCK_BYTES == 0:     # block-aligned: the appended part stands alone
        r = LogReader(data[prefix_len:])
        got = r.read_all()
        assert [p for _, p in got] == payloads
        assert [o for o, _ in got] == [first_fragment(s) - prefix_len for s, _ in spans]
        assert r.tail_error is None and r.corruptions == []
    clean, spans = write_log(payloads)
    got = LogReader(clean, "wal/1.log").read_all()
    assert got == [(first_fragment(s), p) for (s, _), p in zip(spans, payloads, strict=True)]


def test_writer_one_append_per_call_and_sync():
    f = MemFile()
    w = LogWriter(f)
    assert w.add_record(b"a" * 70000) == len(f.data)
    assert w.add_records([b"b", b"c", b""]) == len(f.data) - 70000 - 3 * HEADER_BYTES
    assert f.appends == 2
    w.sync()
    assert f.syncs == 1 and w.offset == len(f.data)
    assert [p for _, p in LogReader(bytes(f.data))] == [b"a" * 70000, b"b", b"c", b""]
    with pytest.raises(InvalidArgumentError):
        LogWriter(f, -1)
    with pytest.raises(InvalidArgumentError):
        encode_records([b"x"], -5)


def test_env_file_round_trip(tmp_path):
    env = default_env()
    path = str(tmp_path / "MANIFEST-1")
    with env.open_writable(path) as f:
        w = LogWriter(f)
        w.add_record(b"edit-1")
        w.add_record(b"edit-2" * 10000)
        w.sync()
    with env.open_appendable(path) as f:
        w = LogWriter(f, f.size)
        w.add_record(b"edit-3")
    with env.open_random_access(path) as raf:
        r = LogReader.from_file(raf)
        assert [p for _, p in r] == [b"edit-1", b"edit-2" * 10000, b"edit-3"]
        assert r.file_name == path


@settings(max_examples=80, deadline=None)
@given(sizes_st, st.data())
def test_truncation_is_a_torn_tail(sizes, data):
    payloads = [payload_of(i, n) for i, n in enumerate(sizes)]
    log, spans = write_log(payloads)
    cut = data.draw(st.integers(0, len(log)))
    r = LogReader(log[:cut], "wal/7.log")
    got = r.read_all()
    complete = [i for i, (_, end) in enumerate(spans) if end <= cut]
    assert [p for _, p in got] == [payloads[i] for i in complete]
    assert r.corruptions == []
    nxt = len(complete)
    # Clean iff the cut falls at a record end (or inside the padding that follows it).
    starts_after = spans[nxt][0] if nxt < len(spans) else len(log)
    clean_end = spans[nxt - 1][1] if nxt else 0
    padding = starts_after - clean_end if starts_after % BLOCK_BYTES == 0 else 0
    if clean_end <= cut <= clean_end + padding:
        assert r.tail_error is None and r.torn_tail_offset is None
    else:
        assert r.tail_error is not None
        assert r.torn_tail_offset == starts_after


def test_trailing_zeros_and_garbage_are_a_torn_tail():
    log, spans = write_log([b"a" * 100, b"b" * 40000])
    for tail in (bytes(50), bytes(BLOCK_BYTES * 2), b"\x01\x02\x03garbage" * 20):
        r = LogReader(log + tail)
        assert [len(p) for _, p in r] == [100, 40000]
        assert r.torn_tail_offset == len(log)
        assert r.tail_error


def test_fragmented_record_without_last_at_eof_is_torn():
    log, spans = write_log([b"a" * 10, b"b" * (3 * BLOCK_BYTES)])
    cut = 2 * BLOCK_BYTES + 100        # FIRST and MIDDLE complete, LAST missing
    r = LogReader(log[:cut])
    assert [p for _, p in r] == [b"a" * 10]
    assert r.torn_tail_offset == spans[1][0]
    assert "LAST" in r.tail_error or "truncated" in r.tail_error


def small_records_log(n=3000):
    payloads = [payload_of(i, 40) for i in range(n)]      # ~47 bytes each: many blocks
    log, spans = write_log(payloads)
    return payloads, bytearray(log), spans


def test_mid_log_corruption_raises_with_offset():
    payloads, log, spans = small_records_log()
    victim = 10                              # in block 0; valid records follow in block 1+
    log[spans[victim][0] + HEADER_BYTES + 3] ^= 0x40
    r = LogReader(bytes(log), "wal/3.log")
    got = []
    with pytest.raises(CorruptionError) as exc:
        for rec in r:
            got.append(rec)
    assert [p for _, p in got] == payloads[:victim]
    assert exc.value.file == "wal/3.log" and exc.value.offset == spans[victim][0]
    assert "checksum" in str(exc.value)
    # The reader stays exhausted after raising.
    assert list(r) == []


def test_skip_corrupted_steps_over_just_the_damaged_record():
    payloads, log, spans = small_records_log()
    victim = 10
    log[spans[victim][0] + 1] ^= 0x01
    r = LogReader(bytes(log), skip_corrupted=True)
    got = r.read_all()
    assert [p for _, p in got] == payloads[:victim] + payloads[victim + 1:]
    assert r.corruptions == [(spans[victim][0], "record checksum mismatch")]
    assert r.tail_error is None


def test_damaged_length_resyncs_at_next_block():
    payloads, log, spans = small_records_log()
    victim = 10
    log[spans[victim][0] + 4] ^= 0x03  # the length: stepping over it lands on garbage
    r = LogReader(bytes(log), skip_corrupted=True)
    got = [p for _, p in r.read_all()]
    first_in_block1 = next(i for i, (s, _) in enumerate(spans) if s >= BLOCK_BYTES)
    assert got[:victim] == payloads[:victim]
    assert got[-(len(payloads) - first_in_block1):] == payloads[first_in_block1:]
    assert r.corruptions and r.corruptions[0][0] == spans[victim][0]


def test_damaged_last_record_is_a_tail():
    payloads, log, spans = small_records_log(100)    # all in the first block
    log[spans[99][0] + HEADER_BYTES] ^= 0xFF
    r = LogReader(bytes(log))
    assert [p for _, p in r] == payloads[:99]
    assert r.torn_tail_offset == spans[99][0]
    assert r.tail_error == "record checksum mismatch"


def test_damage_followed_by_valid_records_in_the_same_block_is_corruption():
    # Not a torn tail: a crash only cuts the end. Valid records after the damage must not
    # vanish silently with the rest of the block.
    payloads, log, spans = small_records_log(100)    # all in the first block
    log[spans[50][0] + HEADER_BYTES] ^= 0xFF
    r = LogReader(bytes(log))
    with pytest.raises(CorruptionError, match="followed by valid records"):
        r.read_all()


def test_bad_type_length_and_orphan_fragments():
    payloads, log, spans = small_records_log()
    bad_type = bytearray(log)
    bad_type[spans[3][0] + 6] = 9
    with pytest.raises(CorruptionError, match="unknown record type 9"):
        LogReader(bytes(bad_type)).read_all()
    bad_len = bytearray(log)
    bad_len[spans[3][0] + 5] = 0xFF
    with pytest.raises(CorruptionError, match="exceeds"):
        LogReader(bytes(bad_len)).read_all()
    big, bspans = write_log([b"q" * (3 * BLOCK_BYTES)] + payloads[:2000])
    orphan = bytearray(big)
    orphan[6] ^= 0xFF                                  # FIRST damaged: MIDDLE/LAST orphaned
    r = LogReader(bytes(orphan), skip_corrupted=True)
    assert [p for _, p in r] == payloads[:2000]
    assert len(r.corruptions) == 1 and r.corruptions[0][0] == 0


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_random_damage_only_yields_original_records_or_raises(data):
    payloads = [payload_of(i, n) for i, n in
                enumerate(data.draw(st.lists(st.integers(0, 20000), min_size=1, max_size=8)))]
    log = bytearray(write_log(payloads)[0])
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(log) - 1))
        log[i] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        log = log[:data.draw(st.integers(0, len(log)))]
    for skip in (False, True):
        r = LogReader(bytes(log), skip_corrupted=skip)
        try:
            for _, p in r:
                assert p in payloads
        except CorruptionError as exc:
            assert not skip and exc.offset is not None


def test_dump_log_reports_records_tail_and_corruption(tmp_path):
    import io

    from lsmdb.wal.dump import dump_log

    batch_mod = pytest.importorskip("lsmdb._core.batch")
    wb = batch_mod.WriteBatch()
    wb.put(b"key", b"value")
    wb.delete(b"gone")
    wb.delete_range(b"a", b"m")
    wb.sequence = 42
    payloads = [wb.data()] + [b"x" * 40] * 1500
    log, spans = write_log(payloads)
    path = tmp_path / "000001.log"
    path.write_bytes(log[:-3])
    out = io.StringIO()
    assert dump_log(str(path), out) == 1          # the x-records are not valid batches
    text = out.getvalue()
    assert "seq=42 count=3" in text and "PUT key=b'key' value=b'value'" in text
    assert "DELETE key=b'gone'" in text and "RANGE_DELETE [b'a', b'm')" in text
    assert f"torn tail at offset {spans[-1][0]}" in text
    raw = io.StringIO()
    assert dump_log(str(path), raw, kind="raw") == 0
    assert "1500 records" in raw.getvalue()
    damaged = bytearray(log)
    damaged[spans[5][0] + 10] ^= 1
    path.write_bytes(bytes(damaged))
    raw = io.StringIO()
    assert dump_log(str(path), raw, kind="raw") == 1
    assert f"CORRUPTION at offset {spans[5][0]}" in raw.getvalue()


def test_dump_log_takes_bytes_and_pathlike_paths(tmp_path):
    import io
    import os

    from lsmdb.wal.dump import dump_log

    log, _ = write_log([b"x" * 10] * 3)
    path = tmp_path / "MANIFEST-000002"  # kind="auto" guesses from the name
    path.write_bytes(log)
    for spelled in (os.fsencode(path), path):
        out = io.StringIO()
        assert dump_log(spelled, out) == 0
        assert "3 records" in out.getvalue()
