"""Options.bloom.format: new tables get the configured filter layout, tables of the other
layout (every table an older lsmdb wrote is "standard") keep reading correctly beside them,
and a compaction that merges them writes the configured one (a trivial move keeps a file,
and so its filter, as it is)."""

from __future__ import annotations

import glob
import io
import os

import pytest

import lsmdb
from lsmdb.options import Bloom
from lsmdb.sstable import dump_sstable, open_sstable
from lsmdb.testing.presets import small_options

N = 2000


def _formats(path) -> list[str | None]:
    out = []
    for f in sorted(glob.glob(os.path.join(str(path), "sst", "*.sst"))):
        with open_sstable(f) as reader:
            out.append(reader.bloom_format)
    return out


def _fill(db, start: int, stop: int) -> None:
    for i in range(start, stop):
        db.put(b"key%06d" % i, b"v%06d" % i)
    db.flush()


def _check(db, stop: int) -> None:
    for i in range(0, stop, 7):
        assert db.get(b"key%06d" % i) == b"v%06d" % i
    assert all(db.get(b"nokey%06d" % i) is None for i in range(0, 500))
    assert sum(1 for _ in db.items()) == stop


def _options(fmt: str | None):
    opts = small_options()
    return opts if fmt is None else opts.replace(bloom=Bloom(format=fmt))


def test_default_is_blocked():
    assert Bloom().format == "blocked"


@pytest.mark.parametrize(("first", "second"), [("standard", None), ("blocked", "standard")])
def test_tables_of_both_layouts_read_side_by_side(tmp_path, first, second):
    path = tmp_path / "db"
    with lsmdb.open(path, _options(first), inline_background=True) as db:
        _fill(db, 0, N)
        assert set(_formats(path)) == {first}
    want = second or "blocked"
    with lsmdb.open(path, _options(second), inline_background=True) as db:
        _check(db, N)
        _fill(db, 0, 2 * N)  # overlaps every old table: the compaction below merges them all
        assert set(_formats(path)) == {first, want}
        _check(db, 2 * N)
        db.compact_range()
        assert set(_formats(path)) == {want}
        _check(db, 2 * N)
    with lsmdb.open(path, _options(first), inline_background=True) as db:
        _check(db, 2 * N)


def _bloom_counts(db) -> tuple[int, int]:
    levels = db.stats().levels
    return sum(ls.bloom_checks for ls in levels), sum(ls.bloom_negatives for ls in levels)


def test_filters_answer_for_missing_keys_in_both_layouts(tmp_path):
    for fmt in ("standard", "blocked"):
        path = tmp_path / fmt
        with lsmdb.open(path, _options(fmt), inline_background=True) as db:
            _fill(db, 0, N)
            db.compact_range()
            before = _bloom_counts(db)
            for i in range(2000):
                assert db.get(b"key%06dx" % i) is None  # inside the tables' key range
            after = _bloom_counts(db)
        checks, negatives = (a - b for a, b in zip(after, before, strict=True))
        assert checks >= 1900 and negatives >= 0.9 * checks, (fmt, negatives, checks)


def test_dump_names_the_filter_layout(tmp_path):
    path = tmp_path / "db"
    with lsmdb.open(path, _options(None), inline_background=True) as db:
        _fill(db, 0, 100)
    (table,) = glob.glob(os.path.join(str(path), "sst", "*.sst"))
    out = io.StringIO()
    dump_sstable(table, out, show_entries=False)
    assert "filter: blocked, 1024 bits, 6 probes per key" in out.getvalue()
