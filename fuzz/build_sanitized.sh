#!/usr/bin/env bash
# Build a sanitized copy of lsmdb for fuzzing native code with atheris.
#
#   fuzz/build_sanitized.sh [TREE]        (default TREE: /tmp/lsmdb-asan)
#
# Copies the working tree (tracked and untracked files, no build products) to TREE and
# compiles the Cython extensions there with clang -fsanitize=address,undefined,
# fuzzer-no-link (setup.py's LSMDB_SANITIZE=1). The main tree's extensions are never
# replaced, so other runs in it are unaffected. Installs clang from Debian if missing.
# LSMDB_ONLY=rowcodec,keycodec fuzz/build_sanitized.sh sanitizes only those modules (the
# others are copied unsanitized from the working tree, which must be built).
# Then: fuzz/run_all.sh --sanitized --tree TREE SECONDS
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
tree=${1:-/tmp/lsmdb-asan}

if ! command -v clang >/dev/null 2>&1; then
    echo "clang not found; installing it from Debian packages" >&2
    apt-cache policy clang >&2 || true
    if [ "$(id -u)" -ne 0 ]; then
        echo "need root to apt-get install clang (or put clang on PATH)" >&2
        exit 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >&2 || {
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >&2
    }
fi

asan_runtime=$(python - <<'PY'
import os, atheris
here = os.path.dirname(atheris.__file__)
for d in (here, os.path.dirname(here)):
    p = os.path.join(d, "asan_with_fuzzer.so")
    if os.path.exists(p):
        print(p)
        break
PY
)
if [ -z "$asan_runtime" ]; then
    echo "atheris's asan_with_fuzzer.so not found (pip install atheris)" >&2
    exit 1
fi

mkdir -p "$tree"
(cd "$repo" && git ls-files -z -co --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$tree"
# Never reuse a build product of the main tree in the sanitized copy...
find "$tree/lsmdb/_core" \( -name '*.so' -o -name '*.c' \) -delete
rm -rf "$tree/build"
# ...except, with LSMDB_ONLY=a,b (sanitize just those modules, minutes faster), the other
# modules' ordinary builds, so the package still imports.
if [ -n "${LSMDB_ONLY:-}" ]; then
    for so in "$repo"/lsmdb/_core/*.so; do
        name=$(basename "$so"); name=${name%%.*}
        if [[ ",$LSMDB_ONLY," != *",$name,"* ]]; then
            cp "$so" "$tree/lsmdb/_core/"
        fi
    done
fi

cd "$tree"
LSMDB_SANITIZE=1 CC=clang LDSHARED="clang -shared" python setup.py build_ext --inplace -q
echo "sanitized build ready in $tree (runtime: $asan_runtime)"
echo "run: $repo/fuzz/run_all.sh --sanitized --tree $tree SECONDS"
