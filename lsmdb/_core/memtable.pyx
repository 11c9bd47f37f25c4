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
  by readers, and the list height is read relaxed. Nodes are never moved. The large list's
  are never freed while the Memtable lives, and an iterator holds a reference to its
  Memtable; a front's are freed when it is emptied or dropped, after every iterator pinning
  it let go ("The front", below).
* While every call holds the GIL this is trivially safe. It matters because ``add_batch``
  (for batches of BATCH_NOGIL_OPS ops or more) and ``get_many`` run their C loops without the
  GIL, and because future nogil readers (flush, compaction) rely on it. Readers see each
  entry either completely or not at all; an entry once visible stays visible.
* The counters (``num_entries``, ``first_seqno``, ...) are updated under the GIL after a
  batch's C loop, so they may lag the entries a concurrent reader can already see.

Identical internal keys (same user key, seqno and type) may be inserted twice (e.g. a WAL
batch replayed again); the newest insert sorts first and shadows the older one.

The front
---------
A random insert into a large skip list is bound by memory latency: at 64 MiB (~420k
db_bench entries) its search is ~20 dependent cache misses, where LevelDB's 4 MiB write
buffer stays in cache. So single entries (``add``, the DB's direct put path) go first to a
small skip list, the *front*, with its own arena; once that arena holds ``front_bytes`` the
front is *folded*: its entries, already sorted, are inserted into the large list in groups
whose searches overlap their misses (lsmdb_skiplist_insert_group, ~0.3 us an entry against
~1.2-1.9 us for one random insert at 420k entries), and the front starts empty. While the
front is empty, an entry that sorts after the large list's last one (sequential keys) goes
to the large list directly: that insert walks the list's right edge, recently written and so
in cache, and a fold would only copy it a second time. Batches
(``add_batch``) fold the front first and then go to the large list directly (they already
insert in groups). Range tombstones always go to the large list's tombstone list.

* Reads: ``get`` searches the front, then the large list. While every front entry is newer
  than every large-list entry (the DB's case: seqnos grow) a front hit decides; otherwise
  (entries added out of seqno order) both are searched and the larger seqno wins.
* The front is reference-counted under the GIL (MemFront.refs): the Memtable holds one
  reference and every iterator merging it another. A fold holds the GIL (it releases it only
  around its C loop, during which the front is only read); afterwards the front is emptied in
  place when nothing else references it, or replaced by a new one, and an iterator's pinned
  front stays intact until the iterator lets go of it. ``c_get`` must therefore run holding
  the GIL; ``get_many`` searches the front holding it and the large list without it.
* Iterators merge the two lists (MemtableIterator): an entry folded while an iterator runs is
  in both, and the merge yields identical internal keys once. Each seek pins the memtable's
  current front, so an iterator sees what a single list would have shown it.
* ``front_bytes=0`` turns the front off (one list, the layout before it).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize
from cpython.bytes cimport PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdlib cimport free, malloc
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
# The front's size (module docstring, "The front"): 1, 2 and 4 MiB measured alike and all
# 25-35 % below no front in the writer's CPU per random put (docs/benchmarks.md, "The
# memtable's front"); 2 MiB, between them.
DEFAULT_FRONT_BYTES = 2 << 20
# A fold of at least this many entries releases the GIL around its C loop.
FOLD_NOGIL_ENTRIES = 256
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


cdef MemFront *_front_new(size_t block_bytes) noexcept:
    """A new empty front with one reference; NULL when out of memory."""
    cdef MemFront *f = <MemFront *>malloc(sizeof(MemFront))
    if f == NULL:
        return NULL
    if lsmdb_skiplist_init(&f.sl, block_bytes) != 0:
        free(f)
        return NULL
    f.refs = 1
    f.n_points = 0
    f.min_seqno = 0
    f.max_seqno = 0
    return f


cdef void _front_release(MemFront *f) noexcept:
    """Drop one reference (holding the GIL); the last one frees the front."""
    if f == NULL:
        return
    f.refs -= 1
    if f.refs == 0:
        lsmdb_skiplist_free(&f.sl)
        free(f)


cdef int _fold_into(lsmdb_skiplist *sl, const lsmdb_skiplist *front) noexcept nogil:
    """Insert every point entry of ``front`` into ``sl`` in key order, INSERT_GROUP at a
    time; 0, or -1 when ``sl``'s arena runs out (a prefix of the groups is then inserted)."""
    cdef lsmdb_probe group[INSERT_GROUP]
    cdef int pending = 0
    cdef lsmdb_node *n = lsmdb_skiplist_next(front.head)
    while True:
        if n != NULL:
            group[pending].ukey = lsmdb_node_key(n)
            group[pending].ulen = n.key_len - 8
            group[pending].trailer = lsmdb_node_trailer(n)
            group[pending].value = lsmdb_node_value(n)
            group[pending].vlen = lsmdb_node_value_len(n)
            pending += 1
            n = lsmdb_skiplist_next(n)
            if pending < INSERT_GROUP:
                continue
        if pending:
            if lsmdb_skiplist_insert_group(sl, group, pending) < pending:
                return -1
            pending = 0
        if n == NULL:
            return 0


cdef inline bint _appends(Memtable mt, const uint8_t *key, Py_ssize_t klen,
                          uint64_t seqno, int vtype) noexcept:
    """Whether (key, seqno, vtype) sorts after the last entry of the large list: an insert at
    its end, whose search walks the right edge, recently written and so in cache. c_add sends
    such an entry to the large list directly while the front is empty (sequential keys never
    fill the front: a fold would only copy them a second time)."""
    if not mt.tail_known:
        mt.sl_tail = lsmdb_skiplist_last(&mt.sl)
        mt.tail_known = True
    return mt.sl_tail == mt.sl.head or lsmdb_node_cmp(mt.sl_tail, key, klen,
                                                      pack_trailer(seqno, vtype)) < 0


cdef inline void _count(Memtable mt, uint64_t first, uint64_t last, uint64_t n) noexcept:
    if mt.n_entries == 0 or first < mt.min_seqno:
        mt.min_seqno = first
    if mt.n_entries == 0 or last > mt.max_seqno_seen:
        mt.max_seqno_seen = last
    mt.n_entries += n


cdef class Memtable:
    """Sorted in-memory buffer of internal entries; see the module docstring for the rules."""

    def __cinit__(self, Py_ssize_t arena_block_bytes=DEFAULT_ARENA_BLOCK_BYTES,
                  Py_ssize_t front_bytes=DEFAULT_FRONT_BYTES):
        if arena_block_bytes <= 0:
            raise InvalidArgumentError(
                f"arena_block_bytes must be positive, got {arena_block_bytes}")
        if front_bytes < 0:
            raise InvalidArgumentError(f"front_bytes must be >= 0, got {front_bytes}")
        self.block_bytes = <size_t>arena_block_bytes
        if lsmdb_skiplist_init(&self.sl, self.block_bytes) != 0:
            raise MemoryError("cannot allocate the memtable arena")
        self.ready = True
        self.front_limit = <size_t>front_bytes
        if front_bytes:
            # Blocks no larger than the front, so a small front does not reserve 1 MiB.
            self.front = _front_new(self.block_bytes if self.block_bytes < self.front_limit
                                    else self.front_limit)
            if self.front == NULL:
                raise MemoryError("cannot allocate the memtable front")

    def __dealloc__(self):
        if self.ready:
            lsmdb_skiplist_free(&self.sl)
            self.ready = False
        _front_release(self.front)
        self.front = NULL

    cdef size_t c_used_bytes(self) noexcept:
        cdef size_t n = self.sl.arena.used
        if self.front != NULL:
            n += self.front.sl.arena.used
        return n

    cdef int c_fold(self) except -1:
        """Move the front's entries into the large list and empty the front (module
        docstring). MemoryError when the large list's arena runs out: the front then stays
        as it was (some of its entries also in the large list, which reads tolerate)."""
        cdef MemFront *f = self.front
        cdef MemFront *fresh
        cdef lsmdb_skiplist empty
        cdef int rc
        if f == NULL or f.n_points == 0:
            return 0
        if self.writing:
            raise InvalidArgumentError(
                "Memtable written by two threads at once: callers must serialise writers")
        if f.n_points >= FOLD_NOGIL_ENTRIES:
            # Readers may run meanwhile: they only read the front, and the large list takes
            # the entries under skiplist.h's lock-free discipline.
            self.writing = True
            try:
                with nogil:
                    rc = _fold_into(&self.sl, &f.sl)
            finally:
                self.writing = False
        else:
            rc = _fold_into(&self.sl, &f.sl)
        self.tail_known = False
        if rc != 0:
            raise MemoryError("memtable arena allocation failed while folding the front")
        if self.sl_points == 0 or f.max_seqno > self.sl_max_seqno:
            self.sl_max_seqno = f.max_seqno
        self.sl_points += f.n_points
        self.n_folds += 1
        if f.refs == 1:
            # Nothing else holds it (the GIL is held): empty it in place, keeping its size.
            if lsmdb_skiplist_init(&empty, f.sl.arena.block_bytes) != 0:
                raise MemoryError("cannot allocate the memtable front")
            lsmdb_skiplist_free(&f.sl)
            f.sl = empty
            f.n_points = 0
            f.min_seqno = 0
            f.max_seqno = 0
            return 0
        # An iterator still merges it: it keeps that front, the memtable takes a new one.
        fresh = _front_new(f.sl.arena.block_bytes)
        if fresh == NULL:
            raise MemoryError("cannot allocate the memtable front")
        _front_release(f)
        self.front = fresh
        return 0

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
        cdef MemFront *f = self.front
        cdef lsmdb_node *node
        if vtype == TYPE_RANGE_DELETE:
            rc = lsmdb_skiplist_add_tomb(&self.sl, key, klen, value, vlen, seqno)
        elif vtype != TYPE_PUT and vtype != TYPE_DELETE:
            raise InvalidArgumentError(f"unknown value type {vtype}")
        elif f != NULL and not (f.n_points == 0 and _appends(self, key, klen, seqno, vtype)):
            rc = lsmdb_skiplist_insert(&f.sl, key, klen, pack_trailer(seqno, vtype),
                                       value, vlen)
            if rc == 0:
                if f.n_points == 0 or seqno < f.min_seqno:
                    f.min_seqno = seqno
                if f.n_points == 0 or seqno > f.max_seqno:
                    f.max_seqno = seqno
                f.n_points += 1
        else:
            node = lsmdb_skiplist_insert_node(&self.sl, key, klen, pack_trailer(seqno, vtype),
                                              value, vlen)
            rc = -1 if node == NULL else 0
            if rc == 0:
                # A node inserted anywhere but at the end leaves the last node as it was.
                if self.tail_known and lsmdb_skiplist_next(node) == NULL:
                    self.sl_tail = node
                if self.sl_points == 0 or seqno > self.sl_max_seqno:
                    self.sl_max_seqno = seqno
                self.sl_points += 1
        if rc != 0:
            raise MemoryError("memtable arena allocation failed")
        _count(self, seqno, seqno, 1)
        if vtype == TYPE_DELETE:
            self.n_deletes += 1
        elif vtype == TYPE_RANGE_DELETE:
            self.n_range_deletes += 1
        if f != NULL and f.sl.arena.used >= self.front_limit:
            # The entry is in, so this call must not fail now (a raise here would tell the
            # caller it was not applied): a fold that runs out of memory leaves the front
            # readable as it was, and the next entry tries again (or fails its own insert).
            try:
                self.c_fold()
            except MemoryError:
                pass
        return 0

    cdef int c_get(self, const uint8_t *user_key, size_t ulen, uint64_t snapshot,
                   const uint8_t **value, Py_ssize_t *vlen, uint64_t *seqno) noexcept nogil:
        cdef uint64_t trailer = pack_trailer(snapshot, TYPE_MAX)
        cdef MemFront *f = self.front
        cdef int st
        cdef lsmdb_node *n
        if f != NULL and f.n_points:
            st = _point_result(lsmdb_skiplist_seek_ge(&f.sl, user_key, ulen, trailer, NULL),
                               user_key, ulen, value, vlen, seqno)
            if st != MEMTABLE_MISSING and (self.sl_points == 0
                                           or f.min_seqno > self.sl_max_seqno):
                return st
            n = lsmdb_skiplist_seek_ge(&self.sl, user_key, ulen, trailer, NULL)
            return _newer(st, n, user_key, ulen, value, vlen, seqno)
        n = lsmdb_skiplist_seek_ge(&self.sl, user_key, ulen, trailer, NULL)
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
        # The batch goes to the large list: the front's (older) entries go there first, so
        # a front entry stays newer than every large-list entry.
        self.c_fold()
        self.tail_known = False  # the batch may append anywhere
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
            if res.applied > res.range_deletes:
                if self.sl_points == 0 or seq + res.applied - 1 > self.sl_max_seqno:
                    self.sl_max_seqno = seq + res.applied - 1
                self.sl_points += res.applied - res.range_deletes
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
        cdef MemFront *f
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
                f = self.front  # re-read: holding the GIL again, a fold may have run
                for i in range(m):
                    if f != NULL and f.n_points:
                        status = _point_result(
                            lsmdb_skiplist_seek_ge(&f.sl, kp[base + i], kn[base + i],
                                                   trailer, NULL),
                            kp[base + i], kn[base + i], &v, &vn, &seqno)
                        status = _newer(status, found[i], kp[base + i], kn[base + i], &v,
                                        &vn, &seqno)
                    else:
                        status = _point_result(found[i], kp[base + i], kn[base + i], &v,
                                               &vn, &seqno)
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
        """Arena bytes handed out (the front's included): node headers, links, keys, values
        and tombstones."""
        return self.c_used_bytes()

    @property
    def arena_reserved_bytes(self) -> int:
        """Bytes malloc'd for arena blocks, the front's included (>= approximate_bytes)."""
        cdef size_t n = self.sl.arena.reserved
        if self.front != NULL:
            n += self.front.sl.arena.reserved
        return n

    @property
    def front_bytes(self) -> int:
        """The front's size limit (0: no front)."""
        return self.front_limit

    @property
    def front_entries(self) -> int:
        """Point entries in the front now (not yet folded into the large list)."""
        return 0 if self.front == NULL else self.front.n_points

    @property
    def num_folds(self) -> int:
        """Folds of a non-empty front into the large list so far."""
        return self.n_folds

    def fold(self) -> None:
        """Fold the front into the large list now (a writer call: serialise it with the
        writers). Reads are unchanged by it."""
        self.c_fold()

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
                f"{self.max_seqno_seen}, bytes={self.c_used_bytes()})")


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


cdef inline int _newer(int st, lsmdb_node *n, const uint8_t *user_key, size_t ulen,
                       const uint8_t **value, Py_ssize_t *vlen,
                       uint64_t *seqno) noexcept nogil:
    """Of the front's result (st, value, vlen, seqno) and the large list's first node >= the
    key (n), the newer one, into the same outputs; the front wins a tie (identical internal
    keys: the newest insert shadows)."""
    cdef const uint8_t *v2
    cdef Py_ssize_t vn2
    cdef uint64_t s2
    cdef int st2 = _point_result(n, user_key, ulen, &v2, &vn2, &s2)
    if st2 == MEMTABLE_MISSING or (st != MEMTABLE_MISSING and seqno[0] >= s2):
        return st
    value[0] = v2
    vlen[0] = vn2
    seqno[0] = s2
    return st2


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


cdef inline int _node_cmp(const lsmdb_node *a, const lsmdb_node *b) noexcept nogil:
    """Internal-key order of two nodes: <0, 0 (identical internal keys), >0."""
    return lsmdb_node_cmp(a, lsmdb_node_key(b), b.key_len - 8, lsmdb_node_trailer(b))


cdef inline lsmdb_node *_or_null(lsmdb_node *n, const lsmdb_skiplist *sl) noexcept nogil:
    return NULL if n == sl.head else n


cdef class MemtableIterator(InternalIterator):
    """Iterator over a Memtable's point entries; keeps the Memtable alive.

    With a non-empty front it merges the front (pinned: a reference it holds until the next
    seek or its end) with the large list, yielding identical internal keys once (an entry
    folded meanwhile is in both). Each seek re-pins the memtable's current front. Without a
    front it walks the large list alone, as before the front existed."""

    def __cinit__(self, Memtable memtable not None):
        self.mt = memtable
        self.cur = NULL
        self.front = NULL
        self.lc = NULL
        self.fc = NULL
        self.backward = False

    def __dealloc__(self):
        _front_release(self.front)
        self.front = NULL

    cdef void _pin(self) noexcept:
        """Merge the memtable's current front from now on (or none when it is empty)."""
        cdef MemFront *f = self.mt.front
        if f != NULL and f.n_points == 0:
            f = NULL
        if f != self.front:
            if f != NULL:
                f.refs += 1
            _front_release(self.front)
            self.front = f

    cdef void _pick(self, bint largest) noexcept:
        """cur = the smaller (largest: larger) of the two cursors; the front's on a tie."""
        cdef int c
        if self.lc == NULL:
            self.cur = self.fc
        elif self.fc == NULL:
            self.cur = self.lc
        else:
            c = _node_cmp(self.fc, self.lc)
            if largest:
                self.cur = self.fc if c >= 0 else self.lc
            else:
                self.cur = self.fc if c <= 0 else self.lc

    cdef int c_seek_to_first(self) except -1:
        self._pin()
        if self.front == NULL:
            self.cur = lsmdb_skiplist_next(self.mt.sl.head)
            return 0
        self.lc = lsmdb_skiplist_next(self.mt.sl.head)
        self.fc = lsmdb_skiplist_next(self.front.sl.head)
        self.backward = False
        self._pick(False)
        return 0

    cdef int c_seek_to_last(self) except -1:
        self._pin()
        self.lc = _or_null(lsmdb_skiplist_last(&self.mt.sl), &self.mt.sl)
        if self.front == NULL:
            self.cur = self.lc
            return 0
        self.fc = _or_null(lsmdb_skiplist_last(&self.front.sl), &self.front.sl)
        self.backward = True
        self._pick(True)
        return 0

    cdef int c_seek(self, const uint8_t *target, Py_ssize_t n) except -1:
        if n < 8:
            raise InvalidArgumentError("seek target must be an internal key (>= 8 bytes)")
        cdef uint64_t trailer = load_u64_le(target + n - 8)
        self._pin()
        self.lc = lsmdb_skiplist_seek_ge(&self.mt.sl, target, n - 8, trailer, NULL)
        if self.front == NULL:
            self.cur = self.lc
            return 0
        self.fc = lsmdb_skiplist_seek_ge(&self.front.sl, target, n - 8, trailer, NULL)
        self.backward = False
        self._pick(False)
        return 0

    cdef int c_seek_for_prev(self, const uint8_t *target, Py_ssize_t n) except -1:
        if n < 8:
            raise InvalidArgumentError("seek target must be an internal key (>= 8 bytes)")
        cdef uint64_t trailer = load_u64_le(target + n - 8)
        self._pin()
        self.lc = _or_null(lsmdb_skiplist_seek_lt(&self.mt.sl, target, n - 8, trailer, 1),
                           &self.mt.sl)
        if self.front == NULL:
            self.cur = self.lc
            return 0
        self.fc = _or_null(lsmdb_skiplist_seek_lt(&self.front.sl, target, n - 8, trailer, 1),
                           &self.front.sl)
        self.backward = True
        self._pick(True)
        return 0

    cdef int c_next(self) except -1:
        cdef lsmdb_node *at = self.cur
        if at == NULL:
            return 0
        if self.front == NULL:
            self.cur = lsmdb_skiplist_next(at)
            return 0
        if self.backward:
            # Both cursors to their first entry >= the current one (one of them is it).
            self.lc = lsmdb_skiplist_seek_ge(&self.mt.sl, lsmdb_node_key(at), at.key_len - 8,
                                             lsmdb_node_trailer(at), NULL)
            self.fc = lsmdb_skiplist_seek_ge(&self.front.sl, lsmdb_node_key(at),
                                             at.key_len - 8, lsmdb_node_trailer(at), NULL)
            self.backward = False
        # Step past the current entry in each list that holds it.
        if self.lc != NULL and _node_cmp(self.lc, at) == 0:
            self.lc = lsmdb_skiplist_next(self.lc)
        if self.fc != NULL and _node_cmp(self.fc, at) == 0:
            self.fc = lsmdb_skiplist_next(self.fc)
        self._pick(False)
        return 0

    cdef int c_prev(self) except -1:
        cdef lsmdb_node *at = self.cur
        cdef const uint8_t *k
        if at == NULL:
            return 0
        k = lsmdb_node_key(at)
        self.lc = _or_null(lsmdb_skiplist_seek_lt(&self.mt.sl, k, at.key_len - 8,
                                                  lsmdb_node_trailer(at), 0), &self.mt.sl)
        if self.front == NULL:
            self.cur = self.lc
            return 0
        self.fc = _or_null(lsmdb_skiplist_seek_lt(&self.front.sl, k, at.key_len - 8,
                                                  lsmdb_node_trailer(at), 0), &self.front.sl)
        self.backward = True
        self._pick(True)
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
