"""The bounds of ``lsmdb bench``'s integer flags, stated once.

The argument parser (:mod:`lsmdb.bench`), the help texts and
:meth:`~lsmdb.bench.runner.BenchConfig.validate` (which is all a sweep point or a Python caller
goes through) read them from here, and word their errors with :func:`lsmdb.cli.out_of_bounds`,
so the command line and a later check never disagree. This module imports nothing heavy:
``lsmdb --help`` builds the bench parser.
"""

from __future__ import annotations

__all__ = ["NUM_MAX", "INT_BOUNDS"]

# The bench keeps every key, a live-bit per key and a shuffled order of them in memory
# (about 100 bytes a key): 10^8 keys is about 10 GB.
NUM_MAX = 100_000_000

# flag dest -> (minimum, maximum or None). --key-size and --value-size are bounded by the
# options (max_key_bytes, max_value_bytes) and --num (the digits of the largest key) instead.
INT_BOUNDS: dict[str, tuple[int, int | None]] = {
    "num": (1, NUM_MAX),
    "reads": (0, None),
    "batch_size": (1, None),
    "seek_nexts": (0, None),
    "threads": (1, None),
    "sync_num": (1, None),
    "seed": (0, None),
    "jobs": (1, None),
}
