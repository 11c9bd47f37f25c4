""":class:`Options`, the root of the options tree: the memtable, block, cache, WAL and limit
fields, the three groups, the rules across them, dotted-path overrides and the JSON text."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from lsmdb.options.bloom import Bloom
from lsmdb.options.checks import _bool, _Check, _choice, _int, _number, _optional, _qualified_name
from lsmdb.options.compaction import Compaction
from lsmdb.options.compression import Compression
from lsmdb.options.error import InvalidOptionsError
from lsmdb.options.json_text import _DuplicateKey, _no_duplicates, _reject_constant
from lsmdb.options.node import _OptionsNode
from lsmdb.options.units import GiB, KiB, MiB
from lsmdb.options.wal_sync import _wal_sync, parse_wal_sync

WAL_RECOVERY_MODES = (
    "tolerate_corrupted_tail",
    "absolute_consistency",
    "point_in_time",
    "skip_any_corrupted",
)



@dataclass(frozen=True)
class Options(_OptionsNode):
    """Everything configurable about an lsmdb directory. Frozen; derive copies with
    :meth:`replace` or :meth:`override`."""

    memtable_bytes: int = 64 * MiB
    """Default 64 MiB. A memtable this large becomes immutable and is flushed to an L0
    SSTable. 1 KiB to 4 GiB."""

    memtable_front_bytes: int = 2 * MiB
    """Default 2 MiB. Single puts and deletes go first to a small skip list of this size in
    front of the memtable's large one, which takes them in sorted groups when it fills (a
    random insert into a large skip list is bound by cache misses; see docs/benchmarks.md,
    "The memtable's front"). Batches go to the large list directly. 0 turns it off;
    0 to 1 GiB."""

    max_immutable_memtables: int = 2
    """Default 2. Immutable memtables waiting for flush before writes stall. 1 to 64."""

    block_bytes: int = 4096
    """Default 4096. Target uncompressed size of an SSTable data block, 256 B to 4 MiB."""

    block_restart_interval: int = 16
    """Default 16. Keys between restart points in a data block (1 = no prefix compression),
    1 to 1024."""

    compression: Compression = field(default_factory=Compression)
    """Default ``Compression()`` (zstd level 3 everywhere)."""

    bloom: Bloom = field(default_factory=Bloom)
    """Default ``Bloom()`` (10 bits per key at every level)."""

    compaction: Compaction = field(default_factory=Compaction)
    """Default ``Compaction()`` (leveled, size ratio 10)."""

    block_cache_bytes: int = 64 * MiB
    """Default 64 MiB. Capacity of the shared block cache (uncompressed blocks); 0 disables
    it."""

    charge_memtables_to_cache: bool = False
    """Default False. True makes ``block_cache_bytes`` one memory budget for decoded blocks
    and memtables together (RocksDB's WriteBufferManager costing memtables to the block
    cache): the malloc'd arena bytes of the active and immutable memtables are reserved in
    the cache, recharged in steps of 1/16 of ``memtable_bytes`` (at least 256 KiB) as the
    active memtable grows and at every switch and flush, and blocks get what is left. So
    the memory a DB holds for memtables it does not fill (a read-mostly or just-flushed
    DB) serves reads. Memtables are not limited by it (``memtable_bytes`` and
    ``max_immutable_memtables`` do that): memtables above the budget leave no blocks
    cached. Needs a block cache (``block_cache_bytes`` > 0)."""

    wal_sync: str = "never"
    """Default "never". When a write without an explicit ``sync=`` is fsynced: "always" (every
    commit; group commit batches concurrent writers), "never" (handed to the OS only; survives
    a process crash, not a power loss), "every(N)" (every N-th commit; see :func:`every`)."""

    wal_recovery: str = "tolerate_corrupted_tail"
    """Default "tolerate_corrupted_tail". What open does with a damaged WAL (RocksDB's
    WALRecoveryMode): "tolerate_corrupted_tail" drops a torn/corrupt tail of the last segment
    and fails on corruption before it; "absolute_consistency" fails on any damage, even a torn
    tail; "point_in_time" stops replay at the first damage and drops everything after it;
    "skip_any_corrupted" skips damaged records and goes on (may lose writes in the middle)."""

    background_threads: int = 1
    """Default 1. Threads running flushes and compactions, 1 to 64."""

    paranoid_checks: bool = True
    """Default True. Verify block checksums on every read and the whole table after it is
    written; a mismatch raises CorruptionError. False checks only what a read parses."""

    mmap_reads: bool = True
    """Default True. Read SSTables through a read-only memory map (zero-copy for raw blocks,
    no read syscall per block cache miss), as LevelDB and LMDB do. SSTables are immutable and
    synced before they are mapped, but a file truncated behind lsmdb's back while mapped makes
    the process die of SIGBUS at the next access to the lost pages; False reads with pread, so
    such damage raises CorruptionError instead (about 10% slower point reads on cache misses).
    Takes effect for tables opened after the change (every table at open)."""

    mmap_wal_writes: bool = True
    """Default True. Append to the WAL by copying into a shared mapping of the segment
    (preallocated in 1 MiB steps, cut to its last record at close): no system call per
    write, the same durability (a record is in the page cache when the write returns, on
    disk after fsync). False: one ``write(2)`` per record. Mapped writes are the less
    forgiving of a failing disk: an I/O error reading back a partly written page, or a
    full copy-on-write file system (btrfs, ZFS), stops the process with SIGBUS where
    ``write(2)`` returns an error (acknowledged writes are then as safe as after kill -9).
    Files that cannot be mapped or preallocated fall back to ``write(2)`` by themselves."""

    max_key_bytes: int = 64 * KiB
    """Default 64 KiB, also the most allowed. Longer keys raise InvalidArgumentError."""

    max_value_bytes: int = 64 * MiB
    """Default 64 MiB, also the most allowed. Longer values raise InvalidArgumentError."""

    wal_segment_bytes: int = 128 * MiB
    """Default 128 MiB. A WAL segment that grows past this switches the memtable (and so the
    segment) early, bounding replay time. At least 64 KiB."""

    wal_keep_segments: int = 0
    """Default 0. Obsolete WAL segments (every write in them is in an SSTable) to keep, the
    newest ones, instead of deleting them: for tools and archiving (``lsmdb wal-dump``).
    Recovery never replays a kept segment. 0 to 2**32 - 1."""

    ttl_seconds: float | None = None
    """Default None (no expiry). FIFO only: tables whose newest entry is older than this many
    seconds are dropped. Requires ``compaction.style="fifo"``."""

    _NESTED: ClassVar[dict[str, type[_OptionsNode]]] = {
        "compression": Compression,
        "bloom": Bloom,
        "compaction": Compaction,
    }
    _CHECKS: ClassVar[dict[str, _Check]] = {
        "memtable_bytes": _int(KiB, 4 * GiB),
        "memtable_front_bytes": _int(0, GiB),
        "max_immutable_memtables": _int(1, 64),
        "block_bytes": _int(256, 4 * MiB),
        "block_restart_interval": _int(1, 1024),
        "block_cache_bytes": _int(0),
        "charge_memtables_to_cache": _bool,
        "wal_sync": _wal_sync,
        "wal_recovery": _choice(WAL_RECOVERY_MODES),
        "background_threads": _int(1, 64),
        "paranoid_checks": _bool,
        "mmap_reads": _bool,
        "mmap_wal_writes": _bool,
        "max_key_bytes": _int(1, 64 * KiB),
        "max_value_bytes": _int(1, 64 * MiB),
        "wal_segment_bytes": _int(64 * KiB),
        "wal_keep_segments": _int(0, 2**32 - 1),
        "ttl_seconds": _optional(_number(0.0, lo_open=True)),
    }

    def _cross_problems(self):
        problems = []
        levels = self.compaction.max_levels
        per = self.compression.per_level
        if per is not None and len(per) > levels:
            problems.append((
                "compression.per_level",
                f"has {len(per)} entries, more than compaction.max_levels ({levels})",
            ))
        bits = self.bloom.per_level_bits
        if bits is not None and len(bits) > levels:
            problems.append((
                "bloom.per_level_bits",
                f"has {len(bits)} entries, more than compaction.max_levels ({levels})",
            ))
        if self.charge_memtables_to_cache and self.block_cache_bytes == 0:
            problems.append((
                "charge_memtables_to_cache",
                "needs a block cache to charge (block_cache_bytes is 0)",
            ))
        if self.ttl_seconds is not None and self.compaction.style != "fifo":
            problems.append((
                "ttl_seconds",
                f'is honoured only by compaction.style="fifo", got "{self.compaction.style}"',
            ))
        return problems

    @property
    def wal_sync_interval(self) -> int:
        """Commits per fsync: 1 for "always", N for "every(N)", 0 for "never"."""
        return parse_wal_sync(self.wal_sync)

    def override(self, changes: Mapping[str, Any]) -> Options:
        """A copy with dotted-path overrides: ``opts.override({"compaction.size_ratio": 6})``.

        Unknown paths and invalid values are all reported in one InvalidOptionsError.
        """
        data = self.to_dict()
        policy = self.compaction.policy
        problems: list[tuple[str, str]] = []
        for path, value in changes.items():
            parts = path.split(".") if isinstance(path, str) else [repr(path)]
            node: Any = data
            cls: type[_OptionsNode] = Options
            for i, part in enumerate(parts):
                names = {f.name for f in dataclasses.fields(cls)}
                if part not in names:
                    problems.append((path, "unknown option"))
                    break
                if i == len(parts) - 1:
                    if part in cls._NESTED:
                        problems.append((path, "is a group; set one of its fields"))
                    elif part == "policy":
                        policy = value
                        node[part] = None if value is None else _qualified_name(value)
                    else:
                        node[part] = list(value) if isinstance(value, tuple) else value
                elif part in cls._NESTED:
                    cls = cls._NESTED[part]
                    node = node[part]
                else:
                    problems.append((path, f"{part} is not a group"))
                    break
        try:
            result = Options.from_dict(data, policy=policy)
        except InvalidOptionsError as exc:
            raise InvalidOptionsError(problems + exc.problems) from None
        if problems:
            raise InvalidOptionsError(problems)
        return result

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, policy: Any = None) -> Options:
        """Options from a dict as made by :meth:`to_dict`; missing keys take defaults.

        Strict: unknown keys, wrong types and invalid values are all reported together in one
        InvalidOptionsError. ``policy`` must be given iff the dict names a compaction policy.
        """
        problems: list[tuple[str, str]] = []
        if policy is not None and isinstance(data, Mapping) and "compaction" not in data:
            problems.append(("compaction.policy",
                             "a policy object was passed but the options name none"))
        result = cls._build(dict(data) if isinstance(data, Mapping) else data, problems, policy)
        if problems or result is None:
            raise InvalidOptionsError(problems or [("options", "invalid")])
        return result

    def to_json(self) -> str:
        """Canonical JSON text (fields in declaration order); :meth:`from_json` inverts it."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes, *, policy: Any = None) -> Options:
        """Parse :meth:`to_json` output. Malformed JSON, duplicate or unknown keys, wrong types
        and invalid values raise InvalidOptionsError (an InvalidArgumentError)."""
        try:
            data = json.loads(text, object_pairs_hook=_no_duplicates,
                              parse_constant=_reject_constant)
        except _DuplicateKey as exc:
            raise InvalidOptionsError([(exc.key, "appears more than once")]) from None
        except RecursionError:
            raise InvalidOptionsError([("options", "JSON nested too deeply")]) from None
        except (ValueError, TypeError) as exc:  # JSONDecodeError, bad UTF-8, huge ints
            raise InvalidOptionsError([("options", f"not valid JSON ({exc})")]) from None
        return cls.from_dict(data, policy=policy)
