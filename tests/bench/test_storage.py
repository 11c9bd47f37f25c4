"""lsmdb/bench/storage.py: ``lsmdb bench --engine storage`` (StorageEngine beside sqlite3)."""

from __future__ import annotations

import json

from lsmdb import cli
from lsmdb.bench.storage import WORKLOADS, _Rows, format_table, run_storage_bench


def test_rows_index_values_are_a_permutation():
    rows = _Rows(1000)
    assert sorted(rows.a(i) for i in range(1, 1001)) == list(range(1000))
    assert len(rows.row(7)) == 5


def test_both_engines_run_every_workload_and_verify(tmp_path):
    doc = run_storage_bench(num=400, reads=60, batch=50, db=str(tmp_path))
    assert [r["engine"] for r in doc["runs"]] == ["sqlite3", "lsmdb"]
    for run in doc["runs"]:
        assert list(run["results"]) == list(WORKLOADS)
        assert all(r["verified"] for r in run["results"].values()), run["results"]
    assert set(doc["ratios"]) == set(WORKLOADS)
    assert doc["runs"][1]["settings"]["wal_commit_policy"] == "WalCommitPolicy.NEVER"
    assert "autoinsert" in format_table(doc)
    assert list(tmp_path.iterdir()) == []  # each engine's files removed after its run


def test_cli_engine_storage_writes_json(capsys, tmp_path):
    out = tmp_path / "r.json"
    rc = cli.main(["bench", "--engine", "storage", "--num", "300", "--reads", "40",
                   "--batch-size", "25", "--quiet", "--json", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "insert" in captured.out and "ratio" in captured.out
    doc = json.loads(out.read_text())
    assert doc["params"]["batch"] == 25 and doc["params"]["num"] == 300
    assert doc["machine"]["cpu_count"] >= 1


def test_cli_engine_storage_rejects_a_tiny_num(capsys):
    assert cli.main(["bench", "--engine", "storage", "--num", "10", "--quiet"]) == cli.EXIT_ERROR
    assert "--num must be" in capsys.readouterr().err
