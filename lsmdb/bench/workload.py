"""Key-value workload specifications and their seeded generator.

In the spirit of the K-V-Workload-Generator of the compaction design-space study (Sarkar et
al., PVLDB 2021; RESEARCH.md §3.4): a :class:`WorkloadSpec` gives the proportions of inserts,
updates, point deletes, range deletes, point lookups (with a zero-result share) and range
lookups (with a selectivity), the entry sizes, and a key distribution per operation kind. It
is a frozen dataclass that round-trips through JSON, so an experiment is reproducible from
its spec file and seed alone.

Key space. Every key is the fixed-width decimal encoding of an even number ``2 * id``; the odd
number ``2 * id + 1`` encodes a key that is never written, so zero-result lookups fall *inside*
the populated key range (fence pointers cannot answer them; the bloom filters must). Inserts
draw ids from a domain of ``key_space`` ids (default four times the number of keys ever
inserted), "sequential" inserts append above the largest id so far.

Key distributions (:class:`KeyDistribution`), for operations on existing keys:

- ``uniform``: every live key equally likely;
- ``zipfian``: rank r with probability proportional to 1/r^theta (Gray et al.'s generator, as
  in YCSB), ranks scrambled over the live keys so the hot keys are spread over the key space;
- ``normal``: key ids around ``mean * domain`` with deviation ``stddev * domain`` (a hot key
  *range*), mapped to the next live key;
- ``sequential``: a cursor walking the key space in order, wrapping around.

For inserts the same kinds choose where a new id lands (the nearest free id to the draw).

The generator is the model: it tracks the live keys and the version of each value, so every
operation it yields carries its expected outcome (the value a lookup must return, the entry
count a range lookup must see). The runner checks them; nothing is sampled at random there.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import math
import random
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lsmdb.errors import InvalidArgumentError

__all__ = [
    "DISTRIBUTIONS",
    "OP_KINDS",
    "INSERT",
    "UPDATE",
    "DELETE",
    "RANGE_DELETE",
    "LOOKUP",
    "RANGE_LOOKUP",
    "KeyDistribution",
    "WorkloadSpec",
    "WorkloadGenerator",
    "ZipfianSampler",
    "encode_key",
    "value_buffer",
    "PRESETS",
]

DISTRIBUTIONS = ("uniform", "zipfian", "normal", "sequential")

# Operation codes of the generated stream (index into OP_KINDS).
INSERT, UPDATE, DELETE, RANGE_DELETE, LOOKUP, RANGE_LOOKUP = range(6)
OP_KINDS = ("insert", "update", "point_delete", "range_delete", "point_lookup", "range_lookup")

_PROPORTION_FIELDS = ("inserts", "updates", "point_deletes", "range_deletes", "point_lookups",
                      "range_lookups")
_DISTRIBUTION_FIELDS = ("insert_keys", "update_keys", "delete_keys", "lookup_keys", "range_keys")
_MAX_TRIES = 32  # random draws for a free insert id before probing for the nearest one


_MAX_SPEC_BYTES = 1 << 20


def _fail(path: str, reason: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"workload {path}: {reason}")


@dataclass(frozen=True)
class KeyDistribution:
    """How one kind of operation chooses its keys."""

    kind: str = "uniform"
    """"uniform" | "zipfian" | "normal" | "sequential" (see the module docstring)."""

    theta: float = 0.99
    """Zipfian skew, 0 < theta < 1 (YCSB's default 0.99: a few keys take most accesses)."""

    mean: float = 0.5
    """Normal: centre of the hot range as a fraction of the key space, 0 to 1."""

    stddev: float = 0.1
    """Normal: standard deviation as a fraction of the key space, > 0."""

    def validate(self, path: str) -> None:
        if self.kind not in DISTRIBUTIONS:
            raise _fail(f"{path}.kind", f"must be one of {', '.join(DISTRIBUTIONS)}, "
                                        f"got {self.kind!r}")
        if not _is_number(self.theta) or not 0.0 < self.theta < 1.0:
            raise _fail(f"{path}.theta", f"must be > 0 and < 1, got {self.theta!r}")
        if not _is_number(self.mean) or not 0.0 <= self.mean <= 1.0:
            raise _fail(f"{path}.mean", f"must be in [0, 1], got {self.mean!r}")
        if not _is_number(self.stddev) or not self.stddev > 0.0:
            raise _fail(f"{path}.stddev", f"must be > 0, got {self.stddev!r}")


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass(frozen=True)
class WorkloadSpec:
    """A reproducible key-value workload: what to do, how often, on which keys.

    Proportions are relative weights (they need not sum to 1; at least one must be > 0).
    ``preload`` keys are inserted (with ``insert_keys``) before the measured operations.
    """

    name: str = "mixed"
    operations: int = 100_000
    preload: int = 100_000
    inserts: float = 0.0
    updates: float = 0.5
    point_deletes: float = 0.0
    range_deletes: float = 0.0
    point_lookups: float = 0.5
    range_lookups: float = 0.0
    zero_result_lookups: float = 0.0
    """Share of point lookups asking for a key that was never written, 0 to 1."""
    range_lookup_selectivity: float = 0.001
    """Share of the live keys one range lookup reads (at least one entry), 0 to 1."""
    range_delete_selectivity: float = 0.001
    """Share of the live keys one range delete removes (at least one key), 0 to 1."""
    key_size: int = 16
    value_size: int = 100
    value_size_max: int | None = None
    """When set, value sizes are uniform in [value_size, value_size_max]."""
    key_space: int | None = None
    """Ids new keys are drawn from; default 4 x (preload + expected inserts)."""
    insert_keys: KeyDistribution = field(default_factory=KeyDistribution)
    update_keys: KeyDistribution = field(default_factory=KeyDistribution)
    delete_keys: KeyDistribution = field(default_factory=KeyDistribution)
    lookup_keys: KeyDistribution = field(default_factory=KeyDistribution)
    range_keys: KeyDistribution = field(default_factory=KeyDistribution)
    seed: int = 0

    def __post_init__(self) -> None:
        self.validate()

    # -- validation ------------------------------------------------------------------------
    def validate(self) -> None:
        if not isinstance(self.name, str) or not self.name or "," in self.name:
            raise _fail("name", f"must be a non-empty string without commas, got {self.name!r}")
        for name in ("operations", "preload", "seed"):
            if not _is_count(getattr(self, name)):
                raise _fail(name, f"must be a whole number >= 0, got {getattr(self, name)!r}")
        for name in _PROPORTION_FIELDS:
            value = getattr(self, name)
            if not _is_number(value) or value < 0:
                raise _fail(name, f"must be a number >= 0, got {value!r}")
        if self.operations and not any(getattr(self, n) > 0 for n in _PROPORTION_FIELDS):
            raise _fail("proportions", "at least one of " + ", ".join(_PROPORTION_FIELDS)
                        + " must be > 0")
        for name in ("zero_result_lookups", "range_lookup_selectivity",
                     "range_delete_selectivity"):
            value = getattr(self, name)
            if not _is_number(value) or not 0.0 <= value <= 1.0:
                raise _fail(name, f"must be in [0, 1], got {value!r}")
        if not isinstance(self.key_size, int) or not 4 <= self.key_size <= 1024:
            raise _fail("key_size", f"must be in [4, 1024], got {self.key_size!r}")
        if not isinstance(self.value_size, int) or not 0 <= self.value_size <= 1 << 24:
            raise _fail("value_size", f"must be in [0, 16 MiB], got {self.value_size!r}")
        if self.value_size_max is not None and (
                not isinstance(self.value_size_max, int)
                or not self.value_size <= self.value_size_max <= 1 << 24):
            raise _fail("value_size_max", f"must be in [value_size, 16 MiB] or null, "
                                          f"got {self.value_size_max!r}")
        if self.key_space is not None and (not _is_count(self.key_space) or self.key_space < 1):
            raise _fail("key_space", f"must be a whole number >= 1 or null, "
                                     f"got {self.key_space!r}")
        for name in _DISTRIBUTION_FIELDS:
            dist = getattr(self, name)
            if not isinstance(dist, KeyDistribution):
                raise _fail(name, f"must be a KeyDistribution, got {dist!r}")
            dist.validate(name)
        digits = len(str(2 * self.domain_size() + 2 * self.expected(INSERT) + 1))
        if digits > self.key_size:
            raise _fail("key_size", f"{self.key_size} bytes cannot encode {digits}-digit key "
                                    f"ids; use a key size of at least {digits}")

    # -- derived ---------------------------------------------------------------------------
    def proportions(self) -> list[float]:
        """Normalized weights in OP_KINDS order."""
        raw = [float(getattr(self, n)) for n in _PROPORTION_FIELDS]
        total = sum(raw)
        return [r / total for r in raw] if total else raw

    def expected(self, kind: int) -> int:
        """Expected number of operations of ``kind`` among ``operations``."""
        return math.ceil(self.operations * self.proportions()[kind])

    def domain_size(self) -> int:
        if self.key_space is not None:
            return self.key_space
        return max(1024, 4 * (self.preload + self.expected(INSERT)))

    # -- conversion ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkloadSpec:
        if not isinstance(data, Mapping):
            raise _fail("spec", f"must be a JSON object, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(k) for k in data if k not in names)
        if unknown:
            raise _fail(unknown[0], "unknown field")
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key in _DISTRIBUTION_FIELDS:
                kwargs[key] = _distribution_from(key, value)
            else:
                kwargs[key] = value
        try:
            return cls(**kwargs)
        except TypeError as exc:  # wrong type of a field compared or formatted above
            raise _fail("spec", str(exc)) from None

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> WorkloadSpec:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise InvalidArgumentError(f"not valid JSON ({exc})") from None
        return cls.from_dict(data)

    def save(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(self.to_json())

    @classmethod
    def load(cls, path: str) -> WorkloadSpec:
        """The spec in the JSON file at ``path``; InvalidArgumentError for any other file
        (binary data, a huge or endless file, JSON of another shape)."""
        with open(path, "rb") as fh:
            raw = fh.read(_MAX_SPEC_BYTES + 1)
        if len(raw) > _MAX_SPEC_BYTES:
            raise InvalidArgumentError(f"larger than {_MAX_SPEC_BYTES >> 20} MiB: not a "
                                       "workload spec (a JSON object of a few hundred bytes)")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidArgumentError(f"not a JSON workload spec: binary data (byte "
                                       f"0x{raw[exc.start]:02x} at offset {exc.start} is not "
                                       "UTF-8 text)") from None
        return cls.from_json(text)

    def with_assignments(self, assignments: Sequence[tuple[str, Any]]) -> WorkloadSpec:
        """A copy with ``("updates", 0.3)`` or ``("lookup_keys.kind", "zipfian")`` applied."""
        data = self.to_dict()
        for path, value in assignments:
            parts = path.split(".")
            if parts[0] not in data:
                raise _fail(path, "unknown field")
            if len(parts) == 1:
                if parts[0] in _DISTRIBUTION_FIELDS and isinstance(value, str):
                    data[parts[0]] = dict(data[parts[0]], kind=value)  # "lookup_keys=zipfian"
                else:
                    data[parts[0]] = value
            elif len(parts) == 2 and parts[0] in _DISTRIBUTION_FIELDS:
                if parts[1] not in data[parts[0]]:
                    raise _fail(path, "unknown field")
                data[parts[0]][parts[1]] = value
            else:
                raise _fail(path, "unknown field")
        return WorkloadSpec.from_dict(data)


def _distribution_from(path: str, value: Any) -> KeyDistribution:
    if isinstance(value, KeyDistribution):
        return value
    if isinstance(value, str):
        return KeyDistribution(kind=value)
    if not isinstance(value, Mapping):
        raise _fail(path, f"must be an object or a distribution name, got {value!r}")
    names = {f.name for f in dataclasses.fields(KeyDistribution)}
    unknown = sorted(str(k) for k in value if k not in names)
    if unknown:
        raise _fail(f"{path}.{unknown[0]}", "unknown field")
    return KeyDistribution(**value)


# YCSB core workloads over the generator (A: update heavy, B: read mostly, C: read only,
# D-like: read latest inserts is approximated by sequential inserts + zipfian reads,
# E: short ranges).
_ZIPF = KeyDistribution(kind="zipfian")
PRESETS: dict[str, WorkloadSpec] = {
    "ycsb-a": WorkloadSpec(name="ycsb-a", updates=0.5, point_lookups=0.5,
                           update_keys=_ZIPF, lookup_keys=_ZIPF),
    "ycsb-b": WorkloadSpec(name="ycsb-b", updates=0.05, point_lookups=0.95,
                           update_keys=_ZIPF, lookup_keys=_ZIPF),
    "ycsb-c": WorkloadSpec(name="ycsb-c", updates=0.0, point_lookups=1.0, lookup_keys=_ZIPF),
    "ycsb-e": WorkloadSpec(name="ycsb-e", updates=0.0, inserts=0.05, point_lookups=0.0,
                           range_lookups=0.95, range_lookup_selectivity=0.0005,
                           range_keys=_ZIPF),
}


def encode_key(number: int, key_size: int) -> bytes:
    """Fixed-width decimal key: bytewise order equals numeric order."""
    return b"%0*d" % (key_size, number)


def value_buffer(seed: int, value_size: int, compression_ratio: float = 0.5) -> bytes:
    """About 1 MiB of value material in which each ``value_size`` piece is ``ratio`` random
    bytes followed by repeats of them (db_bench's CompressibleString), so a value compresses
    to about ``compression_ratio`` of its size."""
    rng = random.Random(seed)
    size = max(1, value_size)
    raw_len = max(1, round(size * compression_ratio))
    pieces: list[bytes] = []
    total = 0
    while total < (1 << 20) + size:
        raw = rng.randbytes(raw_len)
        piece = (raw * (size // raw_len + 1))[:size]
        pieces.append(piece)
        total += len(piece)
    return b"".join(pieces)


class ZipfianSampler:
    """Ranks 0..n-1 with P(r) proportional to 1/(r+1)^theta (Gray et al., SIGMOD 1994, the
    YCSB ZipfianGenerator). ``n`` may change; zeta(n) is updated incrementally."""

    def __init__(self, theta: float):
        self.theta = theta
        self.alpha = 1.0 / (1.0 - theta)
        self.zeta2 = 1.0 + 0.5 ** theta
        self.n = 0
        self.zetan = 0.0
        self._eta_n = -1
        self._eta = 0.0

    def _resize(self, n: int) -> None:
        theta = self.theta
        if n > self.n:
            self.zetan += math.fsum((i ** -theta) for i in range(self.n + 1, n + 1))
        else:
            self.zetan -= math.fsum((i ** -theta) for i in range(n + 1, self.n + 1))
        self.n = n

    def sample(self, u: float, n: int) -> int:
        """The rank for uniform draw ``u`` in [0, 1) over ``n`` >= 1 items."""
        if n != self.n:
            self._resize(n)
        if n == 1:
            return 0
        if self._eta_n != n:
            self._eta = (1.0 - (2.0 / n) ** (1.0 - self.theta)) / (1.0 - self.zeta2 / self.zetan)
            self._eta_n = n
        uz = u * self.zetan
        if uz < 1.0:
            return 0
        if uz < self.zeta2:
            return 1
        rank = int(n * (self._eta * u - self._eta + 1.0) ** self.alpha)
        return min(rank, n - 1)


def _scramble(rank: int, n: int) -> int:
    # FNV-1a over the rank's 8 bytes, as YCSB's ScrambledZipfianGenerator: hot ranks land
    # on keys spread over the key space instead of the smallest ids.
    h = 0xCBF29CE484222325
    for _ in range(8):
        h ^= rank & 0xFF
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
        rank >>= 8
    return h % n


class WorkloadGenerator:
    """Yields the operations of a :class:`WorkloadSpec`, each with its expected outcome.

    Operations are tuples ``(code, key, arg, expect)``:

    ==============  ==================  ==========================================
    code            arg                 expect
    ==============  ==================  ==========================================
    INSERT/UPDATE   value               None
    DELETE          None                True if the key was live
    RANGE_DELETE    end key (excl.)     number of live keys removed
    LOOKUP          None                the value the DB must return, or None
    RANGE_LOOKUP    entries to read     entries the DB must return from ``key`` on
    ==============  ==================  ==========================================
    """

    def __init__(self, spec: WorkloadSpec):
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.domain = spec.domain_size()
        self._present = bytearray(self.domain)
        self._versions = array("I", bytes(4 * self.domain))
        self._live: list[int] = []
        self._pos: dict[int, int] = {}
        self._next_sequential = 0
        self._cursors = dict.fromkeys(_DISTRIBUTION_FIELDS, 0)
        self._zipf = {name: ZipfianSampler(getattr(spec, name).theta)
                      for name in _DISTRIBUTION_FIELDS}
        self._cumulative = list(_running_sum(spec.proportions()))
        self._buf = value_buffer(spec.seed, spec.value_size_max or spec.value_size)
        self.counts = dict.fromkeys(OP_KINDS, 0)
        self.zero_result_lookups = 0

    # -- keys and values -------------------------------------------------------------------
    def key(self, kid: int) -> bytes:
        return encode_key(2 * kid, self.spec.key_size)

    def missing_key(self, kid: int) -> bytes:
        return encode_key(2 * kid + 1, self.spec.key_size)

    def value(self, kid: int, version: int) -> bytes:
        spec = self.spec
        h = (kid * 2654435761 + version * 97531 + 12345) & 0xFFFFFFFF
        size = spec.value_size
        if spec.value_size_max is not None and spec.value_size_max > size:
            size += h % (spec.value_size_max - size + 1)
        span = len(self._buf) - size
        offset = h % span if span > 0 else 0
        return self._buf[offset:offset + size]

    @property
    def live_count(self) -> int:
        return len(self._live)

    def is_live(self, kid: int) -> bool:
        return kid < len(self._present) and self._present[kid] == 1

    def expected_value(self, kid: int) -> bytes | None:
        return self.value(kid, self._versions[kid]) if self.is_live(kid) else None

    # -- the model -------------------------------------------------------------------------
    def _grow(self, kid: int) -> None:
        if kid >= len(self._present):
            extra = max(kid + 1 - len(self._present), len(self._present) // 2)
            self._present.extend(bytes(extra))
            self._versions.extend(array("I", bytes(4 * extra)))

    def _add(self, kid: int) -> None:
        self._grow(kid)
        self._present[kid] = 1
        self._versions[kid] = 0
        self._pos[kid] = len(self._live)
        self._live.append(kid)
        if kid >= self._next_sequential:
            self._next_sequential = kid + 1

    def _remove(self, kid: int) -> None:
        self._present[kid] = 0
        i = self._pos.pop(kid)
        last = self._live.pop()
        if last != kid:
            self._live[i] = last
            self._pos[last] = i

    def _new_id(self) -> int:
        domain = self.domain
        if self.spec.insert_keys.kind == "sequential":
            return self._next_sequential
        present = self._present
        for _ in range(_MAX_TRIES):
            kid = self._draw_position("insert_keys", domain)
            if kid >= len(present) or not present[kid]:
                return kid
        # Crowded near the draw: take the nearest free id above it (or the first above all).
        start = self._draw_position("insert_keys", domain)
        kid = present.find(0, start, domain)
        if kid < 0:
            kid = present.find(0, 0, domain)
        if kid < 0:
            kid = max(domain, self._next_sequential)
        return kid

    def _draw_position(self, which: str, n: int) -> int:
        """A position in [0, n) drawn by the distribution of ``which``."""
        dist: KeyDistribution = getattr(self.spec, which)
        rng = self.rng
        kind = dist.kind
        if kind == "uniform":
            return int(rng.random() * n)
        if kind == "zipfian":
            return _scramble(self._zipf[which].sample(rng.random(), n), n)
        if kind == "normal":
            x = int(rng.gauss(dist.mean * n, dist.stddev * n))
            return min(max(x, 0), n - 1)
        pos = self._cursors[which] % n
        self._cursors[which] = pos + 1
        return pos

    def _pick_live(self, which: str) -> int:
        """An existing key id chosen by the distribution of ``which`` (live keys exist)."""
        kind = getattr(self.spec, which).kind
        live = self._live
        if kind in ("uniform", "zipfian"):
            return live[self._draw_position(which, len(live))]
        present = self._present
        top = len(present)
        if kind == "sequential":
            start = self._cursors[which] % top
            kid = present.find(1, start)
            if kid < 0:
                kid = present.find(1, 0)
            self._cursors[which] = kid + 1
            return kid
        start = self._draw_position(which, self.domain if self.domain <= top else top)
        kid = present.find(1, start)
        return kid if kid >= 0 else present.find(1, 0)

    def _live_from(self, start: int, count: int) -> list[int]:
        """Up to ``count`` live ids >= start, ascending."""
        present = self._present
        out: list[int] = []
        kid = start
        while len(out) < count:
            kid = present.find(1, kid)
            if kid < 0:
                break
            out.append(kid)
            kid += 1
        return out

    # -- operations ------------------------------------------------------------------------
    def _insert(self) -> tuple:
        kid = self._new_id()
        self._add(kid)
        self.counts["insert"] += 1
        return (INSERT, self.key(kid), self.value(kid, 0), None)

    def _lookup_missing(self) -> tuple:
        self.counts["point_lookup"] += 1
        self.zero_result_lookups += 1
        kid = self._draw_position("lookup_keys", max(len(self._present), 1))
        return (LOOKUP, self.missing_key(kid), None, None)

    def next_op(self) -> tuple:
        """The next operation of the stream (and the model updated as if it ran)."""
        rng = self.rng
        kind = bisect.bisect_right(self._cumulative, rng.random())
        kind = min(kind, len(OP_KINDS) - 1)
        spec = self.spec
        if kind == INSERT:
            return self._insert()
        if kind == LOOKUP and rng.random() < spec.zero_result_lookups:
            return self._lookup_missing()
        if not self._live:  # nothing to update, delete or find: keep the stream well defined
            return self._insert() if kind == UPDATE else self._lookup_missing()
        if kind == UPDATE:
            kid = self._pick_live("update_keys")
            version = self._versions[kid] + 1
            self._versions[kid] = version
            self.counts["update"] += 1
            return (UPDATE, self.key(kid), self.value(kid, version), None)
        if kind == DELETE:
            kid = self._pick_live("delete_keys")
            self._remove(kid)
            self.counts["point_delete"] += 1
            return (DELETE, self.key(kid), None, True)
        if kind == LOOKUP:
            kid = self._pick_live("lookup_keys")
            self.counts["point_lookup"] += 1
            return (LOOKUP, self.key(kid), None, self.value(kid, self._versions[kid]))
        if kind == RANGE_DELETE:
            span = max(1, round(spec.range_delete_selectivity * len(self._live)))
            first = self._pick_live("delete_keys")
            ids = self._live_from(first, span)
            for kid in ids:
                self._remove(kid)
            self.counts["range_delete"] += 1
            return (RANGE_DELETE, self.key(first), self.missing_key(ids[-1]), len(ids))
        span = max(1, round(spec.range_lookup_selectivity * len(self._live)))
        first = self._pick_live("range_keys")
        found = len(self._live_from(first, span))
        self.counts["range_lookup"] += 1
        return (RANGE_LOOKUP, self.key(first), span, found)

    def preload(self, batch: int = 1000) -> Iterator[list[tuple[bytes, bytes]]]:
        """The ``preload`` keys as batches of (key, value) pairs, inserted in the model."""
        remaining = self.spec.preload
        while remaining > 0:
            n = min(batch, remaining)
            pairs = []
            for _ in range(n):
                kid = self._new_id()
                self._add(kid)
                pairs.append((self.key(kid), self.value(kid, 0)))
            remaining -= n
            yield pairs

    def chunks(self, size: int = 1024) -> Iterator[list[tuple]]:
        """The ``operations`` of the spec in lists of at most ``size``."""
        remaining = self.spec.operations
        next_op = self.next_op
        while remaining > 0:
            n = min(size, remaining)
            yield [next_op() for _ in range(n)]
            remaining -= n


def _running_sum(values: Sequence[float]) -> Iterator[float]:
    total = 0.0
    for v in values:
        total += v
        yield total
