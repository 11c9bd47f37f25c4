import math
import random

import mmh3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lsmdb._core.bloom import (
    FORMAT_TAG,
    SEED,
    BloomFilter,
    BloomFilterBuilder,
    bloom_hash_pair,
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
    assert num_probes_for(bpk) == k
    assert BloomFilterBuilder(bpk).num_probes == k


def test_serialized_layout():
    b = BloomFilterBuilder(10)
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
    b = BloomFilterBuilder(bpk)
    half = len(keys) // 2
    b.add_many(keys[:half])
    for k in keys[half:]:
        b.add(k)
    assert len(b) == len(keys)
    f = BloomFilter(b.finish())
    assert all(f.may_contain_many(keys))
    assert all(f.may_contain(k) for k in keys)
    assert f.num_bits == filter_bits_for(len(keys), bpk)


def test_fractional_bits_per_key_sizes_the_filter():
    n = 10_000
    b = BloomFilterBuilder(3.7)
    b.add_many([b"%d" % i for i in range(n)])
    f = BloomFilter(b.finish())
    assert f.num_bits == math.ceil(n * 3.7 / 8) * 8
    assert f.num_probes == 3


@pytest.mark.parametrize("bpk", [5.0, 10.0, 15.0])
def test_false_positive_rate_close_to_theory(bpk):
    n, probes = 20_000, 200_000
    b = BloomFilterBuilder(bpk)
    b.add_many([b"in-%d" % i for i in range(n)])
    f = BloomFilter(b.finish())
    hits = sum(f.may_contain_many([b"out-%d" % i for i in range(probes)]))
    p = theoretical_fpr(n, f.num_bits, f.num_probes)
    # 6 standard deviations of a binomial(probes, p) around the theoretical mean, plus 15 %
    # model slack (double hashing and a finite m): a correct filter fails ~never.
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


def test_malformed_filters_raise_corruption_with_location():
    with pytest.raises(CorruptionError, match="f.sst.*offset 100"):
        BloomFilter(b"\x00\x07", "f.sst", 100)
    with pytest.raises(CorruptionError, match="format tag"):
        BloomFilter(b"\x00" * 8 + b"\x07\x09", "f.sst", 100)
    with pytest.raises(CorruptionError, match="probe count"):
        BloomFilter(b"\x00" * 8 + b"\x00\x01")
    with pytest.raises(CorruptionError, match="probe count"):
        BloomFilter(b"\x00" * 8 + b"\x1f\x01")


@given(st.binary(max_size=64))
def test_arbitrary_bytes_parse_or_raise_corruption(data):
    try:
        f = BloomFilter(data)
    except CorruptionError:
        return
    f.may_contain_many([b"a", b"", b"x" * 50])


def test_filter_accepts_memoryview_without_copy():
    b = BloomFilterBuilder(8)
    b.add_many([b"k1", b"k2"])
    buf = bytearray(b"junk" + b.finish())
    f = BloomFilter(memoryview(buf)[4:])
    assert f.may_contain(b"k1") and f.may_contain(b"k2")
