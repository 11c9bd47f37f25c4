"""A tiny bench/experiments/readrandom_memory.py run: one result per configuration and round,
reads verified inside (a wrong value fails the run), memory figures present.

Correctness only: no timing assertions (benchmarks are not tests).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "experiments" / "readrandom_memory.py"


def test_each_configuration_reports_rate_and_memory(tmp_path):
    pytest.importorskip("lmdb")
    out = tmp_path / "report.json"
    run = subprocess.run([sys.executable, str(SCRIPT), "--num", "3000", "--reads", "1000",
                          "--configs", "lsmdb:1,lmdb", "--rounds", "2", "--db-dir",
                          str(tmp_path), "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    report = json.loads(out.read_text())
    assert report["num"] == 3000 and report["configs"] == ["lsmdb:1", "lmdb"]
    runs = report["runs"]
    assert sorted((r["engine"], r["round"]) for r in runs) == [
        ("lmdb", 0), ("lmdb", 1), ("lsmdb", 0), ("lsmdb", 1)]
    for r in runs:
        assert r["reads"] == 1000 and r["ops_per_sec"] > 0 and r["disk_mb"] > 0
        assert r["cache_mib"] == (1 if r["engine"] == "lsmdb" else None)
    lsm = [r for r in runs if r["engine"] == "lsmdb"]
    assert all(0 < r["block_cache_hit_rate"] <= 1 for r in lsm)
    # Every store directory is removed after its run.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
