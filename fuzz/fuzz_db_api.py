"""Fuzz the DB API: the input is an operation sequence run against a fresh DB and a dict.

Each input byte string is decoded into operations (put, delete, delete_range, write batch,
get, scan, snapshot, snapshot read, iterator seek, flush, compact_range, reopen) over a
small key alphabet (so operations collide), run against an ``lsmdb`` database with tiny
memtables and files and inline background work (so a handful of operations already flushes
and compacts, deterministically), and against a dict model. Any disagreement raises
AssertionError, any exception from lsmdb propagates: the disk is healthy, nothing may fail.

    python fuzz/fuzz_db_api.py -max_total_time=60 fuzz/corpus/db_api
    python fuzz/fuzz_db_api.py --make-corpus fuzz/corpus/db_api

Encoding (one op after another until the input ends; a truncated op is dropped):
    opcode byte % 13, then per op: key = 1 byte (index into KEYS), value = 1 length byte
    (% 48, or 300 bytes when it is 255) + that many bytes (cut short by the input's end).
"""

import glob
import os
import shutil

import atheris
import fuzzmain

with atheris.instrument_imports(include=["lsmdb"]):
    import lsmdb
    import lsmdb.lsm.compaction
    import lsmdb.lsm.compactor
    import lsmdb.lsm.db
    import lsmdb.lsm.iterators
    import lsmdb.lsm.table_writer
    import lsmdb.lsm.version
    import lsmdb.wal
    from lsmdb.testing.presets import small_options

KEYS = [b"", b"a", b"a\x00", b"ab", b"abc", b"b", b"ba", b"c", b"d", b"d\xff", b"e", b"f",
        b"g", b"h", b"k", b"k1", b"k2", b"m", b"x", b"y", b"z", b"\xff", b"\xff\xff", b"q"]
OPTIONS = small_options(memtable_bytes=1024, block_bytes=256, block_cache_bytes=64 << 10)
# Each input gets a fresh DB in RUN_DIR, removed when the input is done (TestOneInput's
# finally): libFuzzer leaves with exit(), which runs no Python cleanup (no atexit, no
# finally around atheris.Fuzz()), so nothing may be left for the end of the process. Only a
# process killed in the middle of an input (a crash, a timeout) leaves its directory; each
# run removes those of processes that are gone.
_BASE = "/dev/shm" if os.access("/dev/shm", os.W_OK) else "/tmp"
for _old in glob.glob(os.path.join(_BASE, "lsmdb-fuzz-api-*")):
    try:
        os.kill(int(_old.rsplit("-", 1)[1]), 0)
    except (ValueError, ProcessLookupError):
        shutil.rmtree(_old, ignore_errors=True)
    except PermissionError:
        pass
RUN_DIR = os.path.join(_BASE, f"lsmdb-fuzz-api-{os.getpid()}")
PATH = os.path.join(RUN_DIR, "db")


class _Input(fuzzmain.ByteInput):
    def key(self) -> bytes:
        return KEYS[self.byte() % len(KEYS)]

    def value(self) -> bytes:
        n = self.byte()
        n = 300 if n == 255 else n % 48
        v = self.data[self.pos:self.pos + n]
        self.pos += len(v)
        return v


def _model_items(model: dict, lo=None, hi=None) -> list:
    return sorted((k, v) for k, v in model.items()
                  if (lo is None or k >= lo) and (hi is None or k < hi))


def _range_delete(model: dict, lo: bytes, hi: bytes) -> None:
    for k in [k for k in model if lo <= k < hi]:
        del model[k]


class Session:
    """One input: a DB, its model, the live snapshots with the model they must show."""

    def __init__(self):
        if os.path.exists(PATH):
            shutil.rmtree(PATH)
        self.db = lsmdb.open(PATH, OPTIONS, inline_background=True)
        self.model: dict = {}
        self.snaps: list = []  # (snapshot, frozen model)

    def check_all(self, what: str) -> None:
        got = list(self.db.items())
        want = _model_items(self.model)
        if got != want:
            raise AssertionError(f"{what}: scan {got[:4]}... != model {want[:4]}...")
        if list(self.db.items(reverse=True)) != want[::-1]:
            raise AssertionError(f"{what}: reverse scan disagrees")

    def step(self, inp: _Input) -> None:
        db, model = self.db, self.model
        op = inp.byte() % 13
        if op in (0, 1):
            k, v = inp.key(), inp.value()
            db.put(k, v, sync=op == 1)  # sync=True: the compiled synced path
            model[k] = v
        elif op == 2:
            k = inp.key()
            db.delete(k)
            model.pop(k, None)
        elif op == 3:
            lo, hi = sorted((inp.key(), inp.key()))  # start > end is InvalidArgumentError
            db.delete_range(lo, hi)
            _range_delete(model, lo, hi)
        elif op == 4:
            n = inp.byte() % 6
            subs = []
            for _ in range(n):
                kind = inp.byte() % 3
                if kind == 0:
                    subs.append((0, inp.key(), inp.value()))
                elif kind == 1:
                    subs.append((1, inp.key(), b""))
                else:
                    subs.append((2, *sorted((inp.key(), inp.key()))))
            with db.write_batch() as wb:
                for kind, a, b in subs:
                    if kind == 0:
                        wb.put(a, b)
                    elif kind == 1:
                        wb.delete(a)
                    else:
                        wb.delete_range(a, b)
            for kind, a, b in subs:
                if kind == 0:
                    model[a] = b
                elif kind == 1:
                    model.pop(a, None)
                else:
                    _range_delete(model, a, b)
        elif op == 5:
            k = inp.key()
            got = db.get(k)
            if got != model.get(k):
                raise AssertionError(f"get({k!r}) = {got!r}, model {model.get(k)!r}")
            if (k in db) != (k in model):
                raise AssertionError(f"{k!r} in db disagrees")
        elif op == 6:
            lo, hi, flags = inp.key(), inp.key(), inp.byte()
            lo = None if flags & 1 else lo
            hi = None if flags & 2 else hi
            reverse = bool(flags & 4)
            got = list(db.items(lo, hi, reverse=reverse))
            want = _model_items(model, lo, hi)
            if got != (want[::-1] if reverse else want):
                raise AssertionError(f"scan [{lo!r}, {hi!r}) reverse={reverse}: {got[:4]} "
                                     f"!= {want[:4]}")
        elif op == 7:
            if len(self.snaps) < 4:
                self.snaps.append((db.snapshot(), dict(model)))
        elif op == 8:
            if self.snaps:
                snap, frozen = self.snaps[inp.byte() % len(self.snaps)]
                k = inp.key()
                if snap.get(k) != frozen.get(k):
                    raise AssertionError(f"snapshot get({k!r}) = {snap.get(k)!r}, "
                                         f"expected {frozen.get(k)!r}")
                if list(db.items(snapshot=snap)) != _model_items(frozen):
                    raise AssertionError("snapshot scan differs from the model at its time")
        elif op == 9:
            k, back = inp.key(), inp.byte() & 1
            with db.iterator() as it:
                keys = sorted(model)
                if back:
                    it.seek_for_prev(k)
                    want = [x for x in keys if x <= k][-1:]
                else:
                    it.seek(k)
                    want = [x for x in keys if x >= k][:1]
                got = [it.key()] if it.valid() else []
                if got != want:
                    raise AssertionError(f"seek{'_for_prev' if back else ''}({k!r}) -> "
                                         f"{got}, expected {want}")
                if got and it.value() != model[got[0]]:
                    raise AssertionError(f"iterator value at {got[0]!r} differs")
        elif op == 10:
            db.flush()
        elif op == 11:
            flags = inp.byte()
            lo = None if flags & 1 else inp.key()
            hi = None if flags & 2 else inp.key()
            db.compact_range(lo, hi)
        else:
            self.close_snapshots()
            db.close()
            self.db = lsmdb.open(PATH, OPTIONS, inline_background=True)
            self.check_all("after reopen")

    def close_snapshots(self) -> None:
        for snap, _ in self.snaps:
            snap.close()
        self.snaps.clear()

    def close(self) -> None:
        self.close_snapshots()
        self.db.close()


def TestOneInput(data: bytes) -> None:
    session = Session()
    try:
        inp = _Input(data)
        try:
            while True:
                session.step(inp)
        except EOFError:
            pass
        session.check_all("at the end")
    finally:
        try:
            session.close()
        finally:
            shutil.rmtree(RUN_DIR, ignore_errors=True)


def make_corpus(directory: str) -> None:
    os.makedirs(directory, exist_ok=True)
    k = {key: i for i, key in enumerate(KEYS)}
    seeds = {
        # put a, put b, get a, scan all, flush, get b
        "basic": bytes([0, k[b"a"], 3]) + b"one" + bytes([1, k[b"b"], 3]) + b"two"
        + bytes([5, k[b"a"], 6, 0, 0, 3, 10, 5, k[b"b"]]),
        # snapshot, overwrite, range delete, snapshot read, reopen
        "snapshot": bytes([0, k[b"k"], 2]) + b"v1" + bytes([7, 0, k[b"k"], 2]) + b"v2"
        + bytes([3, k[b"a"], k[b"z"], 8, 0, k[b"k"], 12, 5, k[b"k"]]),
        # a batch with a put, a delete and a range, then compaction of everything
        "batch": bytes([4, 3, 0, k[b"m"], 4]) + b"mmmm" + bytes([1, k[b"a"], 2, k[b"b"], k[b"x"]])
        + bytes([11, 3, 9, k[b"c"], 0, 9, k[b"y"], 1]),
        # enough puts of 47-byte values to flush and compact a few times
        "many": b"".join(bytes([0, i % len(KEYS), 30]) + bytes([i]) * 30 for i in range(40))
        + bytes([11, 3, 6, 0, 0, 7]),
    }
    for name, data in seeds.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    fuzzmain.run(TestOneInput, make_corpus)
