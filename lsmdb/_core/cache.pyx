"""Block cache shared by every SSTableReader of a DB (the LSM "buffer pool").

Bytes-bounded, LRU with a second chance: each entry has a ``charge`` (its decoded size);
inserting evicts from the old end of the ring until ``usage + reserved <= capacity``, where an
entry that was hit since it was inserted (or since it last reached the old end) is moved to the
new end once, with its mark cleared, instead of being evicted (CLOCK's approximation of LRU).
``reserved`` is memory another user charges to the same budget (the DB's memtables under
``Options.charge_memtables_to_cache``, as RocksDB's WriteBufferManager costs memtables to its
block cache): blocks get what it leaves. An entry larger than what is left is not cached.

Keys are ``(file_number, block_offset)``, both unsigned 64-bit. A hit is the hot path of
every point read of a cached block, so it is kept to the fewest cache misses: the index is an
open-addressing table (linear probing, at most half full, backward-shift deletion) whose
48-byte slots hold the key, the value's pointer and a range to prefetch inline, so a hit
reads and marks one slot and touches no node (an LRU relink touched the node and its two
neighbours, three more cache misses per hit on random reads; marking the node instead of the
slot cost one). ``erase_file`` drops a deleted table's blocks in O(blocks of that file),
through a per-file list threaded through the nodes, with no Python object per block.

Thread safety: one mutex guards the table, the per-file lists and the ring; changes take it
without blocking first and, if contended, with the GIL released (the holder may need the GIL
to finish), and set ``_busy`` while they hold it. A lookup holds the GIL and calls nothing
that could release it, so while ``_busy`` is clear no change is half done and it reads the
table without the mutex (its lock and unlock were ~5% of a cached get); while a change is
under way (``_busy`` set, e.g. a destructor run by the garbage collector let another thread
in) it takes the mutex like a change. Builds without a GIL (``Py_GIL_DISABLED``) always take
the mutex. Evicted values are released only after the mutex is dropped, so no destructor runs
while it is held.
"""

from cpython.ref cimport Py_DECREF, Py_INCREF, PyObject
from libc.stdint cimport uint8_t, uint64_t, uintptr_t
from libc.stdlib cimport calloc, free, malloc

from lsmdb._core.coding cimport prefetch, prefetch_range

from lsmdb.errors import InvalidArgumentError

cdef extern from *:
    """
    #ifdef Py_GIL_DISABLED
    #define LSMDB_CACHE_GIL_READS 0
    #else
    #define LSMDB_CACHE_GIL_READS 1
    #endif
    """
    bint LSMDB_CACHE_GIL_READS


cdef inline void _unlink(CacheNode *node) noexcept nogil:
    node.prev.next = node.next
    node.next.prev = node.prev
    node.prev = NULL
    node.next = NULL


cdef inline void _push_front(CacheNode *head, CacheNode *node) noexcept nogil:
    node.next = head.next
    node.prev = head
    head.next.prev = node
    head.next = node


cdef inline size_t _hash(uint64_t file_number, uint64_t offset) noexcept nogil:
    cdef uint64_t h = file_number * <uint64_t>0x9E3779B97F4A7C15 ^ offset
    h ^= h >> 29
    h *= <uint64_t>0xBF58476D1CE4E5B9
    h ^= h >> 32
    return <size_t>h


cdef inline void _acquire(pthread_mutex_t *lock) noexcept:
    # A pthread mutex, not a PyThread lock: its uncontended acquire (a deadline computed
    # from the monotonic clock even without a timeout) cost ~90 instructions.
    if pthread_mutex_trylock(lock) != 0:
        with nogil:  # blocking wait: the holder may need the GIL to release the mutex
            pthread_mutex_lock(lock)


cdef class _FileBlocks:
    """The head of one file's list of cached blocks (CacheNode.fnext / fprev)."""
    cdef CacheNode *first
    cdef Py_ssize_t count


cdef class BlockCache:
    """Block cache bounded by the sum of its entries' charges (bytes); LRU with a second
    chance for entries hit since they were inserted."""

    def __cinit__(self, Py_ssize_t capacity_bytes):
        if capacity_bytes < 0:
            raise InvalidArgumentError(f"capacity_bytes must be >= 0, got {capacity_bytes}")
        self.capacity = capacity_bytes
        self._files = {}
        self._head.prev = &self._head
        self._head.next = &self._head
        self._slots = <CacheSlot *>calloc(1024, sizeof(CacheSlot))
        if self._slots == NULL:
            raise MemoryError()
        self._mask = 1023
        if pthread_mutex_init(&self._lock, NULL) != 0:
            raise MemoryError()
        self._lock_ready = True

    def __dealloc__(self):
        cdef CacheNode *node
        cdef CacheNode *nxt
        if self._head.next != NULL:
            node = self._head.next
            while node != &self._head:
                nxt = node.next
                Py_DECREF(<object>node.value)
                free(node)
                node = nxt
        free(self._slots)
        if self._lock_ready:
            pthread_mutex_destroy(&self._lock)

    cdef size_t _probe(self, uint64_t file_number, uint64_t offset) noexcept nogil:
        """The slot holding the key, or the empty slot where its probe sequence ends."""
        cdef size_t i = _hash(file_number, offset) & self._mask
        cdef CacheSlot *s = &self._slots[i]
        while s.node != NULL and (s.offset != offset or s.file_number != file_number):
            i = (i + 1) & self._mask
            s = &self._slots[i]
        return i

    cdef object c_lookup(self, uint64_t file_number, uint64_t offset):
        cdef CacheSlot *s
        cdef object found = None
        if not LSMDB_CACHE_GIL_READS or self._busy:
            _acquire(&self._lock)
            s = self._hit(file_number, offset)
            if s != NULL:
                found = <object><PyObject *>(s.vref & ~(<uintptr_t>1))
            pthread_mutex_unlock(&self._lock)
            return found
        # The GIL is held and nothing below can release it: no change is half done.
        s = self._hit(file_number, offset)
        if s == NULL:
            return None
        # The value object first (the caller reads it at once), then the memory it owns that
        # the caller reads next, its last line first (a block's restart array, which its
        # search reads first), so those misses are under way together.
        prefetch(<const void *>(s.vref & ~(<uintptr_t>1)))
        if s.hot_len:
            prefetch(s.hot + s.hot_len - 1)
            prefetch_range(s.hot, s.hot + s.hot_len)
        return <object><PyObject *>(s.vref & ~(<uintptr_t>1))

    cdef CacheSlot *_hit(self, uint64_t file_number, uint64_t offset) noexcept nogil:
        """The key's slot, marked as hit and counted, or NULL (a miss, counted)."""
        cdef CacheSlot *s = &self._slots[self._probe(file_number, offset)]
        if s.node == NULL:
            self.misses += 1
            return NULL
        s.vref |= 1
        self.hits += 1
        return s

    cdef void _erase_slot(self, size_t i) noexcept nogil:
        """Empty slot i and shift later members of its probe run back into the hole, so
        every probe sequence stays unbroken (no tombstones)."""
        cdef size_t j = i, home
        cdef CacheSlot *s
        while True:
            j = (j + 1) & self._mask
            s = &self._slots[j]
            if s.node == NULL:
                break
            home = _hash(s.file_number, s.offset) & self._mask
            # The entry at j may fill the hole at i unless its home lies cyclically in (i, j].
            if ((j - home) & self._mask) < ((j - i) & self._mask):
                continue
            self._slots[i] = s[0]
            i = j
        self._slots[i].node = NULL
        self._slots[i].vref = 0

    cdef int _remove_locked(self, CacheNode *node, list graveyard) except -1:
        self._erase_slot(self._probe(node.file_number, node.offset))
        _unlink(node)
        self.usage -= node.charge
        self.count -= 1
        cdef _FileBlocks blocks = <_FileBlocks>node.blocks
        if node.fprev != NULL:
            node.fprev.fnext = node.fnext
        else:
            blocks.first = node.fnext
        if node.fnext != NULL:
            node.fnext.fprev = node.fprev
        blocks.count -= 1
        if blocks.count == 0:
            del self._files[node.file_number]
        graveyard.append(<object>node.value)   # released once the mutex is dropped
        Py_DECREF(<object>node.value)
        free(node)
        return 0

    cdef int _grow_locked(self) except -1:
        cdef size_t n = (self._mask + 1) * 2, i, j
        cdef CacheSlot *slots = <CacheSlot *>calloc(n, sizeof(CacheSlot))
        cdef CacheSlot *old = self._slots
        if slots == NULL:
            raise MemoryError()
        for i in range(self._mask + 1):
            if old[i].node != NULL:
                j = _hash(old[i].file_number, old[i].offset) & (n - 1)
                while slots[j].node != NULL:
                    j = (j + 1) & (n - 1)
                slots[j] = old[i]
        self._slots = slots
        self._mask = n - 1
        free(old)
        return 0

    cdef int _evict_locked(self, Py_ssize_t incoming, list graveyard) except -1:
        """Evict from the old end until ``incoming`` more bytes fit beside the reservation;
        an entry hit since it was last here goes back to the new end instead, once."""
        cdef CacheNode *node
        cdef CacheSlot *s
        while (self.usage + self.reserved + incoming > self.capacity
               and self._head.prev != &self._head):
            node = self._head.prev
            s = &self._slots[self._probe(node.file_number, node.offset)]
            if s.vref & 1:
                s.vref &= ~(<uintptr_t>1)
                _unlink(node)
                _push_front(&self._head, node)
                continue
            self._remove_locked(node, graveyard)
            self.evictions += 1
        return 0

    cdef int c_insert(self, uint64_t file_number, uint64_t offset, object value,
                      Py_ssize_t charge, const uint8_t *hot=NULL,
                      size_t hot_len=0) except -1:
        """Cache ``value``; a hit prefetches the ``hot_len`` bytes at ``hot``, memory the
        value owns that the caller reads next (it must stay valid while the value is cached:
        the SSTableReader passes its whole block when small, else its restart array)."""
        cdef list graveyard = []
        cdef CacheNode *node
        cdef CacheSlot *s
        cdef size_t i
        cdef _FileBlocks blocks
        if charge < 0:
            raise InvalidArgumentError(f"charge must be >= 0, got {charge}")
        _acquire(&self._lock)
        self._busy = True
        try:
            s = &self._slots[self._probe(file_number, offset)]
            if s.node != NULL:
                self._remove_locked(s.node, graveyard)
            if charge > self.capacity - self.reserved:
                return 0
            self._evict_locked(charge, graveyard)
            if <size_t>(self.count + 1) * 2 > self._mask + 1:
                self._grow_locked()
            found = self._files.get(file_number)
            if found is None:
                found = self._files[file_number] = _FileBlocks()
            blocks = <_FileBlocks>found
            node = <CacheNode *>malloc(sizeof(CacheNode))
            if node == NULL:
                raise MemoryError()
            node.blocks = <PyObject *>blocks
            node.fprev = NULL
            node.fnext = blocks.first
            if blocks.first != NULL:
                blocks.first.fprev = node
            blocks.first = node
            blocks.count += 1
            node.file_number = file_number
            node.offset = offset
            node.value = <PyObject *>value
            Py_INCREF(value)
            node.charge = charge
            # Probed again: the evictions and the growth above moved slots.
            i = self._probe(file_number, offset)
            self._slots[i].file_number = file_number
            self._slots[i].offset = offset
            self._slots[i].vref = <uintptr_t>node.value
            self._slots[i].node = node
            self._slots[i].hot = hot
            self._slots[i].hot_len = hot_len
            _push_front(&self._head, node)
            self.usage += charge
            self.count += 1
        finally:
            self._busy = False
            pthread_mutex_unlock(&self._lock)
        del graveyard  # evicted values are freed here, outside the mutex
        return 0

    def lookup(self, uint64_t file_number, uint64_t offset):
        """The cached value or None (counts a hit or a miss)."""
        return self.c_lookup(file_number, offset)

    def insert(self, uint64_t file_number, uint64_t offset, value, Py_ssize_t charge) -> None:
        """Cache ``value``, replacing any entry under the same key, evicting as needed."""
        self.c_insert(file_number, offset, value, charge)

    def erase_file(self, uint64_t file_number) -> int:
        """Drop every block of one file; returns how many were dropped."""
        cdef list graveyard = []
        _acquire(&self._lock)
        self._busy = True
        try:
            found = self._files.get(file_number)   # kept alive here while its list empties
            if found is not None:
                while (<_FileBlocks>found).first != NULL:
                    self._remove_locked((<_FileBlocks>found).first, graveyard)
        finally:
            self._busy = False
            pthread_mutex_unlock(&self._lock)
        return len(graveyard)

    def clear(self) -> None:
        cdef list graveyard = []
        _acquire(&self._lock)
        self._busy = True
        try:
            while self._head.prev != &self._head:
                self._remove_locked(self._head.prev, graveyard)
        finally:
            self._busy = False
            pthread_mutex_unlock(&self._lock)

    def set_capacity(self, Py_ssize_t capacity_bytes) -> None:
        """Change the bound, evicting entries if the cache is now over it."""
        if capacity_bytes < 0:
            raise InvalidArgumentError(f"capacity_bytes must be >= 0, got {capacity_bytes}")
        self._set_bounds(capacity_bytes, -1)

    def set_reserved(self, Py_ssize_t reserved_bytes) -> None:
        """Charge ``reserved_bytes`` of the capacity to something else than blocks (replacing
        the previous reservation), evicting entries until ``usage + reserved <=
        capacity``. A reservation above the capacity leaves no room for blocks."""
        if reserved_bytes < 0:
            raise InvalidArgumentError(f"reserved_bytes must be >= 0, got {reserved_bytes}")
        self._set_bounds(-1, reserved_bytes)

    cdef int _set_bounds(self, Py_ssize_t capacity, Py_ssize_t reserved) except -1:
        """Set the capacity and the reservation (-1: keep it) and evict to fit."""
        cdef list graveyard = []
        _acquire(&self._lock)
        self._busy = True
        try:
            if capacity >= 0:
                self.capacity = capacity
            if reserved >= 0:
                self.reserved = reserved
            self._evict_locked(0, graveyard)
        finally:
            self._busy = False
            pthread_mutex_unlock(&self._lock)
        del graveyard  # evicted values are freed here, outside the mutex
        return 0

    def __len__(self) -> int:
        return self.count

    def __contains__(self, key) -> bool:
        cdef bint found
        file_number, offset = key
        if file_number < 0 or offset < 0:
            return False
        _acquire(&self._lock)
        found = self._slots[self._probe(file_number, offset)].node != NULL
        pthread_mutex_unlock(&self._lock)
        return found

    def keys_lru_order(self) -> list:
        """(file_number, offset) from the new end of the ring to the old end, where eviction
        looks first (entries hit since they were last moved get a second chance there)."""
        cdef list out = []
        cdef CacheNode *node
        _acquire(&self._lock)
        try:
            node = self._head.next
            while node != &self._head:
                out.append((node.file_number, node.offset))
                node = node.next
        finally:
            pthread_mutex_unlock(&self._lock)
        return out

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0
