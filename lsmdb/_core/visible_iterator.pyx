"""VisibleIterator: the user view of internal entries at a snapshot (LevelDB's DBIter): one
entry per user key, its newest visible version, point deletes and range-deleted versions
hidden. Entries of type RANGE_DELETE in the source are ignored: range tombstones travel
separately as a FragmentedRangeTombstones. ``scan_count`` counts a full scan in C.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport uint8_t, uint64_t
from libc.string cimport memcpy

from lsmdb._core.coding cimport buf_free, buf_reserve, buf_set, store_u64_le
from lsmdb._core.ikey cimport (
    TYPE_DELETE,
    TYPE_MAX,
    TYPE_PUT,
    TYPE_RANGE_DELETE,
    compare_user,
    max_seqno,
    pack_trailer,
    split_internal_key,
)
from lsmdb._core.iterator cimport InternalIterator
from lsmdb._core.rangedel cimport FragmentedRangeTombstones

from lsmdb._core.ikey import MAX_SEQNO
from lsmdb.errors import CorruptionError, InvalidArgumentError


cdef const uint8_t[::1] _view(object b):
    return memoryview(b).cast("B")


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
            split_internal_key(k, kn, &ulen, &seq, &vtype)
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
            split_internal_key(k, kn, &ulen, &seq, &vtype)
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
