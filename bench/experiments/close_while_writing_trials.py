"""Trials for issue 12 item 3: close() while two threads write (and, with --readers, one reads).

Each trial opens a fresh DB, starts the writers, closes the DB after a few hundred
acknowledged writes, then reopens it. Counted: errors other than ClosedError in any thread
or in close(), and acknowledged writes missing after the reopen. Run by hand:

    PYTHONPATH=. python bench/experiments/close_while_writing_trials.py 200 [--readers]
"""

from __future__ import annotations

import argparse
import collections
import shutil
import tempfile
import threading

import lsmdb
from lsmdb.errors import ClosedError


def trial(i: int, writers: int, readers: bool) -> tuple[list[str], int]:
    d = tempfile.mkdtemp(prefix="lsmdb-close-trial-")
    db = lsmdb.open(d, memtable_bytes=64 << 10)
    acked: list[list[bytes]] = [[] for _ in range(writers)]
    errors: list[str] = []
    start = threading.Barrier(writers + int(readers) + 1)

    def write(t: int) -> None:
        start.wait()
        n = 0
        try:
            while True:
                key = b"t%d-%08d" % (t, n)
                db.put(key, b"v" * 50)
                acked[t].append(key)
                n += 1
                if readers and n % 97 == 0:
                    db.flush(wait=False)
        except ClosedError:
            pass
        except BaseException as exc:  # noqa: BLE001 - counted
            errors.append(f"writer {exc!r}")

    def read() -> None:
        start.wait()
        try:
            while True:
                db.get(b"t0-00000001")
                for _ in db.iterator(start=b"t1"):
                    break
        except ClosedError:
            pass
        except BaseException as exc:  # noqa: BLE001 - counted
            errors.append(f"reader {exc!r}")

    threads = [threading.Thread(target=write, args=(t,)) for t in range(writers)]
    if readers:
        threads.append(threading.Thread(target=read))
    for t in threads:
        t.start()
    start.wait()
    while sum(len(a) for a in acked) < 300 + (i % 7) * 50 and not errors:
        pass
    try:
        db.close()
    except BaseException as exc:  # noqa: BLE001 - counted
        errors.append(f"close {exc!r}")
    for t in threads:
        t.join()
    with lsmdb.open(d) as again:
        lost = sum(1 for keys in acked for k in keys if again.get(k) is None)
    shutil.rmtree(d)
    return errors, lost


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trials", type=int, nargs="?", default=200)
    ap.add_argument("--writers", type=int, default=2)
    ap.add_argument("--readers", action="store_true", help="one reader thread and flushes too")
    args = ap.parse_args()
    kinds: collections.Counter[str] = collections.Counter()
    lost = bad = 0
    for i in range(args.trials):
        errors, n = trial(i, args.writers, args.readers)
        kinds.update(e[:120] for e in errors)
        lost += n
        bad += bool(errors) or n > 0
    print(f"trials={args.trials} trials_with_problems={bad} "
          f"errors_other_than_ClosedError={sum(kinds.values())} lost_acknowledged_writes={lost}")
    for text, count in kinds.most_common(8):
        print(count, text)


if __name__ == "__main__":
    main()
