"""The everyday API of lsmdb.DB as plyvel, rocksdict, lmdb and dict users expect it (issue 12):
exact len/bool, explicit batch writes, argument validation, paths, context managers,
consistent iterator signatures, option keywords at open, iterator bounds."""

import gc
import inspect
import os
import pathlib
import random
import warnings

import pytest

import lsmdb
from lsmdb.errors import ClosedError, InvalidArgumentError
from lsmdb.options import Compaction, InvalidOptionsError
from lsmdb.testing.presets import small_options


@pytest.fixture
def db(tmp_path):
    d = lsmdb.open(tmp_path / "db", small_options())
    yield d
    d.close()


def _fill(db, n: int, fmt: bytes = b"k%03d") -> None:
    for i in range(n):
        db.put(fmt % i, b"v%d" % i)


# -- len / bool / estimate_num_keys ----------------------------------------------------------

def test_len_is_exact_after_overwrites_and_a_range_delete(db):
    _fill(db, 103)
    db.flush()
    for i in range(20):
        db.put(b"k%03d" % i, b"again")  # overwritten versions are not extra keys
    db.delete_range(b"k020", b"k101")
    assert len(db) == 22 == db.count()
    assert len(list(db.keys())) == 22
    # the estimate is the cheap counter arithmetic, too high here, and says so
    assert db.estimate_num_keys() > len(db)


def test_bool_is_exact_when_deletes_outnumber_live_keys(db):
    assert not db
    db.put(b"live", b"1")
    for i in range(3):
        db.delete(b"missing%d" % i)  # deletes of absent keys drove the estimate to 0
    assert bool(db) is True
    assert len(db) == 1
    db.delete(b"live")
    assert bool(db) is False and len(db) == 0
    db.put(b"a", b"1")
    db.delete_range(b"a", b"b")
    assert not db


def test_len_and_bool_of_a_snapshot_are_its_own(db):
    _fill(db, 5)
    with db.snapshot() as snap:
        db.delete_range(b"k000", b"k999")
        assert len(snap) == 5 == snap.count()
        assert bool(snap) and not db
    with db.snapshot() as empty:
        assert len(empty) == 0 and not empty


def test_len_bool_and_estimate_raise_closed(tmp_path):
    d = lsmdb.open(tmp_path / "db", small_options())
    snap = d.snapshot()
    d.close()
    for call in (lambda: len(d), lambda: bool(d), d.estimate_num_keys, lambda: len(snap),
                 lambda: bool(snap)):
        with pytest.raises(ClosedError):
            call()


# -- write batches -----------------------------------------------------------------------------

def test_batch_without_with_is_applied_by_write(db):
    wb = db.write_batch()
    wb.put(b"a", b"1")
    wb.put(b"b", b"2")
    wb.delete(b"a")
    assert db.get(b"b") is None  # nothing until written
    wb.write()
    assert db.get(b"a") is None and db[b"b"] == b"2"
    wb2 = db.write_batch(sync=True)
    wb2.put(b"c", b"3")
    db.write(wb2, sync=False)
    assert db[b"c"] == b"3"


def test_batch_is_written_at_most_once(db):
    wb = db.write_batch()
    wb.put(b"a", b"1")
    wb.write()
    db.delete(b"a")
    with pytest.raises(ClosedError, match="already written"):
        wb.write()
    with pytest.raises(ClosedError, match="already written"):
        db.write(wb)
    with pytest.raises(ClosedError):
        wb.put(b"a", b"2")
    with pytest.raises(ClosedError):
        with wb:
            pass
    assert db.get(b"a") is None  # the second write applied nothing


def test_batch_written_inside_with_is_not_written_again(db):
    with db.write_batch() as wb:
        wb.put(b"a", b"1")
        wb.write()
        db.put(b"a", b"later")
    assert db[b"a"] == b"later"
    with pytest.raises(RuntimeError):
        with db.write_batch() as wb:
            wb.put(b"z", b"1")
            raise RuntimeError("boom")
    with pytest.raises(ClosedError, match="discarded"):
        wb.write()
    assert db.get(b"z") is None


def test_dropping_an_unwritten_batch_warns(db):
    wb = db.write_batch()
    wb.put(b"a", b"1")
    with pytest.warns(ResourceWarning, match="1 operations was never written"):
        del wb
        gc.collect()
    assert db.get(b"a") is None


def test_no_warning_for_written_empty_or_cleared_batches(db):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        wb = db.write_batch()
        wb.put(b"a", b"1")
        wb.write()
        cleared = db.write_batch()
        cleared.put(b"b", b"1")
        cleared.clear()
        assert len(cleared) == 0
        empty = db.write_batch()
        del wb, cleared, empty
        gc.collect()
    assert db[b"a"] == b"1" and db.get(b"b") is None


def test_write_rejects_foreign_batches(db, tmp_path):
    with lsmdb.open(tmp_path / "other", small_options()) as other:
        wb = other.write_batch()
        wb.put(b"a", b"1")
        with pytest.raises(InvalidArgumentError, match="another database"):
            db.write(wb)
        wb.clear()
    with pytest.raises(TypeError, match="batch"):
        db.write([(b"a", b"1")])
    assert db.get(b"a") is None


# -- delete_range ------------------------------------------------------------------------------

def test_delete_range_with_start_after_end_is_invalid(db):
    _fill(db, 30)
    with pytest.raises(InvalidArgumentError, match="start"):
        db.delete_range(b"k020", b"k010")
    with pytest.raises(InvalidArgumentError):
        with db.write_batch() as wb:
            wb.put(b"new", b"1")
            wb.delete_range(b"z", b"a")
    assert db.get(b"new") is None and len(db) == 30  # nothing applied
    db.delete_range(b"k010", b"k010")  # empty range: a valid no-op
    with db.write_batch() as wb:
        wb.delete_range(b"k011", b"k011")
    assert len(db) == 30


# -- snapshot argument -------------------------------------------------------------------------

def test_snapshot_argument_is_validated(db, tmp_path):
    db.put(b"a", b"1")
    reads = (lambda s: db.get(b"a", snapshot=s), lambda s: db.iterator(snapshot=s),
             lambda s: list(db.items(snapshot=s)), lambda s: list(db.keys(snapshot=s)),
             lambda s: list(db.values(snapshot=s)))
    for read in reads:
        with pytest.raises(InvalidArgumentError, match="snapshot must be .* not int"):
            read(42)
    with lsmdb.open(tmp_path / "other", small_options()) as other:
        with other.snapshot() as foreign:
            for read in reads:
                with pytest.raises(InvalidArgumentError, match="another database"):
                    read(foreign)
    snap = db.snapshot()
    snap.close()
    for read in reads:
        with pytest.raises(ClosedError, match="snapshot is closed"):
            read(snap)


# -- paths -------------------------------------------------------------------------------------

def test_open_accepts_str_bytes_and_pathlike(tmp_path):
    for i, kind in enumerate((str, os.fsencode, pathlib.Path)):
        path = kind(tmp_path / f"db{i}")
        with lsmdb.open(path, small_options()) as d:
            d.put(b"k", b"v")
            assert d.path == str(tmp_path / f"db{i}")
        with lsmdb.DB(path, small_options()) as d:
            assert d[b"k"] == b"v"


def test_open_rejects_empty_and_non_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for empty in ("", b""):
        with pytest.raises(InvalidArgumentError, match="empty"):
            lsmdb.open(empty)
    with pytest.raises(InvalidArgumentError, match="NUL"):
        lsmdb.open("a\0b")
    with pytest.raises(TypeError, match="path must be str, bytes or os.PathLike"):
        lsmdb.open(42)
    assert os.listdir(tmp_path) == []  # nothing was created in the current directory


def test_checkpoint_accepts_bytes_and_pathlike(db, tmp_path):
    db.put(b"k", b"v")
    db.checkpoint(os.fsencode(tmp_path / "cp1"))
    db.checkpoint(tmp_path / "cp2")
    for name in ("cp1", "cp2"):
        with lsmdb.open(tmp_path / name, small_options()) as cp:
            assert cp[b"k"] == b"v"
    with pytest.raises(InvalidArgumentError, match="checkpoint target is empty"):
        db.checkpoint("")


# -- context managers on closed objects ----------------------------------------------------------

def test_entering_closed_objects_raises(tmp_path):
    d = lsmdb.open(tmp_path / "db", small_options())
    d.put(b"k", b"v")
    snap = d.snapshot()
    snap.close()
    with pytest.raises(ClosedError, match="snapshot is closed"):
        with snap:
            pass
    it = d.iterator()
    it.close()
    with pytest.raises(ClosedError, match="iterator is closed"):
        with it:
            pass
    live_snap, live_it = d.snapshot(), d.iterator()
    d.close()
    for obj in (d, live_snap, live_it):
        with pytest.raises(ClosedError, match="database is closed"):
            with obj:
                pass


# -- signatures ----------------------------------------------------------------------------------

def _shape(fn):
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def test_iterator_items_keys_values_share_one_signature(db):
    methods = ("iterator", "items", "keys", "values")
    want = _shape(db.iterator)
    assert [(n, k) for n, k, _ in want[:2]] == [
        ("start", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("stop", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    assert all(k is inspect.Parameter.KEYWORD_ONLY for _, k, _ in want[2:])
    for name in methods:
        assert _shape(getattr(db, name)) == want, name
    with db.snapshot() as snap:
        for name in methods:
            assert _shape(getattr(snap, name)) == [p for p in want if p[0] != "snapshot"], name


def test_positional_bounds_work_on_iterator_and_snapshots(db):
    _fill(db, 6)
    with db.iterator(b"k001", b"k003") as it:
        assert [k for k, _ in it] == [b"k001", b"k002"]
    with db.snapshot() as snap:
        with snap.iterator(b"k004", None, reverse=True) as it:
            assert [k for k, _ in it] == [b"k005", b"k004"]
        assert list(snap.keys(b"k004")) == [b"k004", b"k005"]


def test_keys_and_values_validate_their_arguments_at_the_call(db):
    with pytest.raises(TypeError, match="start"):
        db.keys("a")
    with pytest.raises(TypeError, match="prefix"):
        db.values(prefix=3)


# -- option keywords at open -----------------------------------------------------------------------

@pytest.mark.parametrize("spelling", [
    {"compaction": {"style": "tiered", "size_ratio": 4}},
    {"compaction.style": "tiered", "compaction.size_ratio": 4},
    {"compaction": Compaction(style="tiered", size_ratio=4)},
])
def test_open_takes_nested_options_as_dicts_dotted_keys_or_objects(tmp_path, spelling):
    with lsmdb.open(tmp_path / "db", small_options(), **spelling) as d:
        assert d.options.compaction.style == "tiered"
        assert d.options.compaction.size_ratio == 4
        d.put(b"k", b"v")
        assert d[b"k"] == b"v"


def test_open_reports_every_bad_option_keyword(tmp_path):
    with pytest.raises(InvalidOptionsError) as info:
        lsmdb.open(tmp_path / "db", compaction={"style": "nope", "bogus": 1},
                   **{"bloom.bits_per_key": -1})
    assert set(info.value.fields) == {"compaction.style", "compaction.bogus",
                                      "bloom.bits_per_key"}
    assert not os.path.exists(tmp_path / "db")


# -- iterator bounds -----------------------------------------------------------------------------

KEYS = [b"a", b"ab", b"abc", b"abd", b"b", b"ba", b"c", b"\xff", b"\xff\xff"]


@pytest.fixture
def keyed(db):
    for k in KEYS:
        db.put(k, k)
    db.flush()
    return db


def _ks(db, *args, **kw):
    return list(db.keys(*args, **kw))


def test_start_is_inclusive_stop_exclusive(keyed):
    assert _ks(keyed, b"ab", b"b") == [b"ab", b"abc", b"abd"]
    assert _ks(keyed, b"ab", b"ba") == [b"ab", b"abc", b"abd", b"b"]
    assert _ks(keyed, b"b") == [b"b", b"ba", b"c", b"\xff", b"\xff\xff"]
    assert _ks(keyed, None, b"ab") == [b"a"]
    assert _ks(keyed, b"b", b"b") == [] and _ks(keyed, b"c", b"a") == []  # empty, no error


def test_reverse_yields_the_same_range_descending(keyed):
    assert _ks(keyed, b"ab", b"b", reverse=True) == [b"abd", b"abc", b"ab"]
    assert _ks(keyed, None, b"ab", reverse=True) == [b"a"]
    assert _ks(keyed, b"c", reverse=True) == [b"\xff\xff", b"\xff", b"c"]
    assert _ks(keyed, b"ab", b"b", prefix=b"abc", reverse=True) == [b"abc"]


def test_prefix_intersects_with_start_and_stop(keyed):
    assert _ks(keyed, prefix=b"ab") == [b"ab", b"abc", b"abd"]
    assert _ks(keyed, b"abc", prefix=b"ab") == [b"abc", b"abd"]  # start inside: narrows
    assert _ks(keyed, b"0", prefix=b"ab") == [b"ab", b"abc", b"abd"]  # start before: no effect
    assert _ks(keyed, b"b", prefix=b"ab") == []  # start after the prefix range: empty
    assert _ks(keyed, None, b"abd", prefix=b"ab") == [b"ab", b"abc"]  # stop still exclusive
    assert _ks(keyed, prefix=b"") == KEYS
    assert _ks(keyed, prefix=b"\xff") == [b"\xff", b"\xff\xff"]  # no successor: to the end


def test_seek_stays_inside_the_bounds(keyed):
    with keyed.iterator(b"ab", b"b") as it:
        it.seek(b"a")
        assert it.key() == b"ab"  # below the range: its first key
        it.seek(b"abd")
        assert it.key() == b"abd"
        it.seek(b"z")
        assert not it.valid()  # above the range: nothing
        it.seek_for_prev(b"z")
        assert it.key() == b"abd"  # above the range: its last key
        it.seek_for_prev(b"0")
        assert not it.valid()


def test_bounds_match_a_model_on_random_ranges(tmp_path):
    # Short keys over a tiny alphabet (b"\x00", b"\xff" included) so that random bounds and
    # prefixes often coincide with keys and with each other's prefix ranges.
    rnd = random.Random(12)

    def key():
        return b"".join(rnd.choice((b"a", b"b", b"\x00", b"\xff")) for _ in range(rnd.randrange(4)))

    model: dict = {}
    with lsmdb.open(tmp_path / "db", small_options(), inline_background=True) as d:
        for _ in range(2000):
            r = rnd.random()
            if r < 0.5:
                k = key()
                d.put(k, k)
                model[k] = k
            elif r < 0.6:
                k = key()
                d.delete(k)
                model.pop(k, None)
            elif r < 0.65:
                lo, hi = sorted((key(), key()))
                d.delete_range(lo, hi)
                for k in [k for k in model if lo <= k < hi]:
                    del model[k]
            elif r < 0.67:
                d.flush()
            else:
                start, stop, prefix = (key() if rnd.random() < p else None for p in (.6, .6, .4))
                want = sorted(k for k in model if (start is None or start <= k)
                              and (stop is None or k < stop)
                              and (prefix is None or k.startswith(prefix)))
                reverse = rnd.random() < 0.5
                got = list(d.keys(start, stop, prefix=prefix, reverse=reverse))
                assert got == (want[::-1] if reverse else want), (start, stop, prefix, reverse)
                target = key()
                with d.iterator(start, stop, prefix=prefix) as it:
                    it.seek(target)
                    assert (it.key() if it.valid() else None) == next(
                        (k for k in want if k >= target), None), ("seek", start, stop, target)
                    it.seek_for_prev(target)
                    assert (it.key() if it.valid() else None) == next(
                        (k for k in reversed(want) if k <= target), None), ("seek_for_prev",)
        assert len(d) == len(model)


def test_bound_semantics_are_in_the_docstrings():
    doc = lsmdb.DB.iterator.__doc__
    for phrase in ("``start`` is inclusive, ``stop`` exclusive", "``prefix``",
                   "``reverse=True``", "``start >= stop`` is an empty range"):
        assert phrase in doc, phrase
    for name in ("items", "keys", "values"):
        assert ":meth:`iterator`" in getattr(lsmdb.DB, name).__doc__, name
    assert "lsmdb.DB.iterator" in lsmdb.Snapshot.items.__doc__


def test_get_at_reads_at_a_pinned_sequence_number(db):
    db.put(b"k", b"1")
    snap = db.snapshot()
    seq = db.last_sequence
    assert snap.seqno == seq
    db.put(b"k", b"2")
    assert db.last_sequence == seq + 1
    assert db.get_at(b"k") == b"2"
    assert db.get_at(b"k", seq) == b"1"
    assert db.get_at(b"missing", None, b"d") == b"d"
    assert db.memtable_bytes() > 0
    with pytest.raises(TypeError):
        db.get_at(12)  # not bytes: the checked path reports it, as get does
    snap.close()
    db.close()
    with pytest.raises(ClosedError):
        db.get_at(b"k")


# -- the calls a layer above uses (the storage engine's key space) ----------------------------

def test_write_raw_applies_an_encoded_batch_atomically(db, tmp_path):
    from lsmdb._core.batch import WriteBatch

    b = WriteBatch()
    b.put(b"a", b"1")
    b.put(b"b", b"2")
    b.delete_range(b"b", b"c")
    before = db.last_sequence
    db.write_raw(b, sync=True)
    assert dict(db.items()) == {b"a": b"1"} and db.last_sequence == before + 3
    db.write_raw(WriteBatch())  # empty: nothing written, no sequence used
    assert db.last_sequence == before + 3
    for bad in (None, b"raw bytes", db.write_batch()):
        with pytest.raises(TypeError, match="WriteBatch"):
            db.write_raw(bad)
    db.close()
    with pytest.raises(ClosedError):
        db.write_raw(b)
    with lsmdb.open(tmp_path / "db", small_options(), read_only=True) as ro:
        with pytest.raises(lsmdb.errors.FeatureNotSupportedError):
            ro.write_raw(b)


def test_memtable_entries_counts_what_a_flush_writes(db):
    assert db.memtable_entries() == 0
    db.put(b"a", b"1")
    db.delete(b"b")
    db.delete_range(b"c", b"d")
    assert db.memtable_entries() == 3
    db.flush()
    assert db.memtable_entries() == 0


def test_wal_counters_follow_the_writes(db):
    bytes0, syncs0 = db.wal_counters()
    db.put(b"a", b"1", sync=True)
    db.put(b"b", b"2", sync=False)
    nbytes, syncs = db.wal_counters()
    assert nbytes > bytes0 and syncs == syncs0 + 1
    s = db.stats()
    assert (s.wal_bytes, s.wal_syncs) == (nbytes, syncs)
    db.close()
    with pytest.raises(ClosedError):
        db.wal_counters()


def test_delete_obsolete_files_after_flush_leaves_only_the_live_segment(db):
    for i in range(3):
        db.put(b"k%d" % i, b"v")
        db.flush()
    db.delete_obsolete_files()
    assert len(os.listdir(os.path.join(db.path, "wal"))) == 1
    assert len(db) == 3
    db.close()
    with pytest.raises(ClosedError):
        db.delete_obsolete_files()
