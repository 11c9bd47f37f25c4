"""LevelIterator (lsmdb/_core/leveliter.pyx): one iterator over a run of SSTables."""

import bisect

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lsmdb._core.cache import BlockCache
from lsmdb._core.ikey import PUT, make_internal_key, seek_key
from lsmdb._core.leveliter import LevelIterator
from lsmdb._core.sstable_builder import SSTableBuilder
from lsmdb._core.sstable_reader import SSTableReader
from lsmdb.testing.list_iterator import ListIterator

FILES = 6
PER_FILE = 50
USER_KEYS = [b"k%04d" % i for i in range(FILES * PER_FILE)]
ITEMS = [(make_internal_key(uk, 1, PUT), b"v" + uk) for uk in USER_KEYS]


class Opener:
    """Opens file i of a run (a list of entry lists) and counts the calls."""

    def __init__(self, files, make):
        self.files, self.make, self.calls, self.opened = files, make, [], {}

    def __call__(self, i):
        self.calls.append(i)
        self.opened[i] = self.make(self.files[i])
        return self.opened[i]


class _Sink:
    def __init__(self):
        self.chunks = []

    def append(self, data):
        self.chunks.append(bytes(data))


class _Mem:
    def __init__(self, data):
        self.data, self.size, self.path = data, len(data), "mem.sst"

    def pread(self, offset, n):
        return self.data[offset:offset + n]


def _table(entries, cache, number):
    sink = _Sink()
    b = SSTableBuilder(sink, block_bytes=256)
    for k, v in entries:
        b.add(k, v)
    b.finish()
    return SSTableReader(_Mem(b"".join(sink.chunks)), file_number=number, cache=cache)


def _run(make):
    files = [ITEMS[i:i + PER_FILE] for i in range(0, len(ITEMS), PER_FILE)]
    opener = Opener(files, make)
    return LevelIterator([f[-1][0] for f in files], opener), opener


def test_each_file_is_opened_once_however_often_seeks_come_back_to_it():
    it, opener = _run(ListIterator)
    for _ in range(3):
        for uk in USER_KEYS[::17]:
            it.seek(seek_key(uk, 5))
            assert it.key() == make_internal_key(uk, 1, PUT)
    it.seek_to_first()
    n = 0
    while it.valid():
        n += 1
        it.next()
    assert n == len(ITEMS)
    assert sorted(opener.calls) == list(range(FILES))


def test_a_table_iterator_the_cursor_leaves_holds_no_block():
    cache = BlockCache(1 << 20)
    readers = []

    def make(entries):
        readers.append(_table(entries, cache, len(readers) + 1))
        return readers[-1].iterator()

    it, opener = _run(make)
    it.seek(seek_key(USER_KEYS[10], 5))                 # file 0
    it.seek(seek_key(USER_KEYS[PER_FILE + 10], 5))      # file 1: file 0 let go
    assert it.key() == ITEMS[PER_FILE + 10][0]
    assert not opener.opened[0].valid() and opener.opened[1].valid()
    it.seek(seek_key(USER_KEYS[11], 5))                 # back to file 0, same iterator
    assert it.key() == ITEMS[11][0]
    assert opener.calls == [0, 1]


@given(st.lists(st.tuples(st.sampled_from(["seek", "seek_for_prev", "next", "prev"]),
                          st.integers(0, len(USER_KEYS) + 1), st.booleans()), max_size=60))
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_sequence_of_seeks_and_steps_matches_the_sorted_entries(ops):
    cache = BlockCache(1 << 16)
    it, _ = _run(lambda entries: _table(entries, cache, 1 + ITEMS.index(entries[0]))
                 .iterator())
    keys = [k for k, _ in ITEMS]
    pos = None
    for op, i, between in ops:
        uk = b"k%04d" % i + (b"x" if between else b"")
        if op == "seek":
            it.seek(seek_key(uk, 5))
            pos = bisect.bisect_left(USER_KEYS, uk)
        elif op == "seek_for_prev":
            it.seek_for_prev(seek_key(uk, 0))
            pos = bisect.bisect_right(USER_KEYS, uk) - 1
        elif pos is None:
            continue
        else:
            (it.next if op == "next" else it.prev)()
            pos += 1 if op == "next" else -1
        if pos is not None and not 0 <= pos < len(ITEMS):
            pos = None
        assert it.valid() == (pos is not None)
        if pos is not None:
            assert (it.key(), it.value()) == (keys[pos], ITEMS[pos][1])
