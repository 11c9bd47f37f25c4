"""Fuzz decode_key: hostile bytes either raise CorruptionError or decode to a key whose
encoding is stable (decode -> encode -> decode -> encode gives the same bytes; only -0.0
and NaN payloads normalise on the first re-encode).

    python fuzz/fuzz_keycodec.py -max_total_time=60 fuzz/corpus/keycodec
    python fuzz/fuzz_keycodec.py --make-corpus fuzz/corpus/keycodec
"""

import os

import atheris
import fuzzmain

with atheris.instrument_imports():
    from lsmdb._core.keycodec import decode_key, encode_key

from lsmdb.errors import CorruptionError


def TestOneInput(data: bytes) -> None:
    try:
        key = decode_key(data, "fuzz.key", 0)
    except CorruptionError:
        return
    once = encode_key(key)
    twice = encode_key(decode_key(once))
    if once != twice:
        raise AssertionError(f"unstable encoding: {data!r} -> {once!r} -> {twice!r}")


def make_corpus(directory: str) -> None:
    os.makedirs(directory, exist_ok=True)
    seeds = {
        "scalars": (None, False, True, -7, 2**64, -(2**70), 1.5, float("nan")),
        "strings": ("", "a\x00b", "héllo", b"", b"\x00\xff"),
        "nested": (1, ("x", (2.0, b"y")), ()),
        "index_key": (12, "alice", 42),
    }
    for name, key in seeds.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(encode_key(key))


if __name__ == "__main__":
    fuzzmain.run(TestOneInput, make_corpus)
