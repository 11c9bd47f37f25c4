"""``lsmdb bench``: db_bench-style workloads and compaction experiments (SPEC §9).

The package: :mod:`~lsmdb.bench.workload` (seeded K-V workload generator and its JSON spec),
:mod:`~lsmdb.bench.runner` (runs one configuration, :mod:`~lsmdb.bench.config`), :mod:`~lsmdb.bench.report` (tables,
JSON, CSV), :mod:`~lsmdb.bench.sweep` (grids over processes or Dask),
:mod:`~lsmdb.bench.plot` (PNG) and :mod:`~lsmdb.bench.rocks` (the same runs on RocksDB).

This module holds only the command line (:func:`configure_parser`, :func:`run_command`) and
imports nothing heavy, so ``lsmdb --help`` stays fast. See docs/bench.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, TextIO

from lsmdb.bench.limits import INT_BOUNDS
from lsmdb.cliargs import (
    EXIT_ERROR,
    bounds_text,
    out_of_bounds,
    require_file,
    require_writable,
    whole_number,
)

__all__ = ["configure_parser", "run_command"]

_EPILOG = """\
examples:
  lsmdb bench                                   # 200k keys, six workloads, < 1 minute
  lsmdb bench --num 1000000 --benchmarks fillrandom,readrandom --style tiered
  lsmdb bench --sweep size_ratio=2,4,8,16 --jobs 2 --json out.json --plot out.png
  lsmdb bench --engine rocksdb --style tiered --set compaction.max_space_amp=1.5
  lsmdb bench --benchmarks mixed --mix zero_result_lookups=0.5 --save-workload w.json
  lsmdb bench --workload w.json --csv out.csv
  lsmdb bench --policy examples/custom_policy.py:DensestLevelFirst
  lsmdb bench --engine storage --num 100000      # StorageEngine beside sqlite3
"""


def _size(text: str) -> int:
    from lsmdb.bench.sweep import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_count = whole_number(0, underscores=True)


def _bounded(dest: str):
    """The argparse type of an integer flag with the bounds of :data:`INT_BOUNDS`."""
    return whole_number(*INT_BOUNDS[dest], underscores=True)


def _range(dest: str) -> str:
    return bounds_text(*INT_BOUNDS[dest])


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def configure_parser(p: argparse.ArgumentParser) -> None:
    """Add the ``lsmdb bench`` arguments to ``p``."""
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = _EPILOG
    w = p.add_argument_group("workloads")
    w.add_argument("--benchmarks", metavar="A,B,...",
                   help="comma-separated workloads, run in order: fillseq, fillrandom, "
                        "fillsync, overwrite, readrandom, readmissing, readseq, seekrandom, "
                        "deleterandom, readwhilewriting, mixed (default: fillrandom,overwrite,"
                        "readrandom,readmissing,readseq,seekrandom)")
    w.add_argument("--num", type=_bounded("num"), default=200_000,
                   help=f"keys, {_range('num')} (default 200000)")
    w.add_argument("--reads", type=_bounded("reads"), default=None,
                   help="operations of read workloads and of mixed (default: --num)")
    w.add_argument("--key-size", type=_count, default=16,
                   help="key bytes, from the digits of the largest key (2*num) to the "
                        "max_key_bytes option (64 KiB) (default 16)")
    w.add_argument("--value-size", type=_count, default=100,
                   help="value bytes, up to the max_value_bytes option (64 MiB) (default 100)")
    w.add_argument("--batch-size", type=_bounded("batch_size"), default=None,
                   help="puts per write batch in fills and overwrite (default 1; rows per "
                        "transaction with --engine storage, default 1000)")
    w.add_argument("--seek-nexts", type=_bounded("seek_nexts"), default=10,
                   help="next() calls after each seek in seekrandom (default 10)")
    w.add_argument("--threads", type=_bounded("threads"), default=1,
                   help="reader threads of readwhilewriting (default 1)")
    w.add_argument("--sync-num", type=_bounded("sync_num"), default=None,
                   help="puts of fillsync (default num/100, 10 to 1000)")
    w.add_argument("--compression-ratio", type=_number, default=0.5,
                   help="how far values compress, as db_bench (default 0.5)")
    w.add_argument("--seed", type=_bounded("seed"), default=301,
                   help="random seed (default 301)")
    w.add_argument("--workload", metavar="FILE",
                   help="WorkloadSpec JSON for the mixed workload (implies --benchmarks mixed)")
    w.add_argument("--preset", default="ycsb-a", metavar="NAME",
                   help="mixed workload preset: ycsb-a (default), ycsb-b, ycsb-c, ycsb-e")
    w.add_argument("--mix", action="append", default=[], metavar="FIELD=VALUE",
                   help="set a WorkloadSpec field of the mixed workload, e.g. updates=0.2, "
                        "lookup_keys.kind=normal (repeatable)")
    w.add_argument("--save-workload", metavar="FILE",
                   help="write the mixed workload's spec to FILE and exit")

    o = p.add_argument_group("engine and options (flags override the bench defaults, "
                             "--set overrides flags)")
    o.add_argument("--engine", choices=("lsmdb", "rocksdb", "storage"), default="lsmdb",
                   help="storage: the relational StorageEngine beside sqlite3 (insert, "
                        "fetch, range, scan, update, delete, autocommit insert; uses --num, "
                        "--reads, --batch-size, --seed, --db, --json)")
    o.add_argument("--style", help="compaction style: leveled, tiered, lazy_leveling, fluid, "
                                   "fifo")
    o.add_argument("--size-ratio", type=_count, help="size ratio T between levels")
    o.add_argument("--l0-trigger", type=_count, help="L0 files that trigger a compaction")
    o.add_argument("--max-space-amp", type=_number, help="tiered: space amp that forces a "
                                                         "full merge")
    o.add_argument("--memtable-bytes", type=_size, help="memtable size (bench default 2MiB)")
    o.add_argument("--target-file-bytes", type=_size,
                   help="SSTable size target (bench default 2MiB)")
    o.add_argument("--base-level-bytes", type=_size, help="L1 size (bench default 8MiB)")
    o.add_argument("--bloom-bits", type=_number, help="bloom filter bits per key")
    o.add_argument("--bloom-allocation", help="uniform or monkey")
    o.add_argument("--bloom-format", help="blocked (one cache line per key) or standard")
    o.add_argument("--bloom-budget", type=_size, help="total bloom filter memory")
    o.add_argument("--compression", help="zstd or none")
    o.add_argument("--block-bytes", type=_size, help="data block size")
    o.add_argument("--cache-bytes", type=_size, help="block cache size")
    o.add_argument("--file-pick", help="min_overlap, round_robin, oldest, tombstone_density")
    o.add_argument("--wal-sync", help='"always", "never" or "every(N)"')
    o.add_argument("--policy", metavar="MODULE:CLASS",
                   help="a Python compaction policy: MODULE:CLASS (importable) or "
                        "FILE.py:CLASS, instantiated with no arguments and set as "
                        "compaction.policy, e.g. examples/custom_policy.py:DensestLevelFirst")
    o.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                   help="any option by dotted path, e.g. compaction.dynamic_level_bytes=false "
                        "(repeatable)")

    r = p.add_argument_group("runs and output")
    r.add_argument("--db", metavar="DIR",
                   help="empty directory for the databases (default: a temporary directory, "
                        "removed after)")
    r.add_argument("--sweep", action="append", default=[], metavar="KNOB=V1,V2",
                   help="run every value (repeat for a grid); KNOB is a flag name or a dotted "
                        "option path; knobs joined by + vary together, one point's values "
                        "joined by ':' (engine+style=lsmdb:tiered,rocksdb:tiered)")
    r.add_argument("--jobs", type=_bounded("jobs"), default=1,
                   help="configurations run at once (default 1)")
    r.add_argument("--executor", choices=("process", "dask"), default="process")
    r.add_argument("--scheduler", metavar="ADDRESS",
                   help="Dask scheduler (default with --executor dask: a local cluster)")
    r.add_argument("--inline", action="store_true",
                   help="lsmdb: run flushes and compactions inside the writing call, so runs "
                        "that differ only in, e.g., --bloom-allocation build the same tree")
    r.add_argument("--label", default="", help="name of the configuration in reports")
    r.add_argument("--json", metavar="FILE", help="write all results as JSON")
    r.add_argument("--csv", metavar="FILE", help="write one CSV line per workload and config")
    r.add_argument("--plot", metavar="FILE", help="write amplification/throughput PNG")
    r.add_argument("--quiet", action="store_true", help="no progress bar")


def _option_overrides(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, str]]:
    """(dotted path -> value, dotted path -> the flag that set it)."""
    from lsmdb.bench.sweep import OPTION_KNOBS, parse_size
    from lsmdb.errors import InvalidArgumentError
    from lsmdb.options import parse_assignment

    overrides: dict[str, Any] = {}
    flags: dict[str, str] = {}
    for dest, path in OPTION_KNOBS.items():
        value = getattr(args, dest, None)
        if value is not None:
            overrides[path] = value
            flags[path] = "--" + dest.replace("_", "-")
    for text in args.set:
        try:
            path, value = parse_assignment(text)
        except InvalidArgumentError:
            raise InvalidArgumentError(f"--set: expected PATH=VALUE, got {text!r}") from None
        if isinstance(value, str) and path.endswith("_bytes"):
            try:
                value = parse_size(value)
            except ValueError:
                pass
        overrides[path] = value
        flags[path] = f"--set {path}"
    return overrides, flags


def _explain_options_error(exc: Exception, flags: dict[str, str]) -> str:
    problems = getattr(exc, "problems", None)
    if not problems:
        return str(exc)
    parts = []
    for path, reason in problems:
        parts.append(f"{flags.get(path, path)}: {reason}")
    return "; ".join(parts)


def _mix_assignments(items: list[str]) -> list[list[Any]]:
    from lsmdb.errors import InvalidArgumentError
    from lsmdb.options import parse_assignment

    out = []
    for text in items:
        try:
            out.append(list(parse_assignment(text)))
        except InvalidArgumentError:
            raise InvalidArgumentError(f"--mix: expected FIELD=VALUE, got {text!r}") from None
    return out


def run_command(args: argparse.Namespace, out: TextIO) -> int:
    """``lsmdb bench``: returns the exit code (0 when every run ran and verified)."""
    from lsmdb.bench import report, sweep
    from lsmdb.bench.config import DEFAULT_BENCHMARKS, BenchConfig
    from lsmdb.bench.run_state import check_db_root
    from lsmdb.bench.runner import run_benchmark
    from lsmdb.bench.workload import PRESETS, WorkloadSpec
    from lsmdb.errors import InvalidArgumentError
    from lsmdb.options import InvalidOptionsError

    if args.engine == "storage":
        from lsmdb.bench.storage import run_command as run_storage

        return run_storage(args, out)
    if args.batch_size is None:
        args.batch_size = 1
    overrides, flags = _option_overrides(args)
    if args.benchmarks is not None:
        benchmarks = [b.strip() for b in args.benchmarks.split(",") if b.strip()]
    elif args.workload or args.save_workload:
        benchmarks = ["mixed"]
    else:
        benchmarks = list(DEFAULT_BENCHMARKS)
    if args.preset not in PRESETS:
        raise InvalidArgumentError(f"--preset: unknown preset {args.preset!r}; choose from "
                                   + ", ".join(PRESETS))
    workload = None
    if args.workload:
        try:
            workload = WorkloadSpec.load(require_file(args.workload)).to_dict()
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(f"--workload {args.workload}: {exc}") from None
    # Everything that can fail is checked before the run, not after it: a run can take hours.
    for flag in ("json", "csv", "plot", "save_workload"):
        if getattr(args, flag):
            require_writable(getattr(args, flag), "--" + flag.replace("_", "-"))
    if args.plot:
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:
            raise InvalidArgumentError("--plot needs matplotlib (pip install matplotlib)")
    if args.db is not None:
        check_db_root(args.db)
    problem = out_of_bounds(args.jobs, *INT_BOUNDS["jobs"])
    if problem is not None:
        raise InvalidArgumentError(f"--jobs: {problem}")
    cfg = BenchConfig(
        num=args.num, reads=args.reads, key_size=args.key_size, value_size=args.value_size,
        batch_size=args.batch_size, seek_nexts=args.seek_nexts, threads=args.threads,
        sync_num=args.sync_num, compression_ratio=args.compression_ratio,
        benchmarks=benchmarks, seed=args.seed, db=args.db, engine=args.engine,
        option_overrides=overrides, workload=workload, preset=args.preset,
        mix=_mix_assignments(args.mix), label=args.label, progress=not args.quiet,
        policy=args.policy, inline=args.inline)
    grid = sweep.parse_sweep(args.sweep)
    try:
        if grid:
            cfg.options()  # the sweep validates each point; flag errors first, named as flags
        else:
            cfg.validate()
        configs = sweep.expand_grid(cfg, grid)
    except InvalidOptionsError as exc:
        raise InvalidArgumentError(_explain_options_error(exc, flags)) from None
    if args.engine == "rocksdb" or any(c.engine == "rocksdb" for c in configs):
        from lsmdb.bench.rocks import rocks_options

        for c in configs:
            if c.engine == "rocksdb":
                rocks_options(c.options())  # refuses styles RocksDB has no equivalent of

    if args.save_workload:
        configs[0].spec().save(args.save_workload)
        print(f"wrote workload spec {configs[0].spec().name!r} to {args.save_workload}",
              file=out)
        return 0

    if args.db is not None and not os.path.isdir(args.db):
        os.mkdir(args.db)  # its parent exists (checked above); sweep points go in it
    machine = report.machine_facts()
    command = "lsmdb bench " + " ".join(sys.argv[2:]) if len(sys.argv) > 1 else "lsmdb bench"
    if len(configs) == 1:
        runs = [run_benchmark(configs[0])]
        print(report.format_run(runs[0]), file=out)
    else:
        bar_done, close = sweep.progress_callback(len(configs), not args.quiet)
        finished: dict[int, dict[str, Any]] = {}

        def done(i: int, result: dict[str, Any]) -> None:
            # A long sweep keeps what it has: the JSON holds every finished point, marked
            # incomplete, until the last one replaces it with the whole report.
            finished[i] = result
            if args.json and len(finished) < len(configs):
                partial = report.build_report([finished[k] for k in sorted(finished)],
                                              command=command, machine=machine)
                partial["incomplete"] = {"done": len(finished), "of": len(configs)}
                report.write_json(args.json, partial)
            if bar_done is not None:
                bar_done(i, result)

        try:
            runs = sweep.run_configs(configs, jobs=args.jobs, executor=args.executor,
                                     scheduler=args.scheduler, on_done=done)
        finally:
            close()
        print(report.format_sweep(runs), file=out)
    doc = report.build_report(runs, command=command, machine=machine)
    if args.json:
        report.write_json(args.json, doc)
    if args.csv:
        report.write_csv(args.csv, doc)
    if args.plot:
        from lsmdb.bench.plot import plot_runs

        plot_runs(runs, args.plot)
    return _exit_code(runs)


def _exit_code(runs: list[dict[str, Any]]) -> int:
    problems = []
    for run in runs:
        if "error" in run:
            problems.append(f"{run.get('label') or 'run'}: {run['error']}")
            continue
        for row in run.get("results", []):
            if not row.get("verified"):
                problems.append(f"{run.get('label')}/{row['name']}: "
                                + "; ".join(row.get("errors") or ["not verified"]))
    if not problems:
        return 0
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    print(f"lsmdb: bench: {problems[0]}{more}".replace("\n", " "), file=sys.stderr)
    return EXIT_ERROR
