"""The bench runner: every workload runs and checks its answers; reports keep their schema.

Correctness only (tiny sizes, no timing assertions): benchmarks are not tests.
"""

from __future__ import annotations

import csv
import importlib.util
import json

import pytest

from lsmdb.bench import report
from lsmdb.bench.config import WORKLOADS, BenchConfig
from lsmdb.bench.results import read_amp_from
from lsmdb.bench.runner import Runner, run_benchmark
from lsmdb.bench.targets import LsmdbTarget
from lsmdb.errors import InvalidArgumentError

SMALL = {"memtable_bytes": 64 * 1024, "compaction.target_file_bytes": 32 * 1024,
         "compaction.base_level_bytes": 128 * 1024}


def _run(tmp_path, **kw) -> dict:
    kw.setdefault("num", 2_000)
    kw.setdefault("option_overrides", dict(SMALL))
    kw.setdefault("db", str(tmp_path / "db"))
    return run_benchmark(BenchConfig(**kw))


def _rows(run: dict) -> dict[str, dict]:
    return {r["name"]: r for r in run["results"]}


@pytest.fixture(scope="module")
def full_run(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("runner")
    return _run(tmp, benchmarks=["fillseq", "fillrandom", "overwrite", "readrandom",
                                 "readmissing", "readseq", "seekrandom", "readwhilewriting",
                                 "deleterandom", "readrandom", "fillsync", "mixed"],
                reads=1_500, sync_num=20)


def test_every_workload_ran_and_verified(full_run):
    names = [r["name"] for r in full_run["results"]]
    assert names == ["fillseq", "fillrandom", "overwrite", "readrandom", "readmissing",
                     "readseq", "seekrandom", "readwhilewriting", "deleterandom", "readrandom",
                     "fillsync", "mixed:load", "mixed"]
    for row in full_run["results"]:
        assert row["verified"] and row["errors"] == [], row
        assert row["ops"] > 0 and row["seconds"] > 0 and row["ops_per_sec"] > 0
        assert row["micros_per_op"] == pytest.approx(row["seconds"] * 1e6 / row["ops"])
    assert full_run["summary"]["verified"] is True


def test_reads_find_what_was_written_and_nothing_else(full_run):
    rows = full_run["results"]
    readrandom, readmissing, readseq, seek = rows[3], rows[4], rows[5], rows[6]
    assert readrandom["found"] == readrandom["ops"] == 1_500
    assert readmissing["found"] == 0 and readmissing["ops"] == 1_500
    assert readseq["found"] == readseq["ops"] == 2_000
    assert seek["found"] == 1_500 and seek["extra"]["entries_read"] > 1_500
    # after deleterandom the next read loaded the keys again, and said so
    assert rows[9]["prefilled"] is True and rows[9]["found"] == 1_500
    assert rows[10]["ops"] == 20  # fillsync


def test_latency_percentiles_and_read_amp(full_run):
    rows = _rows(full_run)
    for name in ("fillrandom", "readrandom", "seekrandom", "mixed"):
        assert 0 < rows[name]["p50_us"] <= rows[name]["p99_us"]
    assert rows["readseq"]["p50_us"] is None
    amp = rows["readmissing"]["read_amp"]
    assert amp["tables_probed_per_lookup"] >= 0
    assert amp["blocks_per_lookup"] <= amp["tables_probed_per_lookup"]


def test_mixed_reports_its_operation_mix(full_run):
    mixed = _rows(full_run)["mixed"]
    counts = mixed["extra"]["counts"]
    assert sum(counts.values()) == mixed["ops"] == 1_500
    assert counts["update"] > 500 and counts["point_lookup"] > 500
    assert mixed["extra"]["spec"]["name"] == "mixed"
    assert set(mixed["extra"]["latency_by_kind"]) <= {"update", "point_lookup"}


def test_final_stats_and_summary(full_run):
    stats, summary = full_run["stats"], full_run["summary"]
    assert stats["space_amp_exact"] is True
    assert stats["live_user_bytes"] > 0
    assert summary["write_amp"] == stats["write_amp"] > 0
    assert summary["space_amp"] == stats["space_amp"]
    assert isinstance(stats["levels"], list) and stats["levels"]
    assert full_run["options"]["memtable_bytes"] == 64 * 1024
    assert full_run["engine"] == "lsmdb" and full_run["engine_version"]


def test_a_spec_workload_with_every_operation_kind(tmp_path):
    spec = {"name": "kv", "operations": 3_000, "preload": 1_000, "inserts": 0.2,
            "updates": 0.2, "point_deletes": 0.1, "range_deletes": 0.02, "point_lookups": 0.3,
            "range_lookups": 0.18, "zero_result_lookups": 0.25,
            "range_lookup_selectivity": 0.01, "range_delete_selectivity": 0.005,
            "lookup_keys": "zipfian", "delete_keys": "normal", "seed": 5}
    run = _run(tmp_path, benchmarks=["mixed", "readseq"], workload=spec)
    rows = _rows(run)
    assert rows["kv"]["verified"], rows["kv"]["errors"]
    assert rows["kv:load"]["ops"] == 1_000
    counts = rows["kv"]["extra"]["counts"]
    assert all(counts[k] > 0 for k in counts)
    # readseq after a spec workload starts over from the named keys
    assert rows["readseq"]["prefilled"] and rows["readseq"]["found"] == 2_000


class _LyingTarget(LsmdbTarget):
    """Drops every 100th put: the runner must notice."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        real_put = self.db.put
        calls = [0]

        def put(key, value, **kw):
            calls[0] += 1
            if calls[0] % 100:
                real_put(key, value, **kw)

        self.put = put


def test_wrong_answers_are_reported_not_hidden(tmp_path, monkeypatch):
    import lsmdb.bench.targets as targets_mod

    monkeypatch.setattr(targets_mod, "LsmdbTarget", _LyingTarget)
    cfg = BenchConfig(num=1_000, benchmarks=["fillrandom", "readrandom", "readseq"],
                      option_overrides=dict(SMALL), db=str(tmp_path / "db"))
    run = Runner(cfg).run()
    rows = _rows(run)
    assert not rows["readrandom"]["verified"]
    assert "expected 1000" in rows["readrandom"]["errors"][0]
    assert not rows["readseq"]["verified"]
    assert run["summary"]["verified"] is False


def test_temporary_directory_is_removed_and_db_dir_must_be_empty(tmp_path):
    import glob
    import tempfile

    before = set(glob.glob(f"{tempfile.gettempdir()}/lsmdb-bench-*"))
    run_benchmark(BenchConfig(num=300, benchmarks=["fillrandom", "readrandom"]))
    assert set(glob.glob(f"{tempfile.gettempdir()}/lsmdb-bench-*")) == before
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "precious.txt").write_text("keep me")
    with pytest.raises(InvalidArgumentError, match="--db.*not empty"):
        run_benchmark(BenchConfig(num=300, db=str(busy)))
    assert (busy / "precious.txt").read_text() == "keep me"


@pytest.mark.parametrize("change,flag", [
    ({"benchmarks": ["readrandom", "fillbogus"]}, "--benchmarks"),
    ({"num": 0}, "--num"),
    ({"key_size": 4}, "--key-size"),
    ({"threads": 0}, "--threads"),
    ({"engine": "leveldb"}, "--engine"),
    ({"option_overrides": {"compaction.size_ratio": 1}}, "compaction.size_ratio"),
    ({"benchmarks": ["mixed"], "mix": [["updates", -1]]}, "--mix"),
])
def test_config_errors_name_the_flag(change, flag):
    with pytest.raises(InvalidArgumentError, match=flag):
        BenchConfig(**change).validate()


def test_config_round_trips_through_a_dict():
    cfg = BenchConfig(num=10, option_overrides={"bloom.bits_per_key": 5}, params={"x": 1},
                      mix=[["updates", 0.1]])
    assert BenchConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert set(WORKLOADS) >= set(cfg.benchmarks)


def test_read_amp_from_counter_deltas():
    before = {1: (10, 5, 1, 3, 2)}
    after = {1: (20, 12, 2, 4, 6), 2: (5, 5, 0, 0, 0)}  # file 2 opened in between
    amp = read_amp_from(before, after, lookups=10)
    assert amp["tables_probed_per_lookup"] == pytest.approx(1.5)
    assert amp["blocks_per_lookup"] == pytest.approx(0.5)
    assert amp["disk_blocks_per_lookup"] == pytest.approx(0.1)
    assert amp["bloom_fp_rate"] == pytest.approx(1 / 13)
    assert read_amp_from(before, after, lookups=0) is None


def test_report_json_and_csv_schema(full_run, tmp_path):
    doc = report.build_report([full_run, {"label": "broken", "params": {"size_ratio": 3},
                                          "error": "ValueError: boom"}], command="x")
    assert doc["schema"] == report.SCHEMA
    assert doc["versions"]["lsmdb"] and doc["versions"]["python"]
    machine = doc["machine"]
    assert machine["cpu_count"] >= 1 and machine["cpu_model"]
    jpath, cpath = tmp_path / "r.json", tmp_path / "r.csv"
    report.write_json(str(jpath), doc)
    loaded = json.loads(jpath.read_text())
    assert loaded["runs"][0]["results"][0]["name"] == "fillseq"
    assert loaded["runs"][0]["options"]["compaction"]["style"] == "leveled"
    report.write_csv(str(cpath), doc)
    with open(cpath, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[:len(report.CSV_COLUMNS)] == list(report.CSV_COLUMNS)
    assert "param.size_ratio" in rows[0]
    assert len(rows) == len(full_run["results"]) + 1
    assert rows[-1]["error"] == "ValueError: boom" and rows[-1]["param.size_ratio"] == "3"
    assert float(rows[0]["ops_per_sec"]) > 0 and rows[0]["verified"] == "True"
    text = report.format_run(full_run)
    for name in ("fillseq", "readmissing", "write-amp", "space-amp", "Level"):
        assert name in text
    assert "broken" in report.format_sweep(doc["runs"])


@pytest.mark.skipif(importlib.util.find_spec("rocksdict") is None, reason="needs rocksdict")
@pytest.mark.parametrize("style,expected", [("leveled", "level"), ("tiered", "universal")])
def test_rocksdb_runs_the_same_workloads(tmp_path, style, expected):
    run = _run(tmp_path, engine="rocksdb", benchmarks=["fillrandom", "readrandom",
                                                       "readmissing", "seekrandom", "mixed"],
               option_overrides={**SMALL, "compaction.style": style,
                                 "compaction.max_space_amp": 1.5}, reads=1_000)
    assert run["engine"] == "rocksdb" and "RocksDB" in run["engine_version"]
    settings = run["engine_settings"]
    assert settings["compaction_style"] == expected
    assert settings["bloom_filter"]["bits_per_key"] == 10.0
    if style == "tiered":
        assert settings["universal"]["max_size_amplification_percent"] == 50
    else:
        assert settings["level_compaction_dynamic_level_bytes"] is True
    for row in run["results"]:
        assert row["verified"], row
    assert _rows(run)["readmissing"]["found"] == 0
    assert run["stats"]["write_amp"] > 0 and run["stats"]["space_amp"] > 0


@pytest.mark.skipif(importlib.util.find_spec("rocksdict") is None, reason="needs rocksdict")
def test_rocksdb_refuses_styles_it_does_not_have():
    from lsmdb.bench.config import bench_options
    from lsmdb.bench.rocks import rocks_options

    with pytest.raises(InvalidArgumentError, match="--style"):
        rocks_options(bench_options({"compaction.style": "lazy_leveling"}))


def test_rocksdb_text_parsers():
    from lsmdb.bench.rocks import parse_level_stats, parse_stall_counts, parse_statistics

    tickers = parse_statistics("rocksdb.wal.bytes COUNT : 12\nrocksdb.bytes.written COUNT : 7\n"
                               "rocksdb.db.get.micros P50 : 1.0 P95 : 2.0\n")
    assert tickers == {"rocksdb.wal.bytes": 12, "rocksdb.bytes.written": 7}
    cfstats = (
        "Level    Files   Size     Score Read(GB)  Rn(GB) Rnp1(GB) Write(GB) Wnew(GB) "
        "Moved(GB) W-Amp Rd(MB/s)\n"
        "  L0      3/0   958.01 KB   0.8      0.0     0.0      0.0       0.0      0.0       "
        "0.0   1.0      0.0\n"
        "  L6      5/0    2.19 MB   0.0      0.0     0.0      0.0       0.0      0.0       "
        "0.0   3.5      0.0\n"
        " Sum      8/0    3.12 MB   0.0      0.0     0.0      0.0       0.0      0.0       "
        "0.0   1.0      0.0\n"
        "Write Stall (count): l0-file-count-limit-delays: 2, total-delays: 2, total-stops: 1\n")
    levels = parse_level_stats(cfstats)
    assert [lv["level"] for lv in levels] == [0, 6]
    assert levels[0]["files"] == 3 and levels[0]["bytes"] == int(958.01 * 1024)
    assert levels[1]["write_amp"] == 3.5
    assert parse_stall_counts(cfstats) == {"slowdown": 2, "stop": 1}


@pytest.mark.skipif(importlib.util.find_spec("rocksdict") is None, reason="needs rocksdict")
def test_rocksdb_gets_the_compaction_debt_limits():
    from lsmdb.bench.config import bench_options
    from lsmdb.bench.rocks import rocks_options

    _, settings = rocks_options(bench_options({}))
    assert "soft_pending_compaction_bytes_limit" not in settings  # RocksDB's defaults
    _, settings = rocks_options(bench_options({
        "compaction.soft_pending_compaction_bytes": 64 << 20,
        "compaction.hard_pending_compaction_bytes": 256 << 20}))
    assert settings["soft_pending_compaction_bytes_limit"] == 64 << 20
    assert settings["hard_pending_compaction_bytes_limit"] == 256 << 20
