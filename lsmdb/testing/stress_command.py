"""``lsmdb stress``: the command line of the stress driver and of the crash loop.

Above both: :mod:`lsmdb.testing.crashloop` runs :mod:`lsmdb.testing.stress` in a child
process, and this module parses the flags of either and starts one of them. The crash loop's
child is ``python -m lsmdb.testing.stress_command --child`` (see :func:`main`).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile

from lsmdb.cliargs import whole_number
from lsmdb.testing.crashloop import CrashLoopConfig, run_crash_loop
from lsmdb.testing.stress import StressConfig, StressFailure, run_stress

__all__ = ["configure_parser", "config_from_args", "run_command", "main"]


def _faults_arg(text: str) -> int:
    name, eq, value = text.partition("=")
    if name != "one_in" or not eq or not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected one_in=N (N >= 1), got {text!r}")
    return int(value)


_count = whole_number(1)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def configure_parser(p: argparse.ArgumentParser) -> None:
    """The flags of ``lsmdb stress`` (also parsed by the crash-loop child)."""
    d = StressConfig()
    p.add_argument("--dir", metavar="DIR", default=None,
                   help="work directory (the DB is DIR/db); default: a temporary one, "
                        "removed after a successful run")
    p.add_argument("--threads", type=_count, default=d.threads, help="worker threads (4)")
    p.add_argument("--ops", type=_count, default=None, metavar="N",
                   help="operations per thread (per cycle with --faults); default 2000, or "
                        "unlimited when --duration is given")
    p.add_argument("--duration", type=_seconds, default=None, metavar="SECONDS",
                   help="stop after this long (with --crash: start no trial after it)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    p.add_argument("--sync", choices=("always", "never"), default=d.wal_sync,
                   help="Options.wal_sync (default never; 1 write in 50 asks sync=True)")
    p.add_argument("--keys-per-thread", type=_count, default=d.keys_per_thread, metavar="N")
    p.add_argument("--inline", action="store_true",
                   help="run flushes and compactions inline (deterministic with --threads 1)")
    p.add_argument("--faults", type=_faults_arg, default=0, metavar="one_in=N",
                   help="inject EIO into each write/sync/rename/fsync_dir/open with odds 1/N "
                        "and cut the power once per cycle, then reopen and verify")
    p.add_argument("--cycles", type=_count, default=None, metavar="N",
                   help="power-cut cycles with --faults (default 10, or until --duration)")
    p.add_argument("--reopens", type=int, default=0, metavar="N",
                   help="close, reopen and verify N times during the run")
    g = p.add_argument_group("crash loop (--crash)")
    g.add_argument("--crash", action="store_true",
                   help="run the workload in a child process, kill it, reopen, verify, repeat")
    g.add_argument("--kills", type=_count, default=None, metavar="N",
                   help="trials (default 20, or until --duration)")
    g.add_argument("--kill-points", choices=("none", "random", "each"), default="none",
                   help="none: SIGKILL at random moments (blackbox); random: die at engine "
                        "kill points with small odds; each: target one kill point per trial")
    g.add_argument("--interval", type=_seconds, default=1.0, metavar="SECONDS",
                   help="blackbox: kill within this long after the DB is open (1)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--gen", type=int, default=0, help=argparse.SUPPRESS)


def config_from_args(args: argparse.Namespace) -> StressConfig:
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    ops = args.ops if args.ops is not None else (None if args.duration else 2000)
    return StressConfig(threads=args.threads, ops_per_thread=ops, duration=args.duration,
                        seed=seed, keys_per_thread=args.keys_per_thread, wal_sync=args.sync,
                        inline=args.inline, faults_one_in=args.faults, cycles=args.cycles,
                        reopens=args.reopens, gen=args.gen)


def run_command(args: argparse.Namespace, out) -> int:
    """``lsmdb stress``: 0 when every check passed, 2 (report on stderr) when one failed."""
    config = config_from_args(args)
    if args.child:
        return _run_child(args, config, out)
    work = args.dir or tempfile.mkdtemp(prefix="lsmdb-stress-")
    extra = ["--dir", "NEW_EMPTY_DIR"]
    try:
        if args.crash:
            kills = args.kills if args.kills is not None else (None if args.duration else 20)
            cl = CrashLoopConfig(dir=work, kills=kills, seed=config.seed,
                                 duration=args.duration, sync=config.wal_sync,
                                 threads=config.threads, keys_per_thread=config.keys_per_thread,
                                 interval=args.interval, kill_points=args.kill_points)
            out.write(f"crash loop in {work}: seed {config.seed}, {kills or 'unlimited'} "
                      f"trials, kill points {args.kill_points}, sync {config.wal_sync}\n")
            out.flush()

            def progress(trial: int, report) -> None:
                if trial % 10 == 0:
                    out.write(f"  {trial} trials, {report.acked_verified} acknowledged writes "
                              f"verified, {report.seconds:.0f} s\n")
                    out.flush()

            report = run_crash_loop(cl, progress)
        else:
            out.write(f"stress in {work}: seed {config.seed}\n")
            report = run_stress(os.path.join(work, "db"), config, repro_extra=extra)
    except AssertionError as exc:  # StressFailure, CrashLoopFailure
        sys.stderr.write(f"lsmdb: stress FAILED (directory kept: {work}):\n{exc}\n")
        return 2
    out.write(report.summary() + "\n")
    if not args.crash:
        out.write(f"op digest {report.op_digest}  state digest {report.state_digest}\n")
    if args.dir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _run_child(args: argparse.Namespace, config: StressConfig, out) -> int:
    """The crash loop's child: DIR/db, DIR/expected.state, DIR/expected.log."""
    work = args.dir

    def ready() -> None:
        out.write("ready\n")
        out.flush()

    try:
        report = run_stress(os.path.join(work, "db"), config,
                            log_path=os.path.join(work, "expected.log"),
                            state_path=os.path.join(work, "expected.state"), on_ready=ready)
    except StressFailure as exc:
        sys.stderr.write(f"VERIFICATION FAILED: {exc}\n")
        return 3
    out.write(f"done {report.summary()}\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m lsmdb.testing.stress_command [lsmdb stress flags]`` (the crash loop's
    child)."""
    p = argparse.ArgumentParser(prog="python -m lsmdb.testing.stress_command")
    configure_parser(p)
    return run_command(p.parse_args(argv), sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
