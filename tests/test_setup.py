"""setup.py reuses a compiled module that is current and rebuilds one that is not.

Builds only lsmdb._core.crc32 (the smallest module) in a scratch copy of the build files.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _build(tree: Path, **env_extra: str) -> str:
    pytest.importorskip("Cython")
    env = {**os.environ, "LSMDB_ONLY": "crc32", **env_extra}
    proc = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=tree,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_current_modules_are_reused_and_stale_ones_rebuilt(tmp_path):
    tree = tmp_path / "src"
    core = tree / "lsmdb" / "_core"
    core.mkdir(parents=True)
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, tree / name)
    shutil.copy2(ROOT / "lsmdb" / "__init__.py", tree / "lsmdb" / "__init__.py")
    for pattern in ("__init__.py", "*.pyx", "*.pxd", "*.pxi", "*.h"):
        for src in (ROOT / "lsmdb" / "_core").glob(pattern):
            shutil.copy2(src, core / src.name)
    # The scratch crc32 includes a part, as rowcodec.pyx includes its rowcodec_*.pxi.
    (core / "crc32_part.pxi").write_text("# a part of the scratch crc32.pyx\n")
    with open(core / "crc32.pyx", "a", encoding="utf-8") as fh:
        fh.write('\ninclude "crc32_part.pxi"\n')
    built = core / ("crc32" + sysconfig.get_config_var("EXT_SUFFIX"))

    out = _build(tree)
    assert built.exists() and "reusing" not in out
    first = built.stat().st_mtime_ns

    out = _build(tree)  # nothing changed: no translation, no compile
    assert "reusing 1 built module(s), building 0" in out
    assert built.stat().st_mtime_ns == first

    pyx = core / "crc32.pyx"
    os.utime(pyx, ns=(first + 10**9, first + 10**9))  # the source is newer than the .so
    out = _build(tree)
    assert "reusing" not in out and built.stat().st_mtime_ns > first
    second = built.stat().st_mtime_ns

    pxi = core / "crc32_part.pxi"  # an included part is source too
    os.utime(pxi, ns=(second + 10**9, second + 10**9))
    out = _build(tree)
    assert "reusing" not in out and built.stat().st_mtime_ns > second

    out = _build(tree, LSMDB_DEBUG="1")  # other compiler flags: not the same module
    assert "reusing" not in out
