#!/usr/bin/env bash
# Issue 5, experiment 2, control: uniform filters with the memory Monkey's tiered run
# actually built (5.70 bits/key, the "filter bits/key built" column of monkey.sh's table),
# same keys, tree and lookups as monkey.sh's tiered runs (seeds 301 and 302).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-bench/results}
BITS=${BITS:-5.7}
lsmdb bench --quiet --inline --num 1000000 --reads 200000 --benchmarks fillrandom,readmissing \
    --size-ratio 4 --base-level-bytes 2MiB --bloom-bits "$BITS" --cache-bytes 0 \
    --style tiered --bloom-allocation uniform --sweep seed=301,302 --jobs 1 \
    --json "$OUT/compaction_monkey_uniform_equal_memory.json"
