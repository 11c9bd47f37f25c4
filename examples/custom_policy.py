"""A custom compaction policy: push the level densest in tombstones down first.

Any object with ``pick(view) -> CompactionJob | None`` is a compaction policy
(``lsmdb.CompactionPolicy``). ``view`` is a read-only snapshot of the tree: ``view.files(level)``,
``view.runs(level)``, ``view.level_bytes(level)``, ``view.is_busy(f)`` (a running job holds
the file), ``view.options``. The policy must not mutate the view or do I/O; the DB runs
the job it returns and calls ``pick`` again until it returns None.

This one looks at levels 1..n-2 and, when one of them holds a fraction of deletions at least
``threshold``, moves that whole level into the next one (merging with the overlapping files
there, so the deletions meet and cancel the data they delete). Otherwise it defers to the
built-in leveled policy, which keeps L0 and the level sizes in check. Composing with a
built-in policy like this is the easy way to keep the tree healthy: a policy that never
compacts L0 would stall writes.

Run it:  python examples/custom_policy.py
"""

from __future__ import annotations

import os
import tempfile

import lsmdb
from lsmdb.lsm.compaction import (
    CompactionJob,
    LeveledPolicy,
    VersionView,
    key_range,
    level_run_id,
)
from lsmdb.options import Compaction, Options


class DensestLevelFirst:
    """Compact the level with the highest tombstone density (if >= ``threshold``) first."""

    def __init__(self, threshold: float = 0.25):
        self.threshold = threshold
        self.fallback = LeveledPolicy()

    def pick(self, view: VersionView) -> CompactionJob | None:
        best: tuple[float, int] | None = None
        for level in range(1, view.num_levels - 1):
            files = view.files(level)
            if not files or view.any_busy(files) or view.num_runs(level + 1) > 1:
                continue
            entries = sum(f.entries for f in files)
            deletions = sum(f.deletions + f.range_deletions for f in files)
            density = deletions / max(1, entries)
            if density >= self.threshold and (best is None or density > best[0]):
                best = (density, level)
        if best is None:
            return self.fallback.pick(view)
        density, level = best
        inputs = list(view.files(level))
        below = view.overlapping(level + 1, *key_range(inputs))
        if view.any_busy(below):
            return self.fallback.pick(view)
        # The output joins the next level's single run, so it takes that run's id.
        return CompactionJob([(level, inputs), (level + 1, below)], level + 1,
                             reason="densest_level", output_run=level_run_id(view, level + 1),
                             target_file_bytes=view.options.compaction.target_file_bytes,
                             score=density)


def main() -> None:
    options = Options(memtable_bytes=16 << 10, block_bytes=512,
                      compaction=Compaction(policy=DensestLevelFirst(0.2), l0_trigger=2,
                                            base_level_bytes=16 << 10,
                                            target_file_bytes=8 << 10, size_ratio=4,
                                            max_levels=5))
    with tempfile.TemporaryDirectory() as tmp:
        with lsmdb.open(os.path.join(tmp, "db"), options) as db:
            for i in range(5000):
                db.put(b"key%06d" % i, b"v" * 40)
            for i in range(0, 5000, 2):
                db.delete(b"key%06d" % i)
            db.flush()
            print(db.stats().table())
            print("live keys:", db.count())


if __name__ == "__main__":
    main()
