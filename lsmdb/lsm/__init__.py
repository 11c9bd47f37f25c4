"""The LSM tree: the ``DB`` and everything it orchestrates.

Where things are (docs/architecture.md has the whole map):

- ``db``: ``DB`` and ``open`` (the orchestrator: write path, read path, background work)
- ``iterators``: ``DBIterator`` and ``Snapshot`` handed to users
- the write-ahead log lives one floor down, in ``lsmdb.wal``; tables in ``lsmdb.sstable``
- ``version``, ``version_edit``: the MANIFEST, ``VersionSet`` and the immutable ``Version``
- ``table_cache``, ``table_writer``: open readers; write (and cut) new tables
- ``compaction``: ``CompactionPolicy``, ``VersionView``, ``CompactionJob``, the leveled policy
- ``policies``: tiered, lazy leveling, fluid and FIFO; ``styles.policy_for`` picks one
- ``compactor``: runs one job (merge, write outputs, build the edit)
- ``bloom_alloc``, ``costmodel``: per-level bloom bits and the cost model behind them
- ``stats``, ``checkpoint``: ``DB.stats()`` and ``DB.checkpoint()``

Nothing here imports the engine, its indexes or its backends, nor the test machinery.
"""
