"""Metamorphic test across compaction styles (Pebble's practice, RESEARCH.md §5.5).

One random operation sequence (puts, deletes, range deletes, batches, snapshots, flushes,
manual compactions, reopens) runs in lockstep against one DB per configuration: every
compaction style, leveled with every file-pick policy, Monkey filters and the tombstone
trigger. Tiny memtables and files with deterministic inline background work make every
few operations flush or compact. Every read must equal a dict model, so all configurations
answer identically. LSMDB_LONG=1 runs many more and longer sequences.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lsmdb
from lsmdb.testing.presets import small_options

LONG = bool(os.environ.get("LSMDB_LONG"))
# Durability is not under test here; a RAM-backed directory makes the many fsyncs cheap.
SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def _config(style: str = "leveled", bloom: dict | None = None, **compaction):
    def make():
        o = small_options(memtable_bytes=1024, block_bytes=256)
        o = o.replace(compaction=o.compaction.replace(style=style, **compaction))
        if bloom:
            o = o.replace(bloom=o.bloom.replace(**bloom))
        return o
    return make


CONFIGS = {
    "leveled": _config(),
    "leveled-round_robin": _config(file_pick="round_robin"),
    "leveled-oldest": _config(file_pick="oldest"),
    "leveled-tombstone_density": _config(file_pick="tombstone_density",
                                         tombstone_density_trigger=0.4),
    "leveled-static-monkey": _config(dynamic_level_bytes=False, bloom={"allocation": "monkey"}),
    "tiered": _config("tiered"),
    "lazy_leveling": _config("lazy_leveling", size_ratio_per_level=(3, 5, 4)),
    "fluid": _config("fluid", runs_per_level=(2, 3, 2)),
}

keys = st.integers(0, 300).map(lambda i: b"k%03d" % i)
values = st.binary(max_size=200)
write = st.tuples(st.just("put"), keys, values)
ops = st.one_of(
    write, write, write, write,
    st.tuples(st.just("delete"), keys),
    st.tuples(st.just("delete_range"), keys, keys),
    st.tuples(st.just("batch"),
              st.lists(st.tuples(st.sampled_from(["put", "delete"]), keys, values), max_size=8),
              st.booleans()),
    st.tuples(st.just("get"), keys),
    st.tuples(st.just("scan"), st.none() | keys, st.none() | keys, st.booleans()),
    st.tuples(st.just("snapshot")),
    st.tuples(st.just("read_snapshot"), st.integers(0, 7), keys),
    st.tuples(st.just("release"), st.integers(0, 7)),
    st.tuples(st.just("flush")),
    st.tuples(st.just("compact"), st.none() | keys, st.none() | keys),
    st.tuples(st.just("reopen")),
)


def model_items(model, lo=None, hi=None, reverse=False):
    items = sorted((k, v) for k, v in model.items()
                   if (lo is None or k >= lo) and (hi is None or k < hi))
    return items[::-1] if reverse else items


class Lockstep:
    """One DB per configuration plus the dict model; every read is checked against it."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="lsmdb-meta-", dir=SCRATCH)
        self.options = {name: make() for name, make in CONFIGS.items()}
        self.dbs = {name: self._open(name) for name in CONFIGS}
        self.model: dict[bytes, bytes] = {}
        self.snaps: list[tuple[dict, dict]] = []  # (db name -> Snapshot, frozen model)
        self.jobs = dict.fromkeys(CONFIGS, 0)  # compactions + trivial moves, across reopens

    def _open(self, name):
        return lsmdb.open(os.path.join(self.dir, name), self.options[name],
                          inline_background=True)

    def close(self):
        for snaps, _ in self.snaps:
            for s in snaps.values():
                s.close()
        for db in self.dbs.values():
            db.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def each(self, fn):
        return {name: fn(db) for name, db in self.dbs.items()}

    def expect(self, got: dict, want, what):
        bad = {name: g for name, g in got.items() if g != want}
        assert not bad, f"{what}: {sorted(bad)} differ from the model"

    def apply(self, op):
        kind = op[0]
        m = self.model
        if kind == "put":
            _, k, v = op
            self.each(lambda db: db.put(k, v))
            m[k] = v
        elif kind == "delete":
            self.each(lambda db: db.delete(op[1]))
            m.pop(op[1], None)
        elif kind == "delete_range":
            a, b = sorted(op[1:])  # start > end is InvalidArgumentError
            self.each(lambda db: db.delete_range(a, b))
            for k in [k for k in m if a <= k < b]:
                del m[k]
        elif kind == "batch":
            self._batch(op[1], op[2])
        elif kind == "get":
            self.expect(self.each(lambda db: db.get(op[1])), m.get(op[1]), f"get {op[1]!r}")
        elif kind == "scan":
            _, lo, hi, rev = op
            self.expect(self.each(lambda db: list(db.items(start=lo, stop=hi, reverse=rev))),
                        model_items(m, lo, hi, rev), f"scan {lo!r}..{hi!r} reverse={rev}")
        elif kind == "snapshot":
            self.snaps.append((self.each(lambda db: db.snapshot()), dict(m)))
        elif kind == "read_snapshot" and self.snaps:
            snaps, frozen = self.snaps[op[1] % len(self.snaps)]
            k = op[2]
            self.expect({n: s.get(k) for n, s in snaps.items()}, frozen.get(k),
                        f"snapshot get {k!r}")
            self.expect({n: list(s.items()) for n, s in snaps.items()},
                        sorted(frozen.items()), "snapshot scan")
        elif kind == "release" and self.snaps:
            snaps, _ = self.snaps.pop(op[1] % len(self.snaps))
            for s in snaps.values():
                s.close()
        elif kind == "flush":
            self.each(lambda db: db.flush())
        elif kind == "compact":
            self.each(lambda db: db.compact_range(op[1], op[2]))
        elif kind == "reopen":
            for snaps, _ in self.snaps:
                for s in snaps.values():
                    s.close()
            self.snaps.clear()
            self.tally_jobs()
            for name, db in self.dbs.items():
                db.close()
                self.dbs[name] = self._open(name)

    def tally_jobs(self):
        for name, db in self.dbs.items():
            s = db.stats()
            self.jobs[name] += s.compactions + s.trivial_moves

    def _batch(self, batch_ops, fail):
        def run(db):
            try:
                with db.write_batch() as wb:
                    for kind, k, v in batch_ops:
                        if kind == "put":
                            wb.put(k, v)
                        else:
                            wb.delete(k)
                    if fail:
                        raise KeyboardInterrupt
            except KeyboardInterrupt:
                pass

        self.each(run)
        if not fail:
            for kind, k, v in batch_ops:
                if kind == "put":
                    self.model[k] = v
                else:
                    self.model.pop(k, None)

    def check_all(self):
        self.expect(self.each(lambda db: list(db.items())), model_items(self.model),
                    "full scan")
        self.expect(self.each(lambda db: db.count()), len(self.model), "count")


TALLY: dict[str, int] = {}


@settings(max_examples=200 if LONG else 15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(sequence=st.lists(ops, min_size=20, max_size=400 if LONG else 150))
def test_every_style_reads_the_same(sequence):
    run = Lockstep()
    try:
        for i, op in enumerate(sequence):
            run.apply(op)
            if i % 25 == 24:
                run.check_all()
        run.check_all()
        run.tally_jobs()
        for name, jobs in run.jobs.items():
            TALLY[name] = TALLY.get(name, 0) + jobs
    finally:
        run.close()


def test_a_fixed_long_sequence_compacts_under_every_style():
    """A deterministic sequence heavy enough that every configuration compacts many times."""
    import random

    rnd = random.Random(2024)
    run = Lockstep()
    try:
        for i in range(1500 if not LONG else 8000):
            r = rnd.random()
            k = b"k%03d" % rnd.randrange(300)
            if r < 0.75:
                run.apply(("put", k, rnd.randbytes(rnd.randrange(200))))
            elif r < 0.87:
                run.apply(("delete", k))
            elif r < 0.90:
                run.apply(("delete_range", k, b"k%03d" % rnd.randrange(300)))
            elif r < 0.95:
                run.apply(("get", k))
            elif r < 0.97:
                run.apply(("snapshot",))
            elif r < 0.985:
                run.apply(("release", rnd.randrange(8)))
            elif r < 0.995:
                run.apply(("read_snapshot", rnd.randrange(8), k))
            else:
                run.apply(("reopen",))
            if i % 200 == 199:
                run.check_all()
        run.check_all()
        run.tally_jobs()
        for name, jobs in run.jobs.items():
            assert jobs > 20, (name, jobs)
    finally:
        run.close()


def teardown_module(module):
    print(f"\nmetamorphic compactions per configuration: {TALLY}")
