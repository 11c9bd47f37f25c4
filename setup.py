"""Builds the Cython extensions in lsmdb/_core (metadata lives in pyproject.toml).

The build is parallel and reuses what is already built:
  - Cython translates the stale modules in parallel processes and the C compiler builds
    them in parallel threads (one per core; ``LSMDB_JOBS=N`` or ``build_ext -j N`` to change).
  - A module whose compiled .so already sits in lsmdb/_core, newer than every source it
    depends on (its .pyx, every .pxd and .h of lsmdb/_core, this file) and built with the
    same configuration (compiler flags, Cython and Python versions; recorded in
    build/lsmdb-ext-stamps.json), is reused instead of being translated and compiled again.
    So ``pip install -e ".[test]"`` after ``pip install -e .`` only installs the extras.
    ``LSMDB_REBUILD=1`` (or ``build_ext --force``) rebuilds everything.

Environment switches:
  LSMDB_ONLY=a,b     build only these modules (by file name; fast iteration on one module)
  LSMDB_DEBUG=1      keep bounds/wraparound checks on and compile with -O0 -g
  LSMDB_SANITIZE=1   compile and link with clang -fsanitize=address,undefined,fuzzer-no-link
                     (for atheris: coverage feedback from the C code, out-of-bounds reads
                     caught); run with atheris's asan_with_fuzzer.so preloaded, see
                     fuzz/build_sanitized.sh and fuzz/run_all.sh --sanitized
  LSMDB_JOBS=N       parallel jobs (default: the usable cores)
  LSMDB_REBUILD=1    ignore already-built modules
"""

import glob
import hashlib
import json
import os
import sys
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
CORE = "lsmdb/_core"
STAMPS = os.path.join(HERE, "build", "lsmdb-ext-stamps.json")

only = {m for m in os.environ.get("LSMDB_ONLY", "").split(",") if m}
debug = os.environ.get("LSMDB_DEBUG") == "1"
sanitize = os.environ.get("LSMDB_SANITIZE") == "1"

# -g0: Python's own CFLAGS carry -g; debug info for the large generated C files costs about a
# fifth of the compile time and is of no use outside a debug build (LSMDB_DEBUG=1 keeps it).
compile_args = ["-O0", "-g"] if debug else ["-O3", "-g0", "-fno-strict-aliasing"]
link_args = []
if sanitize:
    sanitizers = "-fsanitize=address,undefined,fuzzer-no-link"
    compile_args = ["-O1", "-g", "-fno-omit-frame-pointer", "-fno-strict-aliasing", sanitizers,
                    "-fno-sanitize-recover=undefined"]
    # The runtimes come from the preloaded asan_with_fuzzer.so, not from the extension.
    link_args = [sanitizers]
    os.environ.setdefault("CC", "clang")
    os.environ.setdefault("LDSHARED", "clang -shared")

directives = {
    "language_level": 3,
    "embedsignature": True,
    "boundscheck": debug,
    "wraparound": debug,
    "cdivision": True,
    "initializedcheck": debug,
}


def _jobs() -> int:
    if os.environ.get("LSMDB_JOBS"):
        return max(1, int(os.environ["LSMDB_JOBS"]))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


def _config_fingerprint() -> str:
    """What a module's machine code depends on besides its sources."""
    import Cython

    config = {
        "compile_args": compile_args, "link_args": link_args, "directives": directives,
        "cython": Cython.__version__, "python": sys.version, "ext_suffix":
            sysconfig.get_config_var("EXT_SUFFIX"),
        "env": {k: os.environ.get(k) for k in ("CC", "CFLAGS", "LDSHARED", "LDFLAGS",
                                                "CPPFLAGS")},
    }
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def _newest_source(pyx: str) -> float:
    # Conservative: every .pxd/.pxi/.h of the package counts for every module (a cimport or
    # include chain reaches most of them anyway), and so does this file (flags, directives).
    shared = glob.glob(os.path.join(HERE, CORE, "*.pxd")) + \
        glob.glob(os.path.join(HERE, CORE, "*.h")) + \
        glob.glob(os.path.join(HERE, CORE, "*.pxi")) + [os.path.abspath(__file__)]
    return max(os.path.getmtime(p) for p in [os.path.join(HERE, pyx), *shared])


def _load_stamps() -> dict:
    try:
        with open(STAMPS, encoding="utf-8") as fh:
            stamps = json.load(fh)
        return stamps if isinstance(stamps, dict) else {}
    except (OSError, ValueError):
        return {}


class CachedParallelBuildExt(build_ext):
    """build_ext that reuses current in-tree modules and builds the rest in parallel."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = _jobs()

    def _in_tree(self, ext: Extension) -> str:
        return os.path.join(HERE, *ext.name.split(".")) + sysconfig.get_config_var("EXT_SUFFIX")

    def _reusable(self, ext: Extension, stamps: dict, fingerprint: str) -> bool:
        if self.force or os.environ.get("LSMDB_REBUILD") == "1":
            return False
        built = self._in_tree(ext)
        return (stamps.get(ext.name) == fingerprint and os.path.exists(built)
                and os.path.getmtime(built) >= _newest_source(ext.sources[0]))

    def run(self):
        from Cython.Build import cythonize

        stamps = _load_stamps()
        fingerprint = _config_fingerprint()
        self._reuse = {e.name for e in self.extensions if self._reusable(e, stamps, fingerprint)}
        stale = [e for e in self.extensions if e.name not in self._reuse]
        if self._reuse:
            print(f"lsmdb: reusing {len(self._reuse)} built module(s), building {len(stale)}",
                  flush=True)
        if stale:
            # Translate in place: each Extension's .pyx source becomes its generated .c.
            translated = cythonize(stale, compiler_directives=directives,
                                   include_path=[CORE], nthreads=self.parallel,
                                   force=self.force)
            # cythonize returns new Extension objects; build_ext prepared the originals
            # (finalize_options), so only their sources change.
            sources = {e.name: e.sources for e in translated}
            for ext in stale:
                ext.sources = sources[ext.name]
        super().run()
        if not (self.inplace or getattr(self, "editable_mode", False)):
            return  # nothing was put in the tree: nothing there to vouch for
        for ext in self.extensions:
            stamps[ext.name] = fingerprint
        os.makedirs(os.path.dirname(STAMPS), exist_ok=True)
        with open(STAMPS, "w", encoding="utf-8") as fh:
            json.dump(stamps, fh, indent=1, sort_keys=True)

    def build_extension(self, ext):
        if ext.name in self._reuse:
            target = self.get_ext_fullpath(ext.name)
            source = self._in_tree(ext)
            if os.path.abspath(target) != os.path.abspath(source):
                os.makedirs(os.path.dirname(target), exist_ok=True)
                self.copy_file(source, target, preserve_times=True)
            return
        super().build_extension(ext)


extensions = []
# The engine's hot paths, and the test machinery's Cython pieces (a ListIterator source for the
# composing iterators' tests and benchmarks), kept out of the engine's modules.
for pyx in sorted(glob.glob(f"{CORE}/*.pyx") + glob.glob("lsmdb/testing/*.pyx")):
    name = os.path.splitext(os.path.basename(pyx))[0]
    if only and name not in only:
        continue
    package = os.path.dirname(pyx).replace("/", ".")
    extensions.append(
        Extension(
            f"{package}.{name}",
            [pyx],
            include_dirs=[CORE],
            extra_compile_args=compile_args,
            extra_link_args=link_args,
        )
    )

setup(ext_modules=extensions, cmdclass={"build_ext": CachedParallelBuildExt})
