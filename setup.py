"""Builds the Cython extensions in lsmdb/_core (metadata lives in pyproject.toml).

Environment switches:
  LSMDB_ONLY=a,b     build only these modules (by file name; fast iteration on one module)
  LSMDB_DEBUG=1      keep bounds/wraparound checks on and compile with -O0 -g
  LSMDB_SANITIZE=1   compile and link with clang -fsanitize=address,undefined,fuzzer-no-link
                     (for atheris: coverage feedback from the C code, out-of-bounds reads
                     caught); run with atheris's asan_with_fuzzer.so preloaded, see
                     fuzz/build_sanitized.sh and fuzz/run_all.sh --sanitized
"""

import glob
import os

from Cython.Build import cythonize
from setuptools import Extension, setup

only = {m for m in os.environ.get("LSMDB_ONLY", "").split(",") if m}
debug = os.environ.get("LSMDB_DEBUG") == "1"
sanitize = os.environ.get("LSMDB_SANITIZE") == "1"

compile_args = ["-O0", "-g"] if debug else ["-O3", "-fno-strict-aliasing"]
link_args = []
if sanitize:
    sanitizers = "-fsanitize=address,undefined,fuzzer-no-link"
    compile_args = ["-O1", "-g", "-fno-omit-frame-pointer", "-fno-strict-aliasing", sanitizers,
                    "-fno-sanitize-recover=undefined"]
    # The runtimes come from the preloaded asan_with_fuzzer.so, not from the extension.
    link_args = [sanitizers]
    os.environ.setdefault("CC", "clang")
    os.environ.setdefault("LDSHARED", "clang -shared")
extensions = []
# The engine's hot paths, and the test machinery's Cython pieces (a ListIterator source for the
# composing iterators' tests and benchmarks), kept out of the engine's modules.
for pyx in sorted(glob.glob("lsmdb/_core/*.pyx") + glob.glob("lsmdb/testing/*.pyx")):
    name = os.path.splitext(os.path.basename(pyx))[0]
    if only and name not in only:
        continue
    package = os.path.dirname(pyx).replace("/", ".")
    extensions.append(
        Extension(
            f"{package}.{name}",
            [pyx],
            include_dirs=["lsmdb/_core"],
            extra_compile_args=compile_args,
            extra_link_args=link_args,
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
