"""Stateful model test: random operations on lsmdb.DB checked against a dict after every read.

Tiny memtables and files (plus deterministic inline background work) make flushes and
compactions happen every few operations, so the test exercises the whole LSM read/write
path, snapshots across compactions, range tombstones in every layer, and recovery.
LSMDB_LONG=1 runs many more examples.
"""

import bisect
import os
import shutil
import tempfile

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
)

import lsmdb
from lsmdb.errors import ClosedError
from lsmdb.testing.presets import small_options

LONG = bool(os.environ.get("LSMDB_LONG"))
keys = st.binary(min_size=0, max_size=3).map(lambda b: b"k" + b)
values = st.binary(max_size=300)


def model_items(model, lo=None, hi=None):
    return sorted((k, v) for k, v in model.items()
                  if (lo is None or k >= lo) and (hi is None or k < hi))


TALLY = {"flushes": 0, "compactions": 0, "trivial_moves": 0}  # printed with -s


class DBModel(RuleBasedStateMachine):
    snapshots = Bundle("snapshots")
    extra_options: dict = {}

    def __init__(self):
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="lsmdb-model-")
        self.options = small_options(memtable_bytes=1024, block_bytes=256, **self.extra_options)
        self.db = lsmdb.open(os.path.join(self.dir, "db"), self.options, inline_background=True)
        self.model: dict[bytes, bytes] = {}
        self.live_snaps = []
        self.reused = None      # (a long-lived iterator, the sorted items it must see)
        self.ops = 0

    def _tally(self):
        s = self.db.stats()
        TALLY["flushes"] += s.flushes
        TALLY["compactions"] += s.compactions
        TALLY["trivial_moves"] += s.trivial_moves

    def teardown(self):
        if self.reused is not None:
            self.reused[0].close()
        self._tally()
        self.db.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule(k=keys, v=values)
    def put(self, k, v):
        self.db.put(k, v)
        self.model[k] = v

    @rule(k=keys)
    def delete(self, k):
        self.db.delete(k)
        self.model.pop(k, None)

    @rule(a=keys, b=keys)
    def delete_range(self, a, b):
        a, b = sorted((a, b))  # start > end is InvalidArgumentError
        self.db.delete_range(a, b)
        for k in [k for k in self.model if a <= k < b]:
            del self.model[k]

    @rule(ops=st.lists(st.tuples(st.sampled_from(["put", "del"]), keys, values), max_size=8),
          fail=st.booleans())
    def batch(self, ops, fail):
        try:
            with self.db.write_batch() as wb:
                for op, k, v in ops:
                    if op == "put":
                        wb.put(k, v)
                    else:
                        wb.delete(k)
                if fail:
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            return
        for op, k, v in ops:
            if op == "put":
                self.model[k] = v
            else:
                self.model.pop(k, None)

    @rule(k=keys)
    def get(self, k):
        assert self.db.get(k) == self.model.get(k)

    @rule(ks=st.lists(keys, max_size=12))
    def multi_get(self, ks):
        assert self.db.multi_get(ks) == [self.model.get(k) for k in ks]

    @rule(lo=st.none() | keys, hi=st.none() | keys, reverse=st.booleans())
    def scan(self, lo, hi, reverse):
        got = list(self.db.items(start=lo, stop=hi, reverse=reverse))
        want = model_items(self.model, lo, hi)
        assert got == (want[::-1] if reverse else want)

    @rule(k=keys)
    def seek(self, k):
        it = self.db.iterator()
        it.seek(k)
        after = [x for x in sorted(self.model) if x >= k]
        assert (it.key() if it.valid() else None) == (after[0] if after else None)
        it.seek_for_prev(k)
        before = [x for x in sorted(self.model) if x <= k]
        assert (it.key() if it.valid() else None) == (before[-1] if before else None)
        if it.valid():
            it.prev()
            assert (it.key() if it.valid() else None) == (before[-2] if len(before) > 1 else None)

    @rule()
    def open_reused_iterator(self):
        if self.reused is not None:
            self.reused[0].close()
        self.reused = (self.db.iterator(), sorted(self.model.items()))

    @precondition(lambda self: self.reused is not None)
    @rule(k=keys, back=st.booleans(), moves=st.lists(st.booleans(), max_size=4))
    def seek_reused_iterator(self, k, back, moves):
        # One iterator, seeked again and again while writes, flushes and compactions go on
        # under it: it keeps the view it was opened on.
        it, items = self.reused
        ks = [x for x, _ in items]
        if back:
            it.seek_for_prev(k)
            pos = bisect.bisect_right(ks, k) - 1
        else:
            it.seek(k)
            pos = bisect.bisect_left(ks, k)
        for forward in [None, *moves]:
            if forward is not None:
                if not it.valid():
                    break
                (it.next if forward else it.prev)()
                pos += 1 if forward else -1
            assert it.valid() == (0 <= pos < len(items))
            if it.valid():
                assert it.item() == items[pos]

    @rule(target=snapshots)
    def take_snapshot(self):
        snap = self.db.snapshot()
        entry = (snap, dict(self.model))
        self.live_snaps.append(entry)
        return entry

    @rule(entry=snapshots, k=keys)
    def read_snapshot(self, entry, k):
        snap, frozen = entry
        if entry not in self.live_snaps:
            return
        assert snap.get(k) == frozen.get(k)
        assert snap.multi_get([k, b"k", k + b"\x00"]) == [frozen.get(x) for x in
                                                           (k, b"k", k + b"\x00")]
        assert list(snap.items()) == sorted(frozen.items())

    @rule(entry=consumes(snapshots))
    def release_snapshot(self, entry):
        if entry in self.live_snaps:
            self.live_snaps.remove(entry)
            entry[0].close()

    @rule()
    def flush(self):
        self.db.flush()

    @rule()
    def compact(self):
        self.db.compact_range()

    @precondition(lambda self: True)
    @rule()
    def reopen(self):
        for snap, _ in self.live_snaps:
            snap.close()
        self.live_snaps.clear()
        self._tally()
        self.db.close()
        if self.reused is not None:
            try:
                self.reused[0].seek(b"k")
                raise AssertionError("an iterator of a closed DB seeked")
            except ClosedError:
                pass
            self.reused[0].close()
            self.reused = None
        self.db = lsmdb.open(os.path.join(self.dir, "db"), self.options, inline_background=True)

    @invariant()
    def count_matches(self):
        self.ops += 1
        if self.ops % 10 == 0:
            assert self.db.count() == len(self.model)


DBModel.TestCase.settings = settings(
    max_examples=300 if LONG else 40, stateful_step_count=120 if LONG else 60, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TestDBModel = DBModel.TestCase


class DBModelPreadReads(DBModel):
    """The same model with tables read by pread instead of through a memory map."""

    extra_options = {"mmap_reads": False}


DBModelPreadReads.TestCase.settings = settings(
    max_examples=100 if LONG else 15, stateful_step_count=120 if LONG else 60, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TestDBModelPreadReads = DBModelPreadReads.TestCase


class DBModelChargedCache(DBModel):
    """The same model with the memtables charged to a block cache that holds about one of
    them (Options.charge_memtables_to_cache): every switch and flush moves the blocks'
    room between ~64 KiB and ~2 MiB, evicting blocks readers may hold."""

    extra_options = {"charge_memtables_to_cache": True, "memtable_front_bytes": 0,
                     "block_cache_bytes": (3 << 20) + (64 << 10)}

    @invariant()
    def blocks_fit_what_the_memtables_leave(self):
        s = self.db.stats()
        assert s.block_cache_reserved >= 1 << 20
        assert s.block_cache_usage <= max(0, self.options.block_cache_bytes
                                          - s.block_cache_reserved)


DBModelChargedCache.TestCase.settings = settings(
    max_examples=100 if LONG else 15, stateful_step_count=120 if LONG else 60, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TestDBModelChargedCache = DBModelChargedCache.TestCase


def teardown_module(module):
    print(f"\nDBModel totals: {TALLY}")
