"""The one options tree of lsmdb (SPEC §2): frozen dataclasses, validated, round-trip to JSON.

    Options
      ├─ compression: Compression   block compression, per level
      ├─ bloom: Bloom                filter bits per key and their allocation across levels
      └─ compaction: Compaction      style, size ratios, L0 thresholds, file sizes, policy

Defaults live in one place: the field defaults of the classes (each field's docstring states its
default and meaning). Validation runs at construction and reports *every* bad field at once
in one :class:`InvalidOptionsError` (an :class:`~lsmdb.errors.InvalidArgumentError`) whose
``fields`` lists the dotted field paths, e.g.
``compaction.size_ratio: must be >= 2, got 1``.

Values are normalized at construction so that equal options compare equal and JSON round
trips exactly: lists become tuples, ints given for float fields become floats.

``Compaction.policy`` holds a Python object (an ``lsmdb.CompactionPolicy``), which JSON cannot
carry: :meth:`Options.to_json` stores its qualified class name and :meth:`Options.from_json`
requires the caller to pass the object back with ``policy=``.

WAL durability (``Options.wal_sync``) is one string: ``"always"``, ``"never"`` or
``"every(N)"`` (fsync every N-th commit; build it with :func:`every`). Plain ints are
rejected so that a policy always reads the same in code, JSON and on the command line.

The package, one module per seam: ``units`` (KiB/MiB/GiB), ``checks`` (the per-field
validators), ``error`` (:class:`InvalidOptionsError`), ``node`` (the base every group shares:
validation, ``replace``, dict conversion), one module per group (``compression``, ``bloom``,
``compaction``), ``options`` (the root, overrides and JSON), ``wal_sync`` (the durability
value), ``overrides`` (``--set`` text and ``open()`` keywords) and ``json_text`` (strict JSON
reading). Import the public names from here, ``lsmdb.options``; none of it loads Cython.
"""

from lsmdb.options.bloom import BLOOM_ALLOCATIONS, Bloom
from lsmdb.options.compaction import COMPACTION_STYLES, FILE_PICKS, Compaction
from lsmdb.options.compression import COMPRESSION_KINDS, Compression
from lsmdb.options.error import InvalidOptionsError
from lsmdb.options.options import WAL_RECOVERY_MODES, Options
from lsmdb.options.overrides import keyword_overrides, parse_assignment
from lsmdb.options.units import GiB, KiB, MiB
from lsmdb.options.wal_sync import every, parse_wal_sync

__all__ = [
    "KiB",
    "MiB",
    "GiB",
    "Options",
    "Compression",
    "Bloom",
    "Compaction",
    "InvalidOptionsError",
    "every",
    "parse_wal_sync",
    "parse_assignment",
    "keyword_overrides",
    "COMPACTION_STYLES",
    "FILE_PICKS",
    "WAL_RECOVERY_MODES",
    "COMPRESSION_KINDS",
    "BLOOM_ALLOCATIONS",
]
