"""The per-entry loop of flushes and compactions: iterator -> SSTableBuilder, in C.

``copy_entries`` moves entries from a positioned InternalIterator (a memtable iterator or a
CompactionIterator) into a builder through both C vtables, with no Python object per entry.
It stops early only at a user-key boundary once the builder has reached ``target_bytes``,
so the caller can start the next output file there (no user key spans two files).
The loop holds the GIL (the sources are Cython objects whose methods may raise); every 4096
entries it drops the GIL for a moment so foreground threads keep running during long jobs.
"""

from libc.stdint cimport uint8_t

from lsmdb._core.ikey cimport compare_user
from lsmdb._core.iterator cimport InternalIterator
from lsmdb._core.sstable cimport SSTableBuilder


def copy_entries(InternalIterator src not None, SSTableBuilder builder not None,
                 Py_ssize_t target_bytes) -> tuple:
    """Copy from ``src``'s current entry on. Returns ``(count, exhausted)``: ``exhausted`` is
    False when the copy stopped at a new user key because the file reached target_bytes."""
    cdef Py_ssize_t kn, vn, count = 0
    cdef const uint8_t *k
    cdef const uint8_t *v
    while src.c_valid():
        k = src.c_key(&kn)
        if (builder.num_entries and (count & 63) == 0
                and compare_user(builder.last_key, builder.last_len - 8, k, kn - 8) != 0
                and builder.estimated_size >= target_bytes):
            return count, False
        v = src.c_value(&vn)
        builder.c_add(k, kn, v, vn)
        count += 1
        src.c_next()
        if (count & 4095) == 0:
            with nogil:  # nothing touched here; just lets waiting Python threads run
                pass
    return count, True
