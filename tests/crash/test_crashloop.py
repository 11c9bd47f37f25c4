"""The blackbox crash loop (lsmdb.testing.crashloop): a multi-threaded stress child is
SIGKILLed at random moments; after every kill the reopened DB must hold every acknowledged
write of every thread, at most the one in-flight write per thread more, nothing else.

CI runs 20 kills (~25 s); ``LSMDB_LONG=1`` runs 300. Long runs: ``lsmdb stress --crash
--kills 1000`` (docs/reliability.md has the figures).
"""

from __future__ import annotations

import os

import pytest

import lsmdb
from lsmdb.testing.crashloop import CrashLoopConfig, CrashLoopFailure, run_crash_loop
from lsmdb.testing.presets import small_options

LONG = bool(os.environ.get("LSMDB_LONG"))
KILLS = 300 if LONG else 20


def test_sigkill_stress_child_at_random_moments(scratch, tally):
    config = CrashLoopConfig(dir=scratch, kills=KILLS, seed=2024, sync="never", threads=4,
                             interval=0.5)
    report = run_crash_loop(config)
    assert report.trials == KILLS
    # Nearly every trial is a real kill in the middle of the workload.
    assert report.sigkills + sum(report.kill_point_deaths.values()) >= KILLS - 2
    assert report.acked_verified > 20 * KILLS
    assert report.keys_checked > 0
    # Every engine kill point was at least passed through by the children.
    assert report.kill_points.unvisited() == []
    tally["crash loop kills"] += report.sigkills
    tally["crash loop acknowledged writes verified"] += report.acked_verified


def test_sigkill_synced_writers_at_random_moments(scratch, tally):
    """wal_sync="always" with 4 writer threads: single writes take the compiled synced group
    commit (WriteFront.write_one_synced); every acknowledged write must survive a kill."""
    kills = 150 if LONG else 10
    config = CrashLoopConfig(dir=scratch, kills=kills, seed=77, sync="always", threads=4,
                             interval=0.5)
    report = run_crash_loop(config)
    assert report.trials == kills
    assert report.sigkills >= kills - 2
    assert report.acked_verified > 20 * kills
    tally["crash loop kills (synced writers)"] += report.sigkills
    tally["crash loop acknowledged synced writes verified"] += report.acked_verified


def test_crash_loop_reports_a_violation_with_the_rerun_command(scratch):
    config = CrashLoopConfig(dir=scratch, kills=1, seed=7, threads=2, interval=0.3)
    run_crash_loop(config)
    # Something no writer wrote appears in the directory behind the loop's back.
    with lsmdb.open(os.path.join(scratch, "db"), small_options()) as db:
        db.put(b"intruder", b"!", sync=True)
    config.kills = 2
    with pytest.raises(CrashLoopFailure) as info:
        run_crash_loop(config)
    text = str(info.value)
    assert "keys no writer ever wrote" in text and "intruder" in text
    assert "lsmdb stress --crash --seed 7" in text and scratch in text


def test_ready_handshake_works_past_descriptor_1024():
    # select() refused a child pipe numbered >= 1024 late in a long test session.
    import subprocess
    import sys

    from lsmdb.testing.crashloop import _wait_ready

    fds = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        p = subprocess.Popen([sys.executable, "-c", "print('ready', flush=True)"],
                             stdout=subprocess.PIPE, text=True)
        assert p.stdout.fileno() >= 1024
        assert _wait_ready(p, 30)
        p.stdout.close()
        p.wait()
    finally:
        for fd in fds:
            os.close(fd)
