"""One benchmark run's configuration: the workload names, the bench's option defaults, the
``--policy`` loader and :class:`BenchConfig` (flags, checks, JSON form for worker processes)."""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from lsmdb.bench.limits import INT_BOUNDS
from lsmdb.bench.workload import PRESETS, WorkloadSpec
from lsmdb.cliargs import out_of_bounds
from lsmdb.errors import InvalidArgumentError
from lsmdb.options import MiB, Options

__all__ = ["WORKLOADS", "DEFAULT_BENCHMARKS", "BENCH_OPTION_DEFAULTS", "BenchConfig",
           "bench_options", "load_policy"]

WORKLOADS = ("fillseq", "fillrandom", "fillsync", "overwrite", "readrandom", "readmissing",
             "readseq", "seekrandom", "deleterandom", "readwhilewriting", "mixed")
DEFAULT_BENCHMARKS = ("fillrandom", "overwrite", "readrandom", "readmissing", "readseq",
                      "seekrandom")

# The bench scales the tree to its data: with the library defaults (64 MiB memtables) a
# 200k-key run would never leave the memtable and show no LSM at all. Flags and --set win.
BENCH_OPTION_DEFAULTS: dict[str, Any] = {
    "memtable_bytes": 2 * MiB,
    "compaction.base_level_bytes": 8 * MiB,
    "compaction.target_file_bytes": 2 * MiB,
}


def bench_options(overrides: dict[str, Any] | None = None) -> Options:
    """The bench's base options (:data:`BENCH_OPTION_DEFAULTS`) with ``overrides`` applied."""
    changes = dict(BENCH_OPTION_DEFAULTS)
    changes.update(overrides or {})
    return Options().override(changes)


def load_policy(spec: str) -> Any:
    """A compaction policy object from ``"MODULE:CLASS"`` (an importable module, e.g.
    ``mypkg.policies:Mine``) or ``"PATH.py:CLASS"`` (a Python file, e.g.
    ``examples/custom_policy.py:DensestLevelFirst``): the class called with no arguments."""
    import importlib
    import importlib.util

    where, sep, name = spec.rpartition(":")
    if not sep or not where or not name.isidentifier():
        raise InvalidArgumentError(f"--policy: expected MODULE:CLASS or FILE.py:CLASS, "
                                   f"got {spec!r}")
    try:
        if where.endswith(".py") or os.sep in where:
            path = os.path.abspath(where)
            if not os.path.isfile(path):
                raise InvalidArgumentError(f"--policy: no such file: {where}")
            mod_name = "_lsmdb_bench_policy_" + os.path.splitext(os.path.basename(path))[0]
            module = sys.modules.get(mod_name)
            if module is None or getattr(module, "__file__", None) != path:
                loader_spec = importlib.util.spec_from_file_location(mod_name, path)
                if loader_spec is None or loader_spec.loader is None:
                    raise InvalidArgumentError(f"--policy: cannot import {where}")
                module = importlib.util.module_from_spec(loader_spec)
                # Registered before running it: dataclasses and pickling look modules up.
                sys.modules[mod_name] = module
                loader_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
    except InvalidArgumentError:
        raise
    except Exception as exc:  # an import error of the user's module, reported as the flag's
        raise InvalidArgumentError(f"--policy: importing {where}: "
                                   f"{type(exc).__name__}: {exc}") from None
    cls = getattr(module, name, None)
    if cls is None:
        raise InvalidArgumentError(f"--policy: {where} has no attribute {name!r}")
    try:
        policy = cls()
    except Exception as exc:
        raise InvalidArgumentError(f"--policy: {name}() failed: "
                                   f"{type(exc).__name__}: {exc}") from None
    if not callable(getattr(policy, "pick", None)):
        raise InvalidArgumentError(f"--policy: {name} objects have no pick(view) method "
                                   "(the CompactionPolicy protocol)")
    return policy


@dataclass
class BenchConfig:
    """Everything one run needs; JSON-ready through :meth:`to_dict` (for worker processes)."""

    num: int = 200_000
    reads: int | None = None  # default: num
    key_size: int = 16
    value_size: int = 100
    batch_size: int = 1
    seek_nexts: int = 10
    threads: int = 1
    sync_num: int | None = None  # default: num // 100, 10 to 1000
    compression_ratio: float = 0.5
    benchmarks: list[str] = field(default_factory=lambda: list(DEFAULT_BENCHMARKS))
    seed: int = 301
    db: str | None = None  # None: a temporary directory, removed after the run
    engine: str = "lsmdb"
    option_overrides: dict[str, Any] = field(default_factory=dict)
    workload: dict[str, Any] | None = None  # a WorkloadSpec dict for "mixed"
    preset: str = "ycsb-a"  # the mixed workload when ``workload`` is None
    mix: list[list[Any]] = field(default_factory=list)  # [field path, value] edits of it
    label: str = ""
    progress: bool = False
    params: dict[str, Any] = field(default_factory=dict)  # the sweep point, for reports
    policy: str | None = None  # "MODULE:CLASS" or "FILE.py:CLASS": compaction.policy
    # lsmdb only: flushes and compactions run inside the writing call (deterministic shapes:
    # two runs that differ only in, e.g., filter allocation build the same tree).
    inline: bool = False

    @property
    def n_reads(self) -> int:
        return self.num if self.reads is None else self.reads

    @property
    def n_sync(self) -> int:
        if self.sync_num is not None:
            return self.sync_num
        return max(10, min(1000, self.num // 100))

    def options(self) -> Options:
        options = bench_options(self.option_overrides)
        if self.policy:
            options = options.override({"compaction.policy": load_policy(self.policy)})
        return options

    def spec(self) -> WorkloadSpec:
        """The mixed workload: the ``workload`` spec as given, or the preset sized by
        num/reads/key_size/value_size/seed; then the ``mix`` edits."""
        if self.workload is not None:
            spec = WorkloadSpec.from_dict(self.workload)
        else:
            if self.preset not in PRESETS:
                raise InvalidArgumentError(f"--preset: unknown preset {self.preset!r}; "
                                           "choose from " + ", ".join(PRESETS))
            spec = dataclasses.replace(PRESETS[self.preset], name="mixed",
                                       operations=self.n_reads, preload=self.num,
                                       key_size=self.key_size, value_size=self.value_size,
                                       seed=self.seed)
        if self.mix:
            try:
                spec = spec.with_assignments([(path, value) for path, value in self.mix])
            except InvalidArgumentError as exc:
                raise InvalidArgumentError(f"--mix: {exc}") from None
        return spec

    def validate(self) -> None:
        def bad(flag: str, reason: str) -> InvalidArgumentError:
            return InvalidArgumentError(f"{flag}: {reason}")

        for dest, (lo, hi) in INT_BOUNDS.items():
            value = getattr(self, dest, None)
            problem = None if value is None else out_of_bounds(value, lo, hi)
            if problem is not None:
                raise bad("--" + dest.replace("_", "-"), problem)
        options = self.options()  # option errors surface before any work
        problem = out_of_bounds(self.value_size, 0, options.max_value_bytes)
        if problem is not None:
            raise bad("--value-size", f"{problem} (the max_value_bytes option)")
        if self.key_size > options.max_key_bytes:
            problem = out_of_bounds(self.key_size, 1, options.max_key_bytes)
            raise bad("--key-size", f"{problem} (the max_key_bytes option: the longest key "
                                    "lsmdb accepts)")
        digits = len(str(2 * self.num + 1))
        if self.key_size < digits:
            raise bad("--key-size", f"{self.key_size} bytes cannot hold {digits}-digit keys "
                                    f"for --num {self.num}; use at least {digits}")
        if not 0.0 < self.compression_ratio <= 1.0:
            raise bad("--compression-ratio", f"must be in (0, 1], got {self.compression_ratio}")
        if not self.benchmarks:
            raise bad("--benchmarks", "names no workload")
        unknown = [b for b in self.benchmarks if b not in WORKLOADS]
        if unknown:
            raise bad("--benchmarks", f"unknown workload {unknown[0]!r}; choose from "
                                      + ", ".join(WORKLOADS))
        if self.engine not in ("lsmdb", "rocksdb"):
            raise bad("--engine", f"must be lsmdb or rocksdb, got {self.engine!r}")
        if self.policy and self.engine != "lsmdb":
            raise bad("--policy", "a Python compaction policy runs on lsmdb only")
        if self.inline and self.engine != "lsmdb":
            raise bad("--inline", "inline (deterministic) background work is lsmdb's only")
        if self.inline and "readwhilewriting" in self.benchmarks:
            raise bad("--inline", "readwhilewriting needs background compaction")
        if "mixed" in self.benchmarks:
            self.spec()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchConfig:
        return cls(**data)
