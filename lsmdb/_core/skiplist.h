/* Arena + skip list of the memtable (LevelDB's db/skiplist.h and util/arena.cc, in C).
 *
 * Arena: large malloc'd blocks, bump allocation, 8-byte alignment; allocations larger than a
 * quarter block get a block of their own so a huge value wastes nothing. Everything is freed
 * at once by lsmdb_skiplist_free.
 *
 * Node layout (one arena allocation, never moved or freed before the list):
 *   uint32 key_len | uint32 value_len << 4 | height | next[height] | ikey | value
 * (an 8-byte header: values < 256 MiB, more than the DB's max_value_bytes bound of 64 MiB,
 * and heights <= 12 share one word; memtable bytes per entry are raw + ~26 for 16-byte keys)
 * where ikey = user key + 8-byte little-endian trailer (seqno << 8 | type), see ikey.pxd.
 * Order: user key bytewise ascending, then trailer descending.
 *
 * Concurrency (LevelDB's discipline): ONE writer at a time (callers serialise writers), any
 * number of concurrent readers without a lock.
 *   - The writer fully initialises a node (lengths, bytes, its own next[] with relaxed stores)
 *     before publishing it, then links it level 0 first, upwards, each prev->next[i] with a
 *     RELEASE store. A reader that loads a next pointer with ACQUIRE therefore sees a
 *     complete node, and level 0 (the authoritative list) is linked before any express lane.
 *   - max_height is read and written relaxed: a reader that sees the new height before the
 *     new upper links simply finds NULL (the head's next[i]) there and descends.
 *   - Nodes are immutable once published and live until the whole list is freed.
 * The range-tombstone list follows the same rule: fill, then RELEASE-append at the tail.
 */
#ifndef LSMDB_SKIPLIST_H
#define LSMDB_SKIPLIST_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#define LSMDB_SKIPLIST_MAX_HEIGHT 12
#define LSMDB_SKIPLIST_BRANCHING 4
#define LSMDB_ARENA_DEFAULT_BLOCK (1u << 20)
#define LSMDB_ARENA_ALIGN 8
#define LSMDB_HUGE_PAGE ((size_t)2 << 20)
#define LSMDB_CACHE_LINE 64

#define LSMDB_LOAD_ACQUIRE(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define LSMDB_LOAD_RELAXED(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define LSMDB_STORE_RELEASE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define LSMDB_STORE_RELAXED(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

/* ---------------------------------------------------------------- arena */

typedef struct lsmdb_arena_block {
    struct lsmdb_arena_block *older;
    size_t size;                          /* bytes malloc'd for this block, header included */
} lsmdb_arena_block;

typedef struct {
    char *ptr;                            /* bump pointer inside the current block */
    size_t remaining;
    size_t block_bytes;
    size_t reserved;                      /* total bytes malloc'd */
    size_t used;                          /* bytes handed out, alignment padding included */
    lsmdb_arena_block *blocks;
} lsmdb_arena;

#define LSMDB_BLOCK_HEADER \
    ((sizeof(lsmdb_arena_block) + LSMDB_ARENA_ALIGN - 1) & ~(size_t)(LSMDB_ARENA_ALIGN - 1))

static char *lsmdb_arena_new_block(lsmdb_arena *a, size_t bytes) {
    size_t size = LSMDB_BLOCK_HEADER + bytes;
    lsmdb_arena_block *b;
    if (size < bytes)
        return NULL;
    {
        void *mem = NULL;
        /* Cache-line aligned: memory use then depends only on the allocation sequence. */
        size_t align = LSMDB_CACHE_LINE;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
        if (size >= LSMDB_HUGE_PAGE)
            align = LSMDB_HUGE_PAGE;
#endif
        if (posix_memalign(&mem, align, size) != 0)
            return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
        /* Huge pages: random skip-list walks otherwise pay a TLB miss per node. */
        if (align == LSMDB_HUGE_PAGE)
            madvise(mem, size & ~(size_t)(LSMDB_HUGE_PAGE - 1), MADV_HUGEPAGE);
#endif
        b = (lsmdb_arena_block *)mem;
    }
    b->older = a->blocks;
    b->size = size;
    a->blocks = b;
    a->reserved += size;
    return (char *)b + LSMDB_BLOCK_HEADER;
}

/* NULL when out of memory (the arena is unchanged then). */
static inline void *lsmdb_arena_alloc(lsmdb_arena *a, size_t bytes) {
    char *p;
    if (bytes > SIZE_MAX - LSMDB_ARENA_ALIGN)
        return NULL;
    bytes = (bytes + LSMDB_ARENA_ALIGN - 1) & ~(size_t)(LSMDB_ARENA_ALIGN - 1);
    if (bytes <= a->remaining) {
        p = a->ptr;
        a->ptr += bytes;
        a->remaining -= bytes;
        a->used += bytes;
        return p;
    }
    if (bytes > a->block_bytes / 4) {
        p = lsmdb_arena_new_block(a, bytes);      /* keep the current block's tail */
        if (p != NULL)
            a->used += bytes;
        return p;
    }
    p = lsmdb_arena_new_block(a, a->block_bytes);
    if (p == NULL)
        return NULL;
    a->ptr = p + bytes;
    a->remaining = a->block_bytes - bytes;
    a->used += bytes;
    return p;
}

static void lsmdb_arena_free(lsmdb_arena *a) {
    lsmdb_arena_block *b = a->blocks, *older;
    while (b != NULL) {
        older = b->older;
        free(b);
        b = older;
    }
    a->blocks = NULL;
    a->ptr = NULL;
    a->remaining = 0;
}

/* ---------------------------------------------------------------- byte helpers */

static inline uint64_t lsmdb_sl_load_u64_le(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline void lsmdb_sl_store_u64_le(uint8_t *p, uint64_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, 8);
}

/* ---------------------------------------------------------------- skip list */

typedef struct lsmdb_node {
    uint32_t key_len;                     /* internal key: user key + 8 */
    uint32_t vlen_height;                 /* value_len << 4 | height */
    struct lsmdb_node *next[1];           /* really next[height] */
} lsmdb_node;

#define LSMDB_NODE_HEADER offsetof(lsmdb_node, next)
#define LSMDB_NODE_MAX_VALUE_LEN 0x0FFFFFFFu

static inline int lsmdb_node_height(const lsmdb_node *n) {
    return (int)(n->vlen_height & 0xFu);
}

static inline uint32_t lsmdb_node_value_len(const lsmdb_node *n) {
    return n->vlen_height >> 4;
}

static inline const uint8_t *lsmdb_node_key(const lsmdb_node *n) {
    return (const uint8_t *)(n->next + lsmdb_node_height(n));
}

static inline const uint8_t *lsmdb_node_value(const lsmdb_node *n) {
    return lsmdb_node_key(n) + n->key_len;
}

static inline uint64_t lsmdb_node_trailer(const lsmdb_node *n) {
    return lsmdb_sl_load_u64_le(lsmdb_node_key(n) + n->key_len - 8);
}

typedef struct lsmdb_range_tomb {
    struct lsmdb_range_tomb *next;        /* RELEASE-published, ACQUIRE-read */
    uint64_t seqno;
    uint32_t start_len;
    uint32_t end_len;
    /* start bytes, then end bytes */
} lsmdb_range_tomb;

static inline const uint8_t *lsmdb_tomb_start(const lsmdb_range_tomb *t) {
    return (const uint8_t *)(t + 1);
}

typedef struct {
    lsmdb_arena arena;
    lsmdb_node *head;
    int max_height;                       /* relaxed */
    uint32_t rng;                         /* xorshift32 state, writer only */
    lsmdb_range_tomb *tombs;              /* first tombstone: RELEASE/ACQUIRE */
    lsmdb_range_tomb *last_tomb;          /* writer only */
} lsmdb_skiplist;

static inline uint64_t lsmdb_sl_load_u64_be(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* Compare node n with the internal key (ukey, ulen, trailer): <0, 0, >0. */
static inline int lsmdb_node_cmp(const lsmdb_node *n, const uint8_t *ukey, size_t ulen,
                                 uint64_t trailer) {
    const uint8_t *k = lsmdb_node_key(n);
    size_t nlen = n->key_len - 8;
    size_t m = nlen < ulen ? nlen : ulen;
    int r;
    uint64_t a, b;
    if (m >= 8) {
        /* The first 8 bytes as big-endian integers decide almost every comparison. */
        a = lsmdb_sl_load_u64_be(k);
        b = lsmdb_sl_load_u64_be(ukey);
        if (a != b)
            return a < b ? -1 : 1;
        r = memcmp(k + 8, ukey + 8, m - 8);
    } else {
        r = m ? memcmp(k, ukey, m) : 0;
    }
    if (r != 0)
        return r;
    if (nlen != ulen)
        return nlen < ulen ? -1 : 1;
    a = lsmdb_sl_load_u64_le(k + nlen);
    return a > trailer ? -1 : (a < trailer ? 1 : 0);
}

/* 0 on success, -1 when out of memory. */
static int lsmdb_skiplist_init(lsmdb_skiplist *sl, size_t block_bytes) {
    size_t head_bytes = LSMDB_NODE_HEADER + sizeof(lsmdb_node *) * LSMDB_SKIPLIST_MAX_HEIGHT;
    int i;
    memset(sl, 0, sizeof(*sl));
    sl->arena.block_bytes = block_bytes < 4096 ? 4096 : block_bytes;
    sl->head = (lsmdb_node *)lsmdb_arena_alloc(&sl->arena, head_bytes);
    if (sl->head == NULL)
        return -1;
    sl->head->key_len = 8;
    sl->head->vlen_height = LSMDB_SKIPLIST_MAX_HEIGHT;   /* value length 0 */
    for (i = 0; i < LSMDB_SKIPLIST_MAX_HEIGHT; i++)
        sl->head->next[i] = NULL;
    sl->max_height = 1;
    sl->rng = 0xdeadbeefu;
    return 0;
}

static void lsmdb_skiplist_free(lsmdb_skiplist *sl) {
    lsmdb_arena_free(&sl->arena);
    sl->head = NULL;
}

static inline int lsmdb_skiplist_random_height(lsmdb_skiplist *sl) {
    int h = 1;
    uint32_t x = sl->rng;
    for (;;) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        if (h >= LSMDB_SKIPLIST_MAX_HEIGHT || (x >> 16) % LSMDB_SKIPLIST_BRANCHING != 0)
            break;
        h++;
    }
    sl->rng = x;
    return h;
}

/* What a comparison reads (header, links, first key bytes) lies within a node's first two
 * cache lines. (Placing nodes so it fits one line, and prefetching one, measured no faster
 * and cost 11% more memory.) */
#define LSMDB_PREFETCH(p)                                   \
    do {                                                    \
        __builtin_prefetch((const char *)(p), 0, 3);        \
        __builtin_prefetch((const char *)(p) + 64, 0, 3);   \
    } while (0)

/* First node >= key, or NULL. When prev != NULL, fills prev[0..MAX_HEIGHT) with the last node
 * < key at each level (the head above the current height). */
static inline lsmdb_node *lsmdb_skiplist_seek_ge(const lsmdb_skiplist *sl, const uint8_t *ukey,
                                                 size_t ulen, uint64_t trailer,
                                                 lsmdb_node **prev) {
    lsmdb_node *x = sl->head, *next, *bound = NULL;
    int level = LSMDB_LOAD_RELAXED(&sl->max_height) - 1;
    int i;
    if (prev != NULL)
        for (i = level + 1; i < LSMDB_SKIPLIST_MAX_HEIGHT; i++)
            prev[i] = sl->head;
    for (;;) {
        next = LSMDB_LOAD_ACQUIRE(&x->next[level]);
        /* bound: a node already known >= key, reached again one level down. */
        if (next != NULL && next != bound && lsmdb_node_cmp(next, ukey, ulen, trailer) < 0) {
            x = next;
        } else {
            bound = next;
            if (prev != NULL)
                prev[level] = x;
            if (level == 0)
                return next;
            level--;
        }
    }
}

/* A search in flight for lsmdb_skiplist_seek_group / lsmdb_skiplist_insert_group. */
typedef struct {
    const uint8_t *ukey;                  /* in: user key, length, trailer */
    size_t ulen;
    uint64_t trailer;
    const uint8_t *value;                 /* in (insert only): value bytes */
    size_t vlen;
    lsmdb_node *x;                        /* search state */
    lsmdb_node *next;
    lsmdb_node *bound;
    int level;
    int done;
    lsmdb_node *prev[LSMDB_SKIPLIST_MAX_HEIGHT];
    lsmdb_node *node;                     /* out (insert only): the new node */
} lsmdb_probe;

/* seek_ge for n keys at once, interleaved: each step of one search prefetches the node its
 * next step compares with, then moves on to the other searches, so n cache misses overlap
 * instead of being paid one after another (a random walk over a large memtable is bound by
 * memory latency). Result: pr[j].next; pr[j].prev filled when fill_prev. */
static void lsmdb_skiplist_seek_group(const lsmdb_skiplist *sl, lsmdb_probe *pr, int n,
                                      int fill_prev) {
    int top = LSMDB_LOAD_RELAXED(&sl->max_height) - 1;
    lsmdb_node *head = sl->head;
    lsmdb_node *first = LSMDB_LOAD_ACQUIRE(&head->next[top]);
    lsmdb_probe *p;
    int active = n, j, i;
    for (j = 0; j < n; j++) {
        p = &pr[j];
        p->x = head;
        p->level = top;
        p->next = first;
        p->bound = NULL;
        p->done = 0;
        if (fill_prev)
            for (i = top + 1; i < LSMDB_SKIPLIST_MAX_HEIGHT; i++)
                p->prev[i] = head;
    }
    if (first != NULL)
        LSMDB_PREFETCH(first);
    while (active > 0) {
        for (j = 0; j < n; j++) {
            p = &pr[j];
            if (p->done)
                continue;
            if (p->next != NULL && p->next != p->bound &&
                    lsmdb_node_cmp(p->next, p->ukey, p->ulen, p->trailer) < 0) {
                p->x = p->next;
            } else {
                p->bound = p->next;
                if (fill_prev)
                    p->prev[p->level] = p->x;
                if (p->level == 0) {
                    p->done = 1;
                    active--;
                    continue;
                }
                p->level--;
            }
            p->next = LSMDB_LOAD_ACQUIRE(&p->x->next[p->level]);
            if (p->next != NULL && p->next != p->bound)
                LSMDB_PREFETCH(p->next);
        }
    }
}

/* Last node < key (strict) or, when or_equal, <= key; the head when there is none. */
static inline lsmdb_node *lsmdb_skiplist_seek_lt(const lsmdb_skiplist *sl, const uint8_t *ukey,
                                                 size_t ulen, uint64_t trailer, int or_equal) {
    lsmdb_node *x = sl->head, *next, *bound = NULL;
    int level = LSMDB_LOAD_RELAXED(&sl->max_height) - 1;
    int c;
    for (;;) {
        next = LSMDB_LOAD_ACQUIRE(&x->next[level]);
        if (next != NULL && next != bound) {
            c = lsmdb_node_cmp(next, ukey, ulen, trailer);
            if (c < 0 || (or_equal && c == 0)) {
                x = next;
                continue;
            }
        }
        bound = next;
        if (level == 0)
            return x;
        level--;
    }
}

/* Last node of the list; the head when empty. */
static inline lsmdb_node *lsmdb_skiplist_last(const lsmdb_skiplist *sl) {
    lsmdb_node *x = sl->head, *next;
    int level = LSMDB_LOAD_RELAXED(&sl->max_height) - 1;
    for (;;) {
        next = LSMDB_LOAD_ACQUIRE(&x->next[level]);
        if (next != NULL) {
            x = next;
            continue;
        }
        if (level == 0)
            return x;
        level--;
    }
}

static inline lsmdb_node *lsmdb_skiplist_next(const lsmdb_node *n) {
    return LSMDB_LOAD_ACQUIRE((lsmdb_node **)&n->next[0]);
}

/* Allocate and fully initialise an unlinked node; NULL when out of memory. */
static lsmdb_node *lsmdb_skiplist_new_node(lsmdb_skiplist *sl, const uint8_t *ukey, size_t ulen,
                                           uint64_t trailer, const uint8_t *value, size_t vlen) {
    int height, i;
    size_t bytes;
    lsmdb_node *n;
    uint8_t *k;
    if (ulen > UINT32_MAX - 8 || vlen > LSMDB_NODE_MAX_VALUE_LEN)
        return NULL;
    height = lsmdb_skiplist_random_height(sl);
    bytes = LSMDB_NODE_HEADER + sizeof(lsmdb_node *) * (size_t)height + ulen + 8 + vlen;
    n = (lsmdb_node *)lsmdb_arena_alloc(&sl->arena, bytes);
    if (n == NULL)
        return NULL;
    n->key_len = (uint32_t)(ulen + 8);
    n->vlen_height = (uint32_t)vlen << 4 | (uint32_t)height;
    for (i = 0; i < height; i++)
        LSMDB_STORE_RELAXED(&n->next[i], NULL);
    k = (uint8_t *)(n->next + height);
    if (ulen)
        memcpy(k, ukey, ulen);
    lsmdb_sl_store_u64_le(k + ulen, trailer);
    if (vlen)
        memcpy(k + ulen + 8, value, vlen);
    return n;
}

/* Publish node n after prev[0..height): level 0 first, each link a RELEASE store. */
static inline void lsmdb_skiplist_link(lsmdb_skiplist *sl, lsmdb_node *n, lsmdb_node **prev) {
    int height = lsmdb_node_height(n), i;
    if (height > LSMDB_LOAD_RELAXED(&sl->max_height))
        LSMDB_STORE_RELAXED(&sl->max_height, height);
    for (i = 0; i < height; i++) {
        LSMDB_STORE_RELAXED(&n->next[i], LSMDB_LOAD_RELAXED(&prev[i]->next[i]));
        LSMDB_STORE_RELEASE(&prev[i]->next[i], n);
    }
}

/* Insert user key + trailer -> value. Writers must be serialised by the caller. An identical
 * internal key already present stays, after the new node (the newest insert shadows it).
 * The new node, or NULL when out of memory (the list is unchanged then); _insert: 0 or -1. */
static lsmdb_node *lsmdb_skiplist_insert_node(lsmdb_skiplist *sl, const uint8_t *ukey,
                                              size_t ulen, uint64_t trailer,
                                              const uint8_t *value, size_t vlen) {
    lsmdb_node *prev[LSMDB_SKIPLIST_MAX_HEIGHT];
    lsmdb_node *n = lsmdb_skiplist_new_node(sl, ukey, ulen, trailer, value, vlen);
    if (n == NULL)
        return NULL;
    lsmdb_skiplist_seek_ge(sl, ukey, ulen, trailer, prev);
    lsmdb_skiplist_link(sl, n, prev);
    return n;
}

static int lsmdb_skiplist_insert(lsmdb_skiplist *sl, const uint8_t *ukey, size_t ulen,
                                 uint64_t trailer, const uint8_t *value, size_t vlen) {
    return lsmdb_skiplist_insert_node(sl, ukey, ulen, trailer, value, vlen) == NULL ? -1 : 0;
}

/* Insert pr[0..n) in order (same result as n lsmdb_skiplist_insert calls), searching for all
 * of them at once with lsmdb_skiplist_seek_group. After pr[j] is linked, each later probe k
 * whose recorded predecessor at a level below pr[j]'s height is pr[j]'s predecessor, and whose
 * key sorts after pr[j]'s, gets pr[j]'s node as its predecessor there instead: exactly the
 * links a fresh search would find. Returns how many were inserted (< n: out of memory). */
static int lsmdb_skiplist_insert_group(lsmdb_skiplist *sl, lsmdb_probe *pr, int n) {
    int j, k, i, h, after;
    lsmdb_node *node;
    lsmdb_skiplist_seek_group(sl, pr, n, 1);
    for (j = 0; j < n; j++) {
        node = lsmdb_skiplist_new_node(sl, pr[j].ukey, pr[j].ulen, pr[j].trailer,
                                       pr[j].value, pr[j].vlen);
        if (node == NULL)
            return j;
        pr[j].node = node;
        lsmdb_skiplist_link(sl, node, pr[j].prev);
        h = lsmdb_node_height(node);
        for (k = j + 1; k < n; k++) {
            after = -1;                       /* is probe k's key after node? computed lazily */
            for (i = 0; i < h; i++) {
                if (pr[k].prev[i] != pr[j].prev[i])
                    continue;
                if (after < 0)
                    after = lsmdb_node_cmp(node, pr[k].ukey, pr[k].ulen, pr[k].trailer) < 0;
                if (!after)
                    break;
                pr[k].prev[i] = node;
            }
        }
    }
    return n;
}

/* Append a range tombstone [start, end) at seqno. 0, or -1 when out of memory. */
static int lsmdb_skiplist_add_tomb(lsmdb_skiplist *sl, const uint8_t *start, size_t slen,
                                   const uint8_t *end, size_t elen, uint64_t seqno) {
    lsmdb_range_tomb *t;
    uint8_t *p;
    if (slen > UINT32_MAX || elen > UINT32_MAX)
        return -1;
    t = (lsmdb_range_tomb *)lsmdb_arena_alloc(&sl->arena, sizeof(*t) + slen + elen);
    if (t == NULL)
        return -1;
    t->next = NULL;
    t->seqno = seqno;
    t->start_len = (uint32_t)slen;
    t->end_len = (uint32_t)elen;
    p = (uint8_t *)(t + 1);
    if (slen)
        memcpy(p, start, slen);
    if (elen)
        memcpy(p + slen, end, elen);
    if (sl->last_tomb == NULL)
        LSMDB_STORE_RELEASE(&sl->tombs, t);
    else
        LSMDB_STORE_RELEASE(&sl->last_tomb->next, t);
    sl->last_tomb = t;
    return 0;
}

static inline lsmdb_range_tomb *lsmdb_skiplist_first_tomb(const lsmdb_skiplist *sl) {
    return LSMDB_LOAD_ACQUIRE((lsmdb_range_tomb **)&sl->tombs);
}

static inline lsmdb_range_tomb *lsmdb_tomb_next(const lsmdb_range_tomb *t) {
    return LSMDB_LOAD_ACQUIRE((lsmdb_range_tomb **)&t->next);
}

#endif /* LSMDB_SKIPLIST_H */
