"""Fuzz the SSTable footer decoder: CorruptionError / FormatVersionError or a footer that
re-encodes to the same bytes.

Run: python fuzz/fuzz_footer.py [libFuzzer args] [corpus]; seeds: --make-corpus DIR.
"""

import os

import atheris
import fuzzmain

with atheris.instrument_imports():
    from lsmdb._core.sstable_format import FOOTER_BYTES, decode_footer, encode_footer
from lsmdb.errors import CorruptionError, FormatVersionError


def TestOneInput(data: bytes) -> None:
    for candidate in (data, data[-FOOTER_BYTES:]):
        try:
            footer = decode_footer(candidate, "fuzz.sst", 0)
        except (CorruptionError, FormatVersionError):
            continue
        assert encode_footer(footer, footer["format_version"]) == bytes(candidate)


def make_corpus(directory: str) -> None:
    os.makedirs(directory, exist_ok=True)
    samples = {
        "zeros": {"filter": (0, 0), "range_del": (5, 8), "properties": (18, 300),
                  "index": (323, 20)},
        "big": {"filter": (1 << 30, 1 << 20), "range_del": (1 << 31, 8),
                "properties": (1 << 32, 400), "index": (1 << 33, 1 << 16)},
    }
    for name, handles in samples.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(encode_footer(handles))


if __name__ == "__main__":
    fuzzmain.run(TestOneInput, make_corpus)
