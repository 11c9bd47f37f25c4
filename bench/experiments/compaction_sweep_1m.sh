#!/usr/bin/env bash
# Issue 5, experiment 1, scale check: T=4 only, 1M keys at the bench defaults (memtable 2 MiB,
# base level 8 MiB, target file 2 MiB), fillrandom + 9 overwrite passes (10x the live data),
# lsmdb leveled/tiered vs RocksDB leveled (dynamic)/universal. Same workload as
# compaction_sweep.sh, 4x the keys, 8x the file and level sizes.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-bench/results}
BENCHMARKS=fillrandom$(printf ',overwrite%.0s' $(seq 9))
COMMON="--quiet --num 1000000 --benchmarks $BENCHMARKS --size-ratio 4 --jobs 2"
lsmdb bench $COMMON --sweep style=leveled,tiered \
    --json $OUT/compaction_sweep_1m_lsmdb.json --csv $OUT/compaction_sweep_1m_lsmdb.csv
lsmdb bench $COMMON --engine rocksdb --sweep style=leveled,tiered \
    --json $OUT/compaction_sweep_1m_rocksdb.json --csv $OUT/compaction_sweep_1m_rocksdb.csv
python bench/experiments/compaction_tables.py sweep $OUT/compaction_sweep_1m_lsmdb.json \
    $OUT/compaction_sweep_1m_rocksdb.json
