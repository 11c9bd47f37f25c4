"""Expected-state oracle for crash tests: what a recovered database is allowed to hold.

After a crash the database must hold, for each independent *writer* (a thread that owns its
keys, or a lock-serialized group of writers), the state after some **prefix** of that
writer's history: no hole, no reordering, nothing invented. Which prefixes are allowed:

- every write **acknowledged as durable** is inside it. After a process crash (kill -9) that
  is every acknowledged write, since lsmdb hands each WAL record to the OS before it
  acknowledges it. After a power loss it is every acknowledged ``sync=True`` write, every
  write acknowledged before a synced write or a ``flush()``/``compact_range()`` *started* and
  then returned (a *barrier*), and with ``wal_sync="always"`` every acknowledged write;
- a write that was in flight (its *intent* was logged but not its *ack*) or failed with an
  I/O error may or may not be in it, in its place: RocksDB's "pending" expected values;
- a write refused before it reached the WAL (``BackgroundError``) is never in it.

The history comes from an :class:`ExpectedLog`: an append-only text file in which the
workload writes ``I`` (intent) before each call and ``A`` (ack) after it returns, one
``os.write`` per line, so a kill -9 loses nothing already logged (a last line without its
newline, which only a torn write could leave, is ignored: the call it announces is unknown). :func:`verify_recovered` replays it over the state the
previous verification established (:func:`save_state`/:func:`load_state`) and checks the
recovered database exactly. :func:`find_prefix` is the core check, usable with any op type.

Log grammar (one event per line, fields separated by one space, bytes in hex)::

    I <writer> <n> <sync 0|1> <op>     intent of the writer's n-th write (n from 0)
    A <writer> <n>                     it returned
    F <writer> <n>                     it raised an I/O error: maybe applied
    X <writer> <n>                     it was refused (BackgroundError): never applied
    BI <id>  /  BA <id>                a flush()/compact_range() started / returned
    op:  P <key> <value> | D <key> | R <start> <end> | B <sub>;<sub>;...  (sub: P:k:v D:k R:s:e)
"""

from __future__ import annotations

import errno as errno_mod
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from lsmdb.testing.faultenv import FaultInjectionEnv

__all__ = ["apply_op", "find_prefix", "PrefixMismatch", "ExpectedLog", "WriterHistory",
           "parse_log", "verify_recovered", "VerifyResult", "save_state", "load_state",
           "PowerCutEnv", "read_db_state"]

# An op is ("put", key, value) | ("delete", key) | ("range", start, end)
#        | ("batch", (("put", k, v) | ("delete", k) | ("range", s, e), ...))
Op = tuple


def apply_op(model: dict, op: Op) -> list[bytes]:
    """Apply a write op to a dict model; returns the keys it may have changed."""
    kind = op[0]
    if kind == "put":
        model[op[1]] = op[2]
        return [op[1]]
    if kind == "delete":
        model.pop(op[1], None)
        return [op[1]]
    if kind == "range":
        hit = [k for k in model if op[1] <= k < op[2]]
        for k in hit:
            del model[k]
        return hit
    if kind == "batch":
        touched: list[bytes] = []
        for sub in op[1]:
            touched.extend(apply_op(model, sub))
        return touched
    raise ValueError(f"not a write op: {kind!r}")


# ---------------------------------------------------------------------------- prefix check


class PrefixMismatch(AssertionError):
    """The recovered state is not the state after any allowed prefix."""

    def __init__(self, message: str, closest: int | None, lost: list):
        super().__init__(message)
        self.closest = closest  # fewest keys by which any candidate prefix differed
        self.lost = lost  # durable keys whose value is wrong or missing (first few)


def _scan(actual: dict, base: dict, ops: list, start: int, apply) -> tuple[int, int]:
    """Smallest i >= start with (base + ops[:i]) == actual, or (-1, fewest mismatches)."""
    model = dict(base)
    for op in ops[:start]:
        apply(model, op)
    bad = {k for k in set(model) | set(actual) if model.get(k) != actual.get(k)}
    best = len(bad)
    if not bad:
        return start, 0
    for i in range(start, len(ops)):
        for k in apply(model, ops[i]):
            if model.get(k) == actual.get(k):
                bad.discard(k)
            else:
                bad.add(k)
        best = min(best, len(bad))
        if not bad:
            return i + 1, 0
    return -1, best


def find_prefix(actual: dict, entries: list, durable: int, *, base: dict | None = None,
                apply: Callable[[dict, object], Iterable] = apply_op,
                max_optional: int = 10) -> int:
    """The length of the shortest allowed prefix of ``entries`` whose result is ``actual``.

    ``entries`` is the writer's history in order, each ``(op, status)``: ``True`` for an
    acknowledged write, ``False`` for one that may or may not have been applied (in flight
    or failed), ``None`` for one that never was. Every acknowledged write in
    ``entries[:durable]`` must be inside the prefix. ``base`` is the state before the first
    entry. The returned length counts the ops kept (optional ones dropped are not counted).
    Raises :class:`PrefixMismatch` when no prefix fits.
    """
    base = base or {}
    maybe = [i for i, (_, st) in enumerate(entries) if st is False]
    never = {i for i, (_, st) in enumerate(entries) if st is None}
    if len(maybe) > max_optional:
        raise ValueError(f"{len(maybe)} ambiguous writes: too many to check exhaustively")
    best = None
    for mask in range(1 << len(maybe)):
        dropped = never | {maybe[j] for j in range(len(maybe)) if not mask >> j & 1}
        ops = [op for i, (op, _) in enumerate(entries) if i not in dropped]
        start = sum(1 for i in range(min(durable, len(entries))) if i not in dropped)
        found, mismatches = _scan(actual, base, ops, start, apply)
        if found >= 0:
            return found
        best = mismatches if best is None else min(best, mismatches)
    model = dict(base)
    for op, st in entries[:durable]:
        if st:
            apply(model, op)
    lost = sorted(k for k in set(model) | set(actual) if actual.get(k) != model.get(k))[:5]
    raise PrefixMismatch(
        f"recovered state is not the state after any prefix of the history that holds its "
        f"{durable} durable entries (closest prefix differs in {best} keys); keys differing "
        f"from the durable prefix: {lost}", best, lost)


# ---------------------------------------------------------------------------- the log


def _enc_op(op: Op) -> str:
    kind = op[0]
    if kind == "put":
        return f"P {op[1].hex()} {op[2].hex()}"
    if kind == "delete":
        return f"D {op[1].hex()}"
    if kind == "range":
        return f"R {op[1].hex()} {op[2].hex()}"
    subs = []
    for sub in op[1]:
        subs.append(":".join([{"put": "P", "delete": "D", "range": "R"}[sub[0]],
                              *(b.hex() for b in sub[1:])]))
    return "B " + ";".join(subs)


_SUB_KIND = {"P": "put", "D": "delete", "R": "range"}


def _dec_op(fields: list[str]) -> Op:
    tag = fields[0]
    if tag == "B":
        subs = []
        for part in fields[1].split(";") if len(fields) > 1 and fields[1] else []:
            bits = part.split(":")
            subs.append((_SUB_KIND[bits[0]], *(bytes.fromhex(b) for b in bits[1:])))
        return ("batch", tuple(subs))
    return (_SUB_KIND[tag], *(bytes.fromhex(f) for f in fields[1:]))


class ExpectedLog:
    """The append-only expected-state log a workload writes (see the module docstring).

    Thread-safe. With ``path=None`` lines are only kept in memory (``lines``), for a
    verifier in the same process; with a path they are also appended to that file, one
    ``os.write`` each, before the call returns.
    """

    def __init__(self, path: str | None = None, keep_lines: bool = True):
        self.path = path
        self._fd = (os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
                    if path else None)
        self.lines: list[str] | None = [] if keep_lines else None
        self._lock = threading.Lock()
        self._barriers = 0

    def _emit(self, line: str) -> None:
        line += "\n"
        with self._lock:
            if self._fd is not None:
                os.write(self._fd, line.encode())
            if self.lines is not None:
                self.lines.append(line)

    def intent(self, writer: str, n: int, op: Op, sync: bool) -> None:
        self._emit(f"I {writer} {n} {int(bool(sync))} {_enc_op(op)}")

    def ack(self, writer: str, n: int) -> None:
        self._emit(f"A {writer} {n}")

    def failed(self, writer: str, n: int) -> None:
        self._emit(f"F {writer} {n}")

    def refused(self, writer: str, n: int) -> None:
        self._emit(f"X {writer} {n}")

    def barrier_start(self) -> int:
        with self._lock:
            self._barriers += 1
            bid = self._barriers
        self._emit(f"BI {bid}")
        return bid

    def barrier_done(self, bid: int) -> None:
        self._emit(f"BA {bid}")

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass
class WriterHistory:
    """One writer's writes as the log tells them."""

    ops: list = field(default_factory=list)  # Op, in order
    sync: list = field(default_factory=list)  # bool per op
    status: list = field(default_factory=list)  # True acked, False maybe, None never
    barrier_durable: int = 0  # ops made durable by a synced write or a flush barrier

    def entries(self) -> list:
        return list(zip(self.ops, self.status, strict=True))

    @property
    def acked(self) -> int:
        return sum(1 for s in self.status if s)

    def durable(self, all_acked: bool) -> int:
        """How many leading entries must survive: all of them when every acknowledged
        write is durable (process crash, wal_sync="always"), else the barrier bound."""
        if all_acked:
            return len(self.ops)
        return self.barrier_durable


def parse_log(lines: Iterable[str]) -> dict[str, WriterHistory]:
    """Replay log lines into per-writer histories, with the durability bound each synced
    write and each returned flush/compaction barrier establishes."""
    hist: dict[str, WriterHistory] = {}
    acked_upto: dict[str, int] = {}  # writer -> ops acknowledged so far (in log order)
    open_barriers: dict[str, dict[str, int]] = {}  # barrier / sync-write key -> snapshot

    def raise_bound(snapshot: dict[str, int]) -> None:
        for w, n in snapshot.items():
            h = hist[w]
            h.barrier_durable = max(h.barrier_durable, n)

    lines = list(lines)
    for i, raw in enumerate(lines):
        if not raw.endswith("\n"):
            if i == len(lines) - 1:
                break  # cut short: the call it announces never started / never returned
            raise ValueError(f"expected-state log line {i + 1} has no end: {raw!r}")
        line = raw[:-1]
        fields = line.split(" ")
        tag = fields[0]
        try:
            if tag == "I" and len(fields) >= 5:
                w, n, sync = fields[1], int(fields[2]), fields[3] == "1"
                op = _dec_op(fields[4:])
                h = hist.setdefault(w, WriterHistory())
                if n != len(h.ops):
                    raise ValueError(f"writer {w}: op {n} logged after {len(h.ops)} ops")
                h.ops.append(op)
                h.sync.append(sync)
                h.status.append(False)
                if sync:
                    open_barriers[f"s{w}.{n}"] = dict(acked_upto)
            elif tag in ("A", "F", "X") and len(fields) == 3:
                w, n = fields[1], int(fields[2])
                h = hist[w]
                if tag == "A":
                    h.status[n] = True
                    acked_upto[w] = n + 1
                    snap = open_barriers.pop(f"s{w}.{n}", None)
                    if snap is not None:
                        snap[w] = n + 1  # the synced write itself
                        raise_bound(snap)
                elif tag == "X":
                    h.status[n] = None
                    open_barriers.pop(f"s{w}.{n}", None)
                else:
                    open_barriers.pop(f"s{w}.{n}", None)
            elif tag == "BI" and len(fields) == 2:
                open_barriers[f"b{fields[1]}"] = dict(acked_upto)
            elif tag == "BA" and len(fields) == 2:
                snap = open_barriers.pop(f"b{fields[1]}", None)
                if snap is not None:
                    raise_bound(snap)
            else:
                raise ValueError("unknown record")
        except (ValueError, KeyError, IndexError) as exc:
            raise ValueError(f"malformed expected-state log line {line!r}: {exc}") from exc
    return hist


# ---------------------------------------------------------------------------- state files


def save_state(path: str, state: dict) -> None:
    """Write ``state`` (bytes -> bytes) as hex lines; atomic (temp file + rename)."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        for k in sorted(state):
            f.write(f"{k.hex()} {state[k].hex()}\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_state(path: str) -> dict:
    if not os.path.exists(path):
        return {}
    out = {}
    with open(path, encoding="ascii") as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition(" ")
            out[bytes.fromhex(k)] = bytes.fromhex(v)
    return out


def read_db_state(db, keys: Iterable[bytes] = ()) -> dict:
    """The whole state by a forward scan; a reverse scan and ``get`` of each key (and of
    ``keys``, which may be absent) must agree with it."""
    forward = list(db.items())
    state = dict(forward)
    if len(state) != len(forward) or [k for k, _ in forward] != sorted(state):
        raise AssertionError("forward scan is not strictly increasing")
    backward = list(db.items(reverse=True))
    if backward != forward[::-1]:
        raise AssertionError("forward and reverse scans disagree")
    for k in list(state) + list(keys):
        got = db.get(k)
        if got != state.get(k):
            raise AssertionError(f"get({k!r}) = {got!r:.60} disagrees with the scan "
                                 f"({state.get(k)!r:.60})")
    return state


# ---------------------------------------------------------------------------- verification


@dataclass
class VerifyResult:
    state: dict  # the verified recovered state: the next baseline
    prefixes: dict[str, int]  # writer -> ops of this log recovered
    acked: int  # acknowledged writes in the log
    in_doubt: int  # writes whose outcome the crash left open
    lost_allowed: int  # acknowledged but not durable writes that did not survive


def verify_recovered(actual: dict, base: dict, histories: dict[str, WriterHistory],
                     writer_of: Callable[[bytes], str | None], *,
                     all_acked_durable: bool) -> VerifyResult:
    """Check a recovered state writer by writer (see the module docstring).

    ``writer_of(key)`` names the writer owning a key (None: no writer may ever write it).
    Raises AssertionError (or :class:`PrefixMismatch`) naming the writer and keys.
    """
    strays = [k for k in actual if writer_of(k) is None]
    if strays:
        raise AssertionError(f"keys no writer ever wrote: {strays[:5]}")
    for k in set(base):
        if writer_of(k) is None:
            raise AssertionError(f"baseline key {k!r} belongs to no writer")
    by_writer_actual: dict[str, dict] = {}
    by_writer_base: dict[str, dict] = {}
    for k, v in actual.items():
        by_writer_actual.setdefault(writer_of(k), {})[k] = v
    for k, v in base.items():
        by_writer_base.setdefault(writer_of(k), {})[k] = v
    prefixes = {}
    acked = in_doubt = lost = 0
    for w in sorted(set(by_writer_actual) | set(by_writer_base) | set(histories)):
        h = histories.get(w, WriterHistory())
        entries = h.entries()
        try:
            kept = find_prefix(by_writer_actual.get(w, {}), entries,
                               h.durable(all_acked_durable), base=by_writer_base.get(w, {}))
        except PrefixMismatch as exc:
            raise PrefixMismatch(f"writer {w}: {exc} ({h.acked} acknowledged, "
                                 f"{h.durable(all_acked_durable)} durable, {len(entries)} "
                                 f"logged)", exc.closest, exc.lost) from None
        prefixes[w] = kept
        acked += h.acked
        in_doubt += sum(1 for s in h.status if s is False)
        lost += max(0, h.acked - kept)
    return VerifyResult(dict(actual), prefixes, acked, in_doubt, lost)


# ---------------------------------------------------------------------------- power cuts


class _DeadRule:
    odds = None
    errno = errno_mod.EIO
    tear = False


_DEAD = _DeadRule()


class PowerCutEnv(FaultInjectionEnv):
    """A FaultInjectionEnv that loses power just before its ``crash_at``-th file operation
    (or when :meth:`cut` is called); from then on the "process" is dead: every failable
    operation raises EIO until :meth:`revive`, so threads of the dead process cannot write
    after the cut."""

    def __init__(self, crash_at: int = -1, seed: int = 0, tear: bool = True):
        super().__init__(seed=seed)
        self.crash_at = crash_at
        self.tear = tear
        self.dead = False

    def _fault(self, kind, path):
        with self._lock:
            if not self.dead and self.op_counts["any"] + 1 == self.crash_at:
                self.crash(tear_last_write=self.tear)
                self.dead = True
            if self.dead:
                self.op_counts[kind] += 1
                self.op_counts["any"] += 1
                return _DEAD
        return super()._fault(kind, path)

    def cut(self, tear: bool | None = None) -> None:
        """Lose power now."""
        with self._lock:
            self.crash(tear_last_write=self.tear if tear is None else tear)
            self.dead = True

    def revive(self) -> None:
        self.dead = False
