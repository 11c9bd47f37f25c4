#!/usr/bin/env bash
# Issue 5, experiment 3: the custom policy of examples/custom_policy.py (DensestLevelFirst:
# push the level densest in tombstones down first, else defer to LeveledPolicy) run through
# `lsmdb bench --policy`, beside the built-in leveled policy on the same workload and shape.
#
# Workload (the mixed workload generator): 200k keys preloaded, then 400k operations:
# 30% uniform updates, 30% uniform point deletes, 30% point lookups (half of them for
# never-written keys), 10% short range lookups (selectivity 0.0005); 16 + 100 B entries.
# Shape: leveled, T=4, memtable/base level/target file 512 KiB (L0 + 3 levels).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-bench/results}
COMMON="--quiet --num 200000 --reads 400000 --benchmarks mixed
    --mix name=deletes --mix updates=0.3 --mix point_deletes=0.3 --mix point_lookups=0.3
    --mix zero_result_lookups=0.5 --mix range_lookups=0.1 --mix range_lookup_selectivity=0.0005
    --mix update_keys.kind=uniform --mix lookup_keys.kind=uniform
    --style leveled --size-ratio 4 --memtable-bytes 512KiB --base-level-bytes 512KiB
    --target-file-bytes 512KiB"
lsmdb bench $COMMON --label builtin-leveled --json $OUT/compaction_policy_builtin.json \
    --csv $OUT/compaction_policy_builtin.csv
lsmdb bench $COMMON --label DensestLevelFirst \
    --policy examples/custom_policy.py:DensestLevelFirst \
    --json $OUT/compaction_policy_custom.json --csv $OUT/compaction_policy_custom.csv
python bench/experiments/compaction_tables.py policy $OUT/compaction_policy_builtin.json
python bench/experiments/compaction_tables.py policy $OUT/compaction_policy_custom.json
