"""Benchmark reports: terminal tables, one JSON document, one CSV file.

The JSON document (``SCHEMA`` = "lsmdb-bench/1")::

    {"schema": "lsmdb-bench/1", "created": ISO time, "command": argv string,
     "versions": {"lsmdb", "python", "engines": {label: engine version}},
     "machine": {"cpu_model", "cpu_count", "cpus_usable", "memory_bytes", "platform", ...},
     "runs": [ {"label", "engine", "engine_version", "params": {knob: value},
                "config": BenchConfig, "options": Options dict, "engine_settings",
                "results": [WorkloadResult...], "stats": engine stats after the run,
                "summary": {"write_amp", "space_amp", "read_amp", ...}, "wall_seconds"}
               or {"label", "params", "error"} for a configuration that failed ]}

The CSV has one line per (configuration, workload) with :data:`CSV_COLUMNS` and then one
``param.<knob>`` column per sweep knob, so a spreadsheet or pandas can pivot it directly.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import os
import platform
from collections.abc import Sequence
from typing import Any

__all__ = ["SCHEMA", "CSV_COLUMNS", "machine_facts", "build_report", "format_run",
           "format_sweep", "format_levels", "shallow_tree", "write_json", "write_csv",
           "csv_rows"]

SCHEMA = "lsmdb-bench/1"

# The cost-model figures worth a line on the terminal (all of them are in the JSON).
_PREDICTED_SHOWN = ("write_amp", "space_amp", "levels", "zero_result_lookup_io",
                    "nonzero_result_lookup_io", "short_range_lookup_io")

CSV_COLUMNS = (
    "label", "engine", "workload", "ops", "seconds", "ops_per_sec", "micros_per_op", "p50_us",
    "p99_us", "mb_per_sec", "verified", "tables_probed_per_lookup", "blocks_per_lookup",
    "bloom_fp_rate", "write_amp", "space_amp", "io_write_amp", "read_amp", "stalls",
    "cache_hit_rate", "sst_bytes",
)


def machine_facts() -> dict[str, Any]:
    """CPU model, cores, memory, platform and load of this machine."""
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = None
    with contextlib.suppress(OSError), open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
                break
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"cpu_model": cpu, "cpu_count": os.cpu_count(), "cpus_usable": usable,
            "memory_bytes": memory, "platform": platform.platform(),
            "hostname": platform.node(), "loadavg": list(load) if load else None}


def build_report(runs: Sequence[dict[str, Any]], command: str = "",
                 machine: dict[str, Any] | None = None) -> dict[str, Any]:
    import lsmdb

    engines = {r.get("label", "?"): r.get("engine_version") for r in runs if "error" not in r}
    return {
        "schema": SCHEMA,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command,
        "versions": {"lsmdb": lsmdb.__version__,
                     "python": f"{platform.python_implementation()} "
                               f"{platform.python_version()}",
                     "engines": engines},
        "machine": machine if machine is not None else machine_facts(),
        "runs": list(runs),
    }


# -- formatting ------------------------------------------------------------------------------


def _num(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value >= 100_000:
            return f"{value:,.0f}"
        if value >= 100:
            return f"{value:,.1f}"
        return f"{value:.{digits}f}"
    return str(value)


def _rate(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    return f"{value:,.0f}" if value >= 10 else f"{value:.2f}"


def _size(n: Any) -> str:
    if not isinstance(n, (int, float)):
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _table(heads: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    widths = [max(len(str(r[i])) for r in [heads, *rows]) for i in range(len(heads))]

    def line(r: Sequence[str]) -> str:
        cells = [str(v).ljust(w) if i < left else str(v).rjust(w)
                 for i, (v, w) in enumerate(zip(r, widths, strict=True))]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(heads), rule, *(line(r) for r in rows)])


def shallow_tree(stats: dict[str, Any]) -> str | None:
    """Why a run's amplifications say nothing about its compaction settings, or None.

    A tree whose data never went deeper than L0 and one sorted run below it has done only
    flushes and L0 -> base-level merges: no merge between two levels below L0, which is
    where compaction style, size ratio and level targets make the difference. Runs of
    different such settings then show the same write/space amplification (with the bench's
    default sizes it takes about a million keys to get past it). For lsmdb's level stats
    only: RocksDB's universal compaction merges sorted runs inside L0, so an L0-only
    RocksDB tree says nothing; the reports ask for lsmdb runs only (:func:`_shallow_note`).
    """
    levels = [ls for ls in stats.get("levels") or [] if isinstance(ls, dict)]
    if not levels:
        return None
    below = [ls for ls in levels if ls.get("level", 0) > 0 and ls.get("files")]
    runs = sum(ls.get("sorted_runs") or 1 for ls in below)
    if runs > 1:
        return None
    if not below:
        return "the tree never left L0" + (" (no compaction ran)"
                                           if stats.get("compactions") == 0 else "")
    return (f"the tree never grew beyond L0 and one sorted run in L{below[0]['level']} "
            "(every compaction merged L0 into it)")


def _shallow_note(run: dict[str, Any]) -> str | None:
    if run.get("engine", "lsmdb") != "lsmdb":
        return None
    return shallow_tree(run.get("stats") or {})


_SHALLOW_ADVICE = ("so compaction style, size ratio and level sizes cannot change the "
                   "amplifications; use a larger --num (or smaller --memtable-bytes / "
                   "--base-level-bytes) to see them differ")


def format_levels(stats: dict[str, Any]) -> str:
    """The per-level table of a run's engine stats (non-empty levels only)."""
    rows = []
    for ls in stats.get("levels") or []:
        if not (ls.get("files") or ls.get("compaction_bytes_written")):
            continue
        rows.append((f"L{ls['level']}", _num(ls.get("files")), _size(ls.get("bytes")),
                     _num(ls.get("sorted_runs")), _size(ls.get("compaction_bytes_read")),
                     _size(ls.get("compaction_bytes_written")), _num(ls.get("write_amp")),
                     _num(ls.get("bloom_bits_per_key"), 1), _num(ls.get("bloom_fp_rate"), 4)))
    if not rows:
        return "(no SSTables)"
    heads = ("Level", "Files", "Size", "Runs", "Comp.read", "Written", "W-Amp", "Bits/key",
             "FP rate")
    return _table(heads, rows)


def format_run(run: dict[str, Any]) -> str:
    """A run as text: one line per workload, then amplification, stalls and levels."""
    if "error" in run:
        return f"{run.get('label', '?')}: FAILED: {run['error']}"
    cfg = run.get("config", {})
    opts = run.get("options", {})
    comp = opts.get("compaction", {})
    title = (f"{run.get('label')}  [{run.get('engine')} {run.get('engine_version')}]  "
             f"keys {cfg.get('num'):,} x ({cfg.get('key_size')} + {cfg.get('value_size')} B), "
             f"style {comp.get('style')}, "
             + (f"policy {cfg['policy']}, " if cfg.get("policy") else "")
             + f"T={comp.get('size_ratio')}, "
             f"memtable {_size(opts.get('memtable_bytes'))}, "
             f"bloom {opts.get('bloom', {}).get('bits_per_key')} bits/key "
             f"{opts.get('bloom', {}).get('allocation')}, "
             f"{opts.get('compression', {}).get('kind')}")
    heads = ("workload", "ops", "ops/s", "us/op", "p50 us", "p99 us", "MB/s", "tables/get",
             "blocks/get", "ok")
    rows = []
    for r in run.get("results", []):
        amp = r.get("read_amp") or {}
        note = "" if r.get("verified") else "  <- " + "; ".join(r.get("errors") or [])
        rows.append((r["name"] + (" *" if r.get("prefilled") else ""), _num(r["ops"]),
                     _rate(r["ops_per_sec"]), _num(r["micros_per_op"]), _num(r.get("p50_us")),
                     _num(r.get("p99_us")), _num(r["mb_per_sec"], 1),
                     _num(amp.get("tables_probed_per_lookup")),
                     _num(amp.get("blocks_per_lookup")),
                     ("yes" if r.get("verified") else "NO") + note))
    s = run.get("summary", {})
    st = run.get("stats", {})
    stalls = st.get("stalls") or {}
    lines = [title, _table(heads, rows)]
    if any(r.get("prefilled") for r in run.get("results", [])):
        lines.append("* keys loaded first (batched, untimed)")
    lines.append(
        f"write-amp {_num(s.get('write_amp'))} (disk {_num(s.get('io_write_amp'))})   "
        f"space-amp {_num(s.get('space_amp'))}   "
        f"read-amp {_num(s.get('read_amp'))} tables/get   "
        f"stalls {', '.join(f'{k} {v}' for k, v in stalls.items()) or 'none'}   "
        f"cache hit rate {_num(s.get('cache_hit_rate'))}   "
        f"SSTables {_size(s.get('sst_bytes'))}")
    predicted = st.get("predicted")
    if isinstance(predicted, dict) and predicted:
        numeric = {k: v for k, v in predicted.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)}
        keys = [k for k in _PREDICTED_SHOWN if k in numeric] or list(numeric)
        shown = ", ".join(f"{k} {_num(numeric[k])}" for k in keys)
        lines.append(f"predicted (cost model): {shown}")
    lines.append(format_levels(st))
    shallow = _shallow_note(run)
    if shallow is not None:
        lines.append(f"note: {shallow}, {_SHALLOW_ADVICE}")
    return "\n".join(lines)


def format_sweep(runs: Sequence[dict[str, Any]]) -> str:
    """One line per configuration: ops/s per workload and the amplifications."""
    workloads: list[str] = []
    for run in runs:
        for r in run.get("results", []):
            if r["name"] not in workloads:
                workloads.append(r["name"])
    heads = ["configuration", *(f"{w} ops/s" for w in workloads), "W-amp", "S-amp", "R-amp",
             "stalls", "ok"]
    rows = []
    for run in runs:
        if "error" in run:
            rows.append([run.get("label", "?"), *("-" for _ in workloads), "-", "-", "-", "-",
                         "FAILED"])
            continue
        by_name = {r["name"]: r for r in run.get("results", [])}
        s = run.get("summary", {})
        rows.append([run.get("label", "?"),
                     *(_rate(by_name[w]["ops_per_sec"]) if w in by_name else "-"
                       for w in workloads),
                     _num(s.get("write_amp")), _num(s.get("space_amp")), _num(s.get("read_amp")),
                     _num(s.get("stalls")), "yes" if s.get("verified") else "NO"])
    text = _table(heads, rows)
    ok = [run for run in runs if "error" not in run]
    shallow = [run for run in ok if _shallow_note(run) is not None]
    if ok and len(shallow) == len(ok):
        text += (f"\nnote: in every configuration the tree stayed at L0 and at most one sorted "
                 f"run below it, {_SHALLOW_ADVICE}")
    elif shallow:
        names = ", ".join(str(run.get("label", "?")) for run in shallow[:4])
        more = f" and {len(shallow) - 4} more" if len(shallow) > 4 else ""
        text += (f"\nnote: in {len(shallow)} of {len(ok)} configurations ({names}{more}) the "
                 f"tree stayed at L0 and at most one sorted run below it, {_SHALLOW_ADVICE}")
    return text


# -- files ----------------------------------------------------------------------------------


def write_json(path: str, report: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=1, default=str)
        fh.write("\n")


def csv_rows(report: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """(column names, rows) of the CSV form of ``report``."""
    knobs: list[str] = []
    for run in report["runs"]:
        for k in run.get("params", {}):
            if k not in knobs:
                knobs.append(k)
    columns = [*CSV_COLUMNS, *(f"param.{k}" for k in knobs), "error"]
    rows: list[dict[str, Any]] = []
    for run in report["runs"]:
        params = {f"param.{k}": _cell(v) for k, v in run.get("params", {}).items()}
        if "error" in run:
            rows.append({"label": run.get("label"), **params, "error": run["error"]})
            continue
        s = run.get("summary", {})
        for r in run.get("results", []):
            amp = r.get("read_amp") or {}
            rows.append({
                "label": run.get("label"), "engine": run.get("engine"), "workload": r["name"],
                "ops": r["ops"], "seconds": r["seconds"], "ops_per_sec": r["ops_per_sec"],
                "micros_per_op": r["micros_per_op"], "p50_us": r.get("p50_us"),
                "p99_us": r.get("p99_us"), "mb_per_sec": r["mb_per_sec"],
                "verified": r.get("verified"),
                "tables_probed_per_lookup": amp.get("tables_probed_per_lookup"),
                "blocks_per_lookup": amp.get("blocks_per_lookup"),
                "bloom_fp_rate": amp.get("bloom_fp_rate"),
                "write_amp": s.get("write_amp"), "space_amp": s.get("space_amp"),
                "io_write_amp": s.get("io_write_amp"), "read_amp": s.get("read_amp"),
                "stalls": s.get("stalls"), "cache_hit_rate": s.get("cache_hit_rate"),
                "sst_bytes": s.get("sst_bytes"), **params, "error": ""})
    return columns, rows


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def write_csv(path: str, report: dict[str, Any]) -> None:
    columns, rows = csv_rows(report)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
