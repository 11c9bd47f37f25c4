#!/usr/bin/env bash
# Issue 5's three "must show" compaction experiments, in the order they were run for
# docs/compaction.md "Measured results". Results land in bench/results/compaction_*.
# Times are wall clock on a 2-core machine.
#   1. compaction_sweep_2m.sh   size ratio x style, 2M keys, lsmdb and RocksDB in one sweep
#                               (28 configurations, ~85 min)
#      compaction_steady_2m.sh  the same workload at T=4 with writes held to compaction
#                               speed on both engines (~20 min)
#      compaction_sweep.sh / compaction_sweep_1m.sh  the earlier 250k-key sweep and its
#                               1M-key check (~45 min; not run by default: RUN_SMALL=1)
#   2. monkey.sh                Monkey vs uniform bloom allocation at 5 bits/key, seeds 301
#                               and 302 (~10 min each)
#   3. custom_policy.sh         examples/custom_policy.py through `lsmdb bench --policy`
#                               (~3 min)
# Tables: python bench/experiments/compaction_tables.py {sweep,monkey,policy} ...
set -euo pipefail
here="$(dirname "$0")"
"$here/compaction_sweep_2m.sh"
"$here/compaction_steady_2m.sh"
if [ "${RUN_SMALL:-0}" = 1 ]; then
    "$here/compaction_sweep.sh"
    "$here/compaction_sweep_1m.sh"
fi
SEED=301 NAME=compaction_monkey "$here/monkey.sh"
SEED=302 NAME=compaction_monkey_rep2 "$here/monkey.sh"
"$here/monkey_equal_memory.sh"
"$here/custom_policy.sh"
