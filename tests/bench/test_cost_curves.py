"""bench/cost_curves.py: tables and plot of db_bench reports of several sizes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchscripts import load_script

cost_curves = load_script("cost_curves")


def _report(num: int, rates: dict[str, dict[str, float]]) -> dict:
    engines = {}
    for engine, per in rates.items():
        engines[engine] = {"workloads": {
            w: {"ops": 1000, "ops_per_sec": r, "micros_per_op": 1e6 / r, "verified": True}
            for w, r in per.items()}}
    engines.setdefault("lsmdb", {})["amplification"] = {
        "write_amp": 2.0, "space_amp_as_is": 1.1,
        "engine_stats_compacted": {"block_cache_hit_rate": 0.5,
                                   "levels": [{"level": 6, "files": 3}]}}
    return {"config": {"num": num, "reads": 1000}, "engines": engines,
            "machine": {"loadavg_start": [1.0, 1.0, 1.0], "loadavg_end": [2.0, 2.0, 2.0]}}


@pytest.fixture
def reports(tmp_path) -> list[str]:
    small = _report(100_000, {"lsmdb": {"readrandom": 200_000.0, "fillseq": 100_000.0},
                              "lmdb": {"readrandom": 400_000.0, "fillseq": 50_000.0}})
    small["engines"]["lsmdb"]["workloads"]["fillseq"].update(cpu_seconds=1.5e-3,
                                                             writer_cpu_seconds=1e-3)
    big = _report(10_000_000, {"lsmdb": {"readrandom": 50_000.0, "fillseq": 100_000.0},
                               "lmdb": {"readrandom": 200_000.0}})
    paths = []
    for name, rep in (("big", big), ("small", small)):  # out of order on purpose
        p = tmp_path / f"{name}.json"
        p.write_text(json.dumps(rep))
        paths.append(str(p))
    return paths


def test_tables_hold_ratios_and_growth(reports, capsys):
    assert cost_curves.main(reports) == 0
    out = capsys.readouterr().out
    assert out.index("#### 100k keys") < out.index("#### 10M keys")  # sorted by size
    # 100k readrandom: lsmdb 200k ops/s vs lmdb 400k: 0.50x; 10M: 0.25x.
    assert "| readrandom | 200,000 (5.00 µs) | 400,000 (2.50 µs) | 0.50× |" in out
    assert "| readrandom | 50,000 (20.00 µs) | 200,000 (5.00 µs) | 0.25× |" in out
    # growth 100k -> 10M: lsmdb 5 -> 20 us (4x), lmdb 2.5 -> 5 us (2x).
    assert "| readrandom | 5.00 → 20.00 | 2.50 → 5.00 | 4.00× | 2.00× |" in out
    # lmdb has no fillseq at 10M: a dash, no growth.
    assert "| fillseq | 10.00 → 10.00 | 20.00 → - | 1.00× | - |" in out
    assert "| 10M | 2.00 | 1.10 | L6 3 | 0.500 | 1.0 → 2.0 |" in out
    assert "| fillseq | 1.50 / 1.00 → - / - | - / - → - / - |" in out  # only 100k lsmdb has CPU


def test_plot_draws_one_panel_per_workload(reports, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.axes import Axes

    lines: list[tuple[str, str, list[float]]] = []
    real_plot = Axes.plot

    def plot(self, x, y, *args, **kwargs):
        lines.append((self.get_title(), kwargs.get("label"), list(y)))
        return real_plot(self, x, y, *args, **kwargs)

    monkeypatch.setattr(Axes, "plot", plot)
    png = tmp_path / "c.png"
    assert cost_curves.main([*reports, "--png", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    # Titles are set after drawing, so key on the label and the values.
    assert (None, "lsmdb", [5.0, 20.0]) in [(None, lb, y) for _t, lb, y in lines]
    assert ("lmdb", [20.0]) in [(lb, y) for _t, lb, y in lines]  # fillseq: one point only
    # 2 workloads x 2 engines, then the one CPU series recorded (lsmdb's fillseq at 100k).
    assert len(lines) == 5 and ("lsmdb", [1.5]) == (lines[-1][1], lines[-1][2])


def test_open_table(tmp_path, capsys, reports):
    mib = 2 ** 20
    rss = {"VmRSS": 100 * mib, "RssFile": 10 * mib}
    rep = {"config": {"num": 10_000_000},
           "engines": {"lsmdb": {"open_seconds": 0.25, "rss_before_open": rss,
                                 "rss_after_open": rss, "rss_after_gets": rss, "gets": 100,
                                 "micros_per_get": 3.0, "store_bytes": 2e9,
                                 "get_usage": {"cpu_micros_per_op": 2.5, "minor_faults": 50},
                                 "engine_stats": {"block_cache_hit_rate": 0.25},
                                 "missing_get_usage": {"cpu_micros_per_op": 0.8},
                                 "page_cache": "cold (page cache dropped)"},
                       "lmdb": {"skipped": "not installed"}}}
    p = tmp_path / "open.json"
    p.write_text(json.dumps(rep))
    assert cost_curves.main([*reports, "--open", str(p)]) == 0
    out = capsys.readouterr().out
    assert ("| 10M | lsmdb | 0.250 | 100 | 100 | 100 | 10 | 3.00 | 2.50 | 0.50 | 0.80 | 0.250"
            " | 2000 |"
            " cold (page cache dropped) |") in out
    assert "| 10M | lmdb | not run: not installed |" in out


def test_reports_of_one_size_are_merged(tmp_path, capsys):
    base = _report(1000, {"lsmdb": {"readrandom": 100.0}})
    base["engines"]["lmdb"] = {"error": "worker exited with -9"}
    apart = _report(1000, {"lmdb": {"readrandom": 400.0}, "lsmdb": {"readrandom": 1.0}})
    apart.update(command="db_bench --engines lmdb", date="d")
    paths = []
    for name, rep in (("base", base), ("apart", apart)):
        paths.append(str(tmp_path / f"{name}.json"))
        Path(paths[-1]).write_text(json.dumps(rep))
    merged = cost_curves.load(paths)
    assert len(merged) == 1
    engines = merged[0]["engines"]
    assert engines["lmdb"]["workloads"]["readrandom"]["ops_per_sec"] == 400.0
    assert engines["lsmdb"]["workloads"]["readrandom"]["ops_per_sec"] == 100.0  # base kept
    assert merged[0]["merged"][0]["engines"] == ["lmdb"]
    assert cost_curves.main(paths) == 0
    out = capsys.readouterr().out
    assert "lmdb: from a separate run (d, load 1.0 → 2.0): `db_bench --engines lmdb`" in out
    assert "| readrandom | 100 (10000.00 µs) | 400 (2500.00 µs) | 0.25× |" in out


def test_reports_without_engines_exit_2(tmp_path):
    p = tmp_path / "e.json"
    p.write_text(json.dumps({"config": {"num": 10}, "engines": {}, "machine": {}}))
    assert cost_curves.main([str(p)]) == 2
