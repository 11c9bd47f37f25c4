# Memtable: arena skip list of internal keys (skiplist.h) plus a list of range tombstones.
# Concurrency rules in memtable.pyx's docstring: one serialised writer, lock-free readers.
from libc.stdint cimport uint8_t, uint32_t, uint64_t

from lsmdb._core.iterator cimport InternalIterator


cdef extern from "skiplist.h":
    ctypedef struct lsmdb_node:
        uint32_t key_len
        uint32_t vlen_height

    ctypedef struct lsmdb_range_tomb:
        uint64_t seqno
        uint32_t start_len
        uint32_t end_len

    ctypedef struct lsmdb_arena:
        size_t reserved
        size_t used
        size_t block_bytes

    ctypedef struct lsmdb_skiplist:
        lsmdb_arena arena
        lsmdb_node *head

    ctypedef struct lsmdb_probe:
        const uint8_t *ukey
        size_t ulen
        uint64_t trailer
        const uint8_t *value
        size_t vlen
        lsmdb_node *next

    int lsmdb_skiplist_init(lsmdb_skiplist *sl, size_t block_bytes) noexcept nogil
    void lsmdb_skiplist_free(lsmdb_skiplist *sl) noexcept nogil
    int lsmdb_skiplist_insert(lsmdb_skiplist *sl, const uint8_t *ukey, size_t ulen,
                              uint64_t trailer, const uint8_t *value,
                              size_t vlen) noexcept nogil
    lsmdb_node *lsmdb_skiplist_insert_node(lsmdb_skiplist *sl, const uint8_t *ukey, size_t ulen,
                                           uint64_t trailer, const uint8_t *value,
                                           size_t vlen) noexcept nogil
    int lsmdb_skiplist_add_tomb(lsmdb_skiplist *sl, const uint8_t *start, size_t slen,
                                const uint8_t *end, size_t elen, uint64_t seqno) noexcept nogil
    lsmdb_node *lsmdb_skiplist_seek_ge(const lsmdb_skiplist *sl, const uint8_t *ukey,
                                       size_t ulen, uint64_t trailer,
                                       lsmdb_node **prev) noexcept nogil
    void lsmdb_skiplist_seek_group(const lsmdb_skiplist *sl, lsmdb_probe *pr, int n,
                                   int fill_prev) noexcept nogil
    int lsmdb_skiplist_insert_group(lsmdb_skiplist *sl, lsmdb_probe *pr, int n) noexcept nogil
    lsmdb_node *lsmdb_skiplist_seek_lt(const lsmdb_skiplist *sl, const uint8_t *ukey,
                                       size_t ulen, uint64_t trailer,
                                       int or_equal) noexcept nogil
    lsmdb_node *lsmdb_skiplist_last(const lsmdb_skiplist *sl) noexcept nogil
    lsmdb_node *lsmdb_skiplist_next(const lsmdb_node *n) noexcept nogil
    int lsmdb_node_cmp(const lsmdb_node *n, const uint8_t *ukey, size_t ulen,
                       uint64_t trailer) noexcept nogil
    const uint8_t *lsmdb_node_key(const lsmdb_node *n) noexcept nogil
    const uint8_t *lsmdb_node_value(const lsmdb_node *n) noexcept nogil
    uint32_t lsmdb_node_value_len(const lsmdb_node *n) noexcept nogil
    uint32_t LSMDB_NODE_MAX_VALUE_LEN
    uint64_t lsmdb_node_trailer(const lsmdb_node *n) noexcept nogil
    lsmdb_range_tomb *lsmdb_skiplist_first_tomb(const lsmdb_skiplist *sl) noexcept nogil
    lsmdb_range_tomb *lsmdb_tomb_next(const lsmdb_range_tomb *t) noexcept nogil
    const uint8_t *lsmdb_tomb_start(const lsmdb_range_tomb *t) noexcept nogil


# Results of Memtable.c_get / get(): status codes.
cdef enum:
    MEMTABLE_MISSING = 0
    MEMTABLE_FOUND = 1
    MEMTABLE_DELETED = 2


# The small skip list new single entries go to first (see memtable.pyx, "The front").
# Reference-counted under the GIL: the Memtable holds one reference, each iterator that
# merges it another.
cdef struct MemFront:
    lsmdb_skiplist sl
    Py_ssize_t refs
    uint64_t n_points                 # point entries in sl (PUT and DELETE)
    uint64_t min_seqno                # of those entries (valid when n_points > 0)
    uint64_t max_seqno


cdef class Memtable:
    cdef lsmdb_skiplist sl
    cdef MemFront *front              # NULL when front_limit == 0
    cdef size_t front_limit           # fold the front into sl once its arena holds this many
    cdef size_t block_bytes           # arena block size (the front's too)
    cdef uint64_t sl_points           # point entries in sl
    cdef uint64_t sl_max_seqno        # largest seqno of those (valid when sl_points > 0)
    cdef uint64_t n_folds
    cdef lsmdb_node *sl_tail          # last node of sl (its head when empty), if tail_known
    cdef bint tail_known
    cdef bint ready
    cdef bint writing                 # a writer is inside add_batch without the GIL
    cdef uint64_t n_entries
    cdef uint64_t n_deletes
    cdef uint64_t n_range_deletes
    cdef uint64_t min_seqno
    cdef uint64_t max_seqno_seen

    cdef size_t c_used_bytes(self) noexcept
    cdef int c_fold(self) except -1
    cdef int c_add(self, uint64_t seqno, int vtype, const uint8_t *key, Py_ssize_t klen,
                   const uint8_t *value, Py_ssize_t vlen) except -1
    # Newest point entry of user_key visible at snapshot; MEMTABLE_* status. value/seqno are
    # set for FOUND (value points into the arena, valid while the memtable lives) and DELETED.
    # Call it holding the GIL: a fold (under the GIL) may free the front it searches.
    cdef int c_get(self, const uint8_t *user_key, size_t ulen, uint64_t snapshot,
                   const uint8_t **value, Py_ssize_t *vlen, uint64_t *seqno) noexcept nogil


cdef class MemtableIterator(InternalIterator):
    cdef Memtable mt
    cdef lsmdb_node *cur
    cdef MemFront *front              # pinned front merged with mt.sl; NULL: mt.sl alone
    cdef lsmdb_node *lc               # cursor in mt.sl (merged mode)
    cdef lsmdb_node *fc               # cursor in front.sl (merged mode)
    cdef bint backward
    cdef void _pin(self) noexcept
    cdef void _pick(self, bint largest) noexcept
