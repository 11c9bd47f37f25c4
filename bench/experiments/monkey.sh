#!/usr/bin/env bash
# Issue 5, experiment 2: Monkey vs uniform bloom allocation at the same filter memory.
#
# 1M keys (16 + 100 B) loaded by fillrandom into a tree with T=4 and a 2 MiB base level
# (L0 + 3 levels), leveled and tiered, 5 bits/key of filter memory on average (--bloom-bits 5: uniform
# gives every level 5 bits/key, Monkey spreads the same 5*N bits over the levels), then
# readmissing twice (200k lookups of never-written keys inside the key range; the second
# pass runs on a tree whose compactions have settled). No block cache (--cache-bytes 0), so
# every data block a lookup touches is a disk read: blocks/get = zero-result lookup I/O.
# The databases are kept (--db) so the filter bytes actually built can be counted and, after
# a reopen, the share of zero-result lookups that reach each level's filter (a level whose
# files do not cover the key is skipped by the fence pointers) can be measured.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-bench/results}
NUM=${NUM:-1000000}
DB=${DB:-$(mktemp -d /tmp/lsmdb-monkey-XXXXXX)}
lsmdb bench --quiet --num $NUM --reads 200000 --benchmarks fillrandom,readmissing,readmissing \
    --size-ratio 4 --base-level-bytes 2MiB --bloom-bits 5 --cache-bytes 0 \
    --sweep style=leveled,tiered --sweep bloom_allocation=uniform,monkey --jobs 1 --db "$DB" \
    --json $OUT/compaction_monkey.json --csv $OUT/compaction_monkey.csv
python bench/experiments/compaction_tables.py monkey $OUT/compaction_monkey.json \
    --db "$DB" --out $OUT/compaction_monkey_filters.json
rm -rf "$DB"
