"""Builds the Cython extensions in lsmdb/_core (metadata lives in pyproject.toml).

Environment switches:
  LSMDB_ONLY=a,b     build only these _core modules (fast iteration on one module)
  LSMDB_DEBUG=1      keep bounds/wraparound checks on and compile with -O0 -g
"""

import glob
import os

from Cython.Build import cythonize
from setuptools import Extension, setup

only = {m for m in os.environ.get("LSMDB_ONLY", "").split(",") if m}
debug = os.environ.get("LSMDB_DEBUG") == "1"

compile_args = ["-O0", "-g"] if debug else ["-O3", "-fno-strict-aliasing"]
extensions = []
for pyx in sorted(glob.glob("lsmdb/_core/*.pyx")):
    name = os.path.splitext(os.path.basename(pyx))[0]
    if only and name not in only:
        continue
    extensions.append(
        Extension(
            f"lsmdb._core.{name}",
            [pyx],
            include_dirs=["lsmdb/_core"],
            extra_compile_args=compile_args,
        )
    )

directives = {
    "language_level": 3,
    "embedsignature": True,
    "boundscheck": debug,
    "wraparound": debug,
    "cdivision": True,
    "initializedcheck": debug,
}

setup(ext_modules=cythonize(extensions, compiler_directives=directives, include_path=["lsmdb/_core"]))
