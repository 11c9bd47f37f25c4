"""StorageOptions, WalConfig and WalCommitPolicy (ORIGIN.md §3.6, §3.9; SPEC §6).

The origin's WAL knobs map onto the LSM's WAL: ``WalConfig.dir`` is the data directory (the
LSM keeps its WAL in ``<dir>/wal``), ``segment_max_bytes`` is the LSM's
``wal_segment_bytes``, and ``StorageOptions.min_wal_keep_segments`` (SPEC's
``wal_retention``) is the LSM's ``wal_keep_segments``: the LSM deletes a WAL segment once
SSTables hold all of its writes (at a memtable flush, so at every checkpoint, and at open),
except the newest ``min_wal_keep_segments`` of those, which stay on disk for tools and
archiving and are never replayed. Knobs of the origin's paged snapshot, buffer pool and
cold-table eviction (``eviction_threshold_percent``) and ``sync_on_flush`` have no
counterpart in this engine yet and are not offered (flushes always fsync).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from lsmdb.errors import InvalidArgumentError
from lsmdb.options import Options
from lsmdb.storage_api import check_u64
from lsmdb.wal.commit_policy import WalCommitPolicy  # the LSM's policy: one vocabulary

__all__ = ["WalCommitPolicy", "WalConfig", "StorageOptions"]


@dataclass(frozen=True, slots=True)
class WalConfig:
    dir: str = "./wal"
    segment_max_bytes: int = 16 << 20

    def __post_init__(self) -> None:
        if isinstance(self.dir, os.PathLike):
            object.__setattr__(self, "dir", os.fspath(self.dir))
        if not isinstance(self.dir, str) or not self.dir:
            raise InvalidArgumentError(f"WalConfig.dir must be a non-empty path, got {self.dir!r}")
        check_u64("WalConfig", "segment_max_bytes", self.segment_max_bytes, 64 << 10)


@dataclass(frozen=True, slots=True)
class StorageOptions:
    """``wal_config`` None means memory only (no files). ``lsm_options``: the Options of the
    underlying lsmdb.DB (None: defaults; its ``wal_sync`` is ignored, the commit policy rules,
    and so are its ``wal_segment_bytes`` and ``wal_keep_segments``, which the fields here
    set). ``min_wal_keep_segments`` (the origin's name for SPEC's ``wal_retention``, default
    0): how many WAL segments already covered by a checkpoint stay on disk, the newest
    ones; a u32."""

    wal_config: WalConfig | None = None
    wal_commit_policy: WalCommitPolicy = field(default_factory=lambda: WalCommitPolicy.ALWAYS)
    memory_limit_bytes: int | None = None
    lsm_options: Options | None = None
    min_wal_keep_segments: int = 0

    def __post_init__(self) -> None:
        if self.wal_config is not None and not isinstance(self.wal_config, WalConfig):
            raise InvalidArgumentError(
                f"StorageOptions.wal_config must be a WalConfig or None, got {self.wal_config!r}")
        if not isinstance(self.wal_commit_policy, WalCommitPolicy):
            raise InvalidArgumentError(
                "StorageOptions.wal_commit_policy must be a WalCommitPolicy, got "
                f"{self.wal_commit_policy!r}")
        if self.memory_limit_bytes is not None:
            check_u64("StorageOptions", "memory_limit_bytes", self.memory_limit_bytes, 1)
        check_u64("StorageOptions", "min_wal_keep_segments", self.min_wal_keep_segments, 0,
                  (1 << 32) - 1)
        if self.lsm_options is not None and not isinstance(self.lsm_options, Options):
            raise InvalidArgumentError(
                f"StorageOptions.lsm_options must be lsmdb.Options or None, got "
                f"{self.lsm_options!r}")

    @staticmethod
    def durable(wal_config: WalConfig) -> StorageOptions:
        if not isinstance(wal_config, WalConfig):
            raise InvalidArgumentError(
                f"StorageOptions.durable needs a WalConfig, got {wal_config!r}")
        return StorageOptions(wal_config=wal_config)

    @staticmethod
    def in_memory(memory_limit_bytes: int | None = None) -> StorageOptions:
        return StorageOptions(memory_limit_bytes=memory_limit_bytes)

    def lsm(self) -> Options:
        base = self.lsm_options or Options()
        seg = self.wal_config.segment_max_bytes if self.wal_config else base.wal_segment_bytes
        return base.replace(wal_sync="never", wal_segment_bytes=seg,
                            wal_keep_segments=self.min_wal_keep_segments)
