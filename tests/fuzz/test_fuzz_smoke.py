"""Runs every atheris target in fuzz/ for a few seconds (LSMDB_FUZZ_SECONDS, default 3).

Long runs are opt-in: ``fuzz/run_all.sh DURATION`` or ``LSMDB_LONG=1``.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FUZZ_DIR = Path(__file__).resolve().parents[2] / "fuzz"
TARGETS = sorted(FUZZ_DIR.glob("fuzz_*.py"))
SECONDS = int(os.environ.get("LSMDB_FUZZ_SECONDS", "600" if os.environ.get("LSMDB_LONG") else "3"))


def test_there_are_fuzz_targets():
    assert TARGETS, "no fuzz targets found"


@pytest.mark.parametrize("target", TARGETS, ids=lambda p: p.stem)
def test_fuzz_target_runs_clean(target, tmp_path):
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"
    seeds = FUZZ_DIR / "corpus" / target.stem.removeprefix("fuzz_")
    if seeds.is_dir():
        shutil.copytree(seeds, corpus)
    else:
        corpus.mkdir()
    # The target runs in tmp_path: a relative PYTHONPATH (the worktree's ".") must not
    # silently import another lsmdb there.
    env = dict(os.environ)
    if env.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.pathsep.join(
            str(Path(p).resolve()) for p in env["PYTHONPATH"].split(os.pathsep) if p)
    proc = subprocess.run(
        [sys.executable, str(target), f"-max_total_time={SECONDS}", "-rss_limit_mb=2048",
         "-print_final_stats=1", str(corpus)],
        capture_output=True, text=True, timeout=SECONDS * 4 + 60, cwd=tmp_path, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "stat::number_of_executed_units" in proc.stderr
