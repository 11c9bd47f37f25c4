"""``lsmdb bench --policy MODULE:CLASS|FILE.py:CLASS``: a Python compaction policy runs
through the bench (BenchConfig.policy), bad specs are one-line flag errors."""

from __future__ import annotations

import json
import os
import textwrap

import pytest

from lsmdb import cli
from lsmdb.bench.config import BenchConfig, load_policy
from lsmdb.bench.runner import run_benchmark
from lsmdb.errors import InvalidArgumentError

TINY = ["--memtable-bytes", "32k", "--target-file-bytes", "16k", "--base-level-bytes", "64k",
        "--quiet"]
EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "custom_policy.py")

# A policy that counts its picks in a file (the bench may run it in another process) and
# defers to the built-in leveled policy.
COUNTING = textwrap.dedent("""
    import os
    from lsmdb.lsm.compaction import LeveledPolicy

    class Counting:
        def __init__(self):
            self.inner = LeveledPolicy()

        def pick(self, view):
            job = self.inner.pick(view)
            if job is not None:
                with open(os.environ["COUNTING_POLICY_LOG"], "a") as fh:
                    fh.write(job.reason + "\\n")
            return job

    class NoPick:
        pass
""")


@pytest.fixture
def counting(tmp_path, monkeypatch):
    path = tmp_path / "counting_policy.py"
    path.write_text(COUNTING)
    log = tmp_path / "picks.log"
    monkeypatch.setenv("COUNTING_POLICY_LOG", str(log))
    return path, log


def test_policy_file_drives_the_compactions(counting, capsys, tmp_path):
    path, log = counting
    out = tmp_path / "r.json"
    rc = cli.main(["bench", "--num", "4000", "--benchmarks", "fillrandom,overwrite,readrandom",
                   "--policy", f"{path}:Counting", "--json", str(out), *TINY])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert f"policy {path}:Counting" in captured.out
    run = json.loads(out.read_text())["runs"][0]
    assert run["config"]["policy"] == f"{path}:Counting"
    assert run["options"]["compaction"]["policy"].endswith("Counting")
    assert all(r["verified"] for r in run["results"])
    picks = log.read_text().split()
    assert picks, "the policy's pick() never returned a job"
    assert run["stats"]["compactions"] + run["stats"]["flushes"] >= 1


def test_example_policy_by_path_and_by_module(monkeypatch):
    policy = load_policy(f"{EXAMPLE}:DensestLevelFirst")
    assert type(policy).__name__ == "DensestLevelFirst" and callable(policy.pick)
    by_module = load_policy("lsmdb.lsm.compaction:LeveledPolicy")
    assert type(by_module).__name__ == "LeveledPolicy"
    cfg = BenchConfig(num=2000, benchmarks=["fillrandom", "deleterandom", "readmissing"],
                      policy=f"{EXAMPLE}:DensestLevelFirst",
                      option_overrides={"memtable_bytes": 16 << 10,
                                        "compaction.target_file_bytes": 8 << 10,
                                        "compaction.base_level_bytes": 32 << 10})
    run = run_benchmark(cfg)
    assert run["options"]["compaction"]["policy"].endswith("DensestLevelFirst")
    assert all(r["verified"] for r in run["results"])
    # The config travels to sweep workers as a plain dict and resolves there again.
    again = BenchConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert type(again.options().compaction.policy).__name__ == "DensestLevelFirst"


@pytest.mark.parametrize("spec, needle", [
    ("no_colon", "expected MODULE:CLASS"),
    ("lsmdb.lsm.compaction:", "expected MODULE:CLASS"),
    ("no_such_module_xyz:Policy", "ModuleNotFoundError"),
    ("lsmdb.lsm.compaction:NoSuchClass", "has no attribute"),
    ("/no/such/file.py:Policy", "no such file"),
])
def test_bad_policy_specs(spec, needle):
    with pytest.raises(InvalidArgumentError, match=needle):
        load_policy(spec)


def test_bad_policy_on_the_command_line_is_one_line(counting, capsys):
    path, _ = counting
    for argv, needle in (
            (["--policy", f"{path}:NoPick"], "no pick(view) method"),
            (["--policy", f"{path}:Counting", "--engine", "rocksdb"], "runs on lsmdb only")):
        rc = cli.main(["bench", "--num", "100", *argv, *TINY])
        err = capsys.readouterr().err
        assert rc == 3, err
        assert "--policy" in err and needle in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
