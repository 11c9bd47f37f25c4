"""The per-entry loop of flushes and compactions: iterator -> SSTableBuilder, in C.

``copy_entries`` moves entries from a positioned InternalIterator (a memtable iterator or a
CompactionIterator) into a builder through both C vtables, with no Python object per entry.
It stops early only at a user-key boundary, so the caller can start the next output file
there (no user key spans two files): once the builder has reached ``target_bytes``, or, when
``boundaries`` is given, once it has reached ``min_bytes`` and the next key crosses one of
those user keys (the first keys of the next level's files: RocksDB's grandparent-aligned
cut, which makes output files span whole files of the level below, so compacting them
later rewrites no partly-overlapped neighbour).
The loop holds the GIL (the sources are Cython objects whose methods may raise); every 4096
entries it drops the GIL for a moment so foreground threads keep running during long jobs.
"""

from bisect import bisect_right

from libc.stdint cimport uint8_t

from lsmdb._core.ikey cimport compare_user
from lsmdb._core.iterator cimport InternalIterator
from lsmdb._core.sstable_builder cimport SSTableBuilder


def copy_entries(InternalIterator src not None, SSTableBuilder builder not None,
                 Py_ssize_t target_bytes, list boundaries=None,
                 Py_ssize_t min_bytes=0) -> tuple:
    """Copy from ``src``'s current entry on. Returns ``(count, exhausted)``: ``exhausted`` is
    False when the copy stopped at a new user key because the file reached target_bytes, or
    min_bytes at a crossing of ``boundaries`` (sorted user keys)."""
    cdef Py_ssize_t kn, vn, count = 0, bn = 0
    cdef const uint8_t *k
    cdef const uint8_t *v
    cdef const uint8_t *bp = NULL
    cdef bytes bound = None
    cdef bint seeking_bound = boundaries is not None and len(boundaries) > 0
    while src.c_valid():
        k = src.c_key(&kn)
        if builder.num_entries:
            # Armed: the first boundary above the last key written; a key at or past it
            # starts a new user key (the last one was below it), so the cut is clean.
            if bp != NULL and compare_user(k, kn - 8, bp, bn) >= 0:
                return count, False
            if (count & 63) == 0:
                if (compare_user(builder.last_key, builder.last_len - 8, k, kn - 8) != 0
                        and builder.estimated_size >= target_bytes):
                    return count, False
                if seeking_bound and builder.estimated_size >= min_bytes:
                    seeking_bound = False
                    i = bisect_right(boundaries,
                                     (<const char *>builder.last_key)[:builder.last_len - 8])
                    if i < len(boundaries):
                        bound = boundaries[i]
                        bp = <const uint8_t *>bound
                        bn = len(bound)
        v = src.c_value(&vn)
        builder.c_add(k, kn, v, vn)
        count += 1
        src.c_next()
        if (count & 4095) == 0:
            with nogil:  # nothing touched here; just lets waiting Python threads run
                pass
    return count, True
