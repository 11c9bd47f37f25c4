"""Merging, visibility and compaction iterators over internal entries (see merge.pxd).

- :class:`MergingIterator`: the union of several InternalIterators in internal order,
  forward and backward (binary heap of child indices; LevelDB MergingIterator semantics).
- :class:`VisibleIterator`: the user view at a snapshot: one entry per user key, newest
  visible version, deletes and range-deleted versions hidden (LevelDB DBIter).
- :class:`CompactionIterator`: the entries a compaction keeps given the live snapshots.

Entries whose type is RANGE_DELETE are ignored by VisibleIterator and CompactionIterator:
range tombstones travel separately as a FragmentedRangeTombstones.
The per-entry loops call children through the C vtable and hold the GIL: children are
Python-level objects (memtable, SSTable readers) whose methods may raise.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport uint8_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

from lsmdb._core.coding cimport ByteBuf, buf_free, buf_reserve, buf_set
from lsmdb._core.ikey cimport (
    TYPE_DELETE,
    TYPE_MAX,
    TYPE_PUT,
    TYPE_RANGE_DELETE,
    compare_internal,
    compare_user,
    load_u64_le,
    max_seqno,
    pack_trailer,
    store_u64_le,
)

from lsmdb.errors import CorruptionError, InvalidArgumentError

MAX_SEQNO = (1 << 56) - 1


cdef inline int _parse(const uint8_t *k, Py_ssize_t n, Py_ssize_t *ulen, uint64_t *seq,
                       int *vtype) except -1:
    cdef uint64_t trailer
    if n < 8:
        raise CorruptionError(f"internal key of {n} bytes is shorter than its trailer")
    trailer = load_u64_le(k + n - 8)
    vtype[0] = <int>(trailer & 0xFF)
    if vtype[0] > TYPE_MAX:
        raise CorruptionError(f"unknown value type {vtype[0]} in internal key")
    seq[0] = trailer >> 8
    ulen[0] = n - 8
    return 0


cdef const uint8_t[::1] _view(object b):
    return memoryview(b).cast("B")


# MergingIterator ----------------------------------------------------------------------

cdef class MergingIterator(InternalIterator):
    """Union of ``children`` (InternalIterators) in internal order, both directions.

    Entries with identical internal keys come from the lower child index first (pass
    children newest first). Direction switches reposition every child around the current
    key, as LevelDB's MergingIterator does.
    """

    def __cinit__(self):
        self._heap = NULL
        self._kp = NULL
        self._kn = NULL
        self._hsize = 0
        self._forward = True

    def __dealloc__(self):
        free(self._heap)
        free(self._kp)
        free(self._kn)

    def __init__(self, children):
        cdef list kids = list(children)
        cdef Py_ssize_t n = len(kids)
        for c in kids:
            if not isinstance(c, InternalIterator):
                raise TypeError(f"MergingIterator child must be an InternalIterator, not "
                                f"{type(c).__name__}")
        if self._heap != NULL:
            raise InvalidArgumentError("MergingIterator is already initialised")
        self._heap = <Py_ssize_t *>malloc(max(n, 1) * sizeof(Py_ssize_t))
        self._kp = <const uint8_t **>malloc(max(n, 1) * sizeof(uint8_t *))
        self._kn = <Py_ssize_t *>malloc(max(n, 1) * sizeof(Py_ssize_t))
        if self._heap == NULL or self._kp == NULL or self._kn == NULL:
            raise MemoryError()
        self._children = kids
        self._n = n

    @property
    def children(self) -> list:
        return list(self._children)

    cdef bint _before(self, Py_ssize_t a, Py_ssize_t b) noexcept:
        """Whether child a's entry comes out before child b's in the current direction."""
        cdef int r = compare_internal(self._kp[a], self._kn[a], self._kp[b], self._kn[b])
        if self._forward:
            return r < 0 or (r == 0 and a < b)
        return r > 0 or (r == 0 and a > b)

    cdef void _sift_down(self, Py_ssize_t i) noexcept:
        cdef Py_ssize_t n = self._hsize, c, best
        cdef Py_ssize_t *h = self._heap
        cdef Py_ssize_t item = h[i]
        while True:
            c = 2 * i + 1
            if c >= n:
                break
            best = c
            if c + 1 < n and self._before(h[c + 1], h[c]):
                best = c + 1
            if not self._before(h[best], item):
                break
            h[i] = h[best]
            i = best
        h[i] = item

    cdef int _cache_key(self, Py_ssize_t i) except -1:
        cdef InternalIterator c = <InternalIterator>self._children[i]
        self._kp[i] = c.c_key(&self._kn[i])
        if self._kn[i] < 8:
            raise CorruptionError(f"child {i} returned an internal key of {self._kn[i]} bytes")
        return 0

    cdef int _rebuild(self) except -1:
        cdef Py_ssize_t i
        cdef InternalIterator c
        self._hsize = 0
        for i in range(self._n):
            c = <InternalIterator>self._children[i]
            if c.c_valid():
                self._cache_key(i)
                self._heap[self._hsize] = i
                self._hsize += 1
        i = self._hsize // 2 - 1
        while i >= 0:
            self._sift_down(i)
            i -= 1
        return 0

    cdef int _after_top_moved(self) except -1:
        cdef Py_ssize_t top = self._heap[0]
        if (<InternalIterator>self._children[top]).c_valid():
            self._cache_key(top)
        else:
            self._hsize -= 1
            self._heap[0] = self._heap[self._hsize]
        if self._hsize > 1:
            self._sift_down(0)
        return 0

    cdef int c_seek_to_first(self) except -1:
        cdef InternalIterator c
        self._hsize = 0
        for c in self._children:
            c.c_seek_to_first()
        self._forward = True
        return self._rebuild()

    cdef int c_seek_to_last(self) except -1:
        cdef InternalIterator c
        self._hsize = 0
        for c in self._children:
            c.c_seek_to_last()
        self._forward = False
        return self._rebuild()

    cdef int c_seek(self, const uint8_t *target, Py_ssize_t n) except -1:
        cdef InternalIterator c
        self._hsize = 0
        for c in self._children:
            c.c_seek(target, n)
        self._forward = True
        return self._rebuild()

    cdef int c_seek_for_prev(self, const uint8_t *target, Py_ssize_t n) except -1:
        cdef InternalIterator c
        self._hsize = 0
        for c in self._children:
            c.c_seek_for_prev(target, n)
        self._forward = False
        return self._rebuild()

    cdef int c_next(self) except -1:
        cdef Py_ssize_t cur, j, kn, hs = self._hsize
        cdef const uint8_t *kp
        cdef InternalIterator c
        if hs == 0:
            return 0
        cur = self._heap[0]
        self._hsize = 0         # invalid until consistent again (a child may raise)
        if not self._forward:
            # Every other child moves to its first entry after the current one; the
            # current child's key stays valid while only the others move.
            kp = self._kp[cur]
            kn = self._kn[cur]
            for j in range(self._n):
                if j == cur:
                    continue
                c = <InternalIterator>self._children[j]
                c.c_seek(kp, kn)
                if j < cur and c.c_valid():
                    self._cache_key(j)
                    if compare_internal(self._kp[j], self._kn[j], kp, kn) == 0:
                        c.c_next()
            (<InternalIterator>self._children[cur]).c_next()
            self._forward = True
            return self._rebuild()
        (<InternalIterator>self._children[cur]).c_next()
        self._hsize = hs
        return self._after_top_moved()

    cdef int c_prev(self) except -1:
        cdef Py_ssize_t cur, j, kn, hs = self._hsize
        cdef const uint8_t *kp
        cdef InternalIterator c
        if hs == 0:
            return 0
        cur = self._heap[0]
        self._hsize = 0
        if self._forward:
            # Every other child moves to its last entry before the current one.
            kp = self._kp[cur]
            kn = self._kn[cur]
            for j in range(self._n):
                if j == cur:
                    continue
                c = <InternalIterator>self._children[j]
                c.c_seek_for_prev(kp, kn)
                if j > cur and c.c_valid():
                    self._cache_key(j)
                    if compare_internal(self._kp[j], self._kn[j], kp, kn) == 0:
                        c.c_prev()
            (<InternalIterator>self._children[cur]).c_prev()
            self._forward = False
            return self._rebuild()
        (<InternalIterator>self._children[cur]).c_prev()
        self._hsize = hs
        return self._after_top_moved()

    cdef bint c_valid(self) noexcept:
        return self._hsize > 0

    cdef const uint8_t *c_key(self, Py_ssize_t *n) noexcept:
        cdef Py_ssize_t top = self._heap[0]
        n[0] = self._kn[top]
        return self._kp[top]

    cdef const uint8_t *c_value(self, Py_ssize_t *n) noexcept:
        return (<InternalIterator>self._children[self._heap[0]]).c_value(n)


# VisibleIterator ----------------------------------------------------------------------

cdef class VisibleIterator:
    """The user-facing view of ``source`` at ``snapshot_seqno``: each user key once, with
    its newest version visible at the snapshot, unless that version is a point delete or
    is covered by a visible range tombstone with a higher seqno. Optional bounds restrict
    it to user keys in ``[lower_bound, upper_bound)``.
    """

    def __cinit__(self):
        self._skey.p = NULL
        self._skey.n = self._skey.cap = 0
        self._sval.p = NULL
        self._sval.n = self._sval.cap = 0
        self._target.p = NULL
        self._target.n = self._target.cap = 0

    def __dealloc__(self):
        buf_free(&self._skey)
        buf_free(&self._sval)
        buf_free(&self._target)

    def __init__(self, InternalIterator source not None, uint64_t snapshot_seqno=MAX_SEQNO,
                 FragmentedRangeTombstones tombstones=None, *, lower_bound=None,
                 upper_bound=None):
        if snapshot_seqno > MAX_SEQNO:
            raise InvalidArgumentError(f"snapshot seqno {snapshot_seqno} exceeds MAX_SEQNO")
        self._src = source
        self._snapshot = snapshot_seqno
        self._tombstones = tombstones if tombstones is not None and len(tombstones) else None
        self._lower = None if lower_bound is None else bytes(lower_bound)
        self._upper = None if upper_bound is None else bytes(upper_bound)
        self._valid = False
        self._forward = True
        self._positioned = False

    @property
    def snapshot_seqno(self) -> int:
        return self._snapshot

    @property
    def lower_bound(self):
        return self._lower

    @property
    def upper_bound(self):
        return self._upper

    cdef bint _range_deleted(self, const uint8_t *uk, Py_ssize_t n, uint64_t seq) noexcept:
        return (self._tombstones is not None and
                self._tombstones.c_max_covering(uk, n, self._snapshot) > seq)

    cdef bint _below_lower(self, const uint8_t *uk, Py_ssize_t n) noexcept:
        return (self._lower is not None and
                compare_user(uk, n, <const uint8_t *>(<char *>self._lower),
                             len(self._lower)) < 0)

    cdef bint _at_or_above_upper(self, const uint8_t *uk, Py_ssize_t n) noexcept:
        return (self._upper is not None and
                compare_user(uk, n, <const uint8_t *>(<char *>self._upper),
                             len(self._upper)) >= 0)

    cdef int _set_target(self, const uint8_t *uk, Py_ssize_t n, uint64_t seq,
                         int vtype) except -1:
        buf_reserve(&self._target, n + 8)
        if n:
            memcpy(self._target.p, uk, n)
        store_u64_le(self._target.p + n, pack_trailer(seq, vtype))
        self._target.n = n + 8
        return 0

    cdef int _find_next(self, bint skipping) except -1:
        """Forward to the newest visible live version of a user key; with ``skipping``,
        user keys <= _skey are hidden (already returned or deleted)."""
        cdef InternalIterator src = self._src
        cdef const uint8_t *k
        cdef Py_ssize_t kn, ulen
        cdef uint64_t seq
        cdef int vtype
        while src.c_valid():
            k = src.c_key(&kn)
            _parse(k, kn, &ulen, &seq, &vtype)
            if self._at_or_above_upper(k, ulen):
                break
            if seq <= self._snapshot and vtype != TYPE_RANGE_DELETE:
                if vtype == TYPE_DELETE:
                    buf_set(&self._skey, k, ulen)
                    skipping = True
                elif skipping and compare_user(k, ulen, self._skey.p, self._skey.n) <= 0:
                    pass
                elif self._range_deleted(k, ulen, seq):
                    buf_set(&self._skey, k, ulen)
                    skipping = True
                else:
                    self._valid = True
                    return 0
            src.c_next()
        self._valid = False
        return 0

    cdef int _find_prev(self) except -1:
        """Backward: collect the newest visible version of the user key before the source
        position into _skey/_sval, scanning past all its older versions."""
        cdef InternalIterator src = self._src
        cdef const uint8_t *k
        cdef const uint8_t *v
        cdef Py_ssize_t kn, vn, ulen
        cdef uint64_t seq
        cdef int vtype
        cdef bint found = False
        while src.c_valid():
            k = src.c_key(&kn)
            _parse(k, kn, &ulen, &seq, &vtype)
            if self._below_lower(k, ulen):
                break
            if seq <= self._snapshot and vtype != TYPE_RANGE_DELETE:
                if found and compare_user(k, ulen, self._skey.p, self._skey.n) < 0:
                    break
                if vtype == TYPE_PUT and not self._range_deleted(k, ulen, seq):
                    found = True
                    buf_set(&self._skey, k, ulen)
                    v = src.c_value(&vn)
                    buf_set(&self._sval, v, vn)
                else:
                    found = False
            src.c_prev()
        self._valid = found
        return 0

    cdef int _seek_before_upper(self) except -1:
        """Positions the source on the last entry whose user key is < upper bound."""
        cdef InternalIterator src = self._src
        self._set_target(<const uint8_t *>(<char *>self._upper), len(self._upper),
                         max_seqno(), TYPE_MAX)
        src.c_seek(self._target.p, self._target.n)
        if src.c_valid():
            src.c_prev()
        else:
            src.c_seek_to_last()
        return 0

    cdef int c_seek_to_first(self) except -1:
        self._positioned = True
        if self._lower is not None:
            return self.c_seek(<const uint8_t *>(<char *>self._lower), len(self._lower))
        self._forward = True
        self._src.c_seek_to_first()
        return self._find_next(False)

    cdef int c_seek_to_last(self) except -1:
        self._positioned = True
        self._forward = False
        if self._upper is not None:
            self._seek_before_upper()
        else:
            self._src.c_seek_to_last()
        return self._find_prev()

    cdef int c_seek(self, const uint8_t *user_key, Py_ssize_t n) except -1:
        self._positioned = True
        self._forward = True
        if self._below_lower(user_key, n):
            user_key = <const uint8_t *>(<char *>self._lower)
            n = len(self._lower)
        self._set_target(user_key, n, self._snapshot, TYPE_MAX)
        self._src.c_seek(self._target.p, self._target.n)
        return self._find_next(False)

    cdef int c_seek_for_prev(self, const uint8_t *user_key, Py_ssize_t n) except -1:
        self._positioned = True
        self._forward = False
        if self._at_or_above_upper(user_key, n):
            self._seek_before_upper()
        else:
            # Trailer 0 is the last internal key of user_key: land on its oldest version.
            self._set_target(user_key, n, 0, TYPE_DELETE)
            self._src.c_seek_for_prev(self._target.p, self._target.n)
        return self._find_prev()

    cdef int c_next(self) except -1:
        cdef InternalIterator src = self._src
        cdef const uint8_t *k
        cdef Py_ssize_t kn
        if not self._valid:
            return 0
        if not self._forward:
            # The source is just before the entries of the current key (_skey).
            self._forward = True
            if src.c_valid():
                src.c_next()
            else:
                src.c_seek_to_first()
        else:
            k = src.c_key(&kn)
            buf_set(&self._skey, k, kn - 8)
            src.c_next()
        return self._find_next(True)

    cdef int c_prev(self) except -1:
        cdef InternalIterator src = self._src
        cdef const uint8_t *k
        cdef Py_ssize_t kn
        if not self._valid:
            return 0
        if self._forward:
            # Step the source back to the last entry of a smaller user key.
            k = src.c_key(&kn)
            buf_set(&self._skey, k, kn - 8)
            while True:
                src.c_prev()
                if not src.c_valid():
                    self._valid = False
                    return 0
                k = src.c_key(&kn)
                if kn < 8:
                    raise CorruptionError(f"internal key of {kn} bytes is shorter than its "
                                          "trailer")
                if compare_user(k, kn - 8, self._skey.p, self._skey.n) < 0:
                    break
            self._forward = False
        return self._find_prev()

    cdef const uint8_t *c_key(self, Py_ssize_t *n) noexcept:
        cdef const uint8_t *k
        if self._forward:
            k = self._src.c_key(n)
            n[0] -= 8
            return k
        n[0] = self._skey.n
        return self._skey.p

    cdef const uint8_t *c_value(self, Py_ssize_t *n) noexcept:
        if self._forward:
            return self._src.c_value(n)
        n[0] = self._sval.n
        return self._sval.p

    # Python API -------------------------------------------------------------------------

    def valid(self) -> bool:
        return self._valid

    def seek_to_first(self) -> None:
        self.c_seek_to_first()

    def seek_to_last(self) -> None:
        self.c_seek_to_last()

    def seek(self, user_key) -> None:
        """Position at the first visible key >= user_key."""
        cdef const uint8_t[::1] v = _view(user_key)
        self.c_seek(&v[0] if v.shape[0] else <const uint8_t *>b"", v.shape[0])

    def seek_for_prev(self, user_key) -> None:
        """Position at the last visible key <= user_key."""
        cdef const uint8_t[::1] v = _view(user_key)
        self.c_seek_for_prev(&v[0] if v.shape[0] else <const uint8_t *>b"", v.shape[0])

    def next(self) -> None:
        self._require_valid()
        self.c_next()

    def prev(self) -> None:
        self._require_valid()
        self.c_prev()

    def key(self) -> bytes:
        cdef Py_ssize_t n
        self._require_valid()
        cdef const uint8_t *p = self.c_key(&n)
        return PyBytes_FromStringAndSize(<const char *>p, n)

    def value(self) -> bytes:
        cdef Py_ssize_t n
        self._require_valid()
        cdef const uint8_t *p = self.c_value(&n)
        return PyBytes_FromStringAndSize(<const char *>p, n)

    def _require_valid(self):
        if not self._valid:
            raise InvalidArgumentError("iterator is not positioned on an entry")

    def __iter__(self):
        return self

    def __next__(self):
        """(key, value) from the current position forward; starts at the first key if the
        iterator was never positioned."""
        cdef Py_ssize_t kn, vn
        cdef const uint8_t *k
        cdef const uint8_t *v
        if not self._positioned:
            self.c_seek_to_first()
        if not self._valid:
            raise StopIteration
        k = self.c_key(&kn)
        v = self.c_value(&vn)
        item = (PyBytes_FromStringAndSize(<const char *>k, kn),
                PyBytes_FromStringAndSize(<const char *>v, vn))
        self.c_next()
        return item


# CompactionIterator -------------------------------------------------------------------

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
            _parse(k, kn, &ulen, &seq, &vtype)
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


def scan_count(it) -> int:
    """Number of entries of a full forward scan of ``it`` (an InternalIterator or a
    VisibleIterator), run as a C loop: an exact ``count()`` without per-entry objects."""
    cdef Py_ssize_t n = 0
    cdef InternalIterator ii
    cdef VisibleIterator vi
    if isinstance(it, VisibleIterator):
        vi = <VisibleIterator>it
        vi.c_seek_to_first()
        while vi._valid:
            n += 1
            vi.c_next()
        return n
    if not isinstance(it, InternalIterator):
        raise TypeError(f"scan_count needs an iterator, not {type(it).__name__}")
    ii = <InternalIterator>it
    ii.c_seek_to_first()
    while ii.c_valid():
        n += 1
        ii.c_next()
    return n
