"""Fuzz the log reader (WAL/MANIFEST): hostile bytes either yield records, report a torn
tail, or raise CorruptionError (skip_corrupted=False); with skip_corrupted=True reading
never raises. Payloads written by the writer always read back exactly. The WAL's reader
(``zero_tail_is_end=True``) reads any bytes exactly as the plain reader reads them cut at
its ``zero_tail_offset`` (only zeros after it), or exactly as the plain reader where it has
none.

    python fuzz/fuzz_log.py -max_total_time=60 fuzz/corpus/log
    python fuzz/fuzz_log.py --make-corpus fuzz/corpus/log
"""

import os

import atheris
import fuzzmain

with atheris.instrument_imports():
    from lsmdb._core.logformat import LogReader, encode_records

from lsmdb.errors import CorruptionError


def check_reader(data: bytes) -> None:
    skipping = LogReader(data, "fuzz.log", skip_corrupted=True)
    skipped = skipping.read_all()
    strict = LogReader(data, "fuzz.log")
    try:
        records = strict.read_all()
    except CorruptionError:
        if not skipping.corruptions:
            raise AssertionError(
                "strict reader raised but skipping reader saw no corruption") from None
        return
    if records != skipped or skipping.corruptions:
        raise AssertionError("strict and skipping readers disagree on an uncorrupted log")
    if (strict.torn_tail_offset, strict.tail_error) != (skipping.torn_tail_offset,
                                                        skipping.tail_error):
        raise AssertionError("torn tail reported differently")


def _outcome(data: bytes, **kw):
    reader = LogReader(data, "fuzz.log", **kw)
    try:
        records = reader.read_all()
    except CorruptionError as exc:
        return reader, ("raised", str(exc))
    return reader, (records, reader.torn_tail_offset, reader.tail_error,
                    list(reader.corruptions))


def check_zero_tail_reader(data: bytes) -> None:
    for skip in (False, True):
        wal, got = _outcome(data, skip_corrupted=skip, zero_tail_is_end=True)
        z = wal.zero_tail_offset
        if z is not None and any(data[z:]):
            raise AssertionError("zero tail reported over nonzero bytes")
        _, want = _outcome(data if z is None else data[:z], skip_corrupted=skip)
        if got != want:
            raise AssertionError("WAL reader differs from the plain reader cut at its zeros")


def check_round_trip(data: bytes) -> None:
    payloads = data.split(b"\xff")
    log = encode_records(payloads, 0)
    reader = LogReader(log)
    got = [p for _, p in reader]
    if got != payloads or reader.tail_error is not None:
        raise AssertionError("log round trip failed")
    # Preallocated zeros after the last record: the WAL's reader sees the same records and
    # no damage.
    wal = LogReader(log + bytes(len(data) % 9000), zero_tail_is_end=True)
    if [p for _, p in wal] != payloads or wal.tail_error is not None:
        raise AssertionError("zeros after a log read as damage")


def TestOneInput(data: bytes) -> None:
    if data[:1] == b"\x00":
        check_round_trip(data[1:])
    else:
        check_reader(data)
        check_zero_tail_reader(data)


def make_corpus(directory: str) -> None:
    os.makedirs(directory, exist_ok=True)
    seeds = {
        "one_record": encode_records([b"hello"]),
        "three_records": encode_records([b"", b"put k v", b"x" * 300]),
        "torn_tail": encode_records([b"first", b"second record"])[:-4],
        "round_trip_input": b"\x00a\xffbc\xff\xff" + b"d" * 50,
        "zero_tail": encode_records([b"first", b"second"]) + bytes(100),
    }
    for name, data in seeds.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    fuzzmain.run(TestOneInput, make_corpus)
