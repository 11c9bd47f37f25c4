"""ReadView: the point-lookup path of the DB in one C-level call.

A ReadView captures one consistent set of sources: memtables (newest first), then sorted
runs in search order (each L0 file is a run of one; every deeper level holds one or more
runs of non-overlapping files). ``get`` walks them newest to oldest and stops at the first
source holding the key or a range tombstone covering it. The first source that answers
decides, because any entry of the key in an older source has a smaller seqno (LSM
invariant). Tables and their fragmented tombstones are opened lazily via ``loader``.

A file's largest key may be a sentinel (range tombstone end, exclusive): such a file does
not hold its largest user key.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint8_t, uint64_t

from lsmdb._core.ikey cimport compare_user
from lsmdb._core.memtable cimport MEMTABLE_DELETED, MEMTABLE_FOUND, Memtable
from lsmdb._core.rangedel cimport FragmentedRangeTombstones
from lsmdb._core.sstable_reader cimport BlockHint, SSTableReader
# SortedRun's and ReadView's fields are declared in readpath.pxd (dbread.pyx calls _get).


cdef class SortedRun:
    """Files of one sorted run, ascending and non-overlapping."""

    def __init__(self, list metas, loader):
        self.metas = metas
        self.smallest = [m.smallest[:-8] for m in metas]
        self.largest = [m.largest[:-8] for m in metas]
        self.exclusive = [_is_sentinel(m.largest) for m in metas]
        self.has_tombstones = [m.range_deletions > 0 for m in metas]
        self.readers = [None] * len(metas)
        self.frags = [None] * len(metas)
        self.loader = loader

    cdef Py_ssize_t find(self, const uint8_t *k, size_t n) except -2:
        """Index of the file that may hold user key k, or -1."""
        cdef Py_ssize_t lo = 0, hi = len(self.largest), mid
        cdef bytes b
        cdef int c
        while lo < hi:
            mid = (lo + hi) >> 1
            b = <bytes>self.largest[mid]
            c = compare_user(<const uint8_t *>PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b), k, n)
            if c < 0 or (c == 0 and self.exclusive[mid]):
                lo = mid + 1
            else:
                hi = mid
        if lo >= len(self.largest):
            return -1
        b = <bytes>self.smallest[lo]
        if compare_user(<const uint8_t *>PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b), k, n) > 0:
            return -1
        return lo

    cdef SSTableReader reader(self, Py_ssize_t i):
        r = self.readers[i]
        if r is None:
            r, frag = self.loader(self.metas[i])
            self.readers[i] = r
            self.frags[i] = frag
        return <SSTableReader>r


cdef inline bint _is_sentinel(bytes key):
    # trailer == (MAX_SEQNO << 8) | RANGE_DELETE, little-endian
    cdef const uint8_t *p = <const uint8_t *>PyBytes_AS_STRING(key) + PyBytes_GET_SIZE(key) - 8
    return (p[0] == 2 and p[1] == 0xFF and p[2] == 0xFF and p[3] == 0xFF and p[4] == 0xFF
            and p[5] == 0xFF and p[6] == 0xFF and p[7] == 0xFF)


cdef class ReadView:

    def __init__(self, list mem_refs, list runs):
        """mem_refs: objects with ``.mem`` (Memtable) and ``.tombstones()``; runs: SortedRun
        objects in search order."""
        self.mem_refs = mem_refs
        self.mems = [r.mem for r in mem_refs]
        self.runs = runs

    cpdef object get(self, bytes key, uint64_t seq, object default):
        return self._get(<const uint8_t *>PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key), seq,
                         default, None)

    def get_many(self, list keys not None, uint64_t seq, object default) -> list:
        """[get(k, seq, default) for k in keys] (bytes keys), looked up in key order so that
        consecutive keys of one data block share one block fetch; results in input order."""
        cdef Py_ssize_t n = len(keys), i, j
        cdef list out = [default] * n
        cdef list hints = [BlockHint() for _ in range(len(self.runs))]
        cdef list order
        cdef bytes key
        for i in range(n):
            if type(keys[i]) is not bytes:
                raise TypeError(f"keys must be bytes, not {type(keys[i]).__name__}")
        order = sorted(range(n), key=keys.__getitem__)
        for i in range(n):
            j = order[i]
            key = <bytes>keys[j]
            out[j] = self._get(<const uint8_t *>PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key),
                               seq, default, hints)
        return out

    cdef object _get(self, const uint8_t *k, size_t n, uint64_t seq, object default,
                     list hints):
        """hints: None, or one BlockHint per run (a sorted multi-key read)."""
        cdef Memtable mem
        cdef const uint8_t *v
        cdef Py_ssize_t vn, i, idx
        cdef uint64_t s, t
        cdef int st
        cdef SortedRun run
        cdef SSTableReader reader
        cdef FragmentedRangeTombstones frag
        cdef object value
        for i in range(len(self.mems)):
            mem = <Memtable>self.mems[i]
            s = 0
            st = mem.c_get(k, n, seq, &v, &vn, &s)
            if mem.n_range_deletes:
                frag = self.mem_refs[i].tombstones()
                if frag is not None:
                    t = frag.c_max_covering(k, n, seq)
                    if t > s or (t and st == 0):
                        return default
            if st == MEMTABLE_FOUND:
                return PyBytes_FromStringAndSize(<const char *>v, vn)
            if st == MEMTABLE_DELETED:
                return default
        for i in range(len(self.runs)):
            run = <SortedRun>self.runs[i]
            idx = run.find(k, n)
            if idx < 0:
                continue
            reader = run.reader(idx)
            value = reader.c_lookup(k, n, seq, None if hints is None else hints[i], &st, &s)
            if run.has_tombstones[idx]:
                frag = run.frags[idx]
                if frag is not None:
                    t = frag.c_max_covering(k, n, seq)
                    if t and (st == 0 or t > s):
                        return default
            if st == 1:
                return value
            if st == 2:
                return default
        return default
