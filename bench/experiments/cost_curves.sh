#!/usr/bin/env bash
# Cost curves of issue 15: every db_bench workload at 100k, 1M and 10M keys for lsmdb,
# rocksdict and lmdb, one db_bench run per size with the three engines side by side (the
# same 64 MiB cache budget db_bench sets for each), then the open time / RSS of a 10M-key
# store (bench/open_rss.py) and the table + plot (bench/cost_curves.py).
#
#   bench/experiments/cost_curves.sh [SIZES...]   # default: 10m 1m 100k (the long pole first)
#
# Reads are bounded to 300k at every size (READS=...) so a 10M run stays under ~40 minutes
# and every size times the same number of gets. Stores live under $DB_DIR (not /tmp: a 10M
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
[ ${#sizes[@]} -eq 0 ] && sizes=(10m 1m 100k)
for size in "${sizes[@]}"; do
  case "$size" in
    100k) num=100000 ;;
    1m) num=1000000 ;;
    10m) num=10000000 ;;
    open) python bench/open_rss.py --num 10000000 --gets "$OPEN_GETS" --engines "$ENGINES" \
            --db-dir "$DB_DIR" --drop-caches --out bench/results/cost_curves_open_10m.json
          continue ;;
    *) echo "unknown size $size (100k, 1m, 10m, open)" >&2; exit 2 ;;
  esac
  echo "=== $size: $(uptime)" >&2
  python bench/db_bench.py --num "$num" --reads "$READS" --engines "$ENGINES" \
    --db-dir "$DB_DIR" --out "bench/results/cost_curves_${size}.json"
done
if [ -f bench/results/cost_curves_10m.json ] && [ -f bench/results/cost_curves_1m.json ] \
   && [ -f bench/results/cost_curves_100k.json ]; then
  python bench/cost_curves.py bench/results/cost_curves_{100k,1m,10m}.json \
    --png bench/results/cost_curves.png
fi
