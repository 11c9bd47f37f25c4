"""WalCommitPolicy (ALWAYS / every(n) / NEVER from Options.wal_sync) and its CommitSchedule,
alone and as the DB's write path and close ask them."""

from __future__ import annotations

import pytest

import lsmdb
from lsmdb import wal as walmod
from lsmdb.errors import InvalidArgumentError
from lsmdb.testing.faultenv import FaultInjectionEnv
from lsmdb.testing.presets import small_options
from lsmdb.wal.commit_policy import CommitSchedule, WalCommitPolicy


def test_vocabulary_parses_and_round_trips():
    assert WalCommitPolicy.from_wal_sync("always") == WalCommitPolicy.ALWAYS
    assert WalCommitPolicy.from_wal_sync("never") == WalCommitPolicy.NEVER
    assert WalCommitPolicy.from_wal_sync("every(8)") == WalCommitPolicy.every(8)
    assert WalCommitPolicy.every(8).commits_per_sync == 8
    for text in ("always", "never", "every(8)"):
        assert WalCommitPolicy.from_wal_sync(text).to_wal_sync() == text
    assert WalCommitPolicy.every(1) == WalCommitPolicy.ALWAYS  # a sync per commit either way
    assert WalCommitPolicy.ALWAYS.syncs_by_default and not WalCommitPolicy.ALWAYS.never_syncs
    assert WalCommitPolicy.NEVER.never_syncs and not WalCommitPolicy.NEVER.syncs_by_default
    every = WalCommitPolicy.every(3)
    assert not every.syncs_by_default and not every.never_syncs


@pytest.mark.parametrize("bad", ["sometimes", "every(0)", "every(07)", "", 5, None])
def test_bad_wal_sync_text_is_an_invalid_argument(bad):
    with pytest.raises(InvalidArgumentError):
        WalCommitPolicy.from_wal_sync(bad)


@pytest.mark.parametrize("bad", [0, -1, True, 2.0])
def test_every_needs_a_positive_int(bad):
    with pytest.raises(InvalidArgumentError):
        WalCommitPolicy.every(bad)


def _decisions(schedule: CommitSchedule, requested: list[bool]) -> list[bool]:
    return [schedule.commit_needs_sync(r) for r in requested]


def test_always_syncs_what_asks_and_honours_an_explicit_no():
    # Under ALWAYS a write with sync=None arrives as requested=True; sync=False as False.
    assert _decisions(WalCommitPolicy.ALWAYS.schedule(), [True, False, True]) == [
        True, False, True]


def test_never_syncs_only_what_asks():
    assert _decisions(WalCommitPolicy.NEVER.schedule(), [False] * 5 + [True]) == [
        False] * 5 + [True]


def test_every_n_syncs_each_nth_unrequested_commit_and_requested_ones_do_not_count():
    schedule = WalCommitPolicy.every(3).schedule()
    assert _decisions(schedule, [False] * 7) == [False, False, True, False, False, True, False]
    # One unsynced commit is pending: a requested sync does not move the count.
    assert _decisions(schedule, [True, False, False]) == [True, False, True]


def test_each_schedule_counts_on_its_own():
    policy = WalCommitPolicy.every(2)
    a, b = policy.schedule(), policy.schedule()
    assert a.commit_needs_sync(False) is False
    assert b.commit_needs_sync(False) is False
    assert a.commit_needs_sync(False) is True


# -- through the DB ----------------------------------------------------------------------------


def _segment(env, path) -> str:
    return walmod.segment_path(str(path), walmod.list_segments(env, str(path))[-1])


@pytest.mark.parametrize("wal_sync,syncs", [("always", 6), ("never", 0), ("every(2)", 3)])
def test_the_db_syncs_as_its_policy_says(tmp_path, wal_sync, syncs):
    with lsmdb.open(tmp_path / "db", small_options(wal_sync=wal_sync)) as db:
        for i in range(6):
            db.put(b"k%d" % i, b"v")
        assert db.stats().wal_syncs == syncs
        db.put(b"asked", b"v", sync=True)
        assert db.stats().wal_syncs == syncs + 1


@pytest.mark.parametrize("wal_sync,durable", [("never", False), ("every(4)", True)])
def test_close_syncs_the_tail_unless_the_policy_is_never(tmp_path, wal_sync, durable):
    env = FaultInjectionEnv()
    path = tmp_path / "db"
    db = lsmdb.open(path, small_options(wal_sync=wal_sync), env=env)
    db.put(b"k", b"v")  # one commit: every(4) has not synced it yet
    segment = _segment(env, path)
    assert env.synced_size(segment) < env.file_size(segment)
    db.close()
    assert (env.synced_size(segment) == env.file_size(segment)) is durable


def test_a_write_carrying_several_commits_counts_them_all():
    # The storage engine writes one group of k transactions at once: every(4) syncs once
    # four commits have gone by, however they were grouped.
    schedule = WalCommitPolicy.every(4).schedule()
    assert [schedule.commit_needs_sync(False, k) for k in (3, 1, 2, 5, 1)] == [
        False, True, False, True, False]
    assert repr(WalCommitPolicy.every(4)) == "WalCommitPolicy.every(4)"
    assert repr(WalCommitPolicy.ALWAYS) == "WalCommitPolicy.ALWAYS"
