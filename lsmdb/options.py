"""The one options tree of lsmdb (SPEC §2): frozen dataclasses, validated, round-trip to JSON.

    Options
      ├─ compression: Compression   block compression, per level
      ├─ bloom: Bloom                filter bits per key and their allocation across levels
      └─ compaction: Compaction      style, size ratios, L0 thresholds, file sizes, policy

Defaults live in one place: the field defaults below (each field's docstring states its
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
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from lsmdb.errors import InvalidArgumentError

if TYPE_CHECKING:
    from lsmdb.lsm.compaction import CompactionPolicy

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

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

COMPRESSION_KINDS = ("zstd", "none")
BLOOM_ALLOCATIONS = ("uniform", "monkey")
COMPACTION_STYLES = ("leveled", "tiered", "lazy_leveling", "fluid", "fifo")
FILE_PICKS = ("min_overlap", "round_robin", "oldest", "tombstone_density")
WAL_RECOVERY_MODES = (
    "tolerate_corrupted_tail",
    "absolute_consistency",
    "point_in_time",
    "skip_any_corrupted",
)

_MAX_LEVELS_LIMIT = 32
_ZSTD_MIN_LEVEL = -7  # zstd's "fast" levels; 0 means zstd's default level (3)
_ZSTD_MAX_LEVEL = 22
_EVERY_RE = re.compile(r"every\(([1-9][0-9]{0,9})\)")  # [0-9], not \d: no Unicode digits
_EVERY_MAX = 2**31 - 1


class InvalidOptionsError(InvalidArgumentError):
    """One or more option fields are invalid.

    ``problems`` is a list of ``(field_path, reason)``; ``fields`` the paths alone. The message
    names every one: ``compaction.size_ratio: must be >= 2, got 1; block_bytes: ...``.
    """

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = list(problems)
        self.fields = [path for path, _ in self.problems]
        detail = "; ".join(f"{path}: {reason}" for path, reason in self.problems)
        noun = "field" if len(self.problems) == 1 else "fields"
        super().__init__(f"invalid options ({len(self.problems)} {noun}): {detail}")

    def __reduce__(self):
        return (type(self), (self.problems,))


def every(n: int) -> str:
    """The ``wal_sync`` value that fsyncs every ``n``-th commit: ``every(8) == "every(8)"``."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= _EVERY_MAX:
        raise InvalidArgumentError(f"every(n) needs an integer n in [1, {_EVERY_MAX}], got {n!r}")
    return f"every({n})"


def parse_wal_sync(value: str) -> int:
    """Commits per fsync for a ``wal_sync`` value: 1 for "always", N for "every(N)", 0 for
    "never"."""
    if value == "always":
        return 1
    if value == "never":
        return 0
    m = _EVERY_RE.fullmatch(value) if isinstance(value, str) else None
    if m is None or int(m.group(1)) > _EVERY_MAX:
        raise InvalidArgumentError(
            f'wal_sync must be "always", "never" or "every(N)" with N >= 1, got {value!r}'
        )
    return int(m.group(1))


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse ``"compaction.size_ratio=6"`` into ``("compaction.size_ratio", 6)``.

    The value is read as JSON when it parses (numbers, true/false, null, lists), else taken
    as a plain string (``compaction.style=tiered``). For command-line ``--set`` flags.
    """
    path, sep, raw = text.partition("=")
    path = path.strip()
    if not sep or not path:
        raise InvalidArgumentError(f"expected FIELD=VALUE, got {text!r}")
    raw = raw.strip()
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        value = raw
    return path, value


# -- field checks ---------------------------------------------------------------------------
# A check takes a raw value and returns (normalized value, None) or (None, reason).

_Check = Callable[[Any], tuple[Any, "str | None"]]


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(lo: int, hi: int | None = None) -> _Check:
    def check(value: Any):
        if not _is_int(value):
            return None, f"must be an integer, got {_describe(value)}"
        if value < lo or (hi is not None and value > hi):
            bound = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
            return None, f"must be {bound}, got {_short(value)}"
        return int(value), None

    return check


def _number(lo: float, hi: float | None = None, *, lo_open: bool = False) -> _Check:
    """A float field; ints are accepted and normalized to float."""

    def check(value: Any):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None, f"must be a number, got {_describe(value)}"
        try:
            number = float(value)
        except OverflowError:
            return None, f"must be a finite number, got {_short(value)}"
        if not math.isfinite(number):
            return None, f"must be a finite number, got {_short(value)}"
        if (number <= lo if lo_open else number < lo) or (hi is not None and number > hi):
            low = f"> {lo}" if lo_open else f">= {lo}"
            bound = low if hi is None else f"{low} and <= {hi}"
            return None, f"must be {bound}, got {_short(value)}"
        return number, None

    return check


def _choice(values: tuple[str, ...]) -> _Check:
    def check(value: Any):
        if not isinstance(value, str) or value not in values:
            names = " | ".join(f'"{v}"' for v in values)
            return None, f"must be one of {names}, got {_describe(value)}"
        return value, None

    return check


def _bool(value: Any):
    if not isinstance(value, bool):
        return None, f"must be true or false, got {_describe(value)}"
    return value, None


def _optional(check: _Check) -> _Check:
    def wrapped(value: Any):
        return (None, None) if value is None else check(value)

    return wrapped


def _vector(item: _Check, *, allow_none_items: bool = False) -> _Check:
    """A per-level vector: list or tuple (normalized to tuple), 1..32 items."""

    def check(value: Any):
        if not isinstance(value, (list, tuple)):
            return None, f"must be a list, got {_describe(value)}"
        if not 1 <= len(value) <= _MAX_LEVELS_LIMIT:
            return None, f"must have 1 to {_MAX_LEVELS_LIMIT} entries, got {len(value)}"
        out = []
        for i, v in enumerate(value):
            if v is None and allow_none_items:
                out.append(None)
                continue
            normalized, reason = item(v)
            if reason is not None:
                return None, f"entry {i} {reason}"
            out.append(normalized)
        return tuple(out), None

    return check


def _wal_sync(value: Any):
    try:
        parse_wal_sync(value)
    except InvalidArgumentError:
        return None, f'must be "always", "never" or "every(N)" with N >= 1, got {_describe(value)}'
    return value, None


def _policy(value: Any):
    if value is None:
        return None, None
    if not callable(getattr(value, "pick", None)):
        return None, (
            "must be None or an object with a callable pick(version_view) "
            f"(the CompactionPolicy protocol), got {_describe(value)}"
        )
    return value, None


def _qualified_name(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a valid option value")


# -- the dataclass machinery ----------------------------------------------------------------


class _OptionsNode:
    """Validation, normalization, dict conversion and replace() shared by the option classes."""

    _CHECKS: ClassVar[dict[str, _Check]]
    _NESTED: ClassVar[dict[str, type[_OptionsNode]]] = {}
    _PATH: ClassVar[str] = ""  # where the class sits in the tree: errors name full paths

    def __post_init__(self) -> None:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        normalized, problems = self._check_fields(values)
        for name, value in normalized.items():
            object.__setattr__(self, name, value)
        if not problems:
            problems = self._cross_problems()
        if problems:
            raise InvalidOptionsError([(self._PATH + name, reason) for name, reason in problems])

    @classmethod
    def _check_fields(cls, values: Mapping[str, Any]):
        """Per-field checks over ``values`` (a subset of fields): (normalized, problems)."""
        normalized: dict[str, Any] = {}
        problems: list[tuple[str, str]] = []
        for name, value in values.items():
            nested = cls._NESTED.get(name)
            if nested is not None:
                if not isinstance(value, nested):
                    problems.append((name, f"must be a {nested.__name__}, got {_describe(value)}"))
                continue
            value, reason = cls._CHECKS[name](value)
            if reason is None:
                normalized[name] = value
            else:
                problems.append((name, reason))
        return normalized, problems

    def _cross_problems(self) -> list[tuple[str, str]]:
        return []

    def replace(self, **changes: Any):
        """A copy with ``changes`` applied (validated like a new instance)."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise InvalidOptionsError([(self._PATH + name, "unknown option") for name in unknown])
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict: nested dicts, lists for tuples, policy as its class name."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, _OptionsNode):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            elif f.name == "policy" and value is not None:
                value = _qualified_name(value)
            out[f.name] = value
        return out

    @classmethod
    def _build(cls, data: Any, problems: list, policy: Any):
        """Instance from a dict, appending every problem instead of stopping at the first."""
        prefix = cls._PATH
        where = prefix.rstrip(".") or "options"
        if not isinstance(data, dict):
            problems.append((where, f"must be a JSON object, got {_describe(data)}"))
            return None
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = [k for k in data if k not in names]
        for key in unknown:
            shown = key if isinstance(key, str) else repr(key)
            problems.append((f"{prefix}{shown}", "unknown option"))
        kwargs: dict[str, Any] = {}
        plain: dict[str, Any] = {}
        broken = bool(unknown)
        for key, value in data.items():
            if key not in names:
                continue
            nested = cls._NESTED.get(key)
            if nested is not None:
                child = nested._build(value, problems, policy)
                broken |= child is None
                kwargs[key] = child
            elif key == "policy":
                resolved = _resolve_policy(value, policy, f"{prefix}{key}", problems)
                broken |= resolved is _BROKEN
                kwargs[key] = resolved
            else:
                plain[key] = value
        if cls is Compaction and "policy" not in data and policy is not None:
            problems.append((f"{prefix}policy",
                             "a policy object was passed but the options name none"))
            broken = True
        normalized, field_problems = cls._check_fields(plain)
        problems.extend((f"{prefix}{name}", reason) for name, reason in field_problems)
        if broken or field_problems:
            return None
        kwargs.update(normalized)
        try:
            return cls(**kwargs)
        except InvalidOptionsError as exc:  # cross-field problems, already full paths
            problems.extend(exc.problems)
            return None


_BROKEN = object()


def _resolve_policy(value: Any, policy: Any, path: str, problems: list) -> Any:
    if value is None:
        if policy is not None:
            problems.append((path, "a policy object was passed but the options name none"))
            return _BROKEN
        return None
    if not isinstance(value, str):
        problems.append((path, f"must be null or a class name, got {_describe(value)}"))
        return _BROKEN
    if policy is None:
        problems.append((path, (
            f"the options use the Python policy object {value}, which JSON cannot carry; "
            "pass it back: Options.from_json(text, policy=<the object>)"
        )))
        return _BROKEN
    if _qualified_name(policy) != value:
        problems.append((path, (
            f"the options name policy class {value} but the object passed is a "
            f"{_qualified_name(policy)}"
        )))
        return _BROKEN
    return policy


# -- the tree -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Compression(_OptionsNode):
    """Data-block compression."""

    kind: str = "zstd"
    """Default "zstd". "zstd" compresses data blocks (a block that does not shrink is stored
    raw); "none" stores every block raw."""

    level: int = 3
    """Default 3. zstd level, -7 (fastest) to 22 (smallest); 0 means zstd's default level."""

    per_level: tuple[int | None, ...] | None = None
    """Default None (every level uses ``level``). Per LSM level (index 0 = L0), the zstd level
    for that level's files, or None for no compression there; levels past the end use the last
    entry (RocksDB's compression_per_level). At most ``compaction.max_levels`` entries; only
    with ``kind="zstd"``."""

    _PATH: ClassVar[str] = "compression."
    _CHECKS: ClassVar[dict[str, _Check]] = {
        "kind": _choice(COMPRESSION_KINDS),
        "level": _int(_ZSTD_MIN_LEVEL, _ZSTD_MAX_LEVEL),
        "per_level": _optional(
            _vector(_int(_ZSTD_MIN_LEVEL, _ZSTD_MAX_LEVEL), allow_none_items=True)
        ),
    }

    def _cross_problems(self):
        if self.per_level is not None and self.kind == "none":
            return [("per_level", 'must be None when kind is "none"')]
        return []

    def level_for(self, level: int) -> int | None:
        """The zstd level used for files of LSM ``level``, or None when stored raw."""
        if self.kind == "none":
            return None
        if self.per_level is None:
            return self.level
        return self.per_level[min(level, len(self.per_level) - 1)]


@dataclass(frozen=True)
class Bloom(_OptionsNode):
    """Bloom filters (one per SSTable) and how their memory is spread across levels."""

    bits_per_key: float = 10.0
    """Default 10.0 (about 1% false positives). Filter bits per key, 0 to 64; 0 disables
    filters. With ``allocation="monkey"`` this is the average over all keys."""

    allocation: str = "uniform"
    """Default "uniform": every level gets ``bits_per_key``. "monkey" spreads the same total
    memory so that smaller (upper) levels get more bits per key and the largest level fewer,
    minimizing the sum of false-positive rates (Dayan et al., SIGMOD 2017)."""

    memory_budget_bytes: int | None = None
    """Default None (``bits_per_key`` decides). When set, the total filter memory to aim for:
    bits per key become ``8 * budget / keys`` and are then spread by ``allocation``."""

    per_level_bits: tuple[float, ...] | None = None
    """Default None. Explicit bits per key for each level (index 0 = L0; later levels use the
    last entry), overriding ``bits_per_key``; each 0 to 64. At most ``compaction.max_levels``
    entries; only with ``allocation="uniform"`` and no ``memory_budget_bytes``."""

    _PATH: ClassVar[str] = "bloom."
    _CHECKS: ClassVar[dict[str, _Check]] = {
        "bits_per_key": _number(0.0, 64.0),
        "allocation": _choice(BLOOM_ALLOCATIONS),
        "memory_budget_bytes": _optional(_int(0)),
        "per_level_bits": _optional(_vector(_number(0.0, 64.0))),
    }

    def _cross_problems(self):
        problems = []
        if self.per_level_bits is not None:
            if self.allocation != "uniform":
                problems.append((
                    "per_level_bits",
                    'is an explicit allocation; it needs allocation="uniform", '
                    f'got "{self.allocation}"',
                ))
            if self.memory_budget_bytes is not None:
                problems.append(("per_level_bits", "cannot be combined with memory_budget_bytes"))
        return problems

    def bits_for(self, level: int) -> float:
        """Configured bits per key for ``level`` (before any monkey/budget reallocation)."""
        if self.per_level_bits is None:
            return self.bits_per_key
        return self.per_level_bits[min(level, len(self.per_level_bits) - 1)]


@dataclass(frozen=True)
class Compaction(_OptionsNode):
    """Compaction style and shape of the tree."""

    style: str = "leveled"
    """Default "leveled" (one sorted run per level, RocksDB/LevelDB). "tiered": up to
    T-1 runs per level (T = ``size_ratio``), all moved down together when the level is full,
    plus universal compaction's space-amplification trigger (docs/compaction.md).
    "lazy_leveling": tiered upper levels, one run at the last level (Dostoevsky).
    "fluid": ``runs_per_level`` runs per level (Dostoevsky's K/Z). "fifo": one level, oldest
    files dropped past ``ttl_seconds`` or the size cap (``base_level_bytes``)."""

    size_ratio: int = 10
    """Default 10. Capacity ratio T between adjacent levels, 2 to 1000."""

    size_ratio_per_level: tuple[int, ...] | None = None
    """Default None (``size_ratio`` everywhere). Entry i is the ratio between level i+1 and
    level i (entry 0: L0 to L1); boundaries past the end use ``size_ratio``. At most
    ``max_levels - 1`` entries, each 2 to 1000."""

    runs_per_level: tuple[int, ...] | None = None
    """Default None (the style decides: 1 for leveled, T-1 for tiered upper levels). Fluid
    LSM's K vector: the most sorted runs each level may hold, index 0 = L1; the last entry is
    Z, the bound for the last level. At most ``max_levels`` entries, each 1 to 1000; not used
    by "leveled" or "fifo"."""

    l0_trigger: int = 4
    """Default 4. Number of L0 files that triggers an L0 compaction."""

    l0_slowdown: int = 20
    """Default 20. Number of L0 files at which writes are slowed (a stall, counted in stats).
    Must be >= ``l0_trigger``."""

    l0_stop: int = 36
    """Default 36. Number of L0 files at which writes stop until compaction catches up. Must be
    >= ``l0_slowdown``."""

    soft_pending_compaction_bytes: int | None = None
    """Default None (off). When the compaction debt (bytes compaction must rewrite to bring
    every level back to its target, estimated as RocksDB's
    ``estimated-pending-compaction-bytes``) reaches this, writes are slowed to
    ``delayed_write_bytes_per_sec`` (a "pending_slowdown" stall). Keeps a write-heavy tree at
    its level targets, as the cost model assumes. Leveled style only (other styles report a
    debt of 0). At least 1 KiB."""

    hard_pending_compaction_bytes: int | None = None
    """Default None (off). Compaction debt at which writes stop until compaction catches up
    (a "pending_stop" stall). Must be >= ``soft_pending_compaction_bytes`` when both are set.
    At least 1 KiB."""

    delayed_write_bytes_per_sec: int = 16 * MiB
    """Default 16 MiB/s (RocksDB's delayed_write_rate). The write rate while the compaction
    debt is over ``soft_pending_compaction_bytes``. At least 1 KiB."""

    base_level_bytes: int = 256 * MiB
    """Default 256 MiB. Target size of the first level below L0 (L1); later levels are larger
    by the size ratio. For "fifo", the cap on total table bytes. At least 1 KiB."""

    dynamic_level_bytes: bool = True
    """Default True. Size levels from the last level upward (RocksDB's
    level_compaction_dynamic_level_bytes), which bounds space amplification to about
    1 + 1/T; False sizes them from ``base_level_bytes`` downward."""

    target_file_bytes: int = 64 * MiB
    """Default 64 MiB. Compaction output is cut into SSTables of about this size. At least
    1 KiB."""

    max_levels: int = 7
    """Default 7. Number of levels including L0, 2 to 32 (1 is allowed only for "fifo")."""

    file_pick: str = "min_overlap"
    """Default "min_overlap": compact the file of a level that overlaps the fewest bytes of
    the next level (RocksDB kMinOverlappingRatio). "round_robin": continue after the last
    compacted key (LevelDB). "oldest": the file with the oldest data. "tombstone_density":
    the file with the largest fraction of deletions."""

    max_space_amp: float = 2.0
    """Default 2.0. Tiered styles only: when total bytes / last-level bytes exceeds this,
    every run is merged into the last level (RocksDB universal max_size_amplification_percent
    = (max_space_amp - 1) * 100). Must be > 1."""

    tombstone_density_trigger: float | None = None
    """Default None (off). When set, a file whose fraction of deletion entries reaches this
    value (0 < x <= 1) is compacted even if its level is within its size target."""

    policy: CompactionPolicy | None = None
    """Default None (the built-in policy of ``style``). A Python object with a
    ``pick(version_view) -> CompactionJob | None`` method (the ``lsmdb.CompactionPolicy``
    protocol) that decides compactions instead; the other fields stay available to it. JSON
    stores only its qualified class name; ``Options.from_json(text, policy=obj)`` puts the
    object back."""

    _PATH: ClassVar[str] = "compaction."
    _CHECKS: ClassVar[dict[str, _Check]] = {
        "style": _choice(COMPACTION_STYLES),
        "size_ratio": _int(2, 1000),
        "size_ratio_per_level": _optional(_vector(_int(2, 1000))),
        "runs_per_level": _optional(_vector(_int(1, 1000))),
        "l0_trigger": _int(1, 10_000),
        "l0_slowdown": _int(1, 10_000),
        "l0_stop": _int(1, 10_000),
        "soft_pending_compaction_bytes": _optional(_int(KiB)),
        "hard_pending_compaction_bytes": _optional(_int(KiB)),
        "delayed_write_bytes_per_sec": _int(KiB),
        "base_level_bytes": _int(KiB),
        "dynamic_level_bytes": _bool,
        "target_file_bytes": _int(KiB),
        "max_levels": _int(1, _MAX_LEVELS_LIMIT),
        "file_pick": _choice(FILE_PICKS),
        "max_space_amp": _number(1.0, lo_open=True),
        "tombstone_density_trigger": _optional(_number(0.0, 1.0, lo_open=True)),
        "policy": _policy,
    }

    def _cross_problems(self):
        problems = []
        if self.l0_slowdown < self.l0_trigger:
            problems.append((
                "l0_slowdown",
                f"must be >= l0_trigger ({self.l0_trigger}), got {self.l0_slowdown}",
            ))
        if self.l0_stop < self.l0_slowdown:
            problems.append((
                "l0_stop", f"must be >= l0_slowdown ({self.l0_slowdown}), got {self.l0_stop}"
            ))
        soft, hard = self.soft_pending_compaction_bytes, self.hard_pending_compaction_bytes
        if soft is not None and hard is not None and hard < soft:
            problems.append((
                "hard_pending_compaction_bytes",
                f"must be >= soft_pending_compaction_bytes ({soft}), got {hard}",
            ))
        if self.max_levels < 2 and self.style != "fifo":
            problems.append((
                "max_levels", f'must be >= 2 for style "{self.style}", got {self.max_levels}'
            ))
        if self.size_ratio_per_level is not None and (
            len(self.size_ratio_per_level) > self.max_levels - 1
        ):
            problems.append((
                "size_ratio_per_level",
                f"has {len(self.size_ratio_per_level)} entries, more than max_levels - 1 "
                f"({self.max_levels - 1})",
            ))
        if self.runs_per_level is not None:
            if self.style in ("leveled", "fifo"):
                problems.append((
                    "runs_per_level",
                    f'is not used by style "{self.style}"; use "tiered", "lazy_leveling" '
                    'or "fluid"',
                ))
            elif len(self.runs_per_level) > self.max_levels:
                problems.append((
                    "runs_per_level",
                    f"has {len(self.runs_per_level)} entries, more than max_levels "
                    f"({self.max_levels})",
                ))
        return problems

    def ratio_for(self, level: int) -> int:
        """Size ratio between level ``level + 1`` and level ``level``."""
        per = self.size_ratio_per_level
        if per is not None and 0 <= level < len(per):
            return per[level]
        return self.size_ratio


@dataclass(frozen=True)
class Options(_OptionsNode):
    """Everything configurable about an lsmdb directory. Frozen; derive copies with
    :meth:`replace` or :meth:`override`."""

    memtable_bytes: int = 64 * MiB
    """Default 64 MiB. A memtable this large becomes immutable and is flushed to an L0
    SSTable. 1 KiB to 4 GiB."""

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

    max_key_bytes: int = 64 * KiB
    """Default 64 KiB, also the most allowed. Longer keys raise InvalidArgumentError."""

    max_value_bytes: int = 64 * MiB
    """Default 64 MiB, also the most allowed. Longer values raise InvalidArgumentError."""

    wal_segment_bytes: int = 128 * MiB
    """Default 128 MiB. A WAL segment that grows past this switches the memtable (and so the
    segment) early, bounding replay time. At least 64 KiB."""

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
        "max_immutable_memtables": _int(1, 64),
        "block_bytes": _int(256, 4 * MiB),
        "block_restart_interval": _int(1, 1024),
        "block_cache_bytes": _int(0),
        "wal_sync": _wal_sync,
        "wal_recovery": _choice(WAL_RECOVERY_MODES),
        "background_threads": _int(1, 64),
        "paranoid_checks": _bool,
        "max_key_bytes": _int(1, 64 * KiB),
        "max_value_bytes": _int(1, 64 * MiB),
        "wal_segment_bytes": _int(64 * KiB),
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



def keyword_overrides(keywords: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword overrides as given to ``lsmdb.open(path, **keywords)``, flattened into the
    dotted-path mapping that :meth:`Options.override` takes.

    Three spellings name the same field, so ``open()`` has one code path (``override``):

    - a plain or dotted key: ``wal_sync="always"``, ``**{"compaction.style": "tiered"}``;
    - a dict for a group: ``compaction={"style": "tiered", "size_ratio": 4}`` (nested dicts
      for nested groups); only the fields it names change;
    - an option object for a group: ``compaction=Compaction(style="tiered")`` sets every
      field of the group, as ``Options.replace`` would.

    A field named twice (e.g. ``compaction={"style": ...}`` and ``**{"compaction.style":
    ...}``) is an :class:`InvalidOptionsError`. Unknown names and bad values are left for
    ``override`` to report, all together.
    """
    flat: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []

    def add(path: str, cls: type[_OptionsNode] | None, value: Any) -> None:
        group = None if cls is None else cls._NESTED.get(path.rpartition(".")[2])
        if group is not None and isinstance(value, Mapping):
            for key, item in value.items():
                if not isinstance(key, str):
                    problems.append((f"{path}.{key!r}", "option names must be strings"))
                    continue
                add(f"{path}.{key}", group, item)
            return
        if group is not None and isinstance(value, group):
            for f in dataclasses.fields(value):
                add(f"{path}.{f.name}", group, getattr(value, f.name))
            return
        if path in flat:
            problems.append((path, "given twice"))
            return
        flat[path] = value

    for key, value in keywords.items():
        if not isinstance(key, str):
            problems.append((repr(key), "option names must be strings"))
            continue
        parts = key.split(".")
        cls: type[_OptionsNode] | None = Options
        for part in parts[:-1]:  # the class owning the last part, or None if unknown
            cls = None if cls is None else cls._NESTED.get(part)
        add(key, cls, value)
    if problems:
        raise InvalidOptionsError(problems)
    return flat

class _DuplicateKey(Exception):
    def __init__(self, key: str):
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out
