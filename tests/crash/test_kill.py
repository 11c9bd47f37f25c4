"""kill -9 at random moments never loses an acknowledged write.

A writer subprocess puts sequential keys with ``sync=True`` (background flush and compaction
threads on, tiny memtables, so kills land in the middle of flushes, compactions and MANIFEST
writes too) and prints each key once ``put`` has returned. The parent SIGKILLs it after a
random delay, reopens the directory and checks that every acknowledged key is there with its
value, that nothing else is (besides the one write in flight), and that the DB still takes
writes, flushes, compacts and reopens. The next writer continues where the last one stopped,
so the directory accumulates many crash-recovery cycles.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import lsmdb
from lsmdb.testing.presets import small_options

KILLS = 60 if os.environ.get("LSMDB_LONG") else 22


def key(i: int) -> bytes:
    return b"key%08d" % i


def value(i: int) -> bytes:
    return b"value-%d-" % i + b"p" * (i % 97)


def _writer(path: str, start: int) -> None:
    db = lsmdb.open(path, small_options())
    out = sys.stdout
    i = start
    while True:
        db.put(key(i), value(i), sync=True)
        out.write(f"{i}\n")
        out.flush()
        if i % 7 == 0:
            db.delete(key(i - 3))  # unsynced: may or may not survive
        i += 1


def _check(path: str, acked: list[int], deleted_maybe: set[int], upto: int) -> int:
    with lsmdb.open(path, small_options()) as db:
        state = dict(db.items())
        for i in acked:
            if i not in deleted_maybe:
                assert state.get(key(i)) == value(i), f"acknowledged key {i} lost or wrong"
        for k, v in state.items():
            i = int(k[3:])
            assert i <= upto and v == value(i), f"unexpected {k!r} -> {v[:20]!r}"
        # Usable: write, flush, compact, and the state survives a reopen.
        db.put(b"zz-after-kill", b"ok", sync=True)
        db.flush()
        db.compact_range(key(0), key(upto // 2))
        n = len(state)
    with lsmdb.open(path, small_options(), read_only=True) as db:
        again = dict(db.items())
        assert again.pop(b"zz-after-kill") == b"ok"
        state.pop(b"zz-after-kill", None)
        assert again == state
    with lsmdb.open(path, small_options()) as db:
        db.delete(b"zz-after-kill", sync=True)
    return n


def test_sigkill_writer_at_random_moments(tmp_path, tally):
    path = str(tmp_path / "db")
    rng = random.Random(1337)
    start = 1
    all_acked: list[int] = []
    deleted_maybe: set[int] = set()
    for _ in range(KILLS):
        proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), path, str(start)],
            stdout=subprocess.PIPE, text=True)
        first = proc.stdout.readline()  # startup (imports, recovery) is not what we test
        assert first, f"writer died at startup (exit {proc.wait()})"
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        rest = proc.stdout.read()
        proc.wait()
        acked = [int(first)] + [int(x) for x in rest.split()]
        assert acked == list(range(start, start + len(acked))), "writer output garbled"
        last = acked[-1]
        for i in range(start, last + 2):  # deletes of i - 3 issued after put(i) returned
            if i % 7 == 0:
                deleted_maybe.add(i - 3)
        all_acked.extend(acked)
        # Every earlier round's acknowledged keys are checked too.
        _check(path, all_acked, deleted_maybe, last + 1)
        start = last + 2  # last + 1 may or may not have been written
        tally["kill -9 rounds"] += 1
    tally["kill -9 acknowledged writes"] += len(all_acked)


if __name__ == "__main__":
    _writer(sys.argv[1], int(sys.argv[2]))
