"""The storage engine (``lsmdb.StorageEngine``) beside sqlite3 (issue 14 "Benchmark").

Same schema (5 columns, primary key, one secondary index), same rows, same transaction sizes;
sqlite3 in WAL mode with synchronous=NORMAL, lsmdb with WalCommitPolicy.NEVER (the matching
durability: no fsync per commit, fsync at checkpoint). The workloads and their checks are in
lsmdb/bench/storage.py; ``lsmdb bench --engine storage`` runs the same code.

    python bench/engine_bench.py --num 500000 --out bench/results/engine_vs_sqlite.json
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from lsmdb.bench import report
from lsmdb.bench.storage import format_table, run_storage_bench


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--num", type=int, default=500_000, help="rows inserted (default 500000)")
    ap.add_argument("--reads", type=int, default=None,
                    help="point reads and updates (default min(num, 100000))")
    ap.add_argument("--batch", type=int, default=1000, help="rows per transaction")
    ap.add_argument("--seed", type=int, default=301)
    ap.add_argument("--engines", default="sqlite3,lsmdb")
    ap.add_argument("--out", help="write the JSON report here")
    ap.add_argument("--note", default="", help="free text stored in the report")
    a = ap.parse_args(argv)
    doc = run_storage_bench(num=a.num, reads=a.reads, batch=a.batch, seed=a.seed,
                            engines=tuple(a.engines.split(",")), progress=sys.stderr)
    doc["machine"] = report.machine_facts()
    doc["command"] = "python bench/engine_bench.py " + " ".join(sys.argv[1:])
    doc["note"] = a.note
    try:
        doc["lsmdb_commit"] = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True,
            cwd=Path(__file__).parent, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        doc["lsmdb_commit"] = None
    print(format_table(doc))
    if a.out:
        report.write_json(a.out, doc)
    bad = [f"{r['engine']}/{w}" for r in doc["runs"] for w, x in r["results"].items()
           if not x["verified"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
