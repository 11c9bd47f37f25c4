"""Compaction debt (estimated pending compaction bytes) and the write stalls it drives."""

from __future__ import annotations

import threading

import pytest
from test_compaction import check_reads, heavy_writes, meta, opts, view

import lsmdb
from lsmdb.lsm.compaction import pending_compaction_bytes
from lsmdb.lsm.styles import policy_for
from lsmdb.testing.presets import small_options


def test_debt_of_a_tree_within_its_targets_is_zero():
    # Static targets: L1 4096, L2 16384, L3 65536; every level under them, L0 under trigger.
    o = opts(dynamic_level_bytes=False)
    v = view({0: [meta(b"a", b"z", 500)], 1: [meta(b"a", b"m", 4000)],
              2: [meta(b"a", b"z", 16000)], 3: [meta(b"a", b"z", 60000)]}, o)
    assert pending_compaction_bytes(v) == 0


def test_debt_counts_excess_times_the_rewrite_of_the_level_below():
    o = opts(dynamic_level_bytes=False)
    # L1 holds 6096 bytes, 2000 over its 4096 target; L2 (12000, + 2000 from L1) stays
    # under its 16384 target.
    v = view({1: [meta(b"a", b"m", 3048), meta(b"n", b"z", 3048)],
              2: [meta(b"a", b"z", 12000)]}, o)
    assert pending_compaction_bytes(v) == int(2000 * (1 + 12000 / 6096))
    # The excess flows into L2 and pushes it over its target as well.
    v = view({1: [meta(b"a", b"m", 3048), meta(b"n", b"z", 3048)],
              2: [meta(b"a", b"z", 15000)], 3: [meta(b"a", b"z", 30000)]}, o)
    l1 = 2000 * (1 + 15000 / 6096)
    l2_size = 15000 + 2000
    l2 = (l2_size - 16384) * (1 + 30000 / l2_size)
    assert pending_compaction_bytes(v) == int(l1 + l2)


def test_debt_of_l0_at_its_trigger_is_its_bytes_plus_the_base_level():
    o = opts(dynamic_level_bytes=False)  # l0_trigger 2
    v = view({0: [meta(b"a", b"z", 700), meta(b"a", b"z", 800)],
              1: [meta(b"a", b"z", 1000)]}, o)
    assert pending_compaction_bytes(v) == 700 + 800 + 1000
    assert policy_for(o).pending_bytes(v) == 2500


def _debt_options(soft, hard, **kw):
    o = small_options(**kw)
    return o.replace(compaction=o.compaction.replace(
        soft_pending_compaction_bytes=soft, hard_pending_compaction_bytes=hard,
        delayed_write_bytes_per_sec=64 << 20))


def test_writes_slow_down_and_stop_on_debt_and_lose_nothing(tmp_path):
    # Limits far below what the workload builds up: writers must wait for compaction.
    db = lsmdb.open(tmp_path / "db", _debt_options(1024, 24 << 10))
    model = heavy_writes(db, 6000, keyspace=20_000)
    s = db.stats()
    assert s.stalls.get("pending_slowdown", 0) > 0
    assert s.stall_seconds.get("pending_slowdown", 0.0) > 0.0
    check_reads(db, model)
    db.close()
    db = lsmdb.open(tmp_path / "db", _debt_options(1024, 24 << 10))
    check_reads(db, model)
    db.close()


def test_hard_limit_blocks_writers_until_compaction_drains_the_debt(tmp_path):
    db = lsmdb.open(tmp_path / "db", _debt_options(None, 2048))
    errors = []

    def writer(seed):
        try:
            heavy_writes(db, 1500, seed=seed, keyspace=20_000)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and not any(t.is_alive() for t in threads)
    s = db.stats()
    assert s.stalls.get("pending_stop", 0) > 0
    db.close()


def test_inline_mode_runs_the_debt_down_instead_of_waiting(tmp_path):
    db = lsmdb.open(tmp_path / "db", _debt_options(None, 4096), inline_background=True)
    model = heavy_writes(db, 4000, keyspace=20_000)
    assert db.stats().pending_compaction_bytes < 4096 * 8
    check_reads(db, model)
    db.close()


def test_stats_report_the_debt_and_styles_without_an_estimate_report_zero(tmp_path):
    db = lsmdb.open(tmp_path / "lv", small_options(), inline_background=True)
    heavy_writes(db, 3000, keyspace=20_000)
    s = db.stats()
    assert s.pending_compaction_bytes >= 0 and "pending_compaction_bytes" in s.to_dict()
    db.close()
    o = small_options()
    o = o.replace(compaction=o.compaction.replace(style="tiered",
                                                  hard_pending_compaction_bytes=1024))
    db = lsmdb.open(tmp_path / "tiered", o)
    heavy_writes(db, 3000, keyspace=20_000)  # a limit the style cannot estimate never stalls
    s = db.stats()
    assert s.pending_compaction_bytes == 0 and "pending_stop" not in s.stalls
    db.close()


@pytest.mark.parametrize("soft, hard", [(None, None), (1 << 30, None)])
def test_limits_above_the_debt_never_stall(tmp_path, soft, hard):
    db = lsmdb.open(tmp_path / "db", _debt_options(soft, hard))
    heavy_writes(db, 3000, keyspace=20_000)
    s = db.stats()
    assert not {"pending_slowdown", "pending_stop"} & set(s.stalls)
    db.close()
