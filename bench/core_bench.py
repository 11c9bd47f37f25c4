"""Benchmarks of the Cython core formats (issue 3 targets), recorded in bench/results/.

Each module in bench/core/ exposes ``run(quick: bool) -> list[dict]``; a row has
``component, metric, value, unit`` and optionally ``target`` and ``higher_is_better``.
Usage: ``python bench/core_bench.py [--quick] [--only bloom,sstable] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"core_bench_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _met(row: dict) -> str:
    target = row.get("target")
    if target is None:
        return ""
    ok = row["value"] >= target if row.get("higher_is_better", True) else row["value"] <= target
    row["met"] = ok
    return "yes" if ok else "NO"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (seconds, not minutes)")
    ap.add_argument("--only", default="", help="comma-separated bench/core module names")
    ap.add_argument("--out", default=None, help="JSON result file (default bench/results/...)")
    args = ap.parse_args(argv)
    only = {s for s in args.only.split(",") if s}
    rows: list[dict] = []
    for path in sorted((HERE / "core").glob("*.py")):
        if path.stem.startswith("_") or (only and path.stem not in only):
            continue
        t0 = time.perf_counter()
        rows.extend(_load(path).run(args.quick))
        print(f"[{path.stem}: {time.perf_counter() - t0:.1f}s]", file=sys.stderr)
    print(f"{'component':<12} {'metric':<44} {'value':>14} {'unit':<10} {'target':>10} met")
    for r in rows:
        tgt = "" if r.get("target") is None else f"{r['target']:g}"
        print(f"{r['component']:<12} {r['metric']:<44} {r['value']:>14,.3f} {r['unit']:<10} "
              f"{tgt:>10} {_met(r)}")
    out = Path(args.out) if args.out else HERE / "results" / (
        "core_bench_quick.json" if args.quick else "core_bench.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "quick": args.quick}
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
