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
