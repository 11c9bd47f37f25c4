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


def test_lsmdb_option_overrides_reach_the_store(tmp_path):
    out = tmp_path / "report.json"
    run = subprocess.run([sys.executable, str(SCRIPT), "--num", "2000", "--reads", "500",
                          "--configs", "lsmdb:1:bloom.format=standard+bloom.bits_per_key=4",
                          "--db-dir", str(tmp_path), "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    (r,) = json.loads(out.read_text())["runs"]
    assert r["overrides"] == {"bloom.format": "standard", "bloom.bits_per_key": 4}
    assert r["options_in_effect"] == {"bloom.format": "standard", "bloom.bits_per_key": 4.0}
    bad = subprocess.run([sys.executable, str(SCRIPT), "--num", "100", "--reads", "10",
                          "--configs", "lsmdb:1:bloom.format=cuckoo", "--db-dir",
                          str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "bloom.format" in bad.stderr
