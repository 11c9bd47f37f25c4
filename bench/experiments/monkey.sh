#!/usr/bin/env bash
# Issue 5, experiment 2: Monkey vs uniform bloom allocation at the same filter memory.
#
# 1M keys (16 + 100 B) loaded by fillrandom into a tree with T=4 and a 2 MiB base level
# (L0 + 3 levels), leveled and tiered, 5 bits/key of filter memory on average (--bloom-bits
# 5: uniform gives every level 5 bits/key, Monkey spreads the same 5*N bits over the levels,
# weighted by the share of lookups that reach each level and corrected toward the budget),
# then readmissing (200k lookups of never-written keys inside the key range).
#
# --inline runs flushes and compactions inside the writing call, so the uniform and the
# Monkey run of a style build the same tree from the same keys (the shape no longer depends
# on thread timing): the comparison isolates the filter allocation. No block cache
# (--cache-bytes 0), so every data block a lookup touches is a disk read: blocks/get =
# zero-result lookup I/O. The databases are kept (--db) so the filter bytes actually built
# can be counted and, after a reopen, the share of zero-result lookups that reach each
# level's filter can be measured. SEED picks the keys (run twice: 301 and 302).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-bench/results}
NUM=${NUM:-1000000}
SEED=${SEED:-301}
NAME=${NAME:-compaction_monkey}
DB=${DB:-$(mktemp -d /tmp/lsmdb-monkey-XXXXXX)}
lsmdb bench --quiet --inline --seed "$SEED" --num "$NUM" --reads 200000 \
    --benchmarks fillrandom,readmissing \
    --size-ratio 4 --base-level-bytes 2MiB --bloom-bits 5 --cache-bytes 0 \
    --sweep style=leveled,tiered --sweep bloom_allocation=uniform,monkey --jobs 1 --db "$DB" \
    --json "$OUT/$NAME.json" --csv "$OUT/$NAME.csv"
python bench/experiments/compaction_tables.py monkey "$OUT/$NAME.json" \
    --db "$DB" --out "$OUT/${NAME}_filters.json"
rm -rf "$DB"
