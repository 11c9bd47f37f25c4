"""Sweeps: knob parsing, grid expansion, one result per configuration on processes and Dask."""

from __future__ import annotations

import importlib.util

import pytest

from lsmdb.bench.config import BenchConfig
from lsmdb.bench.sweep import (
    expand_grid,
    knob_target,
    parse_size,
    parse_sweep,
    run_configs,
)
from lsmdb.errors import InvalidArgumentError

TINY = {"memtable_bytes": 32 * 1024, "compaction.target_file_bytes": 16 * 1024}


def _base(**kw) -> BenchConfig:
    kw.setdefault("num", 400)
    kw.setdefault("benchmarks", ["fillrandom", "readrandom", "readmissing"])
    kw.setdefault("option_overrides", dict(TINY))
    return BenchConfig(**kw)


@pytest.mark.parametrize("text,value", [("4096", 4096), ("64k", 65536), ("4M", 4 << 20),
                                        ("4MiB", 4 << 20), ("1.5G", 3 << 29), ("2kb", 2048)])
def test_parse_size(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["", "4X", "-1", "1.3", "MiB"])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError):
        parse_size(text)


def test_parse_sweep_types_and_knobs():
    sweep = parse_sweep(["size-ratio=2,4,8", "style=leveled,tiered",
                         "memtable_bytes=64k,1M", "compaction.dynamic_level_bytes=true,false",
                         "bloom_bits=5.5,10"])
    assert sweep == [("size_ratio", [2, 4, 8]), ("style", ["leveled", "tiered"]),
                     ("memtable_bytes", [65536, 1 << 20]),
                     ("compaction.dynamic_level_bytes", [True, False]),
                     ("bloom_bits", [5.5, 10])]
    assert knob_target("size_ratio") == ("option", "compaction.size_ratio")
    assert knob_target("value-size") == ("config", "value_size")
    assert knob_target("bloom.allocation") == ("option", "bloom.allocation")


@pytest.mark.parametrize("items,needle", [
    (["size_ratio"], "KNOB=V1"),
    (["size_ratio="], "KNOB=V1"),
    (["colour=red,blue"], "unknown knob 'colour'"),
    (["size_ratio=2", "size-ratio=4"], "given twice"),
    (["size_ratio=,"], "no values"),
])
def test_parse_sweep_errors(items, needle):
    with pytest.raises(InvalidArgumentError, match=needle):
        parse_sweep(items)


def test_grid_is_the_cartesian_product_with_labels(tmp_path):
    base = _base(db=str(tmp_path))
    configs = expand_grid(base, parse_sweep(["size_ratio=2,4,8", "bloom_bits=5,10",
                                             "num=300"]))
    assert len(configs) == 6
    assert configs[0].label == "size_ratio=2 bloom_bits=5 num=300"
    assert configs[-1].params == {"size_ratio": 8, "bloom_bits": 10, "num": 300}
    assert configs[-1].option_overrides["compaction.size_ratio"] == 8
    assert configs[-1].option_overrides["memtable_bytes"] == 32 * 1024  # base kept
    assert configs[-1].options().bloom.bits_per_key == 10.0
    assert all(c.num == 300 for c in configs)
    assert len({c.db for c in configs}) == 6
    assert all(c.db.startswith(str(tmp_path)) for c in configs)
    assert expand_grid(base, []) == [base]


def test_grid_point_errors_name_the_point():
    with pytest.raises(InvalidArgumentError, match="size_ratio=1.*compaction.size_ratio"):
        expand_grid(_base(), parse_sweep(["size_ratio=4,1"]))


def _check_one_result_per_config(configs, results):
    assert len(results) == len(configs)
    assert [r["label"] for r in results] == [c.label for c in configs]
    for cfg, r in zip(configs, results, strict=True):
        assert "error" not in r, r.get("error")
        assert r["params"] == cfg.params
        assert r["summary"]["verified"] is True
        assert r["options"]["compaction"]["size_ratio"] == cfg.params["size_ratio"]
        assert [row["name"] for row in r["results"]] == cfg.benchmarks


def test_process_pool_gives_one_result_per_configuration():
    configs = expand_grid(_base(), parse_sweep(["size_ratio=2,4,8"]))
    seen = []
    results = run_configs(configs, jobs=2, on_done=lambda i, r: seen.append(i))
    _check_one_result_per_config(configs, results)
    assert sorted(seen) == [0, 1, 2]


def test_a_failing_configuration_does_not_sink_the_sweep(tmp_path):
    busy = tmp_path / "run-001"
    busy.mkdir(parents=True)
    (busy / "x").write_text("occupied")
    configs = expand_grid(_base(db=str(tmp_path)), parse_sweep(["size_ratio=2,4"]))
    results = run_configs(configs, jobs=2)
    assert "error" not in results[0]
    assert "not empty" in results[1]["error"] and results[1]["label"] == "size_ratio=4"


@pytest.mark.skipif(importlib.util.find_spec("distributed") is None,
                    reason="needs dask.distributed")
def test_dask_cluster_gives_one_result_per_configuration():
    from dask.distributed import LocalCluster

    configs = expand_grid(_base(), parse_sweep(["size_ratio=3,6"]))
    with LocalCluster(processes=True, n_workers=2, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        results = run_configs(configs, executor="dask", scheduler=cluster.scheduler_address)
    _check_one_result_per_config(configs, results)


@pytest.mark.skipif(importlib.util.find_spec("distributed") is None,
                    reason="needs dask.distributed")
def test_unreachable_scheduler_is_a_one_line_error():
    with pytest.raises(InvalidArgumentError, match="--scheduler: cannot reach"):
        run_configs([_base()], executor="dask", scheduler="tcp://127.0.0.1:9",
                    connect_timeout=1.0)


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="needs matplotlib")
def test_plot_writes_a_png(tmp_path):
    from lsmdb.bench.plot import plot_runs
    from lsmdb.bench.runner import run_benchmark

    runs = [run_benchmark(c) for c in expand_grid(_base(), parse_sweep(["size_ratio=2,8"]))]
    runs.append({"label": "failed", "params": {}, "error": "boom"})
    path = tmp_path / "out.png"
    plot_runs(runs, str(path))
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_joined_knobs_vary_together_and_multiply_with_the_rest():
    sweep = parse_sweep(["engine+style+compaction.dynamic_level_bytes="
                         "lsmdb:leveled:true,rocksdb:tiered:false", "size_ratio=2,4"])
    assert sweep[0] == ("engine+style+compaction.dynamic_level_bytes",
                        [("lsmdb", "leveled", True), ("rocksdb", "tiered", False)])
    configs = expand_grid(_base(), sweep)
    assert [(c.engine, c.options().compaction.style, c.options().compaction.dynamic_level_bytes,
             c.options().compaction.size_ratio) for c in configs] == [
        ("lsmdb", "leveled", True, 2), ("lsmdb", "leveled", True, 4),
        ("rocksdb", "tiered", False, 2), ("rocksdb", "tiered", False, 4)]
    assert configs[2].label == ("engine=rocksdb style=tiered "
                                "compaction.dynamic_level_bytes=False size_ratio=2")
    assert configs[2].params["engine"] == "rocksdb"


@pytest.mark.parametrize("items, needle", [
    (["engine+style=lsmdb:leveled,rocksdb"], r"1 value\(s\) for 2 knobs"),
    (["engine+engine=lsmdb:lsmdb"], "given twice"),
    (["engine+=lsmdb:x"], "empty knob name"),
    (["engine+colour=lsmdb:red"], "unknown knob"),
])
def test_joined_knob_errors(items, needle):
    with pytest.raises(InvalidArgumentError, match=needle):
        parse_sweep(items)
