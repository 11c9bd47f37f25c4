"""A tiny bench/db_bench.py run: every workload row present, positive throughput, verified reads.

Correctness only: no timing assertions (benchmarks are not tests).
"""

from __future__ import annotations

import json

import pytest
from benchscripts import load_script

db_bench = load_script("db_bench")
peers = db_bench.peers
AVAILABLE = [e for e in db_bench.DEFAULT_ENGINES if peers.importable(e) is None]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("db_bench")
    out = tmp / "report.json"
    rc = db_bench.main(["--num", "2000", "--engines", ",".join(AVAILABLE), "--db-dir", str(tmp),
                        "--sync-num", "200", "--threads", "4", "--out", str(out)])
    data = json.loads(out.read_text())
    data["_rc"] = rc
    return data


def test_lsmdb_is_available():
    assert "lsmdb" in AVAILABLE


def test_every_engine_ran_every_workload_with_verified_results(report):
    assert report["_rc"] == 0
    for engine in AVAILABLE:
        result = report["engines"][engine]
        assert "error" not in result, result.get("error")
        # fillsync also runs with 4 writer threads: the row "fillsync_4t".
        assert set(result["workloads"]) == {*db_bench.WORKLOADS, "fillsync_4t"}
        for name, row in result["workloads"].items():
            assert row["ops_per_sec"] > 0, (engine, name)
            assert row["verified"], (engine, name, row)
            if not name.startswith("fillsync"):  # every single-threaded loop: its CPU time
                assert row["cpu_seconds"] >= 0, (engine, name)
        reads = result["workloads"]
        assert reads["readrandom"]["matched"] == reads["readrandom"]["ops"] == 2000
        assert reads["readmissing"]["found"] == 0
        assert reads["readseq"]["ops"] == 2000
        assert reads["seekrandom"]["landed"] == 2000
        assert reads["seekrandom"]["entries_read"] > 2000


def test_amplification_and_metadata_recorded(report):
    for engine in AVAILABLE:
        amp = report["engines"][engine]["amplification"]
        assert amp["scope"] == ["fillbatch", "overwrite"]
        assert amp["user_bytes"] == 2 * 2000 * 116
        assert amp["live_user_bytes"] == 2000 * 116
        assert amp["disk_bytes_as_is"] > 0 and amp["space_amp_compacted"] > 0
        assert report["engines"][engine]["version"]
    lsm = report["engines"]["lsmdb"]["amplification"]
    assert lsm["engine_stats_as_is"]["user_bytes_written"] >= lsm["user_bytes"]
    assert report["machine"]["cpu_count"] >= 1 and report["machine"]["python"]
    assert report["config"]["num"] == 2000
    targets = {(t["workload"], tuple(t["against"])) for t in report["targets"]}
    assert ("readrandom", ("lmdb",)) in targets and len(report["targets"]) == 8
    for t in report["targets"]:
        present = [p for p in t["against"] if p in AVAILABLE]
        assert (t["status"] == "not run") == (not present)


def test_engines_share_one_memory_budget_by_default(report):
    assert report["config"]["memory_budget_mib"] == 128
    budget = 128 << 20
    settings = {e: report["engines"][e]["settings"] for e in AVAILABLE}
    assert settings["lsmdb"]["options"]["block_cache_bytes"] == budget
    assert settings["lsmdb"]["options"]["charge_memtables_to_cache"] is True
    if "rocksdict" in settings:
        assert settings["rocksdict"]["block_cache_bytes"] == budget
        assert settings["rocksdict"]["write_buffer_manager"]["cost_to_cache"] is True
    if "plyvel" in settings:
        assert settings["plyvel"]["plyvel.DB"]["lru_cache_size"] == budget - (8 << 20)
    if "sqlite3" in settings:
        assert settings["sqlite3"]["pragmas"]["cache_size"] == -(budget >> 10)


def test_cache_only_setting_and_bad_memory_arguments(tmp_path):
    out = tmp_path / "c.json"
    rc = db_bench.main(["--num", "300", "--engines", "lsmdb", "--benchmarks", "readrandom",
                        "--memory-budget-mib", "0", "--cache-mib", "32", "--db-dir",
                        str(tmp_path), "--out", str(out)])
    assert rc == 0
    options = json.loads(out.read_text())["engines"]["lsmdb"]["settings"]["options"]
    assert options["block_cache_bytes"] == 32 << 20
    assert options["charge_memtables_to_cache"] is False
    for bad in (["--memory-budget-mib", "8"], ["--memory-budget-mib", "-1"],
                ["--cache-mib", "-1"]):
        assert db_bench.main(["--num", "10", "--engines", "lsmdb", *bad]) == 2


def test_reads_before_any_fill_prefill_first(tmp_path):
    out = tmp_path / "r.json"
    rc = db_bench.main(["--num", "500", "--engines", "lsmdb", "--benchmarks",
                        "readrandom,seekrandom,deleterandom,readmissing", "--db-dir",
                        str(tmp_path), "--out", str(out)])
    data = json.loads(out.read_text())
    assert rc == 0
    rows = data["engines"]["lsmdb"]["workloads"]
    assert set(rows) == {"readrandom", "seekrandom", "deleterandom", "readmissing"}
    assert all(r["verified"] for r in rows.values())
    assert data["engines"]["lsmdb"]["amplification"]["scope"] == ["prefill(fillbatch)"]


def test_bad_arguments_exit_2(tmp_path, capsys):
    assert db_bench.main(["--benchmarks", "nosuch", "--out", str(tmp_path / "x.json")]) == 2
    assert "nosuch" in capsys.readouterr().err


def test_fillsync_records_each_thread_count(report):
    for engine in AVAILABLE:
        rows = report["engines"][engine]["workloads"]
        assert rows["fillsync"]["threads"] == 1 and rows["fillsync_4t"]["threads"] == 4
        assert rows["fillsync"]["ops"] == rows["fillsync_4t"]["ops"] == 200


def test_bad_thread_counts_exit_2(tmp_path):
    for bad in ("0", "x", "2,-1"):
        assert db_bench.main(["--threads", bad, "--out", str(tmp_path / "x.json")]) == 2


def test_readrandom_with_reader_threads(tmp_path):
    engines = [e for e in ("lsmdb", "lmdb", "sqlite3") if e in AVAILABLE]
    out = tmp_path / "t.json"
    rc = db_bench.main(["--num", "500", "--engines", ",".join(engines), "--benchmarks",
                        "readrandom", "--read-threads", "1,3", "--db-dir", str(tmp_path),
                        "--out", str(out)])
    data = json.loads(out.read_text())
    assert rc == 0 and data["config"]["read_threads"] == [1, 3]
    for engine in engines:
        rows = data["engines"][engine]["workloads"]
        if engine == "sqlite3":   # its adapter's connection is single-threaded: skipped
            assert set(rows) == {"readrandom"}
            continue
        assert set(rows) == {"readrandom", "readrandom_3t"}
        assert rows["readrandom_3t"]["verified"] and rows["readrandom_3t"]["matched"] == 500
        assert rows["readrandom_3t"]["threads"] == 3
    assert db_bench.main(["--read-threads", "0", "--out", str(tmp_path / "x.json")]) == 2
