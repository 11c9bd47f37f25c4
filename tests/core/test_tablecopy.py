"""copy_entries (lsmdb/_core/tablecopy.pyx): a memtable is copied by a loop that runs without
the GIL; its output must be byte-for-byte the table the per-entry (GIL-held) path writes for
the same entries, file cuts included."""

from __future__ import annotations

import random

import pytest

import lsmdb._core.sstable_builder as sstable_builder_module
from lsmdb._core.ikey import DELETE, PUT
from lsmdb._core.memtable import Memtable
from lsmdb._core.sstable_builder import SSTableBuilder
from lsmdb._core.tablecopy import copy_entries
from lsmdb.errors import InvalidArgumentError
from lsmdb.testing.list_iterator import ListIterator


class _Sink:
    """An in-memory writable file: the builder only calls append()."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def append(self, data: bytes) -> None:
        self.parts.append(bytes(data))

    def data(self) -> bytes:
        return b"".join(self.parts)


class _FixedClock:
    """creation_time is the only input of a table that is not its entries."""

    @staticmethod
    def time() -> float:
        return 1_700_000_000.0


@pytest.fixture(autouse=True)
def _fixed_creation_time(monkeypatch):
    monkeypatch.setattr(sstable_builder_module, "time", _FixedClock)


def _memtable(seed: int, n: int) -> Memtable:
    rng = random.Random(seed)
    mt = Memtable()
    seq = 1
    for _ in range(n):
        key = b"user/%08d" % rng.randrange(n // 2) + b"x" * rng.choice((0, 0, 3, 40))
        if rng.random() < 0.15:
            mt.add(seq, DELETE, key)
        else:
            size = rng.choice((0, 1, 20, 100, 100, 300, 5000))
            mt.add(seq, PUT, key, rng.randbytes(size // 2) + b"v" * (size - size // 2))
        seq += 1
    return mt


def _copy_all(src, target: int, boundaries, options: dict) -> list[tuple[bytes, dict, int]]:
    """Drive copy_entries as TableOutput does: a new table at every early stop."""
    tables = []
    src.seek_to_first()
    while src.valid():
        sink = _Sink()
        builder = SSTableBuilder(sink, **options)
        count, exhausted = copy_entries(src, builder, target, boundaries, target // 2)
        props = builder.finish()
        tables.append((sink.data(), props, count))
        if exhausted:
            break
    return tables


def _entries(mt: Memtable) -> list[tuple[bytes, bytes]]:
    it = mt.iterator()
    it.seek_to_first()
    out = []
    while it.valid():
        out.append((it.key(), it.value()))
        it.next()
    return out


OPTIONS = [
    {"block_bytes": 4096, "restart_interval": 16, "compression_level": 3, "bits_per_key": 10.0},
    {"block_bytes": 512, "restart_interval": 1, "compression_level": None, "bits_per_key": 0.0},
    {"block_bytes": 64, "restart_interval": 4, "compression_level": 1, "bits_per_key": 7.5},
]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize(("target", "with_bounds"), [(1 << 40, False), (60_000, False),
                                                     (60_000, True)])
def test_memtable_copy_writes_the_bytes_of_the_per_entry_path(options, target, with_bounds):
    mt = _memtable(seed=len(options) + target, n=6000)
    entries = _entries(mt)
    bounds = sorted({k[:-8] for k, _ in entries[100::450]}) if with_bounds else None
    fast = _copy_all(mt.iterator(), target, bounds, options)
    slow = _copy_all(ListIterator(entries), target, bounds, options)
    assert [c for _, _, c in fast] == [c for _, _, c in slow]
    assert sum(c for _, _, c in fast) == len(entries)
    assert [p for _, p, _ in fast] == [p for _, p, _ in slow]
    for (a, _, _), (b, _, _) in zip(fast, slow, strict=True):
        assert a == b
    if target < (1 << 40):
        assert len(fast) > 1


def test_copy_resumes_a_builder_that_already_holds_entries():
    mt = _memtable(seed=7, n=3000)
    entries = _entries(mt)
    half = len(entries) // 2
    results = []
    for src in (mt.iterator(), ListIterator(entries)):
        sink = _Sink()
        builder = SSTableBuilder(sink, block_bytes=256)
        builder.add_many([k for k, _ in entries[:half]], [v for _, v in entries[:half]])
        src.seek(entries[half][0])
        assert copy_entries(src, builder, 1 << 40) == (len(entries) - half, True)
        assert builder.num_entries == len(entries)
        results.append((sink.data() + b"|", builder.file_size, builder.estimated_size,
                        builder.finish(), sink.data()))
    assert results[0] == results[1]


def test_copy_into_a_finished_builder_raises_and_writes_nothing():
    mt = _memtable(seed=3, n=200)
    sink = _Sink()
    builder = SSTableBuilder(sink)
    builder.finish()
    written = sink.data()
    it = mt.iterator()
    it.seek_to_first()
    with pytest.raises(InvalidArgumentError, match="already finished"):
        copy_entries(it, builder, 1 << 40)
    assert sink.data() == written
