"""Whitebox kill points: named places in the engine where a test can make the process die.

RocksDB's ``TEST_KILL_RANDOM`` for lsmdb. The engine calls ``kill_point("wal.sync:before")``
(from the import-free leaf :mod:`lsmdb.killpoint`) at each step whose interruption recovery
must survive (see :data:`KILL_POINTS`). This module is the machinery behind that call: when
it is configured it installs its hook into the leaf. Unless the environment variable
``LSMDB_KILL_POINTS`` is set when this module is imported (importing :mod:`lsmdb.testing`
imports it), the engine's call is a global lookup and one comparison: free enough for the
write path.

``LSMDB_KILL_POINTS`` is a comma-separated list of rules, the first rule whose pattern matches
a point's name decides::

    wal.sync:before              die at the first visit
    wal.append:*:0.01            fnmatch pattern, die with probability 0.01 per visit
    manifest.*@3                 die at the 3rd visit of a matching point (counted per point)
    *:0.001                      every point, odds 1/1000 per visit
    flush.*:0                    visit (and log) but never die

A pattern is an ``fnmatch`` glob over the names; the probability (default 1) follows the last
``:`` when it parses as a number, the visit number follows ``@``. ``LSMDB_KILL_POINTS_SEED``
seeds the random choice (default: from the pid). Dying is ``SIGKILL`` sent to the process
itself: no ``finally``, no atexit handler, no buffered write gets flushed, exactly like
``kill -9``; data already handed to the OS (every lsmdb write is an ``os.write``) stays in
the page cache, as after a real process crash.

``LSMDB_KILL_POINTS_LOG`` names a file to which each process appends ``visit <name> <n>``
when a point's visit count reaches a power of two (so the log stays small and still tells
the order of magnitude) and ``kill <name> <n>`` just before dying. :func:`read_log` sums it:
this is how the crash loop reports kill-point coverage.
"""

from __future__ import annotations

import fnmatch
import os
import random
import signal
import threading
from collections import Counter
from dataclasses import dataclass, field

from lsmdb import killpoint

__all__ = ["KILL_POINTS", "KillPointLog", "kill_point", "read_log", "rule_for",
           "configure", "ENV_RULES", "ENV_LOG", "ENV_SEED"]

ENV_RULES = "LSMDB_KILL_POINTS"
ENV_LOG = "LSMDB_KILL_POINTS_LOG"
ENV_SEED = "LSMDB_KILL_POINTS_SEED"

# Every kill point in the engine: name -> where it is and what a crash there leaves behind.
# tests/crash/test_killpoints.py checks that each one is reached and survived.
KILL_POINTS: dict[str, str] = {
    "wal.segment:created": "wal/writer.py WalWriter: segment file created, its name not yet fsynced",
    "wal.append:before": "wal/writer.py WalWriter.add: batch encoded, nothing written",
    "wal.append:after": "wal/writer.py WalWriter.add: record written (page cache), not synced",
    "wal.sync:before": "wal/writer.py WalWriter.sync: record written, fsync not started",
    "wal.sync:after": "wal/writer.py WalWriter.sync: fsync returned, write not yet acknowledged",
    "memtable.switch": "db.py _switch_memtable: new segment created, old one not yet synced",
    "sst.write:mid": "table_writer.py: data blocks written, no index/footer yet",
    "sst.finish:before_sync": "table_writer.py: footer written, file not fsynced",
    "sst.finish:after_sync": "table_writer.py: table fsynced, not yet in the MANIFEST",
    "sst.dir_fsync:before": "table_writer.py finish: new table names not yet durable",
    "compaction.output:done": "compactor.py: outputs written and synced, no edit yet",
    "flush.install:before": "db.py _flush_immutable: L0 table written, MANIFEST edit not logged",
    "flush.install:after": "db.py _flush_immutable: edit logged, obsolete files not deleted",
    "compaction.install:before": "db.py _execute_job: outputs written, edit not logged",
    "compaction.install:after": "db.py _execute_job: edit logged, inputs not deleted",
    "manifest.append:before": "version.py log_and_apply: edit encoded, nothing written",
    "manifest.sync:before": "version.py log_and_apply: edit appended, not fsynced",
    "manifest.sync:after": "version.py log_and_apply: edit durable, Version not installed",
    "manifest.snapshot:written": "version.py: new MANIFEST written and synced, CURRENT old",
    "current.install:after": "version.py: CURRENT names the new MANIFEST, old one not deleted",
    "atomic_write.rename:before": "env.py write_file_atomic: temp file synced, not renamed",
    "atomic_write.rename:after": "env.py write_file_atomic: renamed, directory not fsynced",
    "options.write:after": "db.py _write_options_file: new OPTIONS file, old one not deleted",
    "obsolete.delete_sst": "db.py _delete_obsolete_files: about to unlink an obsolete table",
    "obsolete.delete_wal": "db.py _delete_obsolete_files: about to unlink an old WAL segment",
}


@dataclass(frozen=True)
class Rule:
    pattern: str
    probability: float = 1.0
    at_visit: int | None = None  # die exactly at this visit number instead

    def matches(self, name: str) -> bool:
        return fnmatch.fnmatchcase(name, self.pattern)


def parse_rules(text: str) -> list[Rule]:
    """Parse an ``LSMDB_KILL_POINTS`` value (see the module docstring)."""
    rules = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        at_visit = None
        if "@" in item:
            item, _, n = item.rpartition("@")
            at_visit = int(n)
            if at_visit < 1:
                raise ValueError(f"{ENV_RULES}: visit number must be >= 1 in {raw!r}")
        probability = 1.0
        head, sep, tail = item.rpartition(":")
        if sep:
            try:
                probability = float(tail)
                item = head
            except ValueError:
                pass  # the ':' belongs to the name, e.g. wal.sync:before
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"{ENV_RULES}: probability out of [0, 1] in {raw!r}")
        rules.append(Rule(item, probability, at_visit))
    return rules


class _State:
    def __init__(self, rules: list[Rule], log_path: str | None, seed: int):
        self.rules = rules
        self.log_fd = (os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                               0o644) if log_path else None)
        self.rng = random.Random(seed)
        self.visits: Counter = Counter()
        self.lock = threading.Lock()
        self.decisions: dict[str, Rule | None] = {}

    def log(self, line: str) -> None:
        if self.log_fd is not None:
            os.write(self.log_fd, line.encode() + b"\n")  # one write: O_APPEND keeps it whole

    def visit(self, name: str) -> None:
        with self.lock:
            rule = self.decisions.get(name, _UNSET)
            if rule is _UNSET:
                rule = self.decisions[name] = rule_for(name, self.rules)
            n = self.visits[name] = self.visits[name] + 1
            if n & (n - 1) == 0:
                self.log(f"visit {name} {n}")
            if rule is None:
                return
            if rule.at_visit is not None:
                die = n == rule.at_visit
            else:
                die = rule.probability > 0 and self.rng.random() < rule.probability
            if not die:
                return
            self.log(f"kill {name} {n}")
            os.kill(os.getpid(), signal.SIGKILL)


_UNSET = object()
_state: _State | None = None


def rule_for(name: str, rules: list[Rule]) -> Rule | None:
    for rule in rules:
        if rule.matches(name):
            return rule
    return None


def configure(rules: str | None, log_path: str | None = None, seed: int | None = None) -> None:
    """(Re)configure from a rules string; ``None`` turns kill points off. Normally read
    from the environment at import; tests of this module call it directly."""
    global _state
    if _state is not None and _state.log_fd is not None:
        os.close(_state.log_fd)
    if not rules:
        _state = None
        killpoint.install_hook(None)
        return
    _state = _State(parse_rules(rules), log_path, os.getpid() if seed is None else seed)
    killpoint.install_hook(_state.visit)


def kill_point(name: str) -> None:
    """Maybe die here (only when ``LSMDB_KILL_POINTS`` configured it)."""
    if _state is not None:
        _state.visit(name)


@dataclass
class KillPointLog:
    """What a kill-point log file says: per point the highest visit count logged (a power
    of two: a lower bound of the visits of the busiest process) and the number of kills."""

    visits: dict[str, int] = field(default_factory=dict)
    kills: Counter = field(default_factory=Counter)

    def merge(self, other: KillPointLog) -> None:
        for name, n in other.visits.items():
            self.visits[name] = max(self.visits.get(name, 0), n)
        self.kills.update(other.kills)

    def unvisited(self) -> list[str]:
        return [n for n in KILL_POINTS if n not in self.visits]

    def unkilled(self) -> list[str]:
        return [n for n in KILL_POINTS if not self.kills.get(n)]


def read_log(path: str) -> KillPointLog:
    out = KillPointLog()
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.split()
            if len(parts) != 3 or not parts[2].isdigit():
                continue  # a line cut by the kill itself
            kind, name, n = parts[0], parts[1], int(parts[2])
            if kind == "visit":
                out.visits[name] = max(out.visits.get(name, 0), n)
            elif kind == "kill":
                out.kills[name] += 1
                out.visits[name] = max(out.visits.get(name, 0), n)
    return out


def _configure_from_environment() -> None:
    rules = os.environ.get(ENV_RULES)
    if rules:
        seed = os.environ.get(ENV_SEED)
        configure(rules, os.environ.get(ENV_LOG), int(seed) if seed else None)


_configure_from_environment()
