#!/usr/bin/env bash
# Issue 5, experiment 1: size-ratio sweep, leveled vs tiered vs lazy_leveling on lsmdb, and
# the same workload and shapes on RocksDB (leveled static, leveled dynamic, universal).
#
# Workload: fillrandom of NUM keys (16-byte keys, 100-byte values compressing to 0.5: the
# bench defaults), then 9 full overwrite passes (each puts every key again, random order),
# so the user writes are 10x the live data. Batch size 1 (one put per call).
#
# Scale: NUM=250,000 with memtable/base level/target file at 1/8 of the bench defaults
# (256 KiB / 1 MiB / 256 KiB), so the tree has the level count a 2M-key run would have at the
# bench defaults (2 MiB / 8 MiB / 2 MiB) while the 24 configurations fit in ~1 hour on a
# shared 2-core machine. Override with NUM=... SCALE_ARGS=... to run larger.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-bench/results}
NUM=${NUM:-250000}
RATIOS=${RATIOS:-2,4,8,16}
JOBS=${JOBS:-2}
SCALE_ARGS=${SCALE_ARGS:---memtable-bytes 256KiB --base-level-bytes 1MiB --target-file-bytes 256KiB}
BENCHMARKS=fillrandom$(printf ',overwrite%.0s' $(seq 9))
COMMON="--quiet --num $NUM --benchmarks $BENCHMARKS $SCALE_ARGS --jobs $JOBS"

# lsmdb: 3 styles x size ratios (dynamic level sizing, the lsmdb default).
lsmdb bench $COMMON --sweep style=leveled,tiered,lazy_leveling --sweep size_ratio=$RATIOS \
    --json $OUT/compaction_sweep_lsmdb.json --csv $OUT/compaction_sweep_lsmdb.csv \
    --plot $OUT/compaction_sweep_lsmdb.png

# lsmdb leveled with static level targets (dynamic_level_bytes=false), the shape of RocksDB
# leveled static below.
lsmdb bench $COMMON --style leveled --set compaction.dynamic_level_bytes=false \
    --sweep size_ratio=$RATIOS --label lsmdb-leveled-static \
    --json $OUT/compaction_sweep_lsmdb_static.json --csv $OUT/compaction_sweep_lsmdb_static.csv

# RocksDB leveled: static (dynamic_level_bytes=false) and dynamic level sizing x size ratios.
lsmdb bench $COMMON --engine rocksdb --style leveled \
    --sweep compaction.dynamic_level_bytes=false,true --sweep size_ratio=$RATIOS \
    --json $OUT/compaction_sweep_rocksdb_leveled.json \
    --csv $OUT/compaction_sweep_rocksdb_leveled.csv \
    --plot $OUT/compaction_sweep_rocksdb_leveled.png

# RocksDB universal (lsmdb "tiered" mapped: min_merge_width = T,
# max_size_amplification_percent = 100).
lsmdb bench $COMMON --engine rocksdb --style tiered --sweep size_ratio=$RATIOS \
    --json $OUT/compaction_sweep_rocksdb_universal.json \
    --csv $OUT/compaction_sweep_rocksdb_universal.csv \
    --plot $OUT/compaction_sweep_rocksdb_universal.png

python bench/experiments/compaction_tables.py sweep --plot $OUT/compaction_sweep.png \
    $OUT/compaction_sweep_lsmdb.json $OUT/compaction_sweep_lsmdb_static.json \
    $OUT/compaction_sweep_rocksdb_leveled.json $OUT/compaction_sweep_rocksdb_universal.json
