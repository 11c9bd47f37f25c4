"""Tables (Markdown) and a combined plot from the issue-5 compaction experiments' JSON.

    python bench/experiments/compaction_tables.py sweep A.json B.json ... [--plot out.png]
    python bench/experiments/compaction_tables.py monkey monkey.json [--db DIR] [--out F.json]
    python bench/experiments/compaction_tables.py policy policy.json
    python bench/experiments/compaction_tables.py levels A.json B.json ...

Every figure printed is read from the `lsmdb bench --json` documents (or, for the filter
bytes of `monkey --db`, from the SSTable properties of the databases the bench kept).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any


def _load(path: str) -> dict[str, Any]:
    with open(path) as fh:
        return json.load(fh)


def _f(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(heads: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(heads) + " |", "|" + "|".join("---" for _ in heads) + "|"]
    out += ["| " + " | ".join(_f(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def shape_name(run: dict[str, Any]) -> str:
    opts = run["options"]["compaction"]
    if run["engine"] == "rocksdb":
        if opts["style"] == "leveled":
            return ("rocksdb leveled dynamic" if opts["dynamic_level_bytes"]
                    else "rocksdb leveled static")
        return "rocksdb universal" if opts["style"] == "tiered" else f"rocksdb {opts['style']}"
    if opts.get("policy"):
        return f"lsmdb policy {opts['policy'].rsplit('.', 1)[-1]}"
    if opts["style"] == "leveled" and not opts["dynamic_level_bytes"]:
        return "lsmdb leveled static"
    return f"lsmdb {opts['style']}"


def write_rows(run: dict[str, Any]) -> tuple[int, float]:
    rows = [r for r in run["results"] if r["name"] in ("fillrandom", "fillseq", "overwrite")]
    return sum(r["ops"] for r in rows), sum(r["seconds"] for r in rows)


def level_shape(stats: dict[str, Any]) -> str:
    """"L0:3 L4:1 L5:1 L6:1" (sorted runs per non-empty level) or files for RocksDB."""
    parts = []
    for lv in stats.get("levels", []):
        if lv.get("files"):
            runs = lv.get("sorted_runs")
            parts.append(f"L{lv['level']}:{runs if runs is not None else str(lv['files']) + 'f'}")
    return " ".join(parts)


def sweep_rows(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for doc in docs:
        for run in doc["runs"]:
            if "error" in run:
                rows.append({"shape": run.get("label"), "error": run["error"]})
                continue
            s = run["stats"]
            user = s["user_bytes_written"]
            pred = s.get("predicted") or {}
            ops, secs = write_rows(run)
            rows.append({
                "shape": shape_name(run),
                "T": run["options"]["compaction"]["size_ratio"],
                "write_amp": s["write_amp"],
                "write_amp_no_wal": (s["flush_bytes"] + s["compaction_bytes_written"]) / user,
                "predicted_write_amp": pred.get("write_amp"),
                "space_amp": s["space_amp"],
                "predicted_space_amp": pred.get("space_amp"),
                "levels": pred.get("levels"),
                "write_ops_per_sec": ops / secs if secs else None,
                "stall_seconds": sum((s.get("stall_seconds") or {}).values()),
                "shape_at_end": level_shape(s),
                "io_write_amp": s.get("io_write_amp"),
                "wall_seconds": run.get("wall_seconds"),
                "verified": run["summary"]["verified"],
            })
    return rows


def print_sweep(paths: list[str], plot: str | None) -> None:
    docs = [_load(p) for p in paths]
    rows = sweep_rows(docs)
    heads = ["configuration", "T", "W measured (WAL+flush+compaction)", "W measured w/o WAL",
             "W predicted", "S measured", "S predicted", "writes/s", "stall s",
             "sorted runs per level at end", "verified"]
    body = []
    for r in rows:
        if "error" in r:
            body.append([r["shape"], "FAILED: " + r["error"]] + [""] * (len(heads) - 2))
            continue
        body.append([r["shape"], r["T"], r["write_amp"], r["write_amp_no_wal"],
                     r["predicted_write_amp"], r["space_amp"], r["predicted_space_amp"],
                     round(r["write_ops_per_sec"]) if r["write_ops_per_sec"] else None,
                     round(r["stall_seconds"], 1), r["shape_at_end"],
                     "yes" if r["verified"] else "NO"])
    print(_table(heads, body))
    # lsmdb vs RocksDB at the same T: leveled vs both RocksDB leveled shapes, tiered vs
    # universal.
    by = {(r["shape"], r["T"]): r for r in rows if "error" not in r}
    pairs = [("lsmdb leveled", "rocksdb leveled dynamic"),
             ("lsmdb leveled static", "rocksdb leveled static"),
             ("lsmdb tiered", "rocksdb universal")]
    cmp_rows = []
    for ours, theirs in pairs:
        for t in sorted({r["T"] for r in rows if "T" in r}):
            a, b = by.get((ours, t)), by.get((theirs, t))
            if a and b:
                diff = (a["write_amp"] - b["write_amp"]) / b["write_amp"] * 100
                diff_nw = ((a["write_amp_no_wal"] - b["write_amp_no_wal"])
                           / b["write_amp_no_wal"] * 100)
                cmp_rows.append([ours, theirs, t, a["write_amp"], b["write_amp"],
                                 f"{diff:+.1f}%", "yes" if a["write_amp"] <= b["write_amp"]
                                 else "no", a["write_amp_no_wal"], b["write_amp_no_wal"],
                                 f"{diff_nw:+.1f}%", a["space_amp"], b["space_amp"]])
    if cmp_rows:
        print()
        print(_table(["lsmdb", "RocksDB", "T", "lsmdb W", "RocksDB W", "lsmdb vs RocksDB",
                      "lsmdb W <= RocksDB W", "lsmdb W w/o WAL", "RocksDB W w/o WAL",
                      "w/o WAL: lsmdb vs RocksDB", "lsmdb S", "RocksDB S"], cmp_rows))
    if plot:
        plot_sweep(rows, plot)
        print(f"\nplot: {plot}")


def print_levels(paths: list[str]) -> None:
    """Per-level W-Amp of every run (bytes written into a level / bytes read from the level
    above; RocksDB's "W-Amp" column of rocksdb.cfstats, the same ratio in lsmdb's stats) and
    the bytes at the end, for the levels below L0 that hold data or were written."""
    rows = []
    for doc in (_load(p) for p in paths):
        for run in doc["runs"]:
            if "error" in run:
                continue
            s = run["stats"]
            levels = [lv for lv in s["levels"] if lv["level"] > 0
                      and (lv.get("files") or lv.get("write_amp"))]
            rows.append([shape_name(run), run["options"]["compaction"]["size_ratio"],
                         s["write_amp"],
                         " / ".join(f"L{lv['level']} {lv['write_amp']:.2f}" for lv in levels),
                         " / ".join(f"L{lv['level']} {lv['bytes'] / 1e6:.1f}" for lv in levels)])
    print(_table(["configuration", "T", "W", "per-level W-Amp", "MB per level at the end"],
                 rows))


def plot_sweep(rows: list[dict[str, Any]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker  # noqa: F401  (matplotlib.ticker below)

    fig, (ax_w, ax_s) = plt.subplots(1, 2, figsize=(12, 4.8))
    shapes = sorted({r["shape"] for r in rows if "error" not in r})
    for i, shape in enumerate(shapes):
        pts = sorted((r["T"], r) for r in rows if r.get("shape") == shape)
        ts = [t for t, _ in pts]
        color = f"C{i}"
        ax_w.plot(ts, [r["write_amp_no_wal"] for _, r in pts], "o-", color=color, label=shape)
        ax_s.plot(ts, [r["space_amp"] for _, r in pts], "o-", color=color, label=shape)
        if all(r["predicted_write_amp"] is not None for _, r in pts):
            ax_w.plot(ts, [r["predicted_write_amp"] for _, r in pts], "x--", color=color,
                      alpha=0.6, label=f"{shape} (model)")
            ax_s.plot(ts, [r["predicted_space_amp"] for _, r in pts], "x--", color=color,
                      alpha=0.6, label=f"{shape} (model)")
    for ax, title in ((ax_w, "write amplification without the WAL: (flush + compaction bytes) / user\n"
                      "bytes (the cost model's W counts no WAL)"),
                      (ax_s, "space amplification (SST bytes / live bytes)")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted({r["T"] for r in rows if "T" in r}))
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("size ratio T")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    ax_w.legend(fontsize=7)
    fig.suptitle("measured (solid) vs cost model (dashed); same workload on lsmdb and RocksDB",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def filter_bits(db_root: str) -> dict[str, dict[int, dict[str, float]]]:
    """{run dir: {level: {"entries", "filter_bytes", "bits_per_key", "files"}}} from the
    properties block of every SSTable left in the kept databases."""
    from lsmdb._core.sstable_reader import SSTableReader
    from lsmdb.env import default_env

    env = default_env()
    out: dict[str, dict[int, dict[str, float]]] = {}
    for run_dir in sorted(os.listdir(db_root)):
        per: dict[int, dict[str, float]] = {}
        for dirpath, _, names in os.walk(os.path.join(db_root, run_dir)):
            for name in names:
                if not name.endswith(".sst"):
                    continue
                f = env.open_random_access(os.path.join(dirpath, name))
                try:
                    props = SSTableReader(f).properties
                finally:
                    f.close()
                lv = per.setdefault(int(props["level"]), {"entries": 0, "filter_bytes": 0,
                                                          "files": 0})
                lv["entries"] += props["entries"]
                lv["filter_bytes"] += props["filter_bytes"]
                lv["files"] += 1
        for lv in per.values():
            lv["bits_per_key"] = lv["filter_bytes"] * 8 / lv["entries"] if lv["entries"] else 0
        out[run_dir] = dict(sorted(per.items()))
    return out


def probe_levels(db_path: str, options: dict[str, Any], num: int, key_size: int,
                 lookups: int = 50_000) -> dict[int, dict[str, float]]:
    """Reopen a kept database and run ``lookups`` zero-result gets (odd keys, as
    readmissing): per level, the share of lookups whose key a file's range covers (so its
    filter is probed), the measured false-positive rate and data blocks read per lookup."""
    import random

    import lsmdb
    from lsmdb.bench.workload import encode_key
    from lsmdb.options import Options

    rng = random.Random(5)
    # Inline background work: opening and reading start no compaction that would change the
    # tree under the probe.
    with lsmdb.open(db_path, Options.from_dict(options), inline_background=True) as db:
        level_of = {f.number: lvl for lvl, f in db._versions.current.files()}

        def snap() -> dict[int, tuple[int, int, int]]:
            return {r.file_number: (r.bloom_checks, r.bloom_false_positives,
                                    r.data_blocks_read) for r in db._tables.readers()}

        built: dict[int, list[int]] = {}
        for lvl, f in db._versions.current.files():
            props = db._tables.get(f).properties
            acc = built.setdefault(lvl, [0, 0])
            acc[0] += props["entries"]
            acc[1] += props["filter_bytes"]
        before = snap()
        for _ in range(lookups):
            assert db.get(encode_key(2 * rng.randrange(num) + 1, key_size)) is None
        after = snap()
    per: dict[int, dict[str, float]] = {}
    for number, counts in after.items():
        prev = before.get(number, (0, 0, 0))
        lv = per.setdefault(level_of.get(number, -1), {"checks": 0, "fp": 0, "blocks": 0})
        lv["checks"] += counts[0] - prev[0]
        lv["fp"] += counts[1] - prev[1]
        lv["blocks"] += counts[2] - prev[2]
    out = {}
    for lvl in sorted(set(per) | set(built)):
        v = per.get(lvl, {"checks": 0, "fp": 0, "blocks": 0})
        entries, fbytes = built.get(lvl, (0, 0))
        out[lvl] = {"probed_share": v["checks"] / lookups,
                    "fp_rate": v["fp"] / v["checks"] if v["checks"] else None,
                    "blocks_per_lookup": v["blocks"] / lookups,
                    "entries": entries, "filter_bytes": fbytes,
                    "bits_per_key": fbytes * 8 / entries if entries else None}
    return out


def print_monkey(path: str, db_root: str | None, out: str | None,
                 saved: str | None = None) -> None:
    doc = _load(path)
    filters = filter_bits(db_root) if db_root else {}
    probes: dict[str, dict[int, dict[str, float]]] = {}
    if saved:  # a --out file of an earlier call: re-render without the databases
        kept = _load(saved)
        filters = kept["filters_built"]
        probes = {run: {int(k): v for k, v in levels.items()}
                  for run, levels in kept["reopen_probes"].items()}
    elif db_root:
        for i, run in enumerate(doc["runs"]):
            db_path = os.path.join(db_root, f"run-{i:03d}", "db1")
            if os.path.isdir(db_path):
                probes[f"run-{i:03d}"] = probe_levels(db_path, run["options"],
                                                      run["config"]["num"],
                                                      run["config"]["key_size"])
    rows = []
    level_rows = []
    for i, run in enumerate(doc["runs"]):
        s = run["stats"]
        pred = s.get("predicted") or {}
        alloc = run["options"]["bloom"]["allocation"]
        missing = [r for r in run["results"] if r["name"] == "readmissing"]
        built = {int(k): v for k, v in filters.get(f"run-{i:03d}", {}).items()}
        total_bits = sum(v["filter_bytes"] * 8 for v in built.values())
        total_entries = sum(v["entries"] for v in built.values())
        last = missing[-1]
        amp = last["read_amp"]
        rows.append([alloc, run["options"]["compaction"]["style"], level_shape(s),
                     total_bits / total_entries if total_entries else None,
                     missing[0]["read_amp"]["blocks_per_lookup"], amp["blocks_per_lookup"],
                     amp["disk_blocks_per_lookup"], amp["tables_probed_per_lookup"],
                     amp["bloom_fp_rate"], pred.get("zero_result_lookup_io"),
                     pred.get("zero_result_lookup_io_uniform"),
                     pred.get("zero_result_lookup_io_monkey"),
                     pred.get("zero_result_lookup_io_reach"), round(last["ops_per_sec"])])
        for lv in s["levels"]:
            if not lv["files"]:
                continue
            level_rows.append([alloc, run["options"]["compaction"]["style"],
                               f"L{lv['level']}", lv["files"], lv["sorted_runs"],
                               lv["entries"], lv["bloom_bits_per_key"], lv["bloom_fp_rate"]])
    print(_table(["allocation", "style", "sorted runs per level", "filter bits/key built (all SSTs)",
                  "readmissing blocks/get (first pass)", "readmissing blocks/get (last pass)",
                  "disk blocks/get (last)", "tables/get", "measured FP rate",
                  "predicted R (this allocation)", "predicted R uniform",
                  "predicted R Monkey", "predicted R with reach (this allocation)",
                  "readmissing ops/s (last)"], rows))
    print()
    print(_table(["allocation", "style", "level", "files", "runs", "entries",
                  "bits/key the next file gets", "FP rate (bench counters)"], level_rows))
    if probes:
        reopen_rows = []
        for i, run in enumerate(doc["runs"]):
            for lvl, pr in probes.get(f"run-{i:03d}", {}).items():
                reopen_rows.append([run["options"]["bloom"]["allocation"],
                                    run["options"]["compaction"]["style"],
                                    f"L{lvl}" if lvl >= 0 else "new files",
                                    pr.get("entries"), pr.get("bits_per_key"),
                                    pr["probed_share"], pr["fp_rate"],
                                    pr["blocks_per_lookup"]])
        print("\nAfter reopening each kept database (50,000 zero-result lookups; 'new files' "
              "= tables written by a compaction during the probe):\n")
        print(_table(["allocation", "style", "level", "entries", "filter bits/key built",
                      "filter probes per lookup", "FP rate", "data blocks per lookup"],
                     reopen_rows))
    by_style: dict[str, dict[str, list[Any]]] = {}
    for run, row in zip(doc["runs"], rows, strict=True):
        by_style.setdefault(run["options"]["compaction"]["style"], {})[row[0]] = row
    for style, pair in by_style.items():
        if "uniform" in pair and "monkey" in pair:
            u, m = pair["uniform"][5], pair["monkey"][5]
            pu, pm = pair["uniform"][9], pair["monkey"][9]
            ru, rm = pair["uniform"][12], pair["monkey"][12]
            reach = (f"; with reach: {(rm - ru) / ru * 100:+.1f}%  ({ru:.4f} -> {rm:.4f})"
                     if ru and rm else "")
            print(f"\n{style}: measured change in blocks per zero-result lookup (last pass), "
                  f"uniform -> Monkey: {(m - u) / u * 100:+.1f}%  ({u:.4f} -> {m:.4f}); "
                  f"cost model: {(pm - pu) / pu * 100:+.1f}%  ({pu:.4f} -> {pm:.4f}){reach}")
    if out:
        with open(out, "w") as fh:
            json.dump({"source": path, "filters_built": filters, "reopen_probes": probes}, fh,
                      indent=1)


def print_policy(path: str) -> None:
    doc = _load(path)
    for run in doc["runs"]:
        s = run["stats"]
        pred = s.get("predicted") or {}
        print(f"\n**{run['label']}** ({shape_name(run)}): write-amp {_f(s['write_amp'])}, "
              f"space-amp {_f(s['space_amp'])}, predicted write-amp "
              f"{_f(pred.get('write_amp'))}, predicted space-amp {_f(pred.get('space_amp'))}, "
              f"compactions {s.get('compactions')}, tombstones left "
              f"{sum(lv.get('tombstones', 0) for lv in s['levels'])}, sorted runs per level "
              f"{level_shape(s)}\n")
        body = []
        for r in run["results"]:
            amp = r.get("read_amp") or {}
            body.append([r["name"], r["ops"], round(r["ops_per_sec"]), r["p50_us"], r["p99_us"],
                         amp.get("tables_probed_per_lookup"), amp.get("blocks_per_lookup"),
                         "yes" if r["verified"] else "NO"])
        print(_table(["workload", "ops", "ops/s", "p50 us", "p99 us", "tables/get",
                      "blocks/get", "verified"], body))
        for r in run["results"]:
            kinds = (r.get("extra") or {}).get("latency_by_kind")
            if kinds:
                counts = r["extra"].get("counts", {})
                print()
                print(_table(["operation (" + r["name"] + ")", "count", "p50 us", "p99 us"],
                             [[k, counts.get(k), v["p50_us"], v["p99_us"]]
                              for k, v in kinds.items()]))
        print("\nper level (files, entries, tombstones): " + ", ".join(
            f"L{lv['level']} {lv['files']}/{lv['entries']:,}/{lv.get('tombstones', 0):,}"
            for lv in s["levels"] if lv["files"]))
        u = s["user_bytes_written"]
        print(f"write-amp without WAL {(s['flush_bytes'] + s['compaction_bytes_written']) / u:.2f}"
              f", SST bytes {s['sst_bytes']:,}, live user bytes {s['live_user_bytes']:,}, "
              f"stall seconds {sum((s.get('stall_seconds') or {}).values()):.1f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sw = sub.add_parser("sweep")
    sw.add_argument("json", nargs="+")
    sw.add_argument("--plot")
    mk = sub.add_parser("monkey")
    mk.add_argument("json")
    mk.add_argument("--db")
    mk.add_argument("--out")
    mk.add_argument("--saved", help="the --out file of an earlier run (no --db needed)")
    po = sub.add_parser("policy")
    po.add_argument("json")
    lv = sub.add_parser("levels")
    lv.add_argument("json", nargs="+")
    args = p.parse_args(argv)
    if args.cmd == "sweep":
        print_sweep(args.json, args.plot)
    elif args.cmd == "monkey":
        print_monkey(args.json, args.db, args.out, args.saved)
    elif args.cmd == "levels":
        print_levels(args.json)
    else:
        print_policy(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
