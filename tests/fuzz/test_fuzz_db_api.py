"""fuzz/fuzz_db_api.py leaves no database directory behind when libFuzzer ends the run."""

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FUZZ_DIR = Path(__file__).resolve().parents[2] / "fuzz"


def _run_dirs(pid: int) -> list[str]:
    return [d for base in ("/dev/shm", "/tmp")
            for d in glob.glob(os.path.join(base, f"lsmdb-fuzz-api-{pid}"))]


def test_no_directory_is_left_after_the_run(tmp_path):
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"
    shutil.copytree(FUZZ_DIR / "corpus" / "db_api", corpus)
    # libFuzzer's exit() after -runs runs no Python cleanup: only a per-input cleanup works.
    env = dict(os.environ)  # this checkout's lsmdb, whatever the working directory
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(FUZZ_DIR.parent),
                                                      env.get("PYTHONPATH")]))
    proc = subprocess.Popen([sys.executable, str(FUZZ_DIR / "fuzz_db_api.py"), "-runs=40",
                             str(corpus)], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert "Done 40 runs" in err
    assert _run_dirs(proc.pid) == []
