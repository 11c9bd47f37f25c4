"""Fuzz the block parser: Block(data) must raise CorruptionError or yield a block whose
iterator is self-consistent in both directions and under seeks.

Run: python fuzz/fuzz_block.py [libFuzzer args] [corpus]; seeds: --make-corpus DIR.
"""

import os

import atheris
import fuzzmain

with atheris.instrument_imports():
    from lsmdb._core.block import Block, BlockBuilder, decode_kv_block
    from lsmdb._core.ikey import compare_internal_keys, make_internal_key
from lsmdb.errors import CorruptionError


def _valid_block() -> bytes:
    b = BlockBuilder(4)
    for i in range(40):
        b.add(make_internal_key(b"key%03d" % i, 100 - i, i % 2), b"v" * (i % 7))
    return b.finish()


# The Cython parser is not coverage-instrumented: half of the inputs overwrite a few bytes
# of a valid block instead of being parsed raw (structure-aware).
BASE_BLOCK = _valid_block()


def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    if fdp.ConsumeBool():
        block = bytearray(BASE_BLOCK)
        for _ in range(fdp.ConsumeIntInRange(1, 6)):
            block[fdp.ConsumeIntInRange(0, len(block) - 1)] = fdp.ConsumeIntInRange(0, 255)
        data = bytes(block)
    else:
        data = fdp.ConsumeBytes(fdp.remaining_bytes())
    try:
        decode_kv_block(data)
    except CorruptionError:
        pass
    try:
        block = Block(data)
    except CorruptionError:
        return
    it = block.iterator()
    it.seek_to_first()
    forward = list(it.entries())
    backward = []
    it.seek_to_last()
    while it.valid():
        backward.append((it.key(), it.value()))
        it.prev()
    assert backward == forward[::-1]
    assert len(forward) == len(block)
    targets = [k for k, _ in forward[:4]] + [data[:8].ljust(8, b"\0"), b"\xff" * 9]
    for target in targets:
        it.seek(target)
        if it.valid():
            assert compare_internal_keys(it.key(), target) >= 0
        it.seek_for_prev(target)
        if it.valid():
            assert compare_internal_keys(it.key(), target) <= 0


def make_corpus(directory: str) -> None:
    os.makedirs(directory, exist_ok=True)
    for name, count, interval in (("empty", 0, 16), ("small", 5, 2), ("restarts", 40, 4)):
        b = BlockBuilder(interval)
        for i in range(count):
            b.add(make_internal_key(b"key%03d" % i, 100 - i, i % 2), b"v" * (i % 7))
        with open(os.path.join(directory, name), "wb") as f:
            f.write(b.finish())


if __name__ == "__main__":
    fuzzmain.run(TestOneInput, make_corpus)
