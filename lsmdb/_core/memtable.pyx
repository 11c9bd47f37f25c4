"""Memtable: the in-memory write buffer, a LevelDB-style skip list in an arena.

Point entries (PUT, DELETE) are nodes of a skip list (max height 12, branching 4, xorshift
RNG) ordered by internal key (ikey.pxd: user key ascending, seqno descending). Each node holds
``user key + 8-byte trailer`` and the value in one arena allocation; the arena is large
malloc'd blocks with bump allocation, freed all at once when the Memtable is deallocated.
The node header is 8 bytes, so values must be < 256 MiB (the DB allows at most 64 MiB); a
batch op with a larger value fails like an allocation (MemoryError).
Node layout and the C code: skiplist.h. Range tombstones (RANGE_DELETE) are NOT in the skip
list: they live in a separate append-only list (also in the arena) returned in insertion
order by ``range_tombstones()``; ``get`` and ``iterator()`` see point entries only, and the
DB layer applies tombstones across all sources.

Concurrency contract
--------------------
* Writers (``add``, ``add_batch``) must be serialised by the caller (the DB holds its write
  mutex). A second writer entering while ``add_batch`` runs without the GIL is detected and
  refused with InvalidArgumentError rather than corrupting the list.
* Readers (``get``, ``get_many``, iterators, ``range_tombstones``) take no lock and may run
  while one writer inserts. skiplist.h follows LevelDB's publication discipline: a node is
  fully initialised before it is linked, links are RELEASE-stored bottom-up and ACQUIRE-loaded
  by readers, and the list height is read relaxed. Nodes are never moved or freed while the
  Memtable lives, and an iterator holds a reference to its Memtable.
* While every call holds the GIL this is trivially safe. It matters because ``add_batch``
  (for batches of BATCH_NOGIL_OPS ops or more) and ``get_many`` run their C loops without the
  GIL, and because future nogil readers (flush, compaction) rely on it. Readers see each
  entry either completely or not at all; an entry once visible stays visible.
* The counters (``num_entries``, ``first_seqno``, ...) are updated under the GIL after a
  batch's C loop, so they may lag the entries a concurrent reader can already see.

Identical internal keys (same user key, seqno and type) may be inserted twice (e.g. a WAL
batch replayed again); the newest insert sorts first and shadows the older one.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize
from cpython.bytes cimport PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE, PyTuple_New, PyTuple_SET_ITEM
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcmp

from lsmdb._core.batch cimport (
    BATCH_COUNT_OFFSET,
    BATCH_HEADER_BYTES,
    WriteBatch,
    batch_decode_op,
    borrow_bytes,
)
from lsmdb._core.coding cimport load_u64_le
from lsmdb._core.ikey cimport (
    TYPE_DELETE,
    TYPE_MAX,
    TYPE_PUT,
    TYPE_RANGE_DELETE,
    max_seqno,
    pack_trailer,
)
from lsmdb._core.iterator cimport InternalIterator

from lsmdb.errors import InvalidArgumentError

MAX_SEQNO = (1 << 56) - 1
DEFAULT_ARENA_BLOCK_BYTES = 1 << 20
# Batches at least this long are applied without the GIL (releasing it costs ~a microsecond).
BATCH_NOGIL_OPS = 64
# get_many releases the GIL for at least this many keys.
GET_MANY_NOGIL_KEYS = 16

cdef struct ApplyResult:
    uint32_t applied
    uint64_t deletes
    uint64_t range_deletes
    int error                       # 0, APPLY_NO_MEMORY or APPLY_BAD_OP

cdef enum:
    APPLY_NO_MEMORY = 1
    APPLY_BAD_OP = 2
    # Searches run interleaved so their cache misses overlap (see lsmdb_skiplist_seek_group);
    # 32 measured best for 1M entries (an insert group's fix-ups are mostly pointer compares).
    INSERT_GROUP = 32
    SEEK_GROUP = 32
    # get_many looks up this many keys without the GIL, then builds their results while the
    # found nodes are still in cache.
    GET_MANY_CHUNK = 512


cdef void _apply_ops(lsmdb_skiplist *sl, const uint8_t *p, Py_ssize_t end, uint64_t seq,
                     uint32_t count, ApplyResult *res) noexcept nogil:
    """Insert ``count`` ops of the encoded batch p[0:end] in op order, point entries in
    groups of INSERT_GROUP (searched together, see lsmdb_skiplist_insert_group); stops at the
    first failure with res.applied = the ops applied so far."""
    cdef lsmdb_probe group[INSERT_GROUP]
    cdef int pending = 0, done, vtype = 0
    cdef Py_ssize_t pos = BATCH_HEADER_BYTES
    cdef const uint8_t *k = NULL
    cdef const uint8_t *v = NULL
    cdef uint32_t kn = 0, vn = 0, i
    cdef uint64_t group_deletes = 0
    for i in range(count + 1):
        if i < count:
            pos = batch_decode_op(p, pos, end, &vtype, &k, &kn, &v, &vn)
            if pos < 0:
                vtype = -1                      # flush what is pending, then report
            elif vtype != TYPE_RANGE_DELETE:
                group[pending].ukey = k
                group[pending].ulen = kn
                group[pending].trailer = pack_trailer(seq + i, vtype)
                group[pending].value = v
                group[pending].vlen = vn
                pending += 1
                group_deletes += vtype == TYPE_DELETE
                if pending < INSERT_GROUP:
                    continue
        if pending:
            done = lsmdb_skiplist_insert_group(sl, group, pending)
            if done < pending:
                # Only ops before the failed one count: recount deletes among them.
                while done < pending:
                    pending -= 1
                    group_deletes -= (group[pending].trailer & 0xFF) == TYPE_DELETE
                res.applied += done
                res.deletes += group_deletes
                res.error = APPLY_NO_MEMORY
                return
            res.applied += pending
            res.deletes += group_deletes
            pending = 0
            group_deletes = 0
        if i == count:
            return
        if vtype < 0:
            res.error = APPLY_BAD_OP
            return
        if vtype == TYPE_RANGE_DELETE:
            if lsmdb_skiplist_add_tomb(sl, k, kn, v, vn, seq + i) != 0:
                res.error = APPLY_NO_MEMORY
                return
            res.range_deletes += 1
            res.applied += 1


cdef inline void _count(Memtable mt, uint64_t first, uint64_t last, uint64_t n) noexcept:
    if mt.n_entries == 0 or first < mt.min_seqno:
        mt.min_seqno = first
    if mt.n_entries == 0 or last > mt.max_seqno_seen:
        mt.max_seqno_seen = last
    mt.n_entries += n


cdef class Memtable:
    """Sorted in-memory buffer of internal entries; see the module docstring for the rules."""

    def __cinit__(self, Py_ssize_t arena_block_bytes=DEFAULT_ARENA_BLOCK_BYTES):
        if arena_block_bytes <= 0:
            raise InvalidArgumentError(
                f"arena_block_bytes must be positive, got {arena_block_bytes}")
        if lsmdb_skiplist_init(&self.sl, <size_t>arena_block_bytes) != 0:
            raise MemoryError("cannot allocate the memtable arena")
        self.ready = True

    def __dealloc__(self):
        if self.ready:
            lsmdb_skiplist_free(&self.sl)
            self.ready = False

    cdef int c_add(self, uint64_t seqno, int vtype, const uint8_t *key, Py_ssize_t klen,
                   const uint8_t *value, Py_ssize_t vlen) except -1:
        cdef int rc
        if self.writing:
            raise InvalidArgumentError(
                "Memtable written by two threads at once: callers must serialise writers")
        if seqno > max_seqno():
            raise InvalidArgumentError(f"seqno {seqno} exceeds MAX_SEQNO")
        if <uint64_t>klen > 0xFFFFFFF0 or <uint64_t>vlen > LSMDB_NODE_MAX_VALUE_LEN:
            raise InvalidArgumentError(
                "memtable keys must be < 4 GiB and values < 256 MiB (skiplist.h node header)")
        if vtype == TYPE_RANGE_DELETE:
            rc = lsmdb_skiplist_add_tomb(&self.sl, key, klen, value, vlen, seqno)
        elif vtype == TYPE_PUT or vtype == TYPE_DELETE:
            rc = lsmdb_skiplist_insert(&self.sl, key, klen, pack_trailer(seqno, vtype),
                                       value, vlen)
        else:
            raise InvalidArgumentError(f"unknown value type {vtype}")
        if rc != 0:
            raise MemoryError("memtable arena allocation failed")
        _count(self, seqno, seqno, 1)
        if vtype == TYPE_DELETE:
            self.n_deletes += 1
        elif vtype == TYPE_RANGE_DELETE:
            self.n_range_deletes += 1
        return 0

    cdef int c_get(self, const uint8_t *user_key, size_t ulen, uint64_t snapshot,
                   const uint8_t **value, Py_ssize_t *vlen, uint64_t *seqno) noexcept nogil:
        cdef lsmdb_node *n = lsmdb_skiplist_seek_ge(
            &self.sl, user_key, ulen, pack_trailer(snapshot, TYPE_MAX), NULL)
        return _point_result(n, user_key, ulen, value, vlen, seqno)

    # Python-visible API ---------------------------------------------------------------

    def add(self, uint64_t seqno, int vtype, key, value=None) -> None:
        """Insert one entry. PUT needs a value, DELETE takes none (None or empty), and
        RANGE_DELETE takes the exclusive end key as ``value``."""
        cdef const uint8_t *k
        cdef const uint8_t *v = NULL
        cdef Py_ssize_t kn, vn = 0
        keep_k = borrow_bytes(key, "key", &k, &kn)
        if vtype == TYPE_DELETE:
            if value is not None:
                keep_v = borrow_bytes(value, "value", &v, &vn)
                if vn:
                    raise InvalidArgumentError("a DELETE entry carries no value")
        else:
            keep_v = borrow_bytes(value, "end" if vtype == TYPE_RANGE_DELETE else "value",
                                  &v, &vn)
        self.c_add(seqno, vtype, k, kn, v, vn)

    def add_batch(self, WriteBatch wb not None) -> None:
        """Insert every op of ``wb`` with seqnos wb.sequence + i, in one C loop."""
        cdef uint64_t seq = load_u64_le(wb.buf)
        cdef uint32_t count = wb.n_ops
        cdef ApplyResult res
        if count == 0:
            return
        if self.writing:
            raise InvalidArgumentError(
                "Memtable written by two threads at once: callers must serialise writers")
        if seq > max_seqno() or count - 1 > max_seqno() - seq:
            raise InvalidArgumentError(
                f"write batch sequence {seq} with {count} ops exceeds MAX_SEQNO")
        res.applied = 0
        res.deletes = 0
        res.range_deletes = 0
        res.error = 0
        if count >= BATCH_NOGIL_OPS:
            # Without the GIL: the batch is pinned (cannot be modified or freed: we hold a
            # reference and pins > 0 makes its mutators raise), ``writing`` refuses other
            # writers, and readers follow skiplist.h's lock-free discipline.
            self.writing = True
            wb.pins += 1
            try:
                with nogil:
                    _apply_ops(&self.sl, wb.buf, wb.length, seq, count, &res)
            finally:
                wb.pins -= 1
                self.writing = False
        else:
            _apply_ops(&self.sl, wb.buf, wb.length, seq, count, &res)
        if res.applied:
            _count(self, seq, seq + res.applied - 1, res.applied)
            self.n_deletes += res.deletes
            self.n_range_deletes += res.range_deletes
        if res.error == APPLY_NO_MEMORY:
            raise MemoryError(
                f"memtable arena allocation failed after {res.applied} of {count} ops")
        if res.error == APPLY_BAD_OP:
            raise AssertionError("WriteBatch buffer is not a valid encoding")

    def get(self, user_key, uint64_t snapshot_seqno=MAX_SEQNO) -> tuple:
        """Newest point entry of ``user_key`` with seqno <= snapshot_seqno:
        (0, None, 0) missing, (1, value, seqno) PUT, (2, None, seqno) DELETE.
        Range tombstones are not applied (see range_tombstones())."""
        cdef const uint8_t *k
        cdef const uint8_t *v
        cdef Py_ssize_t kn, vn
        cdef uint64_t seqno
        if snapshot_seqno > max_seqno():
            raise InvalidArgumentError(f"snapshot seqno {snapshot_seqno} exceeds MAX_SEQNO")
        keep = borrow_bytes(user_key, "user_key", &k, &kn)
        cdef int status = self.c_get(k, kn, snapshot_seqno, &v, &vn, &seqno)
        return _result_tuple(status, v, vn, seqno)

    def get_many(self, list keys not None, uint64_t snapshot_seqno=MAX_SEQNO) -> list:
        """get() for every key of ``keys`` (any buffers), in C loops that release the GIL."""
        cdef tuple pinned = tuple(keys)      # holds every key alive while the GIL is released
        cdef Py_ssize_t n = PyTuple_GET_SIZE(pinned), i, base, m
        cdef list keepers = []
        cdef const uint8_t **kp
        cdef Py_ssize_t *kn
        cdef lsmdb_node **found
        cdef object obj
        cdef uint64_t trailer
        cdef const uint8_t *v
        cdef Py_ssize_t vn
        cdef uint64_t seqno
        cdef int status
        if snapshot_seqno > max_seqno():
            raise InvalidArgumentError(f"snapshot seqno {snapshot_seqno} exceeds MAX_SEQNO")
        if n == 0:
            return []
        trailer = pack_trailer(snapshot_seqno, TYPE_MAX)
        cdef char *scratch = <char *>PyMem_Malloc(
            n * (sizeof(const uint8_t *) + sizeof(Py_ssize_t)) +
            GET_MANY_CHUNK * sizeof(lsmdb_node *))
        if scratch == NULL:
            raise MemoryError()
        kp = <const uint8_t **>scratch
        kn = <Py_ssize_t *>(scratch + n * sizeof(const uint8_t *))
        found = <lsmdb_node **>(scratch + n * (sizeof(const uint8_t *) + sizeof(Py_ssize_t)))
        try:
            for i in range(n):
                obj = <object>PyTuple_GET_ITEM(pinned, i)
                if PyBytes_CheckExact(obj):
                    kp[i] = <const uint8_t *>PyBytes_AS_STRING(obj)
                    kn[i] = PyBytes_GET_SIZE(obj)
                else:
                    keepers.append(borrow_bytes(obj, f"keys[{i}]", &kp[i], &kn[i]))
            result = [None] * n
            base = 0
            while base < n:
                m = n - base if n - base < GET_MANY_CHUNK else GET_MANY_CHUNK
                if m >= GET_MANY_NOGIL_KEYS:
                    with nogil:  # read-only C loop; keys pinned by ``pinned``/``keepers``
                        _seek_many(&self.sl, kp + base, kn + base, m, trailer, found)
                else:
                    _seek_many(&self.sl, kp + base, kn + base, m, trailer, found)
                for i in range(m):
                    status = _point_result(found[i], kp[base + i], kn[base + i], &v, &vn,
                                           &seqno)
                    result[base + i] = _result_tuple(status, v, vn, seqno)
                base += m
            return result
        finally:
            PyMem_Free(scratch)

    def range_tombstones(self) -> list:
        """Every range tombstone as (start, end, seqno), in insertion order."""
        cdef list out = []
        cdef lsmdb_range_tomb *t = lsmdb_skiplist_first_tomb(&self.sl)
        cdef const uint8_t *s
        while t != NULL:
            s = lsmdb_tomb_start(t)
            out.append((PyBytes_FromStringAndSize(<const char *>s, t.start_len),
                        PyBytes_FromStringAndSize(<const char *>(s + t.start_len), t.end_len),
                        t.seqno))
            t = lsmdb_tomb_next(t)
        return out

    def iterator(self) -> MemtableIterator:
        """An unpositioned iterator over point entries (PUT and DELETE) in internal order."""
        return MemtableIterator(self)

    @property
    def approximate_bytes(self) -> int:
        """Arena bytes handed out: node headers, links, keys, values and tombstones."""
        return self.sl.arena.used

    @property
    def arena_reserved_bytes(self) -> int:
        """Bytes malloc'd for arena blocks (>= approximate_bytes)."""
        return self.sl.arena.reserved

    @property
    def num_entries(self) -> int:
        """Entries added, point and range tombstones included."""
        return self.n_entries

    @property
    def num_deletes(self) -> int:
        """Point DELETE entries added."""
        return self.n_deletes

    @property
    def num_range_deletes(self) -> int:
        return self.n_range_deletes

    @property
    def first_seqno(self) -> int:
        """Smallest seqno added (0 when empty)."""
        return self.min_seqno

    @property
    def last_seqno(self) -> int:
        """Largest seqno added (0 when empty)."""
        return self.max_seqno_seen

    def __len__(self) -> int:
        return self.n_entries

    def __repr__(self) -> str:
        return (f"Memtable(entries={self.n_entries}, seqnos={self.min_seqno}.."
                f"{self.max_seqno_seen}, bytes={self.sl.arena.used})")


cdef inline int _point_result(lsmdb_node *n, const uint8_t *user_key, size_t ulen,
                              const uint8_t **value, Py_ssize_t *vlen,
                              uint64_t *seqno) noexcept nogil:
    cdef const uint8_t *k
    cdef uint64_t trailer
    value[0] = NULL
    vlen[0] = 0
    seqno[0] = 0
    if n == NULL or n.key_len - 8 != ulen:
        return MEMTABLE_MISSING
    k = lsmdb_node_key(n)
    if ulen and memcmp(k, user_key, ulen) != 0:
        return MEMTABLE_MISSING
    trailer = lsmdb_node_trailer(n)
    seqno[0] = trailer >> 8
    if <int>(trailer & 0xFF) == TYPE_PUT:
        value[0] = lsmdb_node_value(n)
        vlen[0] = lsmdb_node_value_len(n)
        return MEMTABLE_FOUND
    return MEMTABLE_DELETED


cdef extern from "Python.h":
    void PyObject_GC_UnTrack(void *op)


cdef tuple MISSING = (MEMTABLE_MISSING, None, 0)


cdef inline object _result_tuple(int status, const uint8_t *v, Py_ssize_t vn, uint64_t seqno):
    if status == MEMTABLE_MISSING:
        return MISSING
    cdef object value = None
    if status == MEMTABLE_FOUND:
        value = PyBytes_FromStringAndSize(<const char *>v, vn)
    cdef object seq = seqno
    cdef object code = status
    cdef tuple out = PyTuple_New(3)
    Py_INCREF(code)
    PyTuple_SET_ITEM(out, 0, code)
    Py_INCREF(value)
    PyTuple_SET_ITEM(out, 1, value)
    Py_INCREF(seq)
    PyTuple_SET_ITEM(out, 2, seq)
    # Holds only bytes/int/None, so it can never be in a cycle: untrack it now (what the
    # collector would do on its first pass) so batched gets do not feed the cycle GC.
    PyObject_GC_UnTrack(<void *>out)
    return out


cdef void _seek_many(const lsmdb_skiplist *sl, const uint8_t **kp, const Py_ssize_t *kn,
                     Py_ssize_t n, uint64_t trailer, lsmdb_node **found) noexcept nogil:
    """found[i] = first node >= (kp[i], trailer), SEEK_GROUP searches interleaved."""
    cdef lsmdb_probe group[SEEK_GROUP]
    cdef Py_ssize_t base = 0, i, m
    while base < n:
        m = n - base if n - base < SEEK_GROUP else SEEK_GROUP
        for i in range(m):
            group[i].ukey = kp[base + i]
            group[i].ulen = kn[base + i]
            group[i].trailer = trailer
        lsmdb_skiplist_seek_group(sl, group, <int>m, 0)
        for i in range(m):
            found[base + i] = group[i].next
        base += m


cdef class MemtableIterator(InternalIterator):
    """Iterator over a Memtable's point entries; keeps the Memtable alive."""

    def __cinit__(self, Memtable memtable not None):
        self.mt = memtable
        self.cur = NULL

    cdef int c_seek_to_first(self) except -1:
        self.cur = lsmdb_skiplist_next(self.mt.sl.head)
        return 0

    cdef int c_seek_to_last(self) except -1:
        cdef lsmdb_node *n = lsmdb_skiplist_last(&self.mt.sl)
        self.cur = NULL if n == self.mt.sl.head else n
        return 0

    cdef int c_seek(self, const uint8_t *target, Py_ssize_t n) except -1:
        if n < 8:
            raise InvalidArgumentError("seek target must be an internal key (>= 8 bytes)")
        self.cur = lsmdb_skiplist_seek_ge(&self.mt.sl, target, n - 8,
                                          load_u64_le(target + n - 8), NULL)
        return 0

    cdef int c_seek_for_prev(self, const uint8_t *target, Py_ssize_t n) except -1:
        if n < 8:
            raise InvalidArgumentError("seek target must be an internal key (>= 8 bytes)")
        cdef lsmdb_node *x = lsmdb_skiplist_seek_lt(&self.mt.sl, target, n - 8,
                                                    load_u64_le(target + n - 8), 1)
        self.cur = NULL if x == self.mt.sl.head else x
        return 0

    cdef int c_next(self) except -1:
        if self.cur != NULL:
            self.cur = lsmdb_skiplist_next(self.cur)
        return 0

    cdef int c_prev(self) except -1:
        cdef const uint8_t *k
        cdef lsmdb_node *x
        if self.cur == NULL:
            return 0
        k = lsmdb_node_key(self.cur)
        x = lsmdb_skiplist_seek_lt(&self.mt.sl, k, self.cur.key_len - 8,
                                   lsmdb_node_trailer(self.cur), 0)
        self.cur = NULL if x == self.mt.sl.head else x
        return 0

    cdef bint c_valid(self) noexcept:
        return self.cur != NULL

    cdef const uint8_t *c_key(self, Py_ssize_t *n) noexcept:
        if self.cur == NULL:
            n[0] = 0
            return NULL
        n[0] = self.cur.key_len
        return lsmdb_node_key(self.cur)

    cdef const uint8_t *c_value(self, Py_ssize_t *n) noexcept:
        if self.cur == NULL:
            n[0] = 0
            return NULL
        n[0] = lsmdb_node_value_len(self.cur)
        return lsmdb_node_value(self.cur)
