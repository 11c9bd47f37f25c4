"""``lsmdb bench`` on the command line: defaults run, outputs are written, bad input is one
line and a non-zero exit code, never a traceback."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from lsmdb import cli
from lsmdb.bench.config import DEFAULT_BENCHMARKS

TINY = ["--memtable-bytes", "32k", "--target-file-bytes", "16k", "--quiet"]


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got {text!r}"
    assert "Traceback" not in text
    return lines[0]


def test_defaults_run_and_print_the_table(capsys, tmp_path):
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    rc = cli.main(["bench", "--num", "500", "--quiet", "--json", str(out_json),
                   "--csv", str(out_csv)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    for name in DEFAULT_BENCHMARKS:
        assert name in captured.out
    assert "write-amp" in captured.out and "space-amp" in captured.out
    doc = json.loads(out_json.read_text())
    assert doc["schema"] == "lsmdb-bench/1"
    (run,) = doc["runs"]
    assert [r["name"] for r in run["results"]] == list(DEFAULT_BENCHMARKS)
    assert run["options"]["memtable_bytes"] == 2 << 20  # the bench's scaled-down default
    assert doc["machine"]["cpu_count"] >= 1 and doc["versions"]["lsmdb"]
    assert len(out_csv.read_text().splitlines()) == 1 + len(DEFAULT_BENCHMARKS)


def test_flags_reach_the_options(capsys, tmp_path):
    out_json = tmp_path / "r.json"
    rc = cli.main(["bench", "--num", "300", "--benchmarks", "fillseq,readseq", "--size-ratio",
                   "4", "--bloom-bits", "6", "--bloom-allocation", "monkey", "--bloom-format",
                   "standard", "--block-bytes",
                   "1k", "--compression", "none", "--l0-trigger", "2", "--file-pick",
                   "round_robin", "--set", "compaction.dynamic_level_bytes=false",
                   "--set", "block_restart_interval=8", "--label", "mine",
                   "--json", str(out_json), *TINY])
    assert rc == 0, capsys.readouterr().err
    run = json.loads(out_json.read_text())["runs"][0]
    opts = run["options"]
    assert run["label"] == "mine"
    assert opts["compaction"]["size_ratio"] == 4
    assert opts["compaction"]["l0_trigger"] == 2
    assert opts["compaction"]["file_pick"] == "round_robin"
    assert opts["compaction"]["dynamic_level_bytes"] is False
    assert opts["bloom"] == {"bits_per_key": 6.0, "allocation": "monkey", "format": "standard",
                             "memory_budget_bytes": None, "per_level_bits": None}
    assert opts["block_bytes"] == 1024 and opts["block_restart_interval"] == 8
    assert opts["compression"]["kind"] == "none"
    assert opts["memtable_bytes"] == 32 * 1024


def test_sweep_on_two_processes_with_plot(capsys, tmp_path):
    out_json, plot = tmp_path / "r.json", tmp_path / "p.png"
    argv = ["bench", "--num", "300", "--benchmarks", "fillrandom,readrandom", "--sweep",
            "size_ratio=2,5", "--jobs", "2", "--json", str(out_json), *TINY]
    has_mpl = importlib.util.find_spec("matplotlib") is not None
    if has_mpl:
        argv += ["--plot", str(plot)]
    rc = cli.main(argv)
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "size_ratio=2" in captured.out and "size_ratio=5" in captured.out
    runs = json.loads(out_json.read_text())["runs"]
    assert [r["params"] for r in runs] == [{"size_ratio": 2}, {"size_ratio": 5}]
    if has_mpl:
        assert plot.read_bytes()[:4] == b"\x89PNG"


def test_workload_file_round_trip(capsys, tmp_path):
    spec_path, out_json = tmp_path / "w.json", tmp_path / "r.json"
    rc = cli.main(["bench", "--num", "400", "--reads", "600", "--preset", "ycsb-b",
                   "--mix", "name=exp", "--mix", "zero_result_lookups=0.5",
                   "--mix", "lookup_keys.kind=normal", "--save-workload", str(spec_path)])
    assert rc == 0
    assert "exp" in capsys.readouterr().out
    spec = json.loads(spec_path.read_text())
    assert spec["operations"] == 600 and spec["preload"] == 400
    assert spec["zero_result_lookups"] == 0.5 and spec["lookup_keys"]["kind"] == "normal"
    assert spec["point_lookups"] == 0.95
    rc = cli.main(["bench", "--workload", str(spec_path), "--json", str(out_json), *TINY])
    assert rc == 0, capsys.readouterr().err
    rows = json.loads(out_json.read_text())["runs"][0]["results"]
    assert [r["name"] for r in rows] == ["exp:load", "exp"]
    assert rows[1]["ops"] == 600 and rows[1]["verified"]
    assert rows[1]["extra"]["zero_result_lookups"] > 200


@pytest.mark.parametrize("argv,code,needle", [
    (["--benchmarks", "readrandom,fillbogus"], cli.EXIT_ERROR, "--benchmarks: unknown workload"),
    (["--size-ratio", "1"], cli.EXIT_ERROR, "--size-ratio: must be"),
    (["--style", "spiral"], cli.EXIT_ERROR, "--style: must be one of"),
    (["--bloom-allocation", "fair"], cli.EXIT_ERROR, "--bloom-allocation"),
    (["--bloom-format", "ribbon"], cli.EXIT_ERROR, "--bloom-format"),
    (["--wal-sync", "sometimes"], cli.EXIT_ERROR, "--wal-sync"),
    (["--set", "compaction.bogus=1"], cli.EXIT_ERROR, "--set compaction.bogus: unknown"),
    (["--set", "nonsense"], cli.EXIT_ERROR, "--set: expected PATH=VALUE"),
    (["--sweep", "colour=red"], cli.EXIT_ERROR, "--sweep: unknown knob"),
    (["--sweep", "size_ratio=4,1"], cli.EXIT_ERROR, "size_ratio=1"),
    (["--preset", "ycsb-z"], cli.EXIT_ERROR, "--preset"),
    (["--benchmarks", "mixed", "--mix", "updates=-1"], cli.EXIT_ERROR, "--mix"),
    (["--key-size", "2"], cli.EXIT_ERROR, "--key-size"),
    (["--jobs", "0"], cli.EXIT_USAGE, "--jobs"),
    (["--workload", "/nonexistent/w.json"], cli.EXIT_IO, "/nonexistent/w.json"),
    (["--num", "lots"], cli.EXIT_USAGE, "--num"),
    (["--memtable-bytes", "4X"], cli.EXIT_USAGE, "--memtable-bytes"),
    (["--engine", "leveldb"], cli.EXIT_USAGE, "--engine"),
    (["--executor", "ray"], cli.EXIT_USAGE, "--executor"),
])
def test_bad_input_is_one_line_and_nonzero(capsys, argv, code, needle):
    assert cli.main(["bench", "--num", "100", *argv]) == code
    captured = capsys.readouterr()
    line = _one_line(captured.err)
    assert needle in line and line.startswith("lsmdb")


@pytest.mark.skipif(importlib.util.find_spec("rocksdict") is None, reason="needs rocksdict")
def test_rocksdb_without_an_equivalent_style_is_refused(capsys):
    assert cli.main(["bench", "--num", "100", "--engine", "rocksdb", "--style", "fluid"]) \
        == cli.EXIT_ERROR
    assert "--style: fluid has no RocksDB equivalent" in _one_line(capsys.readouterr().err)


def test_help_shows_flags_and_examples(capsys):
    assert cli.main(["bench", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--benchmarks", "--sweep", "--executor", "--bloom-allocation", "--workload",
                 "--plot", "examples:"):
        assert flag in out


def test_as_a_real_command():
    proc = subprocess.run([sys.executable, "-m", "lsmdb.cli", "bench", "--num", "300",
                           "--benchmarks", "fillrandom,readmissing", *TINY],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "readmissing" in proc.stdout and "Traceback" not in proc.stderr


def test_an_interrupted_sweep_keeps_the_finished_points(capsys, tmp_path, monkeypatch):
    from lsmdb.bench import runner, sweep

    def run_two_then_stop(configs, *, jobs=1, executor="process", scheduler=None,
                          on_done=None, **_kw):
        for i, cfg in enumerate(configs[:2]):
            on_done(i, runner.run_benchmark(cfg))
        raise KeyboardInterrupt  # e.g. Ctrl-C during the third point

    monkeypatch.setattr(sweep, "run_configs", run_two_then_stop)
    out_json = tmp_path / "r.json"
    argv = ["bench", "--num", "300", "--benchmarks", "fillrandom", "--sweep",
            "size_ratio=2,3,4", "--json", str(out_json), "--quiet", *TINY]
    assert cli.main(argv) != 0
    assert "interrupted" in capsys.readouterr().err
    doc = json.loads(out_json.read_text())
    assert doc["incomplete"] == {"done": 2, "of": 3}
    assert [r["params"] for r in doc["runs"]] == [{"size_ratio": 2}, {"size_ratio": 3}]


# -- issue 12: errors found before the run, stated once, never "internal error" ------------------


def test_binary_workload_file_is_a_clear_one_line_error(capsys, tmp_path):
    spec = tmp_path / "w.bin"
    spec.write_bytes(b"\x00\x01\xfe\xff" * 100)
    assert cli.main(["bench", "--workload", str(spec), "--quiet"]) == cli.EXIT_ERROR
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"lsmdb: error: --workload {spec}: not a JSON workload spec: "
                           "binary data")
    assert "internal error" not in line


def test_key_size_over_the_limit_names_max_key_bytes(capsys):
    assert cli.main(["bench", "--num", "100", "--key-size", "70000"]) == cli.EXIT_ERROR
    line = _one_line(capsys.readouterr().err)
    assert line == ("lsmdb: error: --key-size: must be 1 to 65,536, got 70,000 (the "
                    "max_key_bytes option: the longest key lsmdb accepts)")


def test_num_bounds_are_stated_once_in_help_flag_errors_and_validation(capsys):
    from lsmdb.bench.config import BenchConfig
    from lsmdb.bench.limits import INT_BOUNDS, NUM_MAX
    from lsmdb.cliargs import bounds_text
    from lsmdb.errors import InvalidArgumentError

    bounds = bounds_text(*INT_BOUNDS["num"])
    assert bounds == f"1 to {NUM_MAX:,}"
    assert cli.main(["bench", "--help"]) == 0
    assert f"keys, {bounds}" in " ".join(capsys.readouterr().out.split())
    for argv in (["--num", "0"], ["--num", str(NUM_MAX + 1)], ["--num", "-1"]):
        assert cli.main(["bench", *argv]) == cli.EXIT_USAGE
        assert f"--num: must be {bounds}, got" in _one_line(capsys.readouterr().err)
    assert cli.main(["bench", "--sweep", "num=0,5", "--quiet"]) == cli.EXIT_ERROR
    assert f"--num: must be {bounds}, got 0" in _one_line(capsys.readouterr().err)
    with pytest.raises(InvalidArgumentError, match=f"--num: must be {bounds}, got 0"):
        BenchConfig(num=0).validate()


def test_db_with_missing_parents_creates_nothing(capsys, tmp_path):
    target = tmp_path / "missing" / "x" / "y"
    assert cli.main(["bench", "--num", "100", "--db", str(target), "--quiet"]) \
        == cli.EXIT_ERROR
    line = _one_line(capsys.readouterr().err)
    assert f"--db: {target.parent} does not exist" in line
    assert not (tmp_path / "missing").exists()


def test_db_runner_creates_only_the_last_directory(tmp_path):
    from lsmdb.bench.config import BenchConfig
    from lsmdb.bench.runner import run_benchmark
    from lsmdb.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="does not exist"):
        run_benchmark(BenchConfig(num=50, benchmarks=["fillseq"], db=str(tmp_path / "a" / "b")))
    assert not (tmp_path / "a").exists()
    run = run_benchmark(BenchConfig(num=50, benchmarks=["fillseq"], db=str(tmp_path / "a")))
    assert run["results"][0]["verified"] and (tmp_path / "a").is_dir()


@pytest.mark.parametrize("flag", ["--json", "--csv", "--plot"])
def test_unwritable_output_fails_before_the_run(capsys, tmp_path, monkeypatch, flag):
    from lsmdb.bench import runner

    def no_run(*_a, **_kw):
        raise AssertionError("the benchmark ran before the output path was checked")

    monkeypatch.setattr(runner, "run_benchmark", no_run)
    target = tmp_path / "no-such-dir" / "out"
    assert cli.main(["bench", "--num", "100", flag, str(target), "--quiet"]) == cli.EXIT_IO
    captured = capsys.readouterr()
    assert _one_line(captured.err) == (f"lsmdb: error: {flag}: cannot write (No such file or "
                                       f"directory): {target}")
    assert captured.out == ""


def test_a_tree_too_small_to_differ_gets_a_note(capsys):
    rc = cli.main(["bench", "--num", "300", "--benchmarks", "fillrandom", "--sweep",
                   "style=leveled,tiered", *TINY])
    out = capsys.readouterr().out
    assert rc == 0
    assert "note: in every configuration the tree stayed at L0 and at most one sorted run " \
           "below it" in out
    assert "use a larger --num" in out
