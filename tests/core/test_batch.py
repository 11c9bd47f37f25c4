import array
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lsmdb._core.batch import WriteBatch
from lsmdb._core.ikey import DELETE, MAX_SEQNO, PUT, RANGE_DELETE
from lsmdb.errors import CorruptionError, InvalidArgumentError

keys = st.binary(max_size=20)
ops = st.lists(
    st.one_of(
        st.tuples(st.just(PUT), keys, st.binary(max_size=200)),
        st.tuples(st.just(DELETE), keys, st.none()),
        st.tuples(st.just(RANGE_DELETE), keys, keys),
    ),
    max_size=30,
)


def build(op_list, sequence=0):
    wb = WriteBatch()
    wb.sequence = sequence
    for vtype, key, value in op_list:
        if vtype == PUT:
            wb.put(key, value)
        elif vtype == DELETE:
            wb.delete(key)
        else:
            wb.delete_range(key, value)
    return wb


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def reference_encoding(op_list, sequence):
    """Independent encoder straight from the grammar in docs/format/write_batch.md."""
    out = struct.pack("<QI", sequence, len(op_list))
    for vtype, key, value in op_list:
        out += bytes([vtype]) + varint(len(key)) + key
        if vtype != DELETE:
            out += varint(len(value)) + value
    return out


@given(ops, st.integers(0, MAX_SEQNO - 100))
def test_round_trip_matches_the_grammar(op_list, sequence):
    wb = build(op_list, sequence)
    data = wb.data()
    assert data == reference_encoding(op_list, sequence)
    assert wb.count == len(wb) == len(op_list)
    assert wb.byte_size == len(data)
    assert wb.sequence == sequence
    assert list(wb) == op_list
    back = WriteBatch.from_bytes(data)
    assert list(back.ops()) == op_list
    assert back.sequence == sequence and back.count == len(op_list)
    assert back.data() == data


def test_worked_example_from_the_doc():
    wb = WriteBatch()
    wb.sequence = 7
    wb.put(b"k1", b"v")
    wb.delete(b"k2")
    wb.delete_range(b"a", b"c")
    assert wb.data().hex() == (
        "0700000000000000" "03000000" "01026b310176" "00026b32" "0201610163"
    )


def test_long_lengths_use_multibyte_varints():
    value = b"x" * 300
    wb = build([(PUT, b"k", value)])
    assert wb.data()[12:17] == b"\x01\x01k\xac\x02"
    assert list(WriteBatch.from_bytes(wb.data())) == [(PUT, b"k", value)]


def test_any_buffer_is_accepted():
    wb = WriteBatch()
    wb.put(bytearray(b"k"), memoryview(b"value"))
    wb.put(memoryview(b"a-b-c")[::2], array.array("B", b"zz"))
    wb.delete(memoryview(bytearray(b"gone")))
    assert list(wb) == [(PUT, b"k", b"value"), (PUT, b"abc", b"zz"), (DELETE, b"gone", None)]


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda wb: wb.put("k", b"v"), "key"),
        (lambda wb: wb.put(b"k", 5), "value"),
        (lambda wb: wb.delete(None), "key"),
        (lambda wb: wb.delete_range(b"a", 1.5), "end"),
        (lambda wb: wb.delete_range([], b"z"), "start"),
    ],
)
def test_non_buffers_raise_type_error_naming_the_argument(call, name):
    wb = WriteBatch()
    with pytest.raises(TypeError, match=rf"^{name} must be a bytes-like object"):
        call(wb)
    assert wb.count == 0 and wb.byte_size == 12


def test_sequence_range_is_checked():
    wb = WriteBatch()
    wb.sequence = MAX_SEQNO
    assert wb.sequence == MAX_SEQNO
    for bad in (-1, MAX_SEQNO + 1):
        with pytest.raises(InvalidArgumentError):
            wb.sequence = bad


def test_clear_and_reuse():
    wb = build([(PUT, b"k" * 10, b"v" * (2 << 20))], sequence=9)
    wb.clear()
    assert (wb.count, wb.byte_size, wb.sequence, list(wb)) == (0, 12, 0, [])
    wb.put(b"a", b"b")
    assert list(wb) == [(PUT, b"a", b"b")]


def test_append_including_itself():
    a = build([(PUT, b"a", b"1"), (DELETE, b"b", None)], sequence=5)
    b = build([(RANGE_DELETE, b"c", b"d")], sequence=99)
    a.append(b)
    assert a.sequence == 5 and a.count == 3
    assert list(a) == [(PUT, b"a", b"1"), (DELETE, b"b", None), (RANGE_DELETE, b"c", b"d")]
    a.append(a)
    assert list(a) == 2 * [(PUT, b"a", b"1"), (DELETE, b"b", None), (RANGE_DELETE, b"c", b"d")]
    assert WriteBatch.from_bytes(a.data()).count == 6
    with pytest.raises(TypeError):
        a.append(b"not a batch")


def test_ops_during_mutation():
    wb = build([(PUT, b"a", b"1")])
    it = iter(wb)
    assert next(it) == (PUT, b"a", b"1")
    wb.put(b"b", b"2")                       # appended ops are still yielded
    assert next(it) == (PUT, b"b", b"2")
    wb.clear()
    with pytest.raises(RuntimeError):
        next(it)


# Corruption ------------------------------------------------------------------------------

def test_corruptions_name_file_and_offset():
    good = build([(PUT, b"key", b"value"), (DELETE, b"k2", None)], sequence=3).data()
    with pytest.raises(CorruptionError, match=r"header.*file wal/1.log, offset 100") as e:
        WriteBatch.from_bytes(good[:11], "wal/1.log", 100)
    assert e.value.file == "wal/1.log" and e.value.offset == 100
    with pytest.raises(CorruptionError, match="op 0 of 2: unknown op type 7") as e:
        WriteBatch.from_bytes(good[:12] + b"\x07" + good[13:], "f", 1000)
    assert e.value.offset == 1012
    with pytest.raises(CorruptionError, match="op 1 of 2: the batch ends") as e:
        WriteBatch.from_bytes(good[:23])
    assert e.value.offset == 23
    with pytest.raises(CorruptionError, match="op 1 of 2: truncated or over-long varint32"):
        WriteBatch.from_bytes(good[:24])
    with pytest.raises(CorruptionError, match="op 1 of 2: key length") as e:
        WriteBatch.from_bytes(good[:-1])
    with pytest.raises(CorruptionError, match="2 bytes after its 2 ops") as e:
        WriteBatch.from_bytes(good + b"\0\0")
    assert e.value.offset == len(good)
    with pytest.raises(CorruptionError, match="value length"):
        WriteBatch.from_bytes(good[:12] + b"\x01\x00\x7f")
    with pytest.raises(CorruptionError, match="varint32"):
        WriteBatch.from_bytes(struct.pack("<QI", 0, 1) + b"\x01\xff\xff\xff\xff\x1f")
    with pytest.raises(CorruptionError, match="exceeds MAX_SEQNO"):
        WriteBatch.from_bytes(struct.pack("<QI", MAX_SEQNO, 2) + b"\x00\x00\x00\x00")
    with pytest.raises(CorruptionError, match="exceeds MAX_SEQNO"):
        WriteBatch.from_bytes(struct.pack("<QI", MAX_SEQNO + 1, 0))


def test_huge_count_with_few_bytes_fails_fast():
    with pytest.raises(CorruptionError, match="op 1 of 4294967295"):
        WriteBatch.from_bytes(struct.pack("<QI", 1, 0xFFFFFFFF) + b"\x00\x00")


def test_length_beyond_buffer_is_rejected_not_allocated():
    data = struct.pack("<QI", 1, 1) + b"\x01" + varint(0xFFFFFFFF)
    with pytest.raises(CorruptionError, match="key length"):
        WriteBatch.from_bytes(data)


mutations = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10_000), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 10_000), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 10_000), st.integers(0, 255)),
)


@settings(max_examples=300)
@given(ops, st.lists(mutations, min_size=1, max_size=4))
def test_mutated_batches_raise_corruption_or_decode_exactly(op_list, mutations):
    data = bytearray(build(op_list, 1).data())
    for kind, where, byte in mutations:
        where %= len(data) + 1
        if kind == "flip" and where < len(data):
            data[where] ^= byte
        elif kind == "truncate":
            del data[where:]
        elif kind == "insert":
            data.insert(where, byte)
    try:
        wb = WriteBatch.from_bytes(bytes(data))
    except CorruptionError as e:
        assert e.offset is not None and 0 <= e.offset <= len(data)
        return
    # Accepted: it must be a faithful decoding of exactly these bytes.
    decoded = list(wb)
    assert len(decoded) == wb.count
    assert wb.data() == bytes(data)
    # Non-canonical varints are tolerated on read; everything else re-encodes identically.
    rebuilt = build(decoded, wb.sequence)
    assert list(rebuilt) == decoded and rebuilt.count == wb.count


@given(st.binary(max_size=64))
def test_garbage_never_crashes(data):
    try:
        wb = WriteBatch.from_bytes(data)
    except CorruptionError:
        return
    assert wb.data() == data


def test_append_encoded_continues_a_batch_only_at_its_next_sequence():
    run = build([(PUT, b"a", b"1")], sequence=10)
    nxt = build([(DELETE, b"a", None), (PUT, b"b", b"2")], sequence=11).data()
    assert run.append_encoded(nxt) is True
    assert (run.sequence, run.count) == (10, 3)
    assert list(run.ops()) == [(PUT, b"a", b"1"), (DELETE, b"a", None), (PUT, b"b", b"2")]
    assert WriteBatch.from_bytes(run.data()).data() == run.data()  # still a valid encoding
    before = run.data()
    assert run.append_encoded(build([(PUT, b"c", b"3")], sequence=20).data()) is False  # gap
    assert run.append_encoded(build([(PUT, b"c", b"3")], sequence=12).data()) is False  # old
    assert run.append_encoded(build([], sequence=13).data()) is False  # no ops: kept apart
    assert run.append_encoded(b"short") is False
    assert run.data() == before


def test_append_encoded_validates_like_from_bytes_and_appends_nothing_bad():
    run = build([(PUT, b"a", b"1")], sequence=3)
    good = build([(PUT, b"key", b"value"), (DELETE, b"k2", None)], sequence=4).data()
    before = run.data()
    with pytest.raises(CorruptionError, match="op 0 of 2: unknown op type 7") as e:
        run.append_encoded(good[:12] + b"\x07" + good[13:], "f", 1000)
    assert (e.value.file, e.value.offset) == ("f", 1012)
    with pytest.raises(CorruptionError, match="2 bytes after its 2 ops"):
        run.append_encoded(good + b"\0\0")
    assert run.data() == before
