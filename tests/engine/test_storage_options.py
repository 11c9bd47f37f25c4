"""lsmdb/engine/options.py: StorageOptions, WalConfig, WalCommitPolicy validation."""

import pytest

from lsmdb import StorageOptions, WalCommitPolicy, WalConfig
from lsmdb.errors import InvalidArgumentError


def test_commit_policies():
    assert WalCommitPolicy.ALWAYS.commits_per_sync == 1
    assert WalCommitPolicy.NEVER.commits_per_sync == 0
    assert WalCommitPolicy.every(8).commits_per_sync == 8
    assert repr(WalCommitPolicy.every(3)) == "WalCommitPolicy.every(3)"
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(InvalidArgumentError, match="every"):
            WalCommitPolicy.every(bad)


def test_durable_defaults():
    o = StorageOptions.durable(WalConfig(dir="/x"))
    assert o.wal_commit_policy is WalCommitPolicy.ALWAYS
    assert o.memory_limit_bytes is None
    assert StorageOptions().wal_config is None
    assert o.lsm().wal_sync == "never"  # the engine decides fsync per commit
    assert o.min_wal_keep_segments == 0 and o.lsm().wal_keep_segments == 0


def test_min_wal_keep_segments_is_the_lsm_retention():
    from lsmdb import Options

    o = StorageOptions(wal_config=WalConfig(dir="/x"), min_wal_keep_segments=(1 << 32) - 1)
    assert o.lsm().wal_keep_segments == (1 << 32) - 1
    # the engine's field rules, as WalConfig.segment_max_bytes does over wal_segment_bytes
    o = StorageOptions(wal_config=WalConfig(dir="/x"), min_wal_keep_segments=2,
                       lsm_options=Options(wal_keep_segments=9))
    assert o.lsm().wal_keep_segments == 2


@pytest.mark.parametrize("make, field", [
    (lambda: WalConfig(dir=""), "dir"),
    (lambda: WalConfig(dir=3), "dir"),
    (lambda: WalConfig(segment_max_bytes=10), "segment_max_bytes"),
    (lambda: StorageOptions(wal_config="x"), "wal_config"),
    (lambda: StorageOptions(wal_commit_policy="always"), "wal_commit_policy"),
    (lambda: StorageOptions(memory_limit_bytes=0), "memory_limit_bytes"),
    (lambda: StorageOptions(lsm_options={}), "lsm_options"),
    (lambda: StorageOptions(min_wal_keep_segments=-1), "min_wal_keep_segments"),
    (lambda: StorageOptions(min_wal_keep_segments=1 << 32), "min_wal_keep_segments"),
    (lambda: StorageOptions(min_wal_keep_segments=2.0), "min_wal_keep_segments"),
    (lambda: StorageOptions.durable("dir"), "WalConfig"),
])
def test_bad_options_name_the_field(make, field):
    with pytest.raises(InvalidArgumentError, match=field):
        make()
