#!/usr/bin/env bash
# Issue 5's three "must show" compaction experiments, in the order they were run for
# docs/compaction.md "Measured results". Results land in bench/results/compaction_*.
#   1. compaction_sweep.sh   size ratio x style on lsmdb, same shapes on RocksDB (~35 min)
#      compaction_sweep_1m.sh  the same workload at T=4 with 1M keys, bench defaults (~12 min)
#   2. monkey.sh             Monkey vs uniform bloom allocation at 5 bits/key (~5 min;
#                            docs/compaction.md §7.2 reports two runs of it)
#   3. custom_policy.sh      examples/custom_policy.py through `lsmdb bench --policy` (~3 min)
# Tables: python bench/experiments/compaction_tables.py {sweep,monkey,policy} ...
set -euo pipefail
here="$(dirname "$0")"
"$here/compaction_sweep.sh"
"$here/compaction_sweep_1m.sh"
"$here/monkey.sh"
"$here/custom_policy.sh"
