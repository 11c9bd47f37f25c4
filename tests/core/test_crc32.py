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


def test_crc32_matches_zlib_at_every_length_alignment_and_start_value():
    # The carry-less-multiply path (64+ bytes) and the table loop (the tail, short inputs)
    # meet at every length mod 16 and every buffer alignment.
    data = bytes((i * 131 + 7) % 256 for i in range(70000))
    for n in [*range(0, 200), 255, 256, 1023, 4096, 4097, 65536, 69990]:
        for start in (0, 1, 3, 8):
            chunk = memoryview(data)[start:start + n]
            for value in (0, 0xDEADBEEF):
                assert crc32(chunk, value) == zlib.crc32(chunk, value), (n, start, value)
