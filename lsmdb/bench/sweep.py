"""Parameter sweeps: a grid of configurations run in parallel processes or on Dask.

``--sweep size_ratio=2,4,8 --sweep style=leveled,tiered`` is the 6-point grid of every
combination (the first knob varies slowest). A knob is a bench flag name (``size_ratio``,
``size-ratio``, ``bloom_bits``, ``num``, ``engine``...) or a dotted option path
(``compaction.max_space_amp``, ``bloom.allocation``). Knobs joined by ``+`` vary together
(``--sweep engine+style=lsmdb:leveled,rocksdb:leveled``: two points, not four), which puts
lsmdb shapes and their RocksDB counterparts into one sweep. Each point runs in its own process and
its own database directory, so kernel I/O counters and caches are per configuration.

``--executor process`` (default) uses a ``concurrent.futures.ProcessPoolExecutor`` with
``--jobs`` workers (spawned, not forked: the parent may hold threads). ``--executor dask``
submits the points to a Dask cluster: ``--scheduler tcp://host:8786`` for an existing one
(its workers need lsmdb installed), or without ``--scheduler`` a ``LocalCluster`` of
``--jobs`` single-threaded worker processes. Run several points on one machine only when it
has the cores and disk bandwidth for them: parallel points compete for both.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

from lsmdb.bench.config import BenchConfig
from lsmdb.bench.runner import run_config_dict
from lsmdb.errors import InvalidArgumentError

__all__ = ["OPTION_KNOBS", "CONFIG_KNOBS", "parse_size", "parse_knob_value", "knob_target",
           "parse_sweep", "expand_grid", "run_configs"]

# Bench flag (argparse dest) -> dotted Options path.
OPTION_KNOBS: dict[str, str] = {
    "style": "compaction.style",
    "size_ratio": "compaction.size_ratio",
    "l0_trigger": "compaction.l0_trigger",
    "memtable_bytes": "memtable_bytes",
    "target_file_bytes": "compaction.target_file_bytes",
    "base_level_bytes": "compaction.base_level_bytes",
    "max_space_amp": "compaction.max_space_amp",
    "file_pick": "compaction.file_pick",
    "bloom_bits": "bloom.bits_per_key",
    "bloom_allocation": "bloom.allocation",
    "bloom_format": "bloom.format",
    "bloom_budget": "bloom.memory_budget_bytes",
    "compression": "compression.kind",
    "block_bytes": "block_bytes",
    "cache_bytes": "block_cache_bytes",
    "wal_sync": "wal_sync",
}
# Bench flags that are BenchConfig fields rather than options.
CONFIG_KNOBS = ("num", "reads", "key_size", "value_size", "batch_size", "seek_nexts", "threads",
                "engine", "seed", "inline")
_SIZE_KNOBS = {"memtable_bytes", "target_file_bytes", "base_level_bytes", "bloom_budget",
               "block_bytes", "cache_bytes"}
_SIZE_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)(i?b?)", re.I)
_SIZE_MULT = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """Bytes from ``"4096"``, ``"64k"``, ``"4M"``, ``"4MiB"``, ``"1.5G"`` (binary units)."""
    m = _SIZE_RE.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"expected a size like 4096, 64k, 4MiB; got {text!r}")
    value = float(m.group(1)) * _SIZE_MULT[m.group(2).lower()]
    if value != int(value):
        raise ValueError(f"{text!r} is not a whole number of bytes")
    return int(value)


def parse_knob_value(knob: str, text: str) -> Any:
    """A sweep value: sizes for byte knobs, else JSON (numbers, true/false), else the text."""
    if knob in _SIZE_KNOBS or knob.endswith("_bytes"):
        try:
            return parse_size(text)
        except ValueError:
            pass
    try:
        return json.loads(text)
    except ValueError:
        return text


def knob_target(name: str) -> tuple[str, str]:
    """("option", dotted path) or ("config", field) for a sweep knob name."""
    key = name.strip().replace("-", "_").lstrip("_")
    if key in OPTION_KNOBS:
        return "option", OPTION_KNOBS[key]
    if key in CONFIG_KNOBS:
        return "config", key
    if "." in name:
        return "option", name.strip()
    raise InvalidArgumentError(
        f"--sweep: unknown knob {name!r}; use a bench flag name ("
        + ", ".join(sorted([*OPTION_KNOBS, *CONFIG_KNOBS])) + ") or a dotted option path")


def parse_sweep(items: Sequence[str]) -> list[tuple[str, list[Any]]]:
    """``["size_ratio=2,4,8"]`` -> ``[("size_ratio", [2, 4, 8])]`` (knob names kept as typed,
    minus dashes).

    Knobs joined by ``+`` vary together instead of as a grid: ``engine+style=lsmdb:tiered,
    rocksdb:tiered`` gives the two points (lsmdb, tiered) and (rocksdb, tiered), with the
    values of one point separated by ``:``. The entry is ``("engine+style", [("lsmdb",
    "tiered"), ("rocksdb", "tiered")])``; it still multiplies with the other ``--sweep``s.
    """
    out: list[tuple[str, list[Any]]] = []
    seen: set[str] = set()
    for item in items:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not name or not raw.strip():
            raise InvalidArgumentError(f"--sweep: expected KNOB=V1,V2,..., got {item!r}")
        parts = [n.strip() for n in name.split("+")]
        keys = []
        for part in parts:
            if not part:
                raise InvalidArgumentError(f"--sweep: empty knob name in {name!r}")
            knob_target(part)
            key = part.replace("-", "_")
            if key in seen:
                raise InvalidArgumentError(f"--sweep: knob {part!r} given twice")
            seen.add(key)
            keys.append(key)
        values: list[Any] = []
        for v in raw.split(","):
            if not v.strip():
                continue
            if len(keys) == 1:
                values.append(parse_knob_value(keys[0], v.strip()))
                continue
            fields = v.split(":")
            if len(fields) != len(keys):
                raise InvalidArgumentError(
                    f"--sweep: {name}: point {v.strip()!r} has {len(fields)} value(s) for "
                    f"{len(keys)} knobs; write one value per knob, separated by ':'")
            values.append(tuple(parse_knob_value(k, f.strip())
                                for k, f in zip(keys, fields, strict=True)))
        if not values:
            raise InvalidArgumentError(f"--sweep: no values for {name!r}")
        out.append(("+".join(keys), values))
    return out


def _flatten_point(names: Sequence[str], combo: Sequence[Any]) -> list[tuple[str, Any]]:
    """One grid point as (knob, value) pairs, joined knobs split apart."""
    pairs: list[tuple[str, Any]] = []
    for name, value in zip(names, combo, strict=True):
        if "+" in name:
            pairs.extend(zip(name.split("+"), value, strict=True))
        else:
            pairs.append((name, value))
    return pairs


def _label_value(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1 << 20 \
            and value % (1 << 20) == 0:
        return f"{value >> 20}MiB"
    return str(value)


def expand_grid(base: BenchConfig, sweep: Sequence[tuple[str, list[Any]]]) -> list[BenchConfig]:
    """Every combination of the sweep's values applied to ``base``; each config validated
    (errors name the knob)."""
    if not sweep:
        base.validate()
        return [base]
    configs = []
    names = [name for name, _ in sweep]
    for i, combo in enumerate(itertools.product(*(values for _, values in sweep))):
        overrides = dict(base.option_overrides)
        fields: dict[str, Any] = {}
        pairs = _flatten_point(names, combo)
        for name, value in pairs:
            kind, target = knob_target(name)
            if kind == "option":
                overrides[target] = value
            else:
                fields[target] = value
        label = " ".join(f"{n}={_label_value(v)}" for n, v in pairs)
        db = None if base.db is None else os.path.join(base.db, f"run-{i:03d}")
        cfg = dataclasses.replace(base, option_overrides=overrides, label=label, db=db,
                                  params={**base.params, **dict(pairs)}, **fields)
        try:
            cfg.validate()
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(f"--sweep point {label}: {exc}") from None
        configs.append(cfg)
    return configs


def _failure(cfg: BenchConfig, exc: BaseException) -> dict[str, Any]:
    return {"label": cfg.label, "engine": cfg.engine, "params": dict(cfg.params),
            "config": cfg.to_dict(), "error": f"{type(exc).__name__}: {exc}"}


def run_configs(configs: Sequence[BenchConfig], *, jobs: int = 1, executor: str = "process",
                scheduler: str | None = None,
                on_done: Callable[[int, dict[str, Any]], None] | None = None,
                connect_timeout: float = 10.0) -> list[dict[str, Any]]:
    """Run every config, each in its own process; results in ``configs`` order. A config
    that raises gives ``{"label", "params", "error"}`` instead of failing the sweep.
    ``on_done(index, result)`` is called as each finishes (for progress)."""
    payloads = []
    for cfg in configs:
        d = cfg.to_dict()
        d["progress"] = False
        payloads.append(d)
    if executor == "dask":
        return _run_dask(configs, payloads, jobs, scheduler, on_done, connect_timeout)
    if executor != "process":
        raise InvalidArgumentError(f"--executor: must be process or dask, got {executor!r}")
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    results: list[dict[str, Any] | None] = [None] * len(configs)
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=ctx)
    try:
        futures = {pool.submit(run_config_dict, p): i for i, p in enumerate(payloads)}
        for fut in as_completed(futures):
            i = futures[fut]
            exc = fut.exception()
            results[i] = _failure(configs[i], exc) if exc is not None else fut.result()
            if on_done is not None:
                on_done(i, results[i])
    except BaseException:
        # Ctrl-C or a broken pool: do not wait for the points not yet started.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return [r for r in results if r is not None]


def _run_dask(configs, payloads, jobs, scheduler, on_done,
              connect_timeout) -> list[dict[str, Any]]:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise InvalidArgumentError("--executor dask needs dask.distributed "
                                   "(pip install 'dask[distributed]')") from None
    import uuid

    cluster = None
    try:
        if scheduler is None:
            cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1,
                                   processes=True, dashboard_address=None,
                                   host="127.0.0.1")
            client = Client(cluster)
        else:
            try:
                client = Client(scheduler, timeout=f"{connect_timeout}s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise InvalidArgumentError(
                    f"--scheduler: cannot reach {scheduler}: {exc}".replace("\n", " ")) from None
        token = uuid.uuid4().hex[:8]
        try:
            futures = [client.submit(run_config_dict, p, key=f"lsmdb-bench-{token}-{i}",
                                     pure=False) for i, p in enumerate(payloads)]
            index = {f.key: i for i, f in enumerate(futures)}
            results: list[dict[str, Any] | None] = [None] * len(configs)
            for fut in as_completed(futures):
                i = index[fut.key]
                if fut.status == "error":
                    results[i] = _failure(configs[i], fut.exception())
                else:
                    results[i] = fut.result()
                if on_done is not None:
                    on_done(i, results[i])
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()
    return [r for r in results if r is not None]


def progress_callback(total: int, enabled: bool):
    """(on_done callback, close function) showing a run counter on stderr with tqdm."""
    if not enabled or not sys.stderr.isatty():
        return None, lambda: None
    try:
        from tqdm import tqdm
    except ImportError:
        return None, lambda: None
    bar = tqdm(total=total, desc="configurations", unit="run", file=sys.stderr, leave=False)

    def done(_i: int, result: dict[str, Any]) -> None:
        bar.set_postfix_str(str(result.get("label", ""))[:40])
        bar.update(1)

    return done, bar.close
