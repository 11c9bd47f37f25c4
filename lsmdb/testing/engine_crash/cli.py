"""``python -m lsmdb.testing.engine_crash``: the parent loop, or with ``--child`` one child."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile

from lsmdb.testing.engine_crash.checker import EngineCrashFailure
from lsmdb.testing.engine_crash.loop import (
    EngineCrashConfig,
    EngineCrashReport,
    run_engine_crash_loop,
)
from lsmdb.testing.engine_crash.options import KILL_MODES
from lsmdb.testing.engine_crash.workload import _Child


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m lsmdb.testing.engine_crash",
        description="Kill -9 a bank-transfer workload on the storage engine, reopen, verify.")
    p.add_argument("--kills", type=int, default=None, help="trials to run (default 20)")
    p.add_argument("--seconds", type=float, default=None,
                   help="stop after this many seconds (parent); the child's run time (child)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dir", default=None, help="data directory (default: a new temp dir, "
                   "removed after a passing run)")
    p.add_argument("--policy", default="always", help="always | never | every:N")
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--accounts", type=int, default=20)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--kill-points", choices=KILL_MODES, default="mixed")
    p.add_argument("--power-loss", type=float, default=0.0,
                   help="odds per trial of a simulated power loss (FaultInjectionEnv)")
    p.add_argument("--vacuum", action="store_true",
                   help="the child also runs vacuum_table now and then")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--gen", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--power-loss-at", type=float, default=-1.0, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.child:
        if args.seconds is None:
            args.seconds = 30.0
        return _Child(args).run()
    kills = args.kills if args.kills is not None or args.seconds is not None else 20
    own_dir = args.dir is None
    path = args.dir or tempfile.mkdtemp(prefix="lsmdb-engine-crash-")
    config = EngineCrashConfig(dir=path, kills=kills, seconds=args.seconds, seed=args.seed,
                               policy=args.policy, threads=args.threads,
                               accounts=args.accounts, interval=args.interval,
                               kill_points=args.kill_points, power_loss=args.power_loss,
                               vacuum=args.vacuum)

    def progress(trial: int, report: EngineCrashReport) -> None:
        if not args.quiet and trial % 10 == 0:
            print(f"[{trial}] kills {report.kills}, recoveries {report.recoveries}, commits "
                  f"{report.commits_acked}, {report.seconds:.0f} s", flush=True)

    try:
        report = run_engine_crash_loop(config, progress)
    except EngineCrashFailure as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    print("OK")
    if own_dir:
        shutil.rmtree(path, ignore_errors=True)
    return 0
