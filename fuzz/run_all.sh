#!/usr/bin/env bash
# Run every atheris target in fuzz/ for DURATION seconds each; print executions per target.
#
#   fuzz/run_all.sh [--sanitized] [--tree DIR] [--only a,b] [--out DIR] DURATION
#
#   --sanitized   use the sanitized build (fuzz/build_sanitized.sh) with atheris's
#                 asan_with_fuzzer.so preloaded, as atheris documents for native extensions
#   --tree DIR    the sanitized copy (default /tmp/lsmdb-asan)
#   --only LIST   only these targets (names without fuzz_, comma-separated)
#   --out DIR     keep logs, grown corpora and crash artifacts here (default: a temp dir)
#
# Each target starts from a copy of fuzz/corpus/<name>/. Exit status 1 if any target found
# a crash (its artifact is kept under --out and named in the table).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
sanitized=0
tree=/tmp/lsmdb-asan
only=""
out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --sanitized) sanitized=1 ;;
        --tree) tree=$2; shift ;;
        --only) only=$2; shift ;;
        --out) out=$2; shift ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 64 ;;
        *) duration=$1 ;;
    esac
    shift
done
if [ -z "${duration:-}" ] || ! [[ "$duration" =~ ^[0-9]+$ ]]; then
    echo "usage: $0 [--sanitized] [--tree DIR] [--only a,b] [--out DIR] DURATION" >&2
    exit 64
fi
out=${out:-$(mktemp -d /tmp/lsmdb-fuzz-XXXXXX)}
mkdir -p "$out"

# The targets run from $out: make a relative PYTHONPATH (say ".") absolute first, or they
# would import whatever lsmdb is installed instead of this tree's.
if [ -n "${PYTHONPATH:-}" ]; then
    abs=""
    IFS=: read -ra parts <<<"$PYTHONPATH"
    for p in "${parts[@]}"; do
        [ -n "$p" ] && abs="${abs:+$abs:}$(realpath -m "$p")"
    done
    export PYTHONPATH=$abs
fi

envs=()
# ASan records a stack trace at every malloc and free by default; under Python every
# allocation above 512 bytes passes through ASan's malloc, and that unwinding halves the
# executions per second (engine target, 297 inputs: 19.4 s with 3 frames, 9.6 s with none;
# 3.7 s unsanitized). Error detection is unchanged; reports then lack the allocation stack:
# rerun a crash artifact with LSMDB_ASAN_MALLOC_CONTEXT=30 to get it.
if [ "$sanitized" = 1 ]; then
    runtime=$(python - <<'PY'
import os, atheris
here = os.path.dirname(atheris.__file__)
for d in (here, os.path.dirname(here)):
    p = os.path.join(d, "asan_with_fuzzer.so")
    if os.path.exists(p):
        print(p)
        break
PY
)
    if [ -z "$runtime" ] || [ ! -d "$tree/lsmdb/_core" ]; then
        echo "need atheris's asan_with_fuzzer.so and a sanitized tree (fuzz/build_sanitized.sh)" >&2
        exit 1
    fi
    envs=(LD_PRELOAD="$runtime" PYTHONPATH="$tree"
          ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:abort_on_error=1:malloc_context_size=${LSMDB_ASAN_MALLOC_CONTEXT:-0}"
          UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
fi

printf "%-14s %12s %9s  %s\n" target executions exec/s result
status=0
for target in "$here"/fuzz_*.py; do
    name=$(basename "$target" .py)
    short=${name#fuzz_}
    if [ -n "$only" ] && [[ ",$only," != *",$short,"* ]]; then
        continue
    fi
    corpus="$out/corpus/$short"
    mkdir -p "$corpus" "$out/artifacts"
    if [ -d "$here/corpus/$short" ]; then
        cp -rn "$here/corpus/$short/." "$corpus/"
    fi
    log="$out/$name.log"
    (cd "$out" && env "${envs[@]}" python "$target" -max_total_time="$duration" \
        -print_final_stats=1 -rss_limit_mb=4096 -timeout=60 \
        -artifact_prefix="$out/artifacts/$name-" "$corpus") >"$log" 2>&1
    rc=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
    crash=$(ls "$out/artifacts/$name-"* 2>/dev/null | head -1)
    if [ "$rc" = 0 ]; then
        result=ok
    else
        result="FAILED (exit $rc${crash:+, artifact $crash}; log $log)"
        status=1
    fi
    printf "%-14s %12s %9s  %s\n" "$short" "${execs:-?}" "${rate:-?}" "$result"
done
echo "logs and corpora: $out"
exit $status
