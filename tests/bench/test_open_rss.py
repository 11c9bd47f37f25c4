"""bench/open_rss.py: open time and RSS of a built store, every get checked.

Correctness only: no timing assertions (benchmarks are not tests).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

from benchscripts import load_script

db_bench = load_script("db_bench")
open_rss = load_script("open_rss")
ENGINES = [e for e in ("lsmdb", "rocksdict", "lmdb") if db_bench.peers.importable(e) is None]


def test_value_at_and_key_at_match_the_dataset():
    cfg = db_bench.Config(num=3000)
    data = db_bench.Dataset(cfg)
    buf = db_bench.value_buffer(cfg)
    for version in (0, 1):
        vals = data.values(version)
        for i in (0, 1, 1234, 2999):
            assert db_bench.value_at(buf, cfg.value_size, i, version) == vals[i]
    assert [db_bench.key_at(i) for i in range(3000)] == data.keys


def test_run_measures_every_engine_and_deletes_the_stores(tmp_path):
    out = tmp_path / "open.json"
    rc = open_rss.main(["--num", "3000", "--gets", "500", "--engines", ",".join(ENGINES),
                        "--db-dir", str(tmp_path / "db"), "--out", str(out)])
    data = json.loads(out.read_text())
    assert rc == 0 and set(data["engines"]) == set(ENGINES)
    for engine, row in data["engines"].items():
        assert row["verified"] and row["mismatched"] == 0 and row["gets"] == 500, engine
        assert row["open_seconds"] > 0 and row["store_bytes"] > 0
        for phase in ("rss_before_open", "rss_after_open", "rss_after_gets"):
            assert row[phase]["VmRSS"] > 0 and row[phase]["RssAnon"] > 0, (engine, phase)
        assert row["page_cache"].startswith("warm")
        assert row["get_usage"]["cpu_seconds"] >= 0 and row["get_usage"]["minor_faults"] >= 0
        assert row["missing_found"] == 0 and row["missing_get_usage"]["cpu_seconds"] >= 0
        assert set(row["open_usage"]) == {"cpu_seconds", "cpu_micros_per_op", "minor_faults",
                                          "major_faults"}
    assert "block_cache_hit_rate" in data["engines"]["lsmdb"]["engine_stats"]
    assert os.listdir(tmp_path / "db") == []  # built stores are deleted without --keep


def test_measure_reports_values_that_do_not_match(tmp_path):
    cfg = db_bench.Config(num=2000, db_dir=str(tmp_path), keep=True)
    path = open_rss.build("lsmdb", cfg)
    assert open_rss.measure("lsmdb", path, cfg, 300)["verified"]
    other = dataclasses.replace(cfg, seed=cfg.seed + 1)  # another value buffer
    row = open_rss.measure("lsmdb", path, other, 300)
    assert not row["verified"] and row["mismatched"] == 300


def test_existing_stores_are_measured_and_kept(tmp_path):
    cfg = db_bench.Config(num=2000, db_dir=str(tmp_path), keep=True)
    path = open_rss.build("lsmdb", cfg)
    out = tmp_path / "reuse.json"
    rc = open_rss.main(["--num", "2000", "--gets", "100", "--engines", "lsmdb",
                        "--stores", f"lsmdb={path}", "--db-dir", str(tmp_path / "db"),
                        "--out", str(out)])
    row = json.loads(out.read_text())["engines"]["lsmdb"]
    assert rc == 0 and row["verified"] and row["build_seconds"] is None
    assert os.path.isdir(path)  # a store handed in is not deleted
    for bad in (f"lmdb={path}", "lsmdb", f"lsmdb={tmp_path / 'missing'}"):
        assert open_rss.main(["--engines", "lsmdb", "--stores", bad, "--out",
                              str(tmp_path / "x.json")]) == 2


def test_cold_open_evicts_the_stores_files(tmp_path):
    out = tmp_path / "cold.json"
    rc = open_rss.main(["--num", "3000", "--gets", "200", "--engines", "lsmdb", "--cold",
                        "--db-dir", str(tmp_path / "db"), "--out", str(out)])
    row = json.loads(out.read_text())["engines"]["lsmdb"]
    assert rc == 0 and row["verified"]
    assert row["page_cache"].startswith("cold (store's files evicted")
    if shutil.which("fincore"):  # the store was synced first: every page is clean
        assert row["page_cache"].endswith("still resident: 0.0 MiB)")


def test_drop_caches_says_warm_when_not_permitted(tmp_path, monkeypatch):
    monkeypatch.setattr(open_rss, "DROP_CACHES", str(tmp_path / "no" / "such" / "file"))
    assert open_rss.drop_caches().startswith("warm (page cache not dropped")


def test_bad_arguments_exit_2(tmp_path, capsys):
    assert open_rss.main(["--gets", "0", "--db-dir", str(tmp_path)]) == 2
    assert open_rss.main(["--engines", "nosuch", "--db-dir", str(tmp_path)]) == 2
    assert "nosuch" in capsys.readouterr().err
    assert open_rss.main(["--measure", "lsmdb", "--path", str(tmp_path / "missing")]) == 2
