"""A tiny bench/experiments/memtable_size_fill.py run: one result per size and round, reads
verified inside, write amplification present. Correctness only: no timing assertions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "experiments" / "memtable_size_fill.py"


def _run(tmp_path, *args: str) -> tuple[dict, str]:
    out = tmp_path / "report.json"
    run = subprocess.run([sys.executable, str(SCRIPT), "--num", "3000", *args,
                          "--db-dir", str(tmp_path), "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return json.loads(out.read_text()), run.stdout


def test_each_size_reports_cpu_and_write_amp(tmp_path):
    report, _ = _run(tmp_path, "--sizes", "1,2", "--rounds", "2")
    assert report["num"] == 3000 and report["sizes"] == [1, 2]
    assert sorted((r["memtable_mib"], r["round"]) for r in report["runs"]) == [
        (1, 0), (1, 1), (2, 0), (2, 1)]
    for r in report["runs"]:
        assert r["puts"] == 3000 and r["write_amp"] >= 1.0
        assert r["writer_cpu_us_per_put"] > 0 and r["process_cpu_us_per_put"] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_fronts_cross_the_sizes(tmp_path):
    report, stdout = _run(tmp_path, "--sizes", "1", "--fronts", "0,64")
    assert report["fronts"] == [0, 64]
    assert sorted(r["front_kib"] for r in report["runs"]) == [0, 64]
    assert "front    64 KiB" in stdout and "front     0 KiB" in stdout
