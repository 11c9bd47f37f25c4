"""The parent: runs the children, kills them, reopens the directory and verifies each trial."""

from __future__ import annotations

import json
import os
import random
import select
import shlex
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from lsmdb.testing import killpoints
from lsmdb.testing.crashloop import wait_or_kill
from lsmdb.testing.engine_crash.checker import ChildRecord, EngineCrashFailure, verify
from lsmdb.testing.engine_crash.options import (
    _DEFAULT_HINT,
    _VISIT_HINTS,
    KILL_MODES,
    _engine_options,
    parse_policy,
)
from lsmdb.testing.killpoints import KILL_POINTS


@dataclass
class EngineCrashConfig:
    dir: str
    kills: int | None = 20  # trials; None: until ``seconds``
    seconds: float | None = None  # stop after the trial running at that time
    seed: int = 0
    policy: str = "always"  # always | never | every:N
    threads: int = 4
    accounts: int = 20
    interval: float = 1.0  # the parent kills within this many seconds after "ready"
    kill_points: str = "mixed"  # none | random (every trial) | mixed (every other trial)
    power_loss: float = 0.0  # odds per trial of a simulated power loss instead
    vacuum: bool = False  # the child's maintenance thread also runs vacuum_table

    def command(self) -> str:
        argv = ["python", "-m", "lsmdb.testing.engine_crash", "--seed", str(self.seed),
                "--policy", self.policy, "--threads", str(self.threads),
                "--accounts", str(self.accounts), "--interval", f"{self.interval:g}",
                "--kill-points", self.kill_points, "--power-loss", f"{self.power_loss:g}"]
        if self.vacuum:
            argv.append("--vacuum")
        if self.kills is not None:
            argv += ["--kills", str(self.kills)]
        if self.seconds is not None:
            argv += ["--seconds", f"{self.seconds:g}"]
        return " ".join(shlex.quote(a) for a in argv)


@dataclass
class EngineCrashReport:
    trials: int = 0
    sigkills: int = 0
    kill_point_deaths: Counter = field(default_factory=Counter)
    power_losses: int = 0
    clean_exits: int = 0
    died_before_ready: int = 0
    recoveries: int = 0  # reopen + full verification passed
    commits_acked: int = 0  # acknowledged transactions (lines "a")
    transfers_acked_verified: int = 0
    refunds_verified: int = 0  # acknowledged refunds (row deletes) verified gone
    in_doubt_survived: int = 0  # committed but unacknowledged at the kill, found present
    lost_unsynced: int = 0  # acknowledged, unsynced, lost to a simulated power loss
    failed_serialization: int = 0
    rolled_back: int = 0
    savepoints_rolled_back: int = 0
    transfers_present: int = 0
    index_entries_checked: int = 0
    seconds: float = 0.0

    @property
    def kills(self) -> int:
        return self.sigkills + sum(self.kill_point_deaths.values()) + self.power_losses

    def summary(self) -> str:
        lines = [
            f"trials {self.trials}: kills {self.kills} (SIGKILL at random moments "
            f"{self.sigkills}, at LSM kill points {sum(self.kill_point_deaths.values())}, "
            f"simulated power losses {self.power_losses}); finished before a kill "
            f"{self.clean_exits}; died while opening {self.died_before_ready}",
            f"recoveries verified {self.recoveries}: commits acknowledged {self.commits_acked}, "
            f"acknowledged transfers verified present {self.transfers_acked_verified}, "
            f"acknowledged refunds verified deleted {self.refunds_verified}, "
            f"in flight at the kill and present {self.in_doubt_survived}, acknowledged but "
            f"unsynced and lost to power loss {self.lost_unsynced}",
            f"checked absent: {self.failed_serialization} transfers of serialization "
            f"failures, {self.rolled_back} rolled back, {self.savepoints_rolled_back} in "
            f"rolled-back savepoints",
            f"final: {self.transfers_present} transfers, {self.index_entries_checked} index "
            f"entries compared with their tables in the last check; elapsed "
            f"{self.seconds:.1f} s",
        ]
        if self.kill_point_deaths:
            lines.append("kill points died at: " + ", ".join(
                f"{n} {c}" for n, c in sorted(self.kill_point_deaths.items())))
        return "\n".join(lines)


class _Reader(threading.Thread):
    """Drains the child's stdout so it never blocks on a full pipe."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream = stream
        self.lines: list[str] = []
        self.ready = threading.Event()

    def run(self) -> None:
        for line in self.stream:
            if line.endswith("\n"):  # a line cut by the kill is not an event
                self.lines.append(line)
                if line.startswith("ready"):
                    self.ready.set()
        self.ready.set()


def run_engine_crash_loop(config: EngineCrashConfig, progress=None) -> EngineCrashReport:
    """Run the loop; ``progress(trial, report)`` after each verified trial. Raises
    EngineCrashFailure (with the rerun command; the directory is kept) on a violation."""
    from lsmdb.errors import InvalidArgumentError

    if config.kill_points not in KILL_MODES:
        raise InvalidArgumentError(f"kill_points must be one of {KILL_MODES}")
    if config.kills is None and config.seconds is None:
        raise InvalidArgumentError("give kills or seconds")
    if not 0.0 <= config.power_loss <= 1.0:
        raise InvalidArgumentError("power_loss is odds in [0, 1]")
    parse_policy(config.policy)
    killpoints.configure(None)  # the parent must never die at a kill point itself
    os.makedirs(config.dir, exist_ok=True)
    rng = random.Random(f"engine-crash:{config.seed}")
    report = EngineCrashReport()
    state_path = os.path.join(config.dir, "verified.json")
    baseline, generation = _load_state(state_path)
    t0 = time.monotonic()
    trial = 0
    while (config.kills is None or trial < config.kills) and (
            config.seconds is None or time.monotonic() - t0 < config.seconds):
        generation += 1  # a rerun on the same directory goes on with new transfer ids
        baseline = _run_trial(config, rng, trial, generation, baseline, report)
        _save_state(state_path, baseline, generation)
        trial += 1
        report.trials = trial
        report.seconds = time.monotonic() - t0
        if progress is not None:
            progress(trial, report)
    report.seconds = time.monotonic() - t0
    return report


def _load_state(path: str) -> tuple[set[int] | None, int]:
    """(transfer ids verified after the last trial or None before the setup, children run
    so far): a rerun on the same directory resumes from them."""
    if not os.path.exists(path):
        return None, 0
    with open(path) as f:
        state = json.load(f)
    ids = state["present"]
    return (None if ids is None else set(ids)), int(state["generation"])


def _save_state(path: str, present: set[int] | None, generation: int) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"generation": generation,
                   "present": None if present is None else sorted(present)}, f)
    os.replace(tmp, path)


def _plan(config: EngineCrashConfig, rng: random.Random, trial: int
          ) -> tuple[str | None, float]:
    """(kill point rule or None, power-loss moment or -1) of one trial."""
    if config.power_loss and rng.random() < config.power_loss:
        return None, rng.uniform(0.05, config.interval)
    if config.kill_points == "random" or (config.kill_points == "mixed" and trial % 2):
        name = rng.choice(list(KILL_POINTS))
        return f"{name}@{1 + rng.randrange(_VISIT_HINTS.get(name, _DEFAULT_HINT))}", -1.0
    return None, -1.0


def _run_trial(config: EngineCrashConfig, rng: random.Random, trial: int, generation: int,
               baseline: set[int] | None, report: EngineCrashReport) -> set[int] | None:
    child_seed = rng.randrange(1 << 31)
    rule, power_loss_at = _plan(config, rng, trial)
    kill_after = rng.uniform(0.0, config.interval)
    kp_log = os.path.join(config.dir, "killpoints.log")
    err_path = os.path.join(config.dir, "child.stderr")
    out_path = os.path.join(config.dir, "child.stdout")
    argv = [sys.executable, "-m", "lsmdb.testing.engine_crash", "--child", "--dir", config.dir,
            "--gen", str(generation), "--seed", str(child_seed), "--threads",
            str(config.threads), "--accounts", str(config.accounts), "--policy", config.policy,
            "--seconds", f"{config.interval + 30:g}", "--power-loss-at", f"{power_loss_at:g}"]
    if config.vacuum:
        argv.append("--vacuum")
    env = dict(os.environ)
    for var in (killpoints.ENV_RULES, killpoints.ENV_LOG, killpoints.ENV_SEED):
        env.pop(var, None)
    if rule is not None:
        env[killpoints.ENV_RULES] = rule
        env[killpoints.ENV_LOG] = kp_log
        env[killpoints.ENV_SEED] = str(child_seed)
    what = (f"trial {trial + 1} (generation {generation}, child seed {child_seed}"
            + (f", kill point rule {rule!r}" if rule else "")
            + (f", power loss at {power_loss_at:.3f} s" if power_loss_at >= 0 else "")
            + f", policy {config.policy})")
    killed_by_us = False
    with open(err_path, "w") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        reader = _Reader(proc.stdout)
        reader.start()
        try:
            reader.ready.wait(120)
            if power_loss_at < 0:
                # Blackbox: kill at a random moment. Kill point: the same moment is the
                # backstop for a child that never reached its point.
                deadline = time.monotonic() + (kill_after if rule is None else config.interval)
                while proc.poll() is None and time.monotonic() < deadline:
                    select.select([], [], [], min(0.01, max(0.0, deadline - time.monotonic())))
                if proc.poll() is None:
                    proc.kill()
                    killed_by_us = True
            if wait_or_kill(proc, config.interval + 90):
                killed_by_us = True
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            reader.join(30)
            proc.stdout.close()
    with open(out_path, "w") as f:
        f.writelines(reader.lines)
    record = ChildRecord.parse(reader.lines)
    code = proc.returncode
    if not record.ready:
        report.died_before_ready += 1
    if code == -9 and record.power_loss:
        report.power_losses += 1
    elif code == -9 and killed_by_us:
        report.sigkills += 1
    elif code == -9:
        report.kill_point_deaths[rule.split("@")[0] if rule else "?"] += 1
    elif code == 0:
        report.clean_exits += 1
    else:
        with open(err_path, errors="replace") as f:
            stderr = f.read()[-3000:]
        raise EngineCrashFailure(f"{what}: the child exited with code {code}:\n{stderr}\n"
                                 f"{_rerun(config)}")
    from lsmdb import StorageEngine

    acked_durable = not record.power_loss or config.policy == "always"
    try:
        with StorageEngine(_engine_options(os.path.join(config.dir, "db"),
                                           config.policy)) as engine:
            result = verify(engine, record, baseline, config.accounts, acked_durable,
                            _max_unsynced(config.policy))
    except Exception as exc:
        raise EngineCrashFailure(
            f"{what}: recovery check failed: {type(exc).__name__}: {exc}\n"
            f"{_rerun(config)} (child.stdout = the child's events, child.stderr)") from exc
    report.recoveries += 1
    report.commits_acked += len(set(record.acked.values()))
    report.transfers_acked_verified += result.acked_verified
    report.refunds_verified += result.refunds_verified
    report.in_doubt_survived += result.in_doubt_survived
    report.lost_unsynced += result.lost_unsynced
    report.failed_serialization += len(record.failed)
    report.rolled_back += len(record.rolled_back)
    report.savepoints_rolled_back += len(record.savepoint_rolled_back)
    report.transfers_present = len(result.present or ())
    report.index_entries_checked = result.index_entries_checked
    return result.present


def _max_unsynced(policy: str) -> int | None:
    """Acknowledged transactions a power loss may take: every(n) syncs at least every n-th
    commit, so fewer than n are ever unsynced; NEVER leaves it to the OS (no bound)."""
    interval = parse_policy(policy).commits_per_sync
    return None if interval == 0 else interval - 1


def _rerun(config: EngineCrashConfig) -> str:
    return (f"engine crash loop seed {config.seed}; rerun with: {config.command()} "
            f"--dir NEW_EMPTY_DIR; directory kept: {config.dir}")
