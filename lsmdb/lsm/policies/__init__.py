"""Built-in compaction policies beyond leveled (which lives in ``lsmdb.lsm.compaction``), and
``policy_for``, which turns the options' ``compaction.style`` into a policy object.

``FluidPolicy`` and its two presets ``TieredPolicy`` and ``LazyLevelingPolicy`` implement
Dostoevsky's run-capped levels; ``FIFOPolicy`` drops whole old files. docs/compaction.md
describes each one.
"""

from lsmdb.errors import InvalidArgumentError
from lsmdb.lsm.compaction import CompactionPolicy, LeveledPolicy
from lsmdb.lsm.policies.fifo import FIFOPolicy
from lsmdb.lsm.policies.fluid import FluidPolicy, LazyLevelingPolicy, TieredPolicy, run_caps

__all__ = ["FIFOPolicy", "FluidPolicy", "LazyLevelingPolicy", "TieredPolicy", "policy_for",
           "run_caps"]


def policy_for(options) -> CompactionPolicy:
    """The policy object the options ask for (``compaction.policy`` wins over ``style``)."""
    c = options.compaction
    if c.policy is not None:
        return c.policy
    if c.style == "leveled":
        return LeveledPolicy()
    if c.style == "tiered":
        return TieredPolicy()
    if c.style == "lazy_leveling":
        return LazyLevelingPolicy()
    if c.style == "fluid":
        return FluidPolicy()
    if c.style == "fifo":
        return FIFOPolicy()
    raise InvalidArgumentError(f"unknown compaction style {c.style!r}")
