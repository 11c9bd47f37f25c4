#!/usr/bin/env bash
# The workload of compaction_steady_2m.sh at a quarter of the scale, for iterating on the
# leveled picker (write amplification is a byte count, so it does not depend on the noisy
# clock): 500k keys x 10 passes, memtable / target file 512 KiB, base level 2 MiB, debt
# limits 8 / 32 MiB (a quarter of the 2M run's). T=4 by default; T=10 for size ratio 10;
# ENGINES=lsmdb to skip RocksDB. The runs of docs/compaction.md 7.1.1 ("iterations at 500k
# keys") are in bench/results/compaction_steady_500k/.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-bench/results}
T=${T:-4}
ENGINES=${ENGINES:-lsmdb,rocksdb}
NAME=${NAME:-compaction_steady_500k_t$T}
BENCHMARKS=fillrandom$(printf ',overwrite%.0s' $(seq 9))
lsmdb bench --quiet --num 500000 --batch-size 100 --benchmarks "$BENCHMARKS" --jobs 2 \
    --memtable-bytes 512KiB --target-file-bytes 512KiB --base-level-bytes 2MiB \
    --size-ratio "$T" --set background_threads=2 --set compaction.l0_slowdown=8 --set compaction.l0_stop=12 \
    --set compaction.soft_pending_compaction_bytes=8MiB \
    --set compaction.hard_pending_compaction_bytes=32MiB \
    --sweep engine="$ENGINES" \
    --json "$OUT/$NAME.json" --csv "$OUT/$NAME.csv"
python bench/experiments/compaction_tables.py levels "$OUT/$NAME.json"
