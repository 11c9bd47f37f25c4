#!/usr/bin/env bash
# Issue 5, experiment 1 at the issue's scale: 2M keys, size ratio x style, lsmdb and RocksDB
# in ONE `lsmdb bench` run (one sweep, one JSON), each lsmdb shape paired with its RocksDB
# counterpart so the two run side by side on the machine.
#
# Workload: fillrandom of 2,000,000 keys (16-byte keys, 100-byte values compressing to 0.5:
# the bench defaults), then 9 full overwrite passes in random order = 20M puts, 10x the live
# data, in write batches of 100 puts (both engines). Bench default sizes: memtable 2 MiB,
# base level 8 MiB, target file 2 MiB, zstd, 10-bit bloom filters.
#
# Shapes (joined sweep knob engine+style+dynamic_level_bytes):
#   lsmdb leveled (dynamic level sizing)      <-> RocksDB leveled, dynamic level bytes
#   lsmdb leveled (static level targets)      <-> RocksDB leveled, static
#   lsmdb tiered                              <-> RocksDB universal (min_merge_width = T,
#                                                 max_size_amplification_percent = 100)
#   lsmdb lazy_leveling                           (no RocksDB equivalent)
# x size ratio T = 4, 8, 16, 2 = 28 configurations, two at a time, in that order (the JSON
# keeps the finished points if the sweep is stopped early). RATIOS=4 NAME=compaction_sweep_2m_t4
# runs one size ratio into its own files (~30 minutes on 2 free cores), so the sweep can be
# run in parts; compaction_tables.py sweep takes several JSON files.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-bench/results}
NUM=${NUM:-2000000}
RATIOS=${RATIOS:-4,8,16,2}  # T=2 (the deepest tree, the slowest) last
JOBS=${JOBS:-2}
NAME=${NAME:-compaction_sweep_2m}
BENCHMARKS=fillrandom$(printf ',overwrite%.0s' $(seq 9))
SHAPES=lsmdb:leveled:true,rocksdb:leveled:true,lsmdb:leveled:false,rocksdb:leveled:false
SHAPES=$SHAPES,lsmdb:tiered:true,rocksdb:tiered:true,lsmdb:lazy_leveling:true
lsmdb bench --quiet --num "$NUM" --batch-size 100 --benchmarks "$BENCHMARKS" --jobs "$JOBS" \
    --sweep size_ratio="$RATIOS" \
    --sweep engine+style+compaction.dynamic_level_bytes="$SHAPES" \
    --json "$OUT/$NAME.json" --csv "$OUT/$NAME.csv" \
    --plot "$OUT/${NAME}_bench.png"
python bench/experiments/compaction_tables.py sweep --plot "$OUT/$NAME.png" "$OUT/$NAME.json"
