"""The ``bloom`` group of :class:`~lsmdb.options.Options`: filter bits per key and their
allocation across levels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from lsmdb.options.checks import _Check, _choice, _int, _number, _optional, _vector
from lsmdb.options.node import _OptionsNode

BLOOM_ALLOCATIONS = ("uniform", "monkey")
BLOOM_FORMATS = ("blocked", "standard")


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

    format: str = "blocked"
    """Default "blocked": all probes of a key fall in one 64-byte line, so a lookup costs one
    cache miss instead of ~k (0.96% false positives at 10 bits/key against 0.82%).
    "standard": the classic layout (k probes over the whole filter), what lsmdb wrote before.
    Only tables written from now on change; readers read both (docs/format/bloom.md)."""

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
        "format": _choice(BLOOM_FORMATS),
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
