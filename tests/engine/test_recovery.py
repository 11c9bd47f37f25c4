"""lsmdb/engine/recovery.py: the statistics and format records read back at open."""

import struct

import pytest

from lsmdb.engine.recovery import decode_stats, encode_stats
from lsmdb.errors import CorruptionError, FormatVersionError


def test_statistics_round_trip():
    s = [3, 120, 1, [(1, 0.5, 2.0, 7)]]
    assert decode_stats(encode_stats(s)) == [3, 120, 1, [(1, 0.5, 2.0, 7)]]
    assert decode_stats(encode_stats([0, 0, 0, []])) == [0, 0, 0, []]


@pytest.mark.parametrize("tail", [b"[" * 100_000, b"{]", b"\xff", b"[1, 2]"])
def test_a_damaged_statistics_record_is_corruption(tail):
    # A deeply nested tail raised RecursionError, which is not part of the error hierarchy.
    with pytest.raises(CorruptionError):
        decode_stats(struct.pack(">Bqqq", 1, 1, 1, 0) + tail)


def test_short_or_newer_statistics_records():
    with pytest.raises(CorruptionError):
        decode_stats(b"\x01\x00")
    with pytest.raises(FormatVersionError):
        decode_stats(struct.pack(">Bqqq", 2, 0, 0, 0))
