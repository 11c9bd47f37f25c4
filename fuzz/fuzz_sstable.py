"""Fuzz the SSTable reader over an in-memory file: opening, full iteration in both
directions, seeks and point gets must raise only CorruptionError / FormatVersionError.

Run: python fuzz/fuzz_sstable.py [libFuzzer args] [corpus]; seeds: --make-corpus DIR.
"""

import os

import atheris
import fuzzmain

with atheris.instrument_imports():
    from lsmdb._core.ikey import DELETE, PUT, make_internal_key
    from lsmdb._core.sstable_builder import SSTableBuilder
    from lsmdb._core.sstable_reader import SSTableReader
from lsmdb.errors import CorruptionError, FormatVersionError


class MemFile:
    """RandomAccessFile over bytes (pread/size/path; no mmap_view)."""

    def __init__(self, data: bytes):
        self.data = data
        self.size = len(data)
        self.path = "fuzz.sst"

    def pread(self, offset: int, n: int) -> bytes:
        return self.data[offset:offset + n]


class Sink:
    def __init__(self):
        self.chunks = []

    def append(self, data) -> None:
        self.chunks.append(bytes(data))


def _exercise(reader) -> None:
    it = reader.iterator()
    it.seek_to_first()
    forward = [k for k, _ in it.entries()]
    it.seek_to_last()
    n = 0
    while it.valid():
        n += 1
        it.prev()
    assert n == len(forward)
    for k in forward[:3] + [b"\0" * 8]:
        it.seek(k)
        it.seek_for_prev(k)
    for uk in [k[:-8] for k in forward[:3]] + [b"", b"key001", b"zzz"]:
        reader.get(uk)
        reader.get(uk, 1)
    reader.range_tombstones()


def _valid_tables() -> list[bytes]:
    out = []
    for count, level in ((3, None), (30, None), (30, 3)):
        sink = Sink()
        b = SSTableBuilder(sink, block_bytes=64, compression_level=level, bits_per_key=4.0)
        for i in range(count):
            b.add(make_internal_key(b"key%03d" % i, 9, PUT), b"value" * (i % 4))
            b.add(make_internal_key(b"key%03d" % i, 3, DELETE), b"")
        b.add_range_tombstone(b"key001", b"key004", 5)
        b.finish()
        out.append(b"".join(sink.chunks))
    return out


# The Cython reader is not coverage-instrumented, so raw bytes rarely get past the footer:
# half of the inputs instead overwrite a few bytes of a valid table (structure-aware).
BASE_TABLES = _valid_tables()


def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    if fdp.ConsumeBool():
        table = bytearray(BASE_TABLES[fdp.ConsumeIntInRange(0, len(BASE_TABLES) - 1)])
        for _ in range(fdp.ConsumeIntInRange(1, 8)):
            table[fdp.ConsumeIntInRange(0, len(table) - 1)] = fdp.ConsumeIntInRange(0, 255)
        table = bytes(table[:len(table) - fdp.ConsumeIntInRange(0, 3)])
    else:
        table = fdp.ConsumeBytes(fdp.remaining_bytes())
    for verify in (True, False):
        try:
            reader = SSTableReader(MemFile(table), verify_checksums=verify)
            _exercise(reader)
        except (CorruptionError, FormatVersionError):
            pass


def make_corpus(directory: str) -> None:
    os.makedirs(directory, exist_ok=True)
    for name, count, level in (("empty", 0, None), ("raw", 12, None), ("zstd", 40, 3)):
        sink = Sink()
        b = SSTableBuilder(sink, block_bytes=64, compression_level=level, bits_per_key=4.0)
        for i in range(count):
            b.add(make_internal_key(b"key%03d" % i, 9, PUT), b"value" * (i % 4))
            b.add(make_internal_key(b"key%03d" % i, 3, DELETE), b"")
        if count:
            b.add_range_tombstone(b"key001", b"key004", 5)
        b.finish()
        with open(os.path.join(directory, name), "wb") as f:
            f.write(b"".join(sink.chunks))


if __name__ == "__main__":
    fuzzmain.run(TestOneInput, make_corpus)
