"""lsmdb.bench.report: the note on trees too small for compaction settings to matter."""

from __future__ import annotations

from lsmdb.bench.report import format_run, format_sweep, shallow_tree


def _level(level: int, files: int, runs: int | None = None) -> dict:
    out = {"level": level, "files": files, "bytes": files * 1000}
    if runs is not None:
        out["sorted_runs"] = runs
    return out


def test_shallow_tree_conditions():
    assert shallow_tree({}) is None  # unknown shape: no claim
    l0_only = {"levels": [_level(0, 3, 3), _level(1, 0, 0)], "compactions": 0}
    assert shallow_tree(l0_only) == "the tree never left L0 (no compaction ran)"
    one_below = {"levels": [_level(0, 2, 2), _level(6, 4, 1)]}
    assert "one sorted run in L6" in shallow_tree(one_below)
    two_levels = {"levels": [_level(0, 1, 1), _level(5, 2, 1), _level(6, 9, 1)]}
    assert shallow_tree(two_levels) is None
    two_runs = {"levels": [_level(0, 1, 1), _level(6, 2, 2)]}  # tiered: runs merge there
    assert shallow_tree(two_runs) is None
    rocks = {"levels": [_level(0, 1), _level(1, 3), _level(2, 8)]}  # no sorted_runs column
    assert shallow_tree(rocks) is None


def _run(label: str, levels: list[dict]) -> dict:
    return {"label": label, "engine": "lsmdb", "config": {"num": 10}, "options": {},
            "results": [], "summary": {"verified": True}, "stats": {"levels": levels}}


def test_notes_in_run_and_sweep_reports():
    small = _run("a", [_level(0, 2, 2)])
    deep = _run("b", [_level(0, 1, 1), _level(5, 1, 1), _level(6, 3, 1)])
    assert "note: the tree never left L0" in format_run(small)
    assert "note:" not in format_run(deep)
    assert "note: in every configuration" in format_sweep([small, small])
    mixed = format_sweep([small, deep])
    assert "note: in 1 of 2 configurations (a)" in mixed
    assert "note:" not in format_sweep([deep, deep])


def test_no_note_for_rocksdb_runs():
    rocks = _run("rocksdb universal", [_level(0, 5)])
    rocks["engine"] = "rocksdb"  # universal merges runs inside L0: L0 alone proves nothing
    assert "note:" not in format_run(rocks)
    assert "note:" not in format_sweep([rocks, rocks])
