"""Run one benchmark configuration: workloads in db_bench order on one engine, then stats.

Workloads (RocksDB ``db_bench`` names; keys are ``--key-size``-byte decimal numbers ``2*i``
for i < ``--num``, the odd numbers in between are the keys that are never written):

=================  ===================================================================
fillseq            fresh DB; put the keys in ascending order
fillrandom         fresh DB; put the keys in a seeded random order
fillsync           fresh DB; ``sync=True`` puts of ``sync_num`` random keys
overwrite          put every key again (random order), values of the next version
readrandom         ``reads`` gets of random keys (all found while the keys are live)
readmissing        ``reads`` gets of never-written keys (none found)
readseq            one forward scan of the whole DB
seekrandom         ``reads`` seeks to random keys, each followed by ``seek_nexts`` nexts
deleterandom       delete every key (random order)
readwhilewriting   ``threads`` reader threads doing readrandom while one writer thread
                   re-puts random keys until the readers finish (reads are reported)
mixed              fresh DB; the :class:`~lsmdb.bench.workload.WorkloadSpec` (YCSB-A by
                   default: 50% zipfian updates, 50% zipfian reads): a timed ``load``
                   row for the preload, then the spec's operation stream
=================  ===================================================================

Fill workloads start a fresh DB, as db_bench does, so the statistics gathered at the end
cover the DB since the last fill. A read workload on a DB that holds no keys loads them first
(batched, untimed; the row says ``prefilled``). Every read checks what it got: found/missing
counts exactly, values of a sample of keys byte for byte, scan and seek results; the row's
``verified`` is False and ``errors`` says why otherwise.

Per row: ops, seconds, ops/s, µs/op, p50/p99 latency of every 8th operation (sampling keeps
the clock calls off most operations), MB/s of keys and values moved, and for reads the read
amplification measured by the engine's counters (tables probed and blocks read per lookup).

The pieces: :mod:`~lsmdb.bench.config` (what to run), :mod:`~lsmdb.bench.targets` (the
engines), :mod:`~lsmdb.bench.run_state` (keys, values, the DB under test),
:mod:`~lsmdb.bench.write_phases`, :mod:`~lsmdb.bench.read_phases` and
:mod:`~lsmdb.bench.mixed_phase` (the workloads), :mod:`~lsmdb.bench.results` (rows and
summary); this module runs them in order.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import Any

from lsmdb.bench.config import BenchConfig
from lsmdb.bench.mixed_phase import MixedPhase
from lsmdb.bench.read_phases import ReadPhases
from lsmdb.bench.results import read_io, summarize
from lsmdb.bench.write_phases import WritePhases

__all__ = ["Runner", "run_benchmark", "run_config_dict"]


class Runner(WritePhases, ReadPhases, MixedPhase):
    """Runs the workloads of one :class:`~lsmdb.bench.config.BenchConfig` (each a phase
    method of the same name) and gathers the results."""

    def run(self) -> dict[str, Any]:
        """Run every workload of the config; returns the run's result dict (see report)."""
        t_start = time.perf_counter()
        self._prepare_root()
        try:
            for name in self.cfg.benchmarks:
                getattr(self, name)()
            final: dict[str, Any] = {}
            if self.target is not None:
                t0 = time.perf_counter()
                self.target.flush()
                final = self.target.final_stats()
                final["flush_seconds"] = time.perf_counter() - t0
                io_end = read_io()
                if "write_bytes" in io_end and "write_bytes" in self.io_at_create:
                    written = io_end["write_bytes"] - self.io_at_create["write_bytes"]
                    final["io_write_bytes"] = written
                    final["io_write_amp"] = written / self.user_bytes if self.user_bytes else None
                final["bench_user_bytes"] = self.user_bytes
                engine_version = self.target.version()
                settings = self.target.settings()
            else:
                engine_version, settings = "", {}
        finally:
            self.close_db()
            if self._own_root:
                shutil.rmtree(self.root, ignore_errors=True)
        return {
            "label": self.cfg.label or self.cfg.engine,
            "engine": self.cfg.engine,
            "engine_version": engine_version,
            "params": dict(self.cfg.params),
            "config": self.cfg.to_dict(),
            "options": self.options.to_dict(),
            "engine_settings": settings,
            "results": [r.to_dict() for r in self.results],
            "stats": final,
            "summary": summarize(self.results, final),
            "wall_seconds": time.perf_counter() - t_start,
        }


def _tqdm_factory(enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # progress is optional: the extra "bench" installs tqdm
        return None

    def make(name: str, total: int):
        return tqdm(total=total or None, desc=f"{name:>16}", unit="op", unit_scale=True,
                    leave=False, file=sys.stderr, dynamic_ncols=True)

    return make


def run_benchmark(cfg: BenchConfig) -> dict[str, Any]:
    """Run ``cfg`` in this process; progress on stderr if ``cfg.progress`` and it is a TTY."""
    show = cfg.progress and sys.stderr.isatty()
    return Runner(cfg, progress=_tqdm_factory(show)).run()


def run_config_dict(data: dict[str, Any]) -> dict[str, Any]:
    """Worker entry point for process pools and Dask: a config dict in, a result dict out."""
    return run_benchmark(BenchConfig.from_dict(data))
