import zlib

from hypothesis import given
from hypothesis import strategies as st

from lsmdb._core.crc32 import crc32


@given(st.binary(max_size=4096), st.integers(0, 4096))
def test_crc32_matches_zlib_and_chains(data, split):
    split = min(split, len(data))
    assert crc32(data) == zlib.crc32(data)
    assert crc32(data[split:], crc32(data[:split])) == zlib.crc32(data)


def test_crc32_accepts_buffers():
    data = bytearray(b"lsmdb" * 100)
    assert crc32(memoryview(data)) == zlib.crc32(data)
    assert crc32(b"") == 0


def test_crc32_every_length_and_alignment_around_the_folding_sizes():
    # The folding path takes >= 64 bytes in 64- and 16-byte steps plus a table-loop tail,
    # from any address: check each length near those steps at every alignment.
    import os

    buf = os.urandom(1200)
    for start in range(16):
        for n in (*range(0, 200), 255, 256, 257, 1023, 1024, 1025, 1100):
            data = memoryview(buf)[start:start + n]
            assert crc32(data) == zlib.crc32(data), (start, n)
            assert crc32(data, 0xDEADBEEF) == zlib.crc32(data, 0xDEADBEEF), (start, n)
