import bisect
import functools
import io
import os
import random
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lsmdb._core.cache import BlockCache
from lsmdb._core.ikey import (
    DELETE,
    MAX_SEQNO,
    PUT,
    RANGE_DELETE,
    compare_internal_keys,
    make_internal_key,
    seek_key,
)
from lsmdb._core.sstable_builder import SSTableBuilder
from lsmdb._core.sstable_format import (
    FOOTER_BYTES,
    FORMAT_VERSION,
    MAGIC,
    decode_footer,
    encode_footer,
)
from lsmdb._core.sstable_reader import SSTableReader
from lsmdb.env import default_env
from lsmdb.errors import (
    ClosedError,
    CorruptionError,
    FormatVersionError,
    InvalidArgumentError,
)
from lsmdb.sstable import build_sstable, dump_sstable, open_sstable, verify_sstable

ikey_sort = functools.cmp_to_key(compare_internal_keys)


class MemWritable:
    def __init__(self):
        self.chunks = []

    def append(self, data):
        self.chunks.append(bytes(data))

    def getvalue(self):
        return b"".join(self.chunks)


class MemRandomAccess:
    """An in-memory RandomAccessFile without mmap_view (exercises the pread path)."""

    def __init__(self, data, path="mem.sst"):
        self.data = bytes(data)
        self.size = len(self.data)
        self.path = path
        self.closed = False

    def pread(self, offset, n):
        return self.data[offset:offset + n]

    def close(self):
        self.closed = True


class Model:
    def __init__(self, entries, tombstones=()):
        # entries: {(uk, seq): (type, value)}
        self.entries = entries
        self.tombstones = list(tombstones)
        self.items = sorted(((make_internal_key(uk, seq, t), v)
                             for (uk, seq), (t, v) in entries.items()),
                            key=lambda kv: ikey_sort(kv[0]))
        self.keys = [ikey_sort(k) for k, _ in self.items]

    def get(self, uk, snap):
        best = None
        for (u, seq), (t, v) in self.entries.items():
            if u == uk and seq <= snap and (best is None or seq > best[0]):
                best = (seq, t, v)
        if best is None:
            return (0, None, 0)
        seq, t, v = best
        return (1, v, seq) if t == PUT else (2, None, seq)


def build(model, **opts):
    out = MemWritable()
    b = SSTableBuilder(out, **opts)
    for k, v in model.items:
        b.add(k, v)
    for s, e, seq in model.tombstones:
        b.add_range_tombstone(s, e, seq)
    props = b.finish()
    data = out.getvalue()
    assert props["file_size"] == len(data) == b.file_size
    return data, props


entry_dicts = st.dictionaries(
    st.tuples(st.binary(max_size=6), st.integers(1, 50)),
    st.tuples(st.sampled_from([PUT, PUT, DELETE]), st.binary(max_size=40)),
    max_size=150,
)
tombstone_lists = st.lists(
    st.tuples(st.binary(max_size=4), st.binary(min_size=1, max_size=4),
              st.integers(1, 60)).filter(lambda t: t[0] < t[1]), max_size=4)
table_opts = st.fixed_dictionaries({
    "block_bytes": st.sampled_from([64, 128, 512, 4096]),
    "restart_interval": st.integers(1, 8),
    "compression_level": st.sampled_from([None, 1, 3]),
    "bits_per_key": st.sampled_from([0.0, 3.7, 10.0]),
})


def check_table(reader, model, rnd):
    it = reader.iterator()
    it.seek_to_first()
    assert list(it.entries()) == model.items
    back = []
    it.seek_to_last()
    while it.valid():
        back.append((it.key(), it.value()))
        it.prev()
    assert back == model.items[::-1]
    user_keys = sorted({uk for uk, _ in model.entries} | {b"", b"\xff\xff", b"zz"})
    for uk in user_keys:
        for snap in (MAX_SEQNO, 0, rnd.randrange(1, 52)):
            assert reader.get(uk, snap) == model.get(uk, snap), (uk, snap)
            if reader.get(uk, snap)[0]:
                assert reader.may_contain(uk)
    assert reader.get_many(user_keys, 25) == [model.get(u, 25) for u in user_keys]
    for uk in user_keys[:20]:
        t = seek_key(uk, rnd.randrange(0, 52))
        i = bisect.bisect_left(model.keys, ikey_sort(t))
        it.seek(t)
        assert (it.key() if it.valid() else None) == (model.items[i][0]
                                                      if i < len(model.items) else None)
        j = bisect.bisect_right(model.keys, ikey_sort(t)) - 1
        it.seek_for_prev(t)
        assert (it.key() if it.valid() else None) == (model.items[j][0] if j >= 0 else None)
        if it.valid():
            it.next()
            assert (it.key() if it.valid() else None) == (
                model.items[j + 1][0] if j + 1 < len(model.items) else None)


@given(entry_dicts, tombstone_lists, table_opts, st.randoms(use_true_random=False))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_round_trip_against_model(entries, tombstones, opts, rnd):
    model = Model(entries, tombstones)
    data, props = build(model, **opts)
    reader = SSTableReader(MemRandomAccess(data), file_number=1,
                           cache=rnd.choice([None, BlockCache(1 << 16)]))
    check_table(reader, model, rnd)
    assert reader.range_tombstones() == sorted(tombstones, key=lambda t: (t[0], -t[2], t[1]))
    p = reader.properties
    assert p["entries"] == len(entries) == reader.num_entries
    assert p["deletions"] == sum(1 for t, _ in entries.values() if t == DELETE)
    assert p["range_deletions"] == len(tombstones)
    # version 2 marks a blocked filter (the default layout); no filter: version 1
    assert p["format_version"] == (FORMAT_VERSION if opts["bits_per_key"] > 0 else 1)
    assert reader.bloom_format == ("blocked" if opts["bits_per_key"] > 0 else None)
    assert p["bloom_bits_per_key"] == opts["bits_per_key"]
    assert p["raw_value_bytes"] == sum(len(v) for _, v in entries.values())
    seqs = [s for _, s in entries] + [t[2] for t in tombstones]
    assert (p["min_seqno"], p["max_seqno"]) == ((min(seqs), max(seqs)) if seqs else (0, 0))
    bounds = [k for k, _ in model.items]
    bounds += [make_internal_key(s, seq, RANGE_DELETE) for s, _, seq in tombstones]
    bounds += [make_internal_key(e, MAX_SEQNO, RANGE_DELETE) for _, e, _ in tombstones]
    if bounds:
        assert reader.smallest_key == min(bounds, key=ikey_sort)
        assert reader.largest_key == max(bounds, key=ikey_sort)
    else:
        assert reader.smallest_key is None and reader.largest_key is None
    assert len(reader.block_handles()) == p["num_data_blocks"]


def test_real_file_with_mmap_and_shared_cache(tmp_path):
    rnd = random.Random(3)
    entries = {(b"user%04d" % i, s): (PUT if s % 3 else DELETE, b"v%d-%d" % (i, s) * 3)
               for i in range(400) for s in (1, 5, 9)}
    model = Model(entries, [(b"user0100", b"user0200", 7)])
    cache = BlockCache(1 << 20)
    readers = []
    for n in (1, 2):
        path = str(tmp_path / f"{n}.sst")
        props = build_sstable(path, model.items, range_tombstones=model.tombstones,
                              block_bytes=512)
        assert props["num_data_blocks"] > 10 and props["compression"] == "zstd"
        readers.append(open_sstable(path, file_number=n, cache=cache))
    for r in readers:
        check_table(r, model, rnd)
        check_table(r, model, rnd)     # second pass hits the cache
        assert r.cache_hits > 0 and r.data_blocks_read <= r.properties["num_data_blocks"]
    assert cache.usage <= cache.capacity and cache.hits > 0
    assert cache.erase_file(1) > 0
    for r in readers:
        r.close()
        with pytest.raises(ClosedError):
            r.get(b"user0001")


def test_bloom_counters():
    model = Model({(b"k%d" % i, 1): (PUT, b"v") for i in range(1000)})
    data, _ = build(model, bits_per_key=10.0)
    r = SSTableReader(MemRandomAccess(data))
    for i in range(2000):
        r.get(b"absent%d" % i)
    assert r.bloom_checks == 2000
    assert r.bloom_negatives + r.bloom_false_positives == 2000
    assert r.bloom_false_positives < 200
    assert r.get(b"k5") == (1, b"v", 1) and r.bloom_checks == 2001
    nofilter = SSTableReader(MemRandomAccess(build(model, bits_per_key=0.0)[0]))
    assert nofilter.get(b"absent") == (0, None, 0) and nofilter.bloom_checks == 0
    assert nofilter.may_contain(b"absent")


def test_compression_tag_and_raw_fallback():
    rnd = random.Random(5)
    compressible = Model({(b"c%05d" % i, 1): (PUT, b"a" * 100) for i in range(200)})
    random_vals = Model({(b"r%05d" % i, 1): (PUT, rnd.randbytes(100)) for i in range(200)})
    for model, tag in ((compressible, 1), (random_vals, 0)):
        data, props = build(model, compression_level=3)
        r = SSTableReader(MemRandomAccess(data))
        for _, off, size in r.block_handles():
            assert data[off + size] == tag
        it = r.iterator()
        it.seek_to_first()
        assert list(it.entries()) == model.items
    data, props = build(compressible, compression_level=None)
    assert props["compression"] == "none"
    assert all(data[o + s] == 0 for _, o, s in SSTableReader(MemRandomAccess(data)).block_handles())


def test_large_values_and_empty_keys():
    model = Model({(b"", 3): (PUT, b"empty-key"), (b"big", 2): (PUT, os.urandom(300_000)),
                   (b"big", 1): (DELETE, b""), (b"k" * 300, 4): (PUT, b"long key"),
                   (b"l" * 5000, 5): (PUT, b"longer key"), (b"l" * 5001, 1): (DELETE, b"")})
    data, props = build(model, block_bytes=4096)
    r = SSTableReader(MemRandomAccess(data))
    check_table(r, model, random.Random(0))


def test_empty_table():
    data, props = build(Model({}))
    assert props["entries"] == 0 and props["num_data_blocks"] == 0
    r = SSTableReader(MemRandomAccess(data))
    assert r.get(b"x") == (0, None, 0)
    it = r.iterator()
    it.seek_to_first()
    assert not it.valid()
    it.seek_for_prev(seek_key(b"x"))
    assert not it.valid()
    assert r.smallest_key is None and r.range_tombstones() == []


def test_builder_rejects_bad_input():
    b = SSTableBuilder(MemWritable())
    b.add(make_internal_key(b"b", 5, PUT), b"")
    for bad in (make_internal_key(b"b", 5, PUT), make_internal_key(b"b", 6, PUT),
                make_internal_key(b"a", 1, PUT)):
        with pytest.raises(InvalidArgumentError, match="increasing"):
            b.add(bad, b"")
    with pytest.raises(InvalidArgumentError, match="range tombstones"):
        b.add(make_internal_key(b"c", 1, RANGE_DELETE), b"")
    with pytest.raises(InvalidArgumentError):
        b.add(b"short", b"")
    with pytest.raises(InvalidArgumentError):
        b.add_range_tombstone(b"z", b"a", 1)
    with pytest.raises(InvalidArgumentError):
        b.add_many([make_internal_key(b"d", 1, PUT)], [])
    b.add_many([make_internal_key(b"d", 1, PUT), make_internal_key(b"e", 1, PUT)], [b"1", b"2"])
    assert b.num_entries == 3 and b.estimated_size > 0
    b.finish()
    with pytest.raises(InvalidArgumentError):
        b.add(make_internal_key(b"z", 1, PUT), b"")
    with pytest.raises(InvalidArgumentError):
        b.finish()
    for kwargs in ({"block_bytes": 1}, {"compression_level": 99}, {"bits_per_key": -1.0},
                   {"restart_interval": 0}, {"level": -1}):
        with pytest.raises(InvalidArgumentError):
            SSTableBuilder(MemWritable(), **kwargs)


def test_format_version_follows_the_filter_layout():
    model = Model({(b"k%d" % i, 1): (PUT, b"v") for i in range(50)}, [])
    for fmt, bits, version in (("blocked", 10.0, 2), ("standard", 10.0, 1),
                               ("blocked", 0.0, 1), ("standard", 0.0, 1)):
        data, props = build(model, bloom_format=fmt, bits_per_key=bits)
        assert props["format_version"] == version, (fmt, bits)
        assert decode_footer(data[-FOOTER_BYTES:])["format_version"] == version
        reader = SSTableReader(MemRandomAccess(data))
        assert reader.bloom_format == (fmt if bits else None)
        assert all(reader.may_contain(b"k%d" % i) for i in range(50))


def test_zeroed_seqnos_of_a_bottommost_output():
    entries = {(b"a", 9): (PUT, b"a9"), (b"a", 4): (PUT, b"a4"), (b"b", 3): (DELETE, b""),
               (b"c", 2): (PUT, b"c2"), (b"d", 7): (PUT, b"d7")}
    model = Model(entries, [])
    # PUTs with 0 < seqno <= 4 are written with seqno 0; DELETEs and newer PUTs keep theirs
    data, props = build(model, zero_seqnos_upto=4)
    assert props["zeroed_seqnos"] == 2
    assert (props["min_seqno"], props["max_seqno"]) == (2, 9)   # the original numbers
    it = SSTableReader(MemRandomAccess(data)).iterator()
    it.seek_to_first()
    assert [(k[:-8], int.from_bytes(k[-8:], "little") >> 8) for k, _ in it.entries()] == [
        (b"a", 9), (b"a", 0), (b"b", 3), (b"c", 0), (b"d", 7)]
    reader = SSTableReader(MemRandomAccess(data))
    assert reader.get(b"c", 1)[:2] == (1, b"c2")   # visible at any snapshot now
    _, plain = build(model)
    assert "zeroed_seqnos" not in plain
    for bad in (-1, 1 << 56, "3", True, 1.0):
        with pytest.raises(InvalidArgumentError, match="zero_seqnos_upto"):
            SSTableBuilder(MemWritable(), zero_seqnos_upto=bad)
    # two versions of a key at or below the bound would collide: refused, not written
    twice = Model({(b"a", 3): (PUT, b"x"), (b"a", 2): (PUT, b"y")}, [])
    with pytest.raises(InvalidArgumentError, match="strictly increasing"):
        build(twice, zero_seqnos_upto=4)


def test_abandon_writes_nothing_more():
    out = MemWritable()
    b = SSTableBuilder(out)
    b.add(make_internal_key(b"a", 1, PUT), b"v")
    b.abandon()
    with pytest.raises(InvalidArgumentError):
        b.add(make_internal_key(b"b", 1, PUT), b"v")
    assert out.getvalue() == b""


def _valid_table():
    entries = {(b"key%03d" % i, s): (PUT if s != 2 else DELETE, b"value%d" % (i * s))
               for i in range(60) for s in (1, 2, 3)}
    model = Model(entries, [(b"key010", b"key020", 2)])
    data, _ = build(model, block_bytes=256, compression_level=3)
    return model, data


MODEL, TABLE = _valid_table()


def _check_mutant(data):
    """Open + full read of a mutated table: CorruptionError, or exactly the right answers."""
    try:
        r = SSTableReader(MemRandomAccess(data, "bad.sst"))
    except CorruptionError as exc:
        assert exc.file == "bad.sst" and exc.offset is not None
        return
    except FormatVersionError:
        return
    try:
        it = r.iterator()
        it.seek_to_first()
        assert list(it.entries()) == MODEL.items
    except CorruptionError as exc:
        assert exc.file == "bad.sst"
    for uk in (b"key000", b"key015", b"key059", b"nope"):
        for snap in (1, 2, MAX_SEQNO):
            try:
                assert r.get(uk, snap) == MODEL.get(uk, snap)
            except CorruptionError:
                pass
    assert r.range_tombstones() == MODEL.tombstones


@given(st.data())
@settings(max_examples=250, deadline=None)
def test_corrupted_tables_never_return_wrong_answers(data):
    table = bytearray(TABLE)
    action = data.draw(st.sampled_from(["flip", "truncate", "zero", "garbage_tail"]))
    if action == "flip":
        for _ in range(data.draw(st.integers(1, 3))):
            i = data.draw(st.integers(0, len(table) - 1))
            table[i] ^= 1 << data.draw(st.integers(0, 7))
    elif action == "truncate":
        table = table[:data.draw(st.integers(0, len(table) - 1))]
    elif action == "zero":
        i = data.draw(st.integers(0, len(table) - 1))
        j = data.draw(st.integers(i + 1, min(len(table), i + 64)))
        table[i:j] = bytes(j - i)
    else:
        table += data.draw(st.binary(min_size=1, max_size=20))
    _check_mutant(bytes(table))


def test_every_single_byte_flip_is_detected():
    # Every byte of a table is covered by a crc: a flip anywhere must surface as an
    # error by the time the whole table has been read.
    for i in range(0, len(TABLE), 3):
        table = bytearray(TABLE)
        table[i] ^= 0x40
        with pytest.raises((CorruptionError, FormatVersionError)):
            r = SSTableReader(MemRandomAccess(bytes(table), "bad.sst"))
            it = r.iterator()
            it.seek_to_first()
            list(it.entries())


def test_footer_magic_version_and_crc():
    footer = TABLE[-FOOTER_BYTES:]
    handles = decode_footer(footer)
    assert handles["format_version"] == 2          # a blocked filter: version 2
    assert encode_footer(handles, 2) == footer
    body = bytearray(footer)
    body[70] ^= 1
    with pytest.raises(CorruptionError, match="magic"):
        decode_footer(bytes(body), "x.sst", 100)
    assert decode_footer(encode_footer(handles, format_version=1))["format_version"] == 1
    newer = encode_footer(handles, format_version=FORMAT_VERSION + 1)
    with pytest.raises(FormatVersionError):
        decode_footer(newer)
    with pytest.raises(FormatVersionError):
        SSTableReader(MemRandomAccess(TABLE[:-FOOTER_BYTES] + newer))
    with pytest.raises(CorruptionError, match="format_version"):
        decode_footer(encode_footer(handles, format_version=0))
    body = bytearray(footer)
    body[3] ^= 1
    with pytest.raises(CorruptionError, match="checksum"):
        decode_footer(bytes(body))
    with pytest.raises(CorruptionError, match="shorter"):
        SSTableReader(MemRandomAccess(b"tiny"))
    assert struct.unpack("<Q", footer[68:76])[0] == MAGIC
    with pytest.raises(CorruptionError, match="out of bounds"):
        bad = dict(handles, index=(10**12, 5))
        SSTableReader(MemRandomAccess(TABLE[:-FOOTER_BYTES] + encode_footer(bad)))


def test_unverified_reads_still_never_crash():
    for i in range(0, len(TABLE) - FOOTER_BYTES, 5):
        table = bytearray(TABLE)
        table[i] ^= 0xFF
        try:
            r = SSTableReader(MemRandomAccess(bytes(table)), verify_checksums=False)
            it = r.iterator()
            it.seek_to_first()
            list(it.entries())
            r.get(b"key030")
        except CorruptionError:
            pass


def test_dump_and_verify(tmp_path):
    path = str(tmp_path / "7.sst")
    default_env().write_file_atomic(path, TABLE)
    out = io.StringIO()
    assert dump_sstable(path, out, limit=10) == 10
    text = out.getvalue()
    assert "format_version 2" in text and "range tombstones: 1" in text
    assert "filter: blocked," in text
    assert "'key000' @3 PUT" in text and "stopped after 10" in text
    report = verify_sstable(path)
    assert report["ok"] and report["entries"] == len(MODEL.items)
    r = SSTableReader(MemRandomAccess(TABLE))
    _, off, size = r.block_handles()[2]
    bad = bytearray(TABLE)
    bad[off + 1] ^= 1
    default_env().write_file_atomic(path, bytes(bad))
    report = verify_sstable(path)
    assert not report["ok"] and "checksum" in report["problems"][0]
    with pytest.raises(CorruptionError):
        dump_sstable(path, io.StringIO())


def test_dump_and_verify_take_bytes_and_pathlike_paths(tmp_path):
    path = tmp_path / "8.sst"
    default_env().write_file_atomic(str(path), TABLE)
    for spelled in (os.fsencode(path), path):
        report = verify_sstable(spelled)
        assert report["ok"] and report["path"] == str(path)
        assert dump_sstable(spelled, io.StringIO(), limit=1) == 1


prefixed_entries = st.dictionaries(
    st.tuples(st.binary(max_size=10).map(lambda b: b"user:0000" + b), st.integers(1, 50)),
    st.tuples(st.sampled_from([PUT, PUT, DELETE]), st.binary(max_size=20)),
    min_size=1, max_size=150,
)
probe_keys = st.lists(st.one_of(
    st.binary(max_size=12),                                   # mostly outside the prefix
    st.binary(max_size=9).map(lambda b: b"user:0000"[:len(b)] + b),
    st.binary(max_size=12).map(lambda b: b"user:0000" + b),   # inside, any suffix
), max_size=40)


@given(prefixed_entries, probe_keys, st.sampled_from([64, 128, 512]))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_point_reads_through_the_decoded_index(entries, probes, block_bytes):
    # Every index key shares the prefix b"user:0000" (at least): lookups compare the 8 bytes
    # after it as one integer, so probe keys below, inside, past and around that prefix.
    model = Model(entries)
    data, props = build(model, block_bytes=block_bytes, bits_per_key=0.0)
    assert props["num_data_blocks"] >= 1
    reader = SSTableReader(MemRandomAccess(data))
    for uk in {*probes, *(u for u, _ in entries), b"", b"user:0000", b"user:", b"\xff"}:
        for snap in (MAX_SEQNO, 25):
            assert reader.get(uk, snap) == model.get(uk, snap), (uk, snap)


@pytest.mark.parametrize("interval", [2, 5])
def test_an_index_block_with_shared_prefixes_is_searched_as_a_block(interval):
    # lsmdb writes index blocks with restart interval 1 (every key whole), which the reader
    # decodes into an array at open; any other index is searched as a block. Rewrite a
    # table's index with a longer interval and check both readers agree on every lookup.
    import zlib

    from lsmdb._core.block import BlockBuilder
    from lsmdb._core.sstable_format import encode_varint64

    entries = {(b"key%04d" % i, 1 + i % 3): (PUT if i % 4 else DELETE, b"v%d" % i)
               for i in range(600)}
    model = Model(entries)
    data, _ = build(model, block_bytes=128, bits_per_key=0.0)
    original = SSTableReader(MemRandomAccess(data))
    footer = decode_footer(data[-FOOTER_BYTES:])
    index_at = footer["index"][0]
    rebuilt = BlockBuilder(interval)
    for key, off, size in original.block_handles():
        rebuilt.add(key, encode_varint64(off) + encode_varint64(size))
    payload = rebuilt.finish()
    trailer = bytes([0]) + struct.pack("<I", zlib.crc32(payload + bytes([0])))
    handles = {name: footer[name] for name in ("filter", "range_del", "properties")}
    handles["index"] = (index_at, len(payload))
    rewritten = data[:index_at] + payload + trailer + encode_footer(handles)
    reader = SSTableReader(MemRandomAccess(rewritten))
    assert reader.block_handles() == original.block_handles()
    probes = sorted({uk for uk, _ in entries} | {b"", b"key", b"key0300x", b"zz"})
    for uk in probes:
        for snap in (MAX_SEQNO, 2):
            assert reader.get(uk, snap) == original.get(uk, snap) == model.get(uk, snap)
    for uk in probes[::7]:
        a, b = reader.iterator(), original.iterator()
        a.seek(seek_key(uk, MAX_SEQNO))
        b.seek(seek_key(uk, MAX_SEQNO))
        assert (a.key() if a.valid() else None) == (b.key() if b.valid() else None)


def test_a_seek_inside_the_loaded_block_skips_the_block_cache():
    entries = {(b"key%04d" % i, 1): (PUT, b"v%d" % i) for i in range(400)}
    model = Model(entries)
    data, props = build(model, block_bytes=512, bits_per_key=0.0)
    assert props["num_data_blocks"] > 4
    cache = BlockCache(1 << 20)
    reader = SSTableReader(MemRandomAccess(data), file_number=1, cache=cache)
    # Index keys are each block's last key: the keys of block 3 lie after block 2's.
    last2, last3 = reader.block_handles()[2][0][:-8], reader.block_handles()[3][0][:-8]
    inside = [uk for (uk, _) in sorted(entries) if last2 < uk <= last3]
    assert len(inside) >= 3
    it = reader.iterator()
    it.seek(seek_key(inside[1], MAX_SEQNO))
    looked_up = cache.hits + cache.misses
    it.seek(seek_key(inside[2], MAX_SEQNO))        # the same block: no lookup
    assert it.key() == make_internal_key(inside[2], 1, PUT)
    it.seek_for_prev(seek_key(inside[0], 0))
    assert it.key() == make_internal_key(inside[0], 1, PUT)
    assert cache.hits + cache.misses == looked_up
    it.seek(seek_key(b"key0390", MAX_SEQNO))       # another block: one lookup
    assert cache.hits + cache.misses == looked_up + 1
    assert it.key() == make_internal_key(b"key0390", 1, PUT)


@given(entry_dicts, st.sampled_from([64, 128, 512]),
       st.lists(st.tuples(st.sampled_from(["seek", "seek_for_prev", "next", "prev"]),
                          st.binary(max_size=6), st.integers(0, 52)), max_size=40))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_one_iterator_serves_any_sequence_of_seeks_and_steps(entries, block_bytes, ops):
    # The reuse path: every seek after the first may stay in the loaded data block.
    model = Model(entries)
    data, _ = build(model, block_bytes=block_bytes, bits_per_key=0.0)
    reader = SSTableReader(MemRandomAccess(data), file_number=1, cache=BlockCache(1 << 16))
    it = reader.iterator()
    pos = None                                    # index into model.items, None = invalid
    for op, uk, seq in ops:
        t = seek_key(uk, seq)
        if op == "seek":
            it.seek(t)
            pos = bisect.bisect_left(model.keys, ikey_sort(t))
        elif op == "seek_for_prev":
            it.seek_for_prev(t)
            pos = bisect.bisect_right(model.keys, ikey_sort(t)) - 1
        elif pos is None:
            continue
        elif op == "next":
            it.next()
            pos += 1
        else:
            it.prev()
            pos -= 1
        if pos is not None and not 0 <= pos < len(model.items):
            pos = None
        assert it.valid() == (pos is not None)
        if pos is not None:
            assert (it.key(), it.value()) == model.items[pos]
