import math
import random

import mmh3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lsmdb._core.bloom import (
    FORMAT_TAG,
    FORMAT_TAG_BLOCKED,
    SEED,
    BloomFilter,
    BloomFilterBuilder,
    bloom_hash_pair,
    expected_fpr,
    filter_bits_for,
    murmur3_x64_128,
    num_probes_for,
    theoretical_fpr,
)
from lsmdb.errors import CorruptionError, InvalidArgumentError


def _oracle(data: bytes, seed: int) -> int:
    return mmh3.hash128(data, seed, x64arch=True, signed=False)


def test_murmur3_matches_mmh3_for_every_length_0_to_64_and_larger():
    rnd = random.Random(7)
    for n in list(range(0, 65)) + [100, 127, 128, 129, 1000, 4097]:
        for _ in range(4):
            data = rnd.randbytes(n)
            seed = rnd.randrange(1 << 32)
            assert murmur3_x64_128(data, seed) == _oracle(data, seed), (n, seed)


@given(st.binary(max_size=300), st.integers(0, (1 << 32) - 1))
@settings(max_examples=300)
def test_murmur3_matches_mmh3_random(data, seed):
    assert murmur3_x64_128(data, seed) == _oracle(data, seed)
    h1, h2 = mmh3.hash64(data, seed, x64arch=True, signed=False)
    assert murmur3_x64_128(data, seed) == h1 | (h2 << 64)


def test_hash_pair_uses_the_persisted_seed():
    h = _oracle(b"key", SEED)
    assert bloom_hash_pair(b"key") == (h & ((1 << 64) - 1), h >> 64)
    assert murmur3_x64_128(bytearray(b"key"), SEED) == h
    assert murmur3_x64_128(memoryview(b"key"), SEED) == h


@pytest.mark.parametrize(("bpk", "k"), [(0.5, 1), (1.0, 1), (3.7, 3), (5, 3), (10, 7),
                                        (15, 10), (44, 30), (100, 30)])
def test_num_probes(bpk, k):
    assert num_probes_for(bpk, "standard") == k
    assert BloomFilterBuilder(bpk, "standard").num_probes == k


def test_serialized_layout():
    b = BloomFilterBuilder(10, "standard")
    b.add_many([b"a", b"b", b"c"])
    data = b.finish()
    assert len(data) == 64 // 8 + 2          # the 64-bit minimum
    assert data[-1] == FORMAT_TAG and data[-2] == 7
    h1, h2 = bloom_hash_pair(b"a")
    for i in range(7):
        bit = ((h1 + i * h2) % (1 << 64)) % 64
        assert data[bit >> 3] & (1 << (bit & 7))
    f = BloomFilter(data)
    assert (f.num_probes, f.num_bits, len(f)) == (7, 64, 10)


@given(st.lists(st.binary(max_size=40), max_size=300),
       st.floats(0.5, 20, allow_nan=False))
@settings(max_examples=60)
def test_no_false_negatives(keys, bpk):
    b = BloomFilterBuilder(bpk, "standard")
    half = len(keys) // 2
    b.add_many(keys[:half])
    for k in keys[half:]:
        b.add(k)
    assert len(b) == len(keys)
    f = BloomFilter(b.finish())
    assert all(f.may_contain_many(keys))
    assert all(f.may_contain(k) for k in keys)
    assert f.num_bits == filter_bits_for(len(keys), bpk, "standard")


def test_fractional_bits_per_key_sizes_the_filter():
    n = 10_000
    b = BloomFilterBuilder(3.7, "standard")
    b.add_many([b"%d" % i for i in range(n)])
    f = BloomFilter(b.finish())
    assert f.num_bits == math.ceil(n * 3.7 / 8) * 8
    assert f.num_probes == 3


@pytest.mark.parametrize("fmt", ["standard", "blocked"])
@pytest.mark.parametrize("bpk", [3.7, 5.0, 10.0, 15.0])
def test_false_positive_rate_close_to_theory(bpk, fmt):
    n, probes = 20_000, 200_000
    b = BloomFilterBuilder(bpk, fmt)
    b.add_many([b"in-%d" % i for i in range(n)])
    f = BloomFilter(b.finish())
    hits = sum(f.may_contain_many([b"out-%d" % i for i in range(probes)]))
    p = theoretical_fpr(n, f.num_bits, f.num_probes, fmt)
    # 6 standard deviations of a binomial(probes, p) around the theoretical mean, plus 15 %
    # model slack (double hashing and a finite m; the blocked layout's Poisson line model):
    # a correct filter fails ~never.
    sigma = math.sqrt(probes * p * (1 - p))
    assert abs(hits - probes * p) <= 6 * sigma + 0.15 * probes * p, (hits, probes * p)


def test_zero_bits_per_key_means_no_filter():
    b = BloomFilterBuilder(0)
    b.add(b"x")
    assert b.finish() == b""
    f = BloomFilter(b"")
    assert f.is_empty and f.may_contain(b"anything") and f.may_contain_many([b"a"]) == [True]


def test_empty_filter_with_bits_rejects_everything():
    f = BloomFilter(BloomFilterBuilder(10).finish())
    assert not f.is_empty
    assert not any(f.may_contain_many([b"%d" % i for i in range(100)]))


def test_invalid_bits_per_key():
    for bad in (-1.0, float("nan"), 1e9):
        with pytest.raises(InvalidArgumentError):
            BloomFilterBuilder(bad)


@pytest.mark.parametrize(("data", "where", "match"), [
    (b"\x00\x07", ("f.sst", 100), "f.sst.*offset 100"),                 # shorter than a trailer
    (b"\x00" * 8 + b"\x07\x09", ("f.sst", 100), "format tag"),
    (b"\x00" * 8 + b"\x00\x01", (), "probe count"),
    (b"\x00" * 8 + b"\x1f\x01", (), "probe count"),
    (b"\x00" * 65 + b"\x06\x02", ("f.sst", 7), "whole number of 64-byte lines.*f.sst.*offset 7"),
    (b"\x00" * 8 + b"\x06\x02", (), "whole number"),
    (b"\x00" * 64 + b"\x00\x02", (), "probe count"),
])
def test_malformed_filters_raise_corruption_with_location(data, where, match):
    with pytest.raises(CorruptionError, match=match):
        BloomFilter(data, *where)


@given(st.binary(max_size=64))
def test_arbitrary_bytes_parse_or_raise_corruption(data):
    try:
        f = BloomFilter(data)
    except CorruptionError:
        return
    f.may_contain_many([b"a", b"", b"x" * 50])


@given(st.binary(min_size=1, max_size=200), st.integers(0, 40), st.sampled_from([1, 2]))
def test_arbitrary_bits_with_a_valid_trailer_parse_or_raise_corruption(bits, k, tag):
    try:
        f = BloomFilter(bits + bytes([k, tag]))
    except CorruptionError:
        assert not 1 <= k <= 30 or (tag == 2 and len(bits) % 64)
        return
    assert f.format == ("blocked" if tag == 2 else "standard")
    f.may_contain_many([b"a", b"", b"x" * 50, bytes(range(256))])


def test_filter_accepts_memoryview_without_copy():
    b = BloomFilterBuilder(8)
    b.add_many([b"k1", b"k2"])
    buf = bytearray(b"junk" + b.finish())
    f = BloomFilter(memoryview(buf)[4:])
    assert f.may_contain(b"k1") and f.may_contain(b"k2")


# -- the blocked layout (format tag 2) ------------------------------------------------------


def _blocked_bits(key: bytes, nlines: int, k: int) -> list[int]:
    """The bit positions (within the whole filter) a key sets: docs/format/bloom.md, by hand."""
    h = _oracle(key, SEED)
    h1, h2 = h & ((1 << 64) - 1), h >> 64
    line = ((h1 >> 32) * nlines) >> 32
    x = h2 & 0xFFFFFFFF
    out = []
    for _ in range(k):
        out.append(line * 512 + (x >> 23))
        x = (x * 0x9E3779B9) & 0xFFFFFFFF
    return out


@pytest.mark.parametrize(("bpk", "k"), [(0.5, 1), (2.08, 1), (2.1, 2), (3.7, 3), (5, 3),
                                        (8, 5), (10, 6), (10.07, 6), (11, 7), (15, 9),
                                        (20, 11), (25, 12), (30, 13), (49, 23), (50.1, 24),
                                        (64, 24)])
def test_blocked_num_probes_follow_rocksdb_table(bpk, k):
    assert num_probes_for(bpk, "blocked") == k
    assert BloomFilterBuilder(bpk, "blocked").num_probes == k
    assert BloomFilterBuilder(bpk).num_probes == k  # blocked is the builder's default


def test_blocked_serialized_layout_matches_a_hand_oracle():
    keys = [b"apple", b"apply"] + [b"key-%d" % i for i in range(300)]
    b = BloomFilterBuilder(10)
    assert b.format == "blocked"
    b.add_many(keys)
    data = b.finish()
    nbits = filter_bits_for(len(keys), 10, "blocked")
    assert nbits == 3072 and len(data) == nbits // 8 + 2   # ceil(3020 / 512) = 6 lines
    assert data[-1] == FORMAT_TAG_BLOCKED and data[-2] == 6
    expect = bytearray(nbits // 8)
    for key in keys:
        for bit in _blocked_bits(key, nbits // 512, 6):
            expect[bit >> 3] |= 1 << (bit & 7)
    assert data[:-2] == bytes(expect)
    f = BloomFilter(data)
    assert (f.format, f.num_probes, f.num_bits, f.format_tag) == ("blocked", 6, nbits, 2)


def test_blocked_worked_example_of_the_format_doc():
    b = BloomFilterBuilder(10)
    b.add_many([b"apple", b"apply"])
    data = b.finish()
    assert len(data) == 66 and data[-2:] == b"\x06\x02"
    assert _blocked_bits(b"apple", 1, 6) == [178, 93, 459, 197, 473, 307]
    assert _blocked_bits(b"apply", 1, 6) == [363, 180, 333, 455, 196, 30]
    assert {i for i in range(512) if data[i >> 3] & (1 << (i & 7))} == {
        178, 93, 459, 197, 473, 307, 363, 180, 333, 455, 196, 30}


@given(st.lists(st.binary(max_size=40), max_size=300), st.floats(0.5, 30, allow_nan=False))
@settings(max_examples=60)
def test_blocked_no_false_negatives_and_whole_lines(keys, bpk):
    b = BloomFilterBuilder(bpk, "blocked")
    b.add_many(keys)
    f = BloomFilter(b.finish())
    assert all(f.may_contain_many(keys))
    assert f.num_bits == filter_bits_for(len(keys), bpk, "blocked")
    assert f.num_bits % 512 == 0 and f.num_bits >= 512


def test_blocked_filter_at_an_unaligned_address_reads_the_same():
    b = BloomFilterBuilder(10)
    keys = [b"k%d" % i for i in range(1000)]
    b.add_many(keys)
    data = b.finish()
    probes = keys + [b"x%d" % i for i in range(3000)]
    want = BloomFilter(data).may_contain_many(probes)
    for shift in range(1, 9):   # the bits land at every alignment: the reader copies them
        buf = bytearray(b"j" * shift + data)
        assert BloomFilter(memoryview(buf)[shift:]).may_contain_many(probes) == want


def test_expected_fpr_of_both_layouts():
    assert expected_fpr(10, "standard") == pytest.approx(0.00819, abs=2e-5)
    assert expected_fpr(10, "blocked") == pytest.approx(0.00958, abs=2e-5)
    assert expected_fpr(0, "blocked") == expected_fpr(-1, "standard") == 1.0
    # cache locality costs little at low bits per key and more at high
    assert expected_fpr(3.7, "blocked") / expected_fpr(3.7, "standard") < 1.01
    assert expected_fpr(20, "blocked") / expected_fpr(20, "standard") > 2
    for bpk in (1, 2, 4, 8, 16, 32, 60):
        assert expected_fpr(bpk, "blocked") > expected_fpr(bpk + 1, "blocked")
    assert theoretical_fpr(0, 512, 6, "blocked") == 0.0


def test_unknown_format_names_raise():
    for bad in ("Blocked", "", None, 2):
        with pytest.raises(InvalidArgumentError, match="bloom format"):
            BloomFilterBuilder(10, bad)
        with pytest.raises(InvalidArgumentError, match="bloom format"):
            num_probes_for(10, bad)
