"""``policy_for``: the compaction policy object an ``Options`` asks for, by
``compaction.style`` (``"leveled"``, ``"tiered"``, ``"lazy_leveling"``, ``"fluid"``,
``"fifo"``) unless ``compaction.policy`` names one. docs/compaction.md describes the styles.

It sits above both ``compaction`` (leveled) and ``policies`` (the others), which import
``compaction`` and never this module.
"""

from __future__ import annotations

from lsmdb.errors import InvalidArgumentError
from lsmdb.lsm.compaction import CompactionPolicy, LeveledPolicy


def policy_for(options) -> CompactionPolicy:
    """The policy object the options ask for (``compaction.policy`` wins over ``style``)."""
    c = options.compaction
    if c.policy is not None:
        return c.policy
    if c.style == "leveled":
        return LeveledPolicy()
    # Loaded only for the other styles: the default (leveled) DB saves ~2 ms of start-up.
    from lsmdb.lsm.policies import FIFOPolicy, FluidPolicy, LazyLevelingPolicy, TieredPolicy

    if c.style == "tiered":
        return TieredPolicy()
    if c.style == "lazy_leveling":
        return LazyLevelingPolicy()
    if c.style == "fluid":
        return FluidPolicy()
    if c.style == "fifo":
        return FIFOPolicy()
    raise InvalidArgumentError(f"unknown compaction style {c.style!r}")
