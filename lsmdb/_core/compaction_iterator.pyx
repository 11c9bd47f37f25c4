"""CompactionIterator: the internal entries a compaction keeps, given the live snapshots and
the range tombstones (RocksDB's CompactionIterator). Entries of type RANGE_DELETE in the
source are ignored: range tombstones travel separately as a FragmentedRangeTombstones.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport uint8_t, uint64_t
from libc.stdlib cimport free, malloc

from lsmdb._core.coding cimport buf_free, buf_set
from lsmdb._core.ikey cimport (
    TYPE_DELETE,
    TYPE_RANGE_DELETE,
    compare_user,
    max_seqno,
    split_internal_key,
)
from lsmdb._core.iterator cimport InternalIterator
from lsmdb._core.rangedel cimport FragmentedRangeTombstones

from lsmdb._core.ikey import MAX_SEQNO
from lsmdb.errors import InvalidArgumentError


cdef class CompactionIterator(InternalIterator):
    """The internal entries of ``source`` a compaction writes out (forward only).

    ``snapshots`` are the live snapshot seqnos. They cut each user key's versions into
    stripes ``(s[i-1], s[i]]`` (the newest stripe ends at MAX_SEQNO); a reader at any
    snapshot sees at most the newest version of each stripe, so within a stripe only the
    newest version is kept. A version is dropped when a range tombstone of its stripe with
    a higher seqno covers it; a point DELETE is dropped at the bottommost level when it is
    in the earliest stripe (nothing older survives for any snapshot). Counters are reset
    by ``seek_to_first``.
    """

    def __cinit__(self):
        self._snaps = NULL
        self._cur_user.p = NULL
        self._cur_user.n = self._cur_user.cap = 0

    def __dealloc__(self):
        free(self._snaps)
        buf_free(&self._cur_user)

    def __init__(self, InternalIterator source not None, snapshots=(),
                 FragmentedRangeTombstones tombstones=None, bint bottommost=False):
        cdef list snaps = sorted({int(s) for s in snapshots})
        cdef Py_ssize_t i
        if snaps and (snaps[0] < 0 or snaps[len(snaps) - 1] > MAX_SEQNO):
            raise InvalidArgumentError("snapshot seqnos must be in [0, MAX_SEQNO]")
        if self._snaps != NULL:
            raise InvalidArgumentError("CompactionIterator is already initialised")
        self._snaps = <uint64_t *>malloc(max(1, len(snaps)) * sizeof(uint64_t))
        if self._snaps == NULL:
            raise MemoryError()
        for i in range(len(snaps)):
            self._snaps[i] = snaps[i]
        self._nsnaps = len(snaps)
        self._src = source
        self._tombstones = tombstones if tombstones is not None and len(tombstones) else None
        self._bottommost = bottommost
        self._valid = False

    @property
    def snapshots(self) -> list:
        return [self._snaps[i] for i in range(self._nsnaps)]

    cdef Py_ssize_t _stripe(self, uint64_t seq) noexcept:
        """Index of the first snapshot >= seq (== number of snapshots for the newest)."""
        cdef Py_ssize_t lo = 0, hi = self._nsnaps, mid
        while lo < hi:
            mid = (lo + hi) >> 1
            if self._snaps[mid] < seq:
                lo = mid + 1
            else:
                hi = mid
        return lo

    cdef int _advance(self) except -1:
        cdef InternalIterator src = self._src
        cdef const uint8_t *k
        cdef Py_ssize_t kn, ulen, stripe
        cdef uint64_t seq, stripe_top
        cdef int vtype
        while src.c_valid():
            k = src.c_key(&kn)
            split_internal_key(k, kn, &ulen, &seq, &vtype)
            if vtype == TYPE_RANGE_DELETE:    # range tombstones travel separately
                src.c_next()
                continue
            stripe = self._stripe(seq)
            if self._has_cur and compare_user(k, ulen, self._cur_user.p,
                                              self._cur_user.n) == 0:
                if stripe == self._last_stripe:
                    self.dropped_overwritten += 1
                    src.c_next()
                    continue
            else:
                buf_set(&self._cur_user, k, ulen)
                self._has_cur = True
            self._last_stripe = stripe
            stripe_top = self._snaps[stripe] if stripe < self._nsnaps else max_seqno()
            if (self._tombstones is not None and
                    self._tombstones.c_max_covering(k, ulen, stripe_top) > seq):
                self.dropped_range_deleted += 1
                src.c_next()
                continue
            if vtype == TYPE_DELETE and self._bottommost and stripe == 0:
                self.dropped_deleted += 1
                src.c_next()
                continue
            self.kept += 1
            self._valid = True
            return 0
        self._valid = False
        return 0

    cdef int c_seek_to_first(self) except -1:
        self.kept = 0
        self.dropped_overwritten = 0
        self.dropped_deleted = 0
        self.dropped_range_deleted = 0
        self._has_cur = False
        self._src.c_seek_to_first()
        return self._advance()

    cdef int c_next(self) except -1:
        if self._valid:
            self._src.c_next()
            self._advance()
        return 0

    cdef bint c_valid(self) noexcept:
        return self._valid

    cdef const uint8_t *c_key(self, Py_ssize_t *n) noexcept:
        return self._src.c_key(n)

    cdef const uint8_t *c_value(self, Py_ssize_t *n) noexcept:
        return self._src.c_value(n)

    def __iter__(self):
        """(internal_key, value) of every kept entry, from the start."""
        self.c_seek_to_first()
        return self.entries()

    def drain_into(self, add, Py_ssize_t batch=0) -> int:
        """Feeds every kept entry to ``add``: ``add(key, value)`` per entry, or with
        ``batch > 0`` ``add([(key, value), ...])`` per list of up to ``batch`` entries.
        Starts from the beginning; returns the number of entries fed."""
        cdef Py_ssize_t kn, vn, count = 0
        cdef const uint8_t *k
        cdef const uint8_t *v
        cdef list pending = []
        self.c_seek_to_first()
        while self._valid:
            k = self._src.c_key(&kn)
            v = self._src.c_value(&vn)
            key = PyBytes_FromStringAndSize(<const char *>k, kn)
            value = PyBytes_FromStringAndSize(<const char *>v, vn)
            count += 1
            if batch > 0:
                pending.append((key, value))
                if len(pending) >= batch:
                    add(pending)
                    pending = []
            else:
                add(key, value)
            self.c_next()
        if pending:
            add(pending)
        return count

    def stats(self) -> dict:
        return {"kept": self.kept, "dropped_overwritten": self.dropped_overwritten,
                "dropped_deleted": self.dropped_deleted,
                "dropped_range_deleted": self.dropped_range_deleted}
