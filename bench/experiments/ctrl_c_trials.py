"""Trials for issue 12 item 5: Ctrl-C (a KeyboardInterrupt from a signal handler, in the
writing thread) at a random moment of a put loop.

After each interrupt: the DB must take writes, hold every acknowledged write, hold the
interrupted write whole or not at all, and show the same contents after a reopen in the
strictest WAL recovery mode. Run by hand:

    PYTHONPATH=. python bench/experiments/ctrl_c_trials.py 200
"""

from __future__ import annotations

import argparse
import collections
import random
import shutil
import signal
import tempfile

import lsmdb
from lsmdb.testing.presets import small_options


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def trial(t: int, rng: random.Random) -> list[str]:
    d = tempfile.mkdtemp(prefix="lsmdb-ctrl-c-trial-")
    problems = []
    db = lsmdb.open(d, small_options(wal_sync=("never", "always", "never")[t % 3]))
    acked: dict[bytes, bytes] = {}
    key = b""
    signal.setitimer(signal.ITIMER_REAL, rng.uniform(0.002, 0.05))
    try:
        i = 0
        while True:
            key = b"k%06d" % i
            db.put(key, b"v%d" % i)
            acked[key] = b"v%d" % i
            i += 1
    except KeyboardInterrupt:
        pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    try:
        db.put(b"after", b"1")
        acked[b"after"] = b"1"
        now = dict(db.items())
        if any(now.get(k) != v for k, v in acked.items()):
            problems.append("acknowledged write missing")
        if set(now) - set(acked) - {key}:
            problems.append("unexpected keys")
        db.close()
        with lsmdb.open(d, wal_recovery="absolute_consistency") as again:
            if dict(again.items()) != now:
                problems.append("contents changed across the reopen")
    except BaseException as exc:  # noqa: BLE001 - counted
        problems.append(f"{type(exc).__name__}: {str(exc)[:100]}")
        db.close()
    shutil.rmtree(d, ignore_errors=True)
    return problems


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trials", type=int, nargs="?", default=200)
    args = ap.parse_args()
    signal.signal(signal.SIGALRM, _interrupt)
    rng = random.Random(1)
    kinds: collections.Counter[str] = collections.Counter()
    for t in range(args.trials):
        kinds.update(trial(t, rng))
    print(f"trials={args.trials} problems={sum(kinds.values())}")
    for text, count in kinds.most_common():
        print(count, text)


if __name__ == "__main__":
    main()
