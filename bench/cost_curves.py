"""Cost curves from db_bench reports of several sizes: tables and a plot (issue 15).

Reads one ``bench/db_bench.py`` JSON report per store size (each a run with the engines side
by side), prints Markdown tables (per size: ops/s and us/op per engine and lsmdb's ratio to
each peer; across sizes: how much each engine's us/op grows from the smallest size to the
largest, and lsmdb's store shape per size) and draws us/op against keys (log-log), one panel
per workload, one line per engine.

Usage::

    python bench/cost_curves.py bench/results/cost_curves_{100k,1m,10m}.json \\
        --png bench/results/cost_curves.png [--open bench/results/cost_curves_open_10m.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ENGINE_ORDER = ("lsmdb", "rocksdict", "lmdb", "plyvel", "sqlite3")
COLORS = {"lsmdb": "tab:red", "rocksdict": "tab:blue", "lmdb": "tab:green",
          "plyvel": "tab:orange", "sqlite3": "tab:gray"}


def load(paths: list[str]) -> list[dict]:
    """The reports, smallest store first; reports of the same size are merged (see merge)."""
    by_size: dict[int, dict] = {}
    for p in paths:
        rep = json.loads(Path(p).read_text())
        num = rep["config"]["num"]
        by_size[num] = merge(by_size[num], rep) if num in by_size else rep
    return [by_size[n] for n in sorted(by_size)]


def merge(base: dict, other: dict) -> dict:
    """``base`` with the engines that ran in ``other`` and not (or not successfully) in
    ``base``: for an engine that had to be run apart (say so where the figures are shown:
    ``merged`` lists the runs and their load)."""
    taken = [e for e, v in other["engines"].items()
             if "workloads" in v and "workloads" not in base["engines"].get(e, {})]
    if taken:
        base = {**base, "engines": {**base["engines"], **{e: other["engines"][e]
                                                         for e in taken}}}
        base["merged"] = [*base.get("merged", []), {
            "engines": taken, "command": other.get("command"), "date": other.get("date"),
            "loadavg_start": other.get("machine", {}).get("loadavg_start"),
            "loadavg_end": other.get("machine", {}).get("loadavg_end")}]
    return base


def size_label(num: int) -> str:
    for unit, div in (("M", 1_000_000), ("k", 1000)):
        if num >= div and num % div == 0:
            return f"{num // div}{unit}"
    return str(num)


def engines_of(reports: list[dict]) -> list[str]:
    seen = {e for r in reports for e, v in r["engines"].items() if "workloads" in v}
    return [e for e in ENGINE_ORDER if e in seen] + sorted(seen - set(ENGINE_ORDER))


def workloads_of(reports: list[dict]) -> list[str]:
    out: list[str] = []
    for r in reports:
        for v in r["engines"].values():
            for w in v.get("workloads", {}):
                if w not in out:
                    out.append(w)
    return out


def row(report: dict, engine: str, workload: str) -> dict | None:
    return report["engines"].get(engine, {}).get("workloads", {}).get(workload)


def us(report: dict, engine: str, workload: str) -> float | None:
    r = row(report, engine, workload)
    return None if r is None or not r["ops"] else r["micros_per_op"]


def _num(x: float | None, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def size_table(report: dict, engines: list[str], workloads: list[str]) -> str:
    """ops/s (us/op) per engine and lsmdb's throughput ratio to each peer, one size."""
    peers = [e for e in engines if e != "lsmdb"]
    head = ["workload", *engines, *(f"lsmdb / {p}" for p in peers)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for w in workloads:
        cells = [w]
        for e in engines:
            r = row(report, e, w)
            cells.append("-" if r is None else
                         f"{r['ops_per_sec']:,.0f} ({r['micros_per_op']:.2f} µs)"
                         + ("" if r["verified"] else " UNVERIFIED"))
        mine = row(report, "lsmdb", w)
        for p in peers:
            theirs = row(report, p, w)
            ok = mine and theirs and theirs["ops_per_sec"]
            cells.append(f"{mine['ops_per_sec'] / theirs['ops_per_sec']:.2f}×" if ok else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def growth(reports: list[dict], engines: list[str], workload: str) -> dict[str, float]:
    """us/op at the largest size over us/op at the smallest, per engine that ran both."""
    first, last = reports[0], reports[-1]
    out = {}
    for e in engines:
        a, b = us(first, e, workload), us(last, e, workload)
        if a and b:
            out[e] = b / a
    return out


def growth_table(reports: list[dict], engines: list[str], workloads: list[str]) -> str:
    sizes = [size_label(r["config"]["num"]) for r in reports]
    head = ["workload", *(f"{e} µs/op {' → '.join(sizes)}" for e in engines),
            *(f"growth {e}" for e in engines)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for w in workloads:
        g = growth(reports, engines, w)
        cells = [w]
        cells += [" → ".join(_num(us(r, e, w), ".2f") for r in reports) for e in engines]
        cells += [f"{g[e]:.2f}×" if e in g else "-" for e in engines]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cpu_us(report: dict, engine: str, workload: str, key: str) -> float | None:
    r = row(report, engine, workload)
    return None if r is None or key not in r or not r["ops"] else r[key] * 1e6 / r["ops"]


def cpu_table(reports: list[dict], engines: list[str], workloads: list[str]) -> str:
    """CPU µs per op of the workloads db_bench records CPU time for (the fills): the whole
    process (background flushes and compactions included) and, after the slash, the writing
    thread alone. CPU time moves far less than wall time on a loaded machine."""
    sizes = [size_label(r["config"]["num"]) for r in reports]
    timed = [w for w in workloads
             if any(cpu_us(r, e, w, "cpu_seconds") is not None for r in reports for e in engines)]
    head = ["workload", *(f"{e} CPU µs/op (process / writer) {' → '.join(sizes)}"
                          for e in engines)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for w in timed:
        cells = [w]
        for e in engines:
            cells.append(" → ".join(
                f"{_num(cpu_us(r, e, w, 'cpu_seconds'), '.2f')} / "
                f"{_num(cpu_us(r, e, w, 'writer_cpu_seconds'), '.2f')}" for r in reports))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def shape_table(reports: list[dict]) -> str:
    """lsmdb's store after the write phase and the full compaction, per size."""
    head = ["keys", "W-amp (measured)", "S-amp as is", "levels (files) after compaction",
            "block cache hit rate at settle", "load start → end"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in reports:
        amp = r["engines"].get("lsmdb", {}).get("amplification") or {}
        st = amp.get("engine_stats_compacted") or {}
        levels = ", ".join(f"L{lv['level']} {lv['files']}" for lv in st.get("levels", []))
        load0 = r["machine"].get("loadavg_start") or [None]
        load1 = r["machine"].get("loadavg_end") or [None]
        lines.append("| " + " | ".join([
            size_label(r["config"]["num"]), _num(amp.get("write_amp"), ".2f"),
            _num(amp.get("space_amp_as_is"), ".2f"), levels or "-",
            _num(st.get("block_cache_hit_rate"), ".3f"),
            f"{_num(load0[0], '.1f')} → {_num(load1[0], '.1f')}"]) + " |")
    return "\n".join(lines)


def open_table(reports: list[dict]) -> str:
    """Open time, RSS (MiB) and the cost of the first gets of a built store, per size and
    engine (bench/open_rss.py's reports)."""
    head = ["keys", "engine", "open s", "RSS before open", "RSS after open", "RSS after gets",
            "of which file-backed", "µs/get wall", "CPU µs/get", "minor faults/get",
            "CPU µs/absent get",
            "block cache hit rate", "store MB", "page cache"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    mib = 2 ** 20
    for report in sorted(reports, key=lambda r: r["config"]["num"]):
        size = size_label(report["config"]["num"])
        for e, r in report["engines"].items():
            if "open_seconds" not in r:
                lines.append(f"| {size} | {e} | not run: {r.get('skipped', '?')} |")
                continue
            use = r.get("get_usage") or {}
            faults = use.get("minor_faults")
            hit = (r.get("engine_stats") or {}).get("block_cache_hit_rate")
            lines.append("| " + " | ".join([
                size, e, f"{r['open_seconds']:.3f}",
                f"{r['rss_before_open']['VmRSS'] / mib:.0f}",
                f"{r['rss_after_open']['VmRSS'] / mib:.0f}",
                f"{r['rss_after_gets']['VmRSS'] / mib:.0f}",
                f"{r['rss_after_gets'].get('RssFile', 0) / mib:.0f}",
                f"{r['micros_per_get']:.2f}", _num(use.get("cpu_micros_per_op"), ".2f"),
                "-" if faults is None else f"{faults / r['gets']:.2f}",
                _num((r.get("missing_get_usage") or {}).get("cpu_micros_per_op"), ".2f"),
                _num(hit, ".3f"),
                f"{r['store_bytes'] / 1e6:.0f}", r["page_cache"]]) + " |")
    return "\n".join(lines)


def _open_cpu(report: dict, engine: str, key: str) -> float | None:
    return ((report["engines"].get(engine) or {}).get(key) or {}).get("cpu_micros_per_op")


def panels(reports: list[dict], engines: list[str], workloads: list[str],
           opens: list[dict]) -> list[tuple[str, str, dict[str, list[tuple[int, float]]]]]:
    """(title, y label, engine -> [(keys, value)]) per panel: wall µs/op of every workload,
    then the CPU µs/op db_bench records (fills) and open_rss's CPU per get / absent get."""
    def series(points) -> dict[str, list[tuple[int, float]]]:
        out = {}
        for e in engines:
            pts = [(n, y) for n, y in points(e) if y]
            if pts:
                out[e] = pts
        return out

    out = [(w, "µs per op (wall)", series(
        lambda e, w=w: [(r["config"]["num"], us(r, e, w)) for r in reports]))
        for w in workloads]
    for w in workloads:
        cpu = series(lambda e, w=w: [(r["config"]["num"], cpu_us(r, e, w, "cpu_seconds"))
                                     for r in reports])
        if cpu:
            out.append((f"{w}: CPU", "CPU µs per op (process)", cpu))
    by_size = sorted(opens, key=lambda r: r["config"]["num"])
    for key, title in (("get_usage", "get, cold store: CPU"),
                       ("missing_get_usage", "absent get: CPU")):
        cpu = series(lambda e, key=key: [(r["config"]["num"], _open_cpu(r, e, key))
                                         for r in by_size])
        if cpu:
            out.append((title, "CPU µs per op", cpu))
    return out


def plot(reports: list[dict], engines: list[str], workloads: list[str], png: str,
         opens: list[dict] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawn = panels(reports, engines, workloads, opens or [])
    cols = 4
    nrows = -(-len(drawn) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.6 * cols, 2.9 * nrows), squeeze=False)
    for ax, (title, ylabel, lines) in zip(axes.flat, drawn, strict=False):
        for e, pts in lines.items():
            ax.plot([x for x, _ in pts], [y for _, y in pts], marker="o", label=e,
                    color=COLORS.get(e))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("keys")
        ax.set_ylabel(ylabel, fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(drawn):]:
        ax.set_visible(False)
    handles = {lb: h for ax in axes.flat for h, lb in zip(*ax.get_legend_handles_labels(),
                                                          strict=True)}
    fig.suptitle("cost per operation vs store size (log-log, lower is better; wall time on "
                 "a loaded machine, CPU panels at the end)", y=0.995)
    fig.legend(list(handles.values()), list(handles), loc="upper center", ncol=len(handles),
               bbox_to_anchor=(0.5, 0.975))
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(png, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reports", nargs="+", help="db_bench JSON reports, one per size")
    ap.add_argument("--png", help="write the plot here")
    ap.add_argument("--open", action="append", default=[],
                    help="bench/open_rss.py report to tabulate as well (repeatable)")
    args = ap.parse_args(argv)
    reports = load(args.reports)
    engines = engines_of(reports)
    workloads = workloads_of(reports)
    if not engines or not workloads:
        print("cost_curves: the reports hold no engine results", file=sys.stderr)
        return 2
    for r in reports:
        print(f"\n#### {size_label(r['config']['num'])} keys (reads {r['config']['reads']}, "
              f"load {r['machine']['loadavg_start'][0]:.1f} → "
              f"{r['machine']['loadavg_end'][0]:.1f})\n")
        for m in r.get("merged", []):
            print(f"{', '.join(m['engines'])}: from a separate run ({m['date']}, load "
                  f"{_num((m['loadavg_start'] or [None])[0], '.1f')} → "
                  f"{_num((m['loadavg_end'] or [None])[0], '.1f')}): `{m['command']}`\n")
        print(size_table(r, engines, workloads))
    if len(reports) > 1:
        print("\n#### µs/op by size and growth (largest / smallest)\n")
        print(growth_table(reports, engines, workloads))
    print("\n#### CPU time per operation (process / writing thread), where recorded\n")
    print(cpu_table(reports, engines, workloads))
    print("\n#### lsmdb's store per size\n")
    print(shape_table(reports))
    opens = [json.loads(Path(p).read_text()) for p in args.open]
    if opens:
        print("\n#### open time, RSS (MiB) and the first gets of a cold store\n")
        print(open_table(opens))
    if args.png:
        plot(reports, engines, workloads, args.png, opens)
        print(f"wrote {args.png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
