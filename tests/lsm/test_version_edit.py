import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lsmdb.errors import CorruptionError
from lsmdb.lsm.version_edit import FileMetaData, VersionEdit

ikeys = st.binary(max_size=12).map(lambda b: b + bytes(8))
files = st.builds(FileMetaData, number=st.integers(1, 2**40), size=st.integers(0, 2**40),
                  smallest=ikeys, largest=ikeys, min_seqno=st.integers(0, 2**56),
                  max_seqno=st.integers(0, 2**56), entries=st.integers(0, 2**32),
                  deletions=st.integers(0, 2**32), range_deletions=st.integers(0, 100),
                  raw_bytes=st.integers(0, 2**40), run=st.integers(0, 1000),
                  creation_time=st.integers(0, 2**40))
edits = st.builds(
    VersionEdit,
    log_number=st.none() | st.integers(0, 2**40),
    next_file_number=st.none() | st.integers(0, 2**40),
    last_sequence=st.none() | st.integers(0, 2**56),
    format_version=st.none() | st.just(1),
    style=st.none() | st.sampled_from(["leveled", "tiered", "lazy_leveling"]),
    compact_pointers=st.lists(st.tuples(st.integers(0, 6), ikeys), max_size=3),
    deleted_files=st.sets(st.tuples(st.integers(0, 6), st.integers(1, 2**30)), max_size=4),
    new_files=st.lists(st.tuples(st.integers(0, 6), files), max_size=4),
)


@given(edits)
def test_round_trip(edit):
    assert VersionEdit.decode(edit.encode()) == edit


@settings(max_examples=300)
@given(edits, st.data())
def test_mutations_decode_or_raise_corruption(edit, data):
    raw = bytearray(edit.encode())
    if not raw:
        return
    kind = data.draw(st.sampled_from(["flip", "truncate", "garbage"]))
    if kind == "flip":
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] ^= data.draw(st.integers(1, 255))
    elif kind == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    else:
        raw = bytearray(data.draw(st.binary(max_size=64)))
    try:
        decoded = VersionEdit.decode(bytes(raw), "MANIFEST-000001", 100)
    except CorruptionError as exc:
        assert exc.file == "MANIFEST-000001" and exc.offset >= 100
        return
    assert VersionEdit.decode(decoded.encode()) == decoded


def test_errors_name_file_and_offset():
    with pytest.raises(CorruptionError, match=r"MANIFEST-7.*offset 11"):
        VersionEdit.decode(b"\x63", "MANIFEST-7", 10)
    with pytest.raises(CorruptionError, match="exceeds"):
        VersionEdit.decode(b"\x04\x01\xff\x01", "M", 0)
