"""Built-in compaction policies beyond leveled (which lives in ``lsmdb.lsm.compaction``).
``lsmdb.lsm.styles.policy_for`` turns the options' ``compaction.style`` into one of them.

``FluidPolicy`` and its two presets ``TieredPolicy`` and ``LazyLevelingPolicy`` implement
Dostoevsky's run-capped levels; ``FIFOPolicy`` drops whole old files. docs/compaction.md
describes each one.
"""

from lsmdb.lsm.policies.fifo import FIFOPolicy
from lsmdb.lsm.policies.fluid import FluidPolicy, LazyLevelingPolicy, TieredPolicy, run_caps

__all__ = ["FIFOPolicy", "FluidPolicy", "LazyLevelingPolicy", "TieredPolicy", "run_caps"]
