"""A tiny bench/experiments/zstd_dictionary.py run: one result per block size, dictionary
size and level, every sampled block round-tripped inside. Correctness only: no timings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "experiments" / "zstd_dictionary.py"


def test_every_configuration_reports_ratio_and_time(tmp_path):
    out = tmp_path / "report.json"
    run = subprocess.run([sys.executable, str(SCRIPT), "--num", "3000", "--block-sizes",
                          "4096,1024", "--dict-bytes", "0,2048", "--levels", "1,3",
                          "--samples", "200", "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    report = json.loads(out.read_text())
    got = sorted((r["block_bytes"], r["dict_bytes"], r["level"]) for r in report["runs"])
    assert got == sorted((b, d, lv) for b in (4096, 1024) for d in (0, 2048) for lv in (1, 3))
    for r in report["runs"]:
        assert 0 < r["ratio"] < 1.5 and r["decompress_us_per_block"] > 0
        assert r["blocks"] >= (3000 * 100) // (r["block_bytes"] + 200)
