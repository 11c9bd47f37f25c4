#!/usr/bin/env bash
# Cost curves of issue 15: every db_bench workload at 100k, 1M and 10M keys for lsmdb,
# rocksdict and lmdb, one db_bench run per size with the three engines side by side (the
# same 64 MiB cache budget db_bench sets for each), then the open time, RSS and CPU per get
# of a cold store per size (bench/open_rss.py, "open") and the tables + plot
# (bench/cost_curves.py). See docs/benchmarks.md, "Cost curves".
#
#   bench/experiments/cost_curves.sh [STEPS...]   # default: 10m 1m 100k open (the long pole first)
#   bench/experiments/cost_curves.sh cpu          # the reads again, with CPU per op, per size
#
# Reads are bounded to 300k at every size (READS=...), so every size times the same number
# of gets and the 10M run stays bounded: on the 2-core VM at load 12-19 it took lsmdb 28 and
# rocksdict 32 minutes; LMDB's 10M single-transaction deletes alone would take ~40. Stores live under $DB_DIR (not /tmp: a 10M
# store is 1.2-2.5 GB per engine) and are deleted by db_bench when each engine is done.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PYTHONPATH="${PYTHONPATH:-.}"
DB_DIR="${DB_DIR:-/work/tmp_curves}"
READS="${READS:-300000}"
ENGINES="${ENGINES:-lsmdb,rocksdict,lmdb}"
OPEN_GETS="${OPEN_GETS:-300000}"
mkdir -p "$DB_DIR"
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(10m 1m 100k open)
for size in "${sizes[@]}"; do
  case "$size" in
    100k) num=100000 ;;
    1m) num=1000000 ;;
    10m) num=10000000 ;;
    open) # open time, RSS and CPU per get / absent get of a cold store, per size
          for o in 10000000:10m 1000000:1m 100000:100k; do
            python bench/open_rss.py --num "${o%%:*}" --gets "$OPEN_GETS" --engines "$ENGINES" \
              --db-dir "$DB_DIR" --cold --out "bench/results/cost_curves_open_${o#*:}.json"
          done
          continue ;;
    cpu) # the read workloads again with db_bench's cpu_seconds (process CPU per op) at each
         # size: fillbatch, then the reads; tables and plot of their own
         for o in 10000000:10m 1000000:1m 100000:100k; do
           python bench/db_bench.py --num "${o%%:*}" --reads "$READS" --engines "$ENGINES" \
             --benchmarks fillbatch,readrandom,readmissing,readseq,seekrandom \
             --db-dir "$DB_DIR" --out "bench/results/cost_curves_cpu_${o#*:}.json"
         done
         python bench/cost_curves.py bench/results/cost_curves_cpu_{100k,1m,10m}.json \
           --png bench/results/cost_curves_cpu.png
         continue ;;
    *) echo "unknown step $size (100k, 1m, 10m, open, cpu)" >&2; exit 2 ;;
  esac
  echo "=== $size: $(uptime)" >&2
  python bench/db_bench.py --num "$num" --reads "$READS" --engines "$ENGINES" \
    --db-dir "$DB_DIR" --out "bench/results/cost_curves_${size}.json"
done
# The tables and the plot: every cost_curves_*.json there is (reports of one size are merged,
# e.g. an engine run apart with --engines X --out cost_curves_10m_X.json).
shopt -s nullglob
reports=(bench/results/cost_curves_{100k,1m,10m}*.json)
opens=()
for f in bench/results/cost_curves_open_*.json; do opens+=(--open "$f"); done
runs=()
for f in "${reports[@]}"; do [[ "$f" == *_open_* ]] || runs+=("$f"); done
if [ ${#runs[@]} -gt 0 ]; then
  python bench/cost_curves.py "${runs[@]}" "${opens[@]}" --png bench/results/cost_curves.png
fi
