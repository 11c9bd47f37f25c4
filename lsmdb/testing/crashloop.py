"""The crash loop: run the stress driver in a child process, kill it, verify, repeat.

RocksDB's ``db_crashtest.py`` for lsmdb. Each trial starts ``python -m
lsmdb.testing.stress_command --child`` on the same directory (it appends its expected-state log), then:

- **blackbox** (``kill_points="none"``): SIGKILLs it at a random moment (uniform in
  ``[0, interval]`` seconds after the DB is open);
- **whitebox, random** (``kill_points="random"``): the child kills itself at kill points
  (:mod:`lsmdb.testing.killpoints`) with small odds per visit;
- **whitebox, each** (``kill_points="each"``): each trial targets one kill point, in turn,
  dying at its n-th visit (the first time a point is targeted: its first visit), so every
  point is exercised; points never reached are reported.

After each death the parent reopens the directory, reads everything (forward and reverse
scans, a get of every key) and checks it against the log with
:func:`lsmdb.testing.oracle.verify_recovered`: after a process crash every acknowledged
write must be there (lsmdb hands each WAL record to the OS before acknowledging it, so
``wal_sync="never"`` loses nothing either), the one write per writer in flight may or may
not be, nothing else may differ. The verified state becomes the next trial's baseline.

A failure raises :class:`CrashLoopFailure` naming the trial, the seed, the command that
reruns the loop, and the directory (kept for inspection).
"""

from __future__ import annotations

import os
import random
import select
import shlex
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

import lsmdb
from lsmdb.errors import Error
from lsmdb.testing import killpoints
from lsmdb.testing.killpoints import KILL_POINTS, KillPointLog, read_log
from lsmdb.testing.oracle import (
    load_state,
    parse_log,
    read_db_state,
    save_state,
    verify_recovered,
)
from lsmdb.testing.presets import small_options
from lsmdb.testing.stress import writer_of

__all__ = ["CrashLoopConfig", "CrashLoopReport", "CrashLoopFailure", "run_crash_loop",
           "KILL_MODES"]

KILL_MODES = ("none", "random", "each")

# Rough visits of each point in a few seconds of the default workload: "each" mode draws the
# visit to die at from [1, hint]; "random" mode dies with odds 1/(20*hint) per visit.
_VISIT_HINTS = {"wal.append:before": 300, "wal.append:after": 300, "wal.sync:before": 4,
                "wal.sync:after": 4, "wal.segment:created": 3, "memtable.switch": 3,
                "current.install:after": 1, "options.write:after": 1}
_DEFAULT_HINT = 2


@dataclass
class CrashLoopConfig:
    dir: str
    kills: int | None = 20  # trials; None: until duration
    seed: int = 0
    duration: float | None = None  # seconds; stops after the trial running at that time
    sync: str = "never"
    threads: int = 4
    keys_per_thread: int = 300
    interval: float = 1.0  # blackbox: kill uniformly within this many seconds after open
    kill_points: str = "none"
    child_seconds: float = 6.0  # whitebox: a child not dead by then finishes its run
    points: tuple[str, ...] = tuple(KILL_POINTS)  # kill points targeted in "each" mode

    def command(self) -> str:
        argv = ["lsmdb", "stress", "--crash", "--seed", str(self.seed), "--sync", self.sync,
                "--threads", str(self.threads), "--kill-points", self.kill_points,
                "--interval", f"{self.interval:g}"]
        if self.kills is not None:
            argv += ["--kills", str(self.kills)]
        if self.duration is not None:
            argv += ["--duration", f"{self.duration:g}"]
        if self.keys_per_thread != 300:
            argv += ["--keys-per-thread", str(self.keys_per_thread)]
        return " ".join(shlex.quote(a) for a in argv) + " --dir NEW_EMPTY_DIR"


class CrashLoopFailure(AssertionError):
    """Recovery lost an acknowledged write, invented one, or a child found a wrong read."""


@dataclass
class CrashLoopReport:
    trials: int = 0
    sigkills: int = 0  # killed by the parent at a random moment
    kill_point_deaths: Counter = field(default_factory=Counter)
    clean_exits: int = 0  # the child finished its run before any kill
    killed_before_ready: int = 0  # died while opening (recovery, OPTIONS, CURRENT...)
    acked_verified: int = 0  # acknowledged writes whose presence was checked
    in_doubt: int = 0  # writes in flight at a kill: either outcome accepted
    keys_checked: int = 0
    seconds: float = 0.0
    kill_points: KillPointLog = field(default_factory=KillPointLog)

    def summary(self) -> str:
        lines = [
            f"trials {self.trials}: SIGKILL at random moments {self.sigkills}, died at kill "
            f"points {sum(self.kill_point_deaths.values())}, finished before a kill "
            f"{self.clean_exits} ({self.killed_before_ready} died while opening)",
            f"verified after each: {self.acked_verified} acknowledged writes, "
            f"{self.in_doubt} in flight at the kill (either outcome allowed), "
            f"{self.keys_checked} keys read back",
            f"elapsed {self.seconds:.1f} s",
        ]
        if self.kill_points.visits:
            hit = [n for n in KILL_POINTS if self.kill_point_deaths.get(n)]
            lines.append(f"kill points died at: {len(hit)}/{len(KILL_POINTS)}; visited: "
                         f"{len(KILL_POINTS) - len(self.kill_points.unvisited())}/"
                         f"{len(KILL_POINTS)}")
            for name in KILL_POINTS:
                lines.append(f"  {name:28s} deaths {self.kill_point_deaths.get(name, 0):4d}  "
                             f"visits >= {self.kill_points.visits.get(name, 0)}")
        return "\n".join(lines)


def _rules(config: CrashLoopConfig, rng: random.Random, trial: int,
           deaths: Counter) -> tuple[str | None, str | None]:
    """(LSMDB_KILL_POINTS value, targeted point) for one trial."""
    if config.kill_points == "random":
        return ",".join(f"{n}:{1.0 / (20 * _VISIT_HINTS.get(n, _DEFAULT_HINT)):.6f}"
                        for n in KILL_POINTS), None
    if config.kill_points == "each":
        points = list(config.points)
        name = points[trial % len(points)]
        hint = _VISIT_HINTS.get(name, _DEFAULT_HINT)
        n = 1 if not deaths.get(name) else 1 + rng.randrange(hint)
        return f"{name}@{n}", name
    return None, None


def _wait_ready(proc: subprocess.Popen, timeout: float) -> bool:
    # poll, not select: select() refuses descriptors >= 1024, which a long test session that
    # has opened many files reaches ("filedescriptor out of range in select()").
    poller = select.poll()
    poller.register(proc.stdout, select.POLLIN)
    if not poller.poll(timeout * 1000):
        return False
    return proc.stdout.readline().startswith("ready")


def wait_or_kill(proc: subprocess.Popen, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for the child to end; kill it (and reap it) if it has
    not. True when this had to kill it."""
    try:
        proc.wait(timeout=timeout)
        return False
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return True


def _read_log_lines(path: str) -> list[str]:
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.readlines()


def run_crash_loop(config: CrashLoopConfig, progress=None) -> CrashLoopReport:
    """Run the loop; ``progress(trial, report)`` is called after each verified trial."""
    if config.kill_points not in KILL_MODES:
        raise lsmdb.InvalidArgumentError(f"kill_points must be one of {KILL_MODES}")
    if config.kills is None and config.duration is None:
        raise lsmdb.InvalidArgumentError("give kills or duration")
    killpoints.configure(None)  # the parent must never die at a kill point itself
    os.makedirs(config.dir, exist_ok=True)
    db_path = os.path.join(config.dir, "db")
    state_path = os.path.join(config.dir, "expected.state")
    log_path = os.path.join(config.dir, "expected.log")
    kp_log = os.path.join(config.dir, "killpoints.log")
    err_path = os.path.join(config.dir, "child.stderr")
    for p in (kp_log,):
        if os.path.exists(p):
            os.remove(p)
    rng = random.Random(f"crashloop:{config.seed}")
    report = CrashLoopReport()
    t0 = time.monotonic()
    trial = 0
    while True:
        if config.kills is not None and trial >= config.kills:
            break
        if config.duration is not None and time.monotonic() - t0 >= config.duration:
            break
        _run_trial(config, rng, trial, db_path, state_path, log_path, kp_log, err_path, report)
        trial += 1
        report.trials = trial
        report.seconds = time.monotonic() - t0
        if progress is not None:
            progress(trial, report)
    report.kill_points = read_log(kp_log)
    report.seconds = time.monotonic() - t0
    return report


def _run_trial(config: CrashLoopConfig, rng: random.Random, trial: int, db_path: str,
               state_path: str, log_path: str, kp_log: str, err_path: str,
               report: CrashLoopReport) -> None:
    if os.path.exists(log_path):
        os.remove(log_path)
    child_seed = rng.randrange(1 << 31)
    rules, target = _rules(config, rng, trial, report.kill_point_deaths)
    whitebox = rules is not None
    run_for = config.child_seconds if whitebox else config.interval + 30
    argv = [sys.executable, "-m", "lsmdb.testing.stress_command", "--child", "--dir", config.dir,
            "--gen", str(trial + 1), "--seed", str(child_seed),
            "--threads", str(config.threads), "--sync", config.sync,
            "--keys-per-thread", str(config.keys_per_thread), "--duration", f"{run_for:g}"]
    env = dict(os.environ)
    for var in (killpoints.ENV_RULES, killpoints.ENV_LOG, killpoints.ENV_SEED):
        env.pop(var, None)
    env[killpoints.ENV_LOG] = kp_log
    env[killpoints.ENV_RULES] = rules if whitebox else "*:0"  # "*:0": count visits only
    env[killpoints.ENV_SEED] = str(child_seed)
    what = f"trial {trial + 1} (child seed {child_seed}" + \
        (f", kill point rule {rules!r})" if whitebox else ")")
    with open(err_path, "w") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        killed_by_us = False
        try:
            ready = _wait_ready(proc, 120)
            if not ready:
                report.killed_before_ready += 1
            if not whitebox and ready:
                time.sleep(rng.uniform(0.0, config.interval))
                if proc.poll() is None:
                    proc.kill()
                    killed_by_us = True
            if wait_or_kill(proc, run_for + 60):
                killed_by_us = True
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
    code = proc.returncode
    if code == -9 and killed_by_us:
        report.sigkills += 1
    elif code == -9:
        died = _last_kill(kp_log)
        report.kill_point_deaths[died or target or "?"] += 1
    elif code == 0:
        report.clean_exits += 1
    else:
        with open(err_path, errors="replace") as f:
            stderr = f.read()[-3000:]
        raise CrashLoopFailure(
            f"{what}: the stress child exited with code {code}:\n{stderr}\n"
            f"crash loop seed {config.seed}; rerun with: {config.command()}; directory kept: "
            f"{config.dir}")
    _verify(config, what, db_path, state_path, log_path, report)


def _last_kill(kp_log: str) -> str | None:
    name = None
    for line in _read_log_lines(kp_log):
        parts = line.split()
        if len(parts) == 3 and parts[0] == "kill":
            name = parts[1]
    return name


def _verify(config: CrashLoopConfig, what: str, db_path: str, state_path: str,
            log_path: str, report: CrashLoopReport) -> None:
    if not os.path.exists(db_path):
        return  # killed before the directory existed: nothing to check yet
    base = load_state(state_path)
    try:
        histories = parse_log(_read_log_lines(log_path))
        db = lsmdb.open(db_path, small_options(wal_sync=config.sync))
        try:
            actual = read_db_state(db)
        finally:
            db.close()
        result = verify_recovered(actual, base, histories, writer_of, all_acked_durable=True)
    except (AssertionError, Error, ValueError) as exc:
        raise CrashLoopFailure(
            f"{what}: recovery check failed: {type(exc).__name__}: {exc}\n"
            f"crash loop seed {config.seed}; rerun with: {config.command()}; directory kept: "
            f"{config.dir} (expected.state = state before the trial, expected.log = the "
            f"trial's log)") from exc
    save_state(state_path, result.state)
    report.acked_verified += result.acked
    report.in_doubt += result.in_doubt
    report.keys_checked += len(actual)
