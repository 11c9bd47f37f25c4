"""Fuzz the write-batch decoder (the WAL payload): WriteBatch.from_bytes must raise
CorruptionError or return a batch that re-encodes to the same bytes, whose ops agree with its
count, and that a Memtable applies exactly (every PUT/DELETE visible by get, every range
tombstone listed); and that the same ops added one at a time, through a small front that folds
(memtable.pyx, "The front"), read back the same by get_many and by iterators both ways.

Run: python fuzz/fuzz_batch.py [libFuzzer args] [corpus]; seeds: --make-corpus DIR.
"""

import os

import atheris
import fuzzmain

with atheris.instrument_imports():
    from lsmdb._core.batch import WriteBatch
    from lsmdb._core.ikey import DELETE, MAX_SEQNO, PUT, RANGE_DELETE
    from lsmdb._core.memtable import Memtable
from lsmdb.errors import CorruptionError


def _seed_batches() -> dict[str, bytes]:
    empty = WriteBatch()
    empty.sequence = 1
    mixed = WriteBatch()
    mixed.sequence = 42
    mixed.put(b"key", b"value")
    mixed.delete(b"gone")
    mixed.delete_range(b"a", b"m")
    mixed.put(b"", b"")
    big = WriteBatch()
    big.sequence = MAX_SEQNO - 100
    for i in range(70):                       # >= 64 ops: the memtable's no-GIL path
        big.put(b"k%02d" % (i % 9), b"v" * (i % 7))
    return {"empty": empty.data(), "mixed": mixed.data(), "big": big.data()}


# The Cython decoder is not coverage-instrumented: half of the inputs overwrite a few bytes
# of a valid batch instead of being decoded raw (structure-aware).
BASE = _seed_batches()["mixed"]


def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    if fdp.ConsumeBool():
        batch = bytearray(BASE)
        for _ in range(fdp.ConsumeIntInRange(1, 4)):
            batch[fdp.ConsumeIntInRange(0, len(batch) - 1)] = fdp.ConsumeIntInRange(0, 255)
        data = bytes(batch)
    else:
        data = fdp.ConsumeBytes(fdp.remaining_bytes())
    try:
        wb = WriteBatch.from_bytes(data, "fuzz.log", 0)
    except CorruptionError:
        return
    assert wb.data() == data and wb.byte_size == len(data)
    ops = list(wb)
    assert len(ops) == wb.count
    mt = Memtable(arena_block_bytes=4096)
    mt.add_batch(wb)
    assert len(mt) == wb.count
    latest = {}
    tombstones = []
    for i, (vtype, key, value) in enumerate(ops):
        seq = wb.sequence + i
        if vtype == PUT:
            latest[key] = (1, value, seq)
        elif vtype == DELETE:
            assert value is None
            latest[key] = (2, None, seq)
        else:
            assert vtype == RANGE_DELETE
            tombstones.append((key, value, seq))
    assert mt.range_tombstones() == tombstones
    keys = list(latest)
    assert mt.get_many(keys) == [latest[k] for k in keys]

    # One op at a time through a front of 0 to ~600 bytes, with an explicit fold halfway.
    single = Memtable(arena_block_bytes=4096, front_bytes=len(data) * 37 % 601)
    for i, (vtype, key, value) in enumerate(ops):
        single.add(wb.sequence + i, vtype, key, value)
        if i == len(ops) // 2:
            single.fold()
    assert single.get_many(keys) == [latest[k] for k in keys]
    assert single.get_many(keys, wb.sequence + len(ops) // 2) == mt.get_many(
        keys, wb.sequence + len(ops) // 2)
    assert single.range_tombstones() == tombstones
    assert _scan(single, False) == _scan(mt, False)
    assert _scan(single, True) == _scan(mt, True)


def _scan(mt, backward: bool) -> list[tuple[bytes, bytes]]:
    it = mt.iterator()
    out = []
    if backward:
        it.seek_to_last()
        while it.valid():
            out.append((it.key(), it.value()))
            it.prev()
        return out[::-1]
    it.seek_to_first()
    return list(it.entries())


def make_corpus(directory: str) -> None:
    os.makedirs(directory, exist_ok=True)
    for name, data in _seed_batches().items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    fuzzmain.run(TestOneInput, make_corpus)
