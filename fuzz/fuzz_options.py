"""Fuzz Options.from_json: any text either parses to valid Options that round-trip exactly,
or raises InvalidArgumentError. Anything else (TypeError, RecursionError, ...) is a bug.

    python fuzz/fuzz_options.py -max_total_time=60 fuzz/corpus/options
    python fuzz/fuzz_options.py --make-corpus fuzz/corpus/options
"""

import os

import atheris
import fuzzmain

with atheris.instrument_imports():
    from lsmdb.options import Bloom, Compaction, Compression, Options

from lsmdb.errors import InvalidArgumentError


def TestOneInput(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    try:
        options = Options.from_json(text)
    except InvalidArgumentError:
        return
    again = Options.from_json(options.to_json())
    if again != options:
        raise AssertionError(f"round trip changed options: {options!r} -> {again!r}")


def make_corpus(directory: str) -> None:
    os.makedirs(directory, exist_ok=True)
    seeds = {
        "defaults.json": Options(),
        "tiered.json": Options(
            memtable_bytes=4096,
            compaction=Compaction(style="tiered", size_ratio=4, max_space_amp=1.5),
            wal_sync="every(8)",
        ),
        "fluid_monkey.json": Options(
            compression=Compression(per_level=(None, None, 1, 3)),
            bloom=Bloom(bits_per_key=5.5, allocation="monkey", memory_budget_bytes=1 << 20),
            compaction=Compaction(style="fluid", runs_per_level=(3, 3, 1),
                                  size_ratio_per_level=(4, 8)),
        ),
        "fifo.json": Options(compaction=Compaction(style="fifo", max_levels=1), ttl_seconds=3600),
    }
    for name, options in seeds.items():
        with open(os.path.join(directory, name), "w") as f:
            f.write(options.to_json())


if __name__ == "__main__":
    fuzzmain.run(TestOneInput, make_corpus)
