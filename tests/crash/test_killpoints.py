"""Whitebox kill points (lsmdb.testing.killpoints): the process dies *inside* the engine at
a named step (WAL append/sync, SSTable write/sync, MANIFEST append/sync, CURRENT and OPTIONS
install, flush/compaction install, obsolete-file deletion...), and recovery must still hold
every acknowledged write. One crash-loop trial per kill point: each is hit at least once.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lsmdb.testing import killpoints
from lsmdb.testing.crashloop import CrashLoopConfig, run_crash_loop
from lsmdb.testing.killpoints import KILL_POINTS, Rule, parse_rules, read_log, rule_for

LONG = bool(os.environ.get("LSMDB_LONG"))


def test_rules_grammar():
    rules = parse_rules("wal.sync:before, wal.append:*:0.25,manifest.*@3,*:0")
    assert rules == [Rule("wal.sync:before", 1.0), Rule("wal.append:*", 0.25),
                     Rule("manifest.*", 1.0, 3), Rule("*", 0.0)]
    assert rule_for("wal.append:after", rules).probability == 0.25
    assert rule_for("manifest.sync:before", rules).at_visit == 3
    assert rule_for("sst.write:mid", rules).pattern == "*"
    for bad in ("x:1.5", "x@0"):
        with pytest.raises(ValueError):
            parse_rules(bad)


def test_off_unless_configured(tmp_path):
    assert killpoints._state is None or os.environ.get(killpoints.ENV_RULES)
    log = str(tmp_path / "kp.log")
    killpoints.configure("*:0", log, seed=1)
    try:
        for _ in range(5):
            killpoints.kill_point("wal.append:before")
        killpoints.kill_point("flush.install:after")
    finally:
        killpoints.configure(None)
    got = read_log(log)
    assert got.visits == {"wal.append:before": 4, "flush.install:after": 1}  # powers of 2
    assert not got.kills


def test_a_kill_point_kills_the_process_with_sigkill(tmp_path):
    log = str(tmp_path / "kp.log")
    code = ("from lsmdb.testing.killpoints import kill_point\n"
            "for i in range(10):\n    kill_point('wal.append:before')\nprint('survived')\n")
    env = dict(os.environ, LSMDB_KILL_POINTS="wal.append:*@3", LSMDB_KILL_POINTS_LOG=log)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == -9 and "survived" not in proc.stdout
    got = read_log(log)
    assert got.kills == {"wal.append:before": 1} and got.visits["wal.append:before"] == 3


def test_every_kill_point_is_hit_and_recovered(scratch, tally):
    trials = len(KILL_POINTS) * (3 if LONG else 1)
    config = CrashLoopConfig(dir=scratch, kills=trials, seed=99, threads=2,
                             keys_per_thread=150, kill_points="each", child_seconds=5.0)
    report = run_crash_loop(config)
    died = {name for name, n in report.kill_point_deaths.items() if n}
    assert sorted(set(KILL_POINTS) - died) == [], report.summary()
    assert report.acked_verified > 0
    tally["kill points hit"] += len(died)
    tally["kill-point deaths"] += sum(report.kill_point_deaths.values())
