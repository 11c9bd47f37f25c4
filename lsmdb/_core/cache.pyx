"""Block cache shared by every SSTableReader of a DB (the LSM "buffer pool").

Bytes-bounded LRU: each entry has a ``charge`` (its decoded size); inserting evicts the
least recently used entries until ``usage + reserved <= capacity``. ``reserved`` is memory
another user charges to the same budget (the DB's memtables under
``Options.charge_memtables_to_cache``, as RocksDB's WriteBufferManager costs memtables to its
block cache): blocks get what it leaves. An entry larger than what is left is not cached. Keys are ``(file_number, block_offset)``, both unsigned 64-bit; a
lookup is one C hash-chain walk and an LRU relink, with no Python object built (it runs on
every block a read touches). ``erase_file`` drops a deleted table's blocks in O(blocks of
that file), through a per-file list threaded through the nodes: an insert links its node
at the head of its file's list and an eviction unlinks it, with no Python object per block
(a per-file set of boxed offsets cost ~0.4 us per miss).

Thread safety: one mutex guards the hash table, the per-file lists and the ring. It is taken without blocking
first and, if contended, with the GIL released (the holder may need the GIL to finish).
Evicted values are released only after the mutex is dropped, so no destructor runs while
it is held.
"""

from cpython.ref cimport Py_DECREF, Py_INCREF, PyObject
from libc.stdint cimport uint64_t
from libc.stdlib cimport calloc, free, malloc

from lsmdb.errors import InvalidArgumentError


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
    # from the monotonic clock even without a timeout) cost ~100 instructions per lookup.
    if pthread_mutex_trylock(lock) != 0:
        with nogil:  # blocking wait: the holder may need the GIL to release the mutex
            pthread_mutex_lock(lock)


cdef class _FileBlocks:
    """The head of one file's list of cached blocks (CacheNode.fnext / fprev)."""
    cdef CacheNode *first
    cdef Py_ssize_t count


cdef class BlockCache:
    """LRU cache of decoded blocks bounded by the sum of their charges (bytes)."""

    def __cinit__(self, Py_ssize_t capacity_bytes):
        if capacity_bytes < 0:
            raise InvalidArgumentError(f"capacity_bytes must be >= 0, got {capacity_bytes}")
        self.capacity = capacity_bytes
        self._files = {}
        self._head.prev = &self._head
        self._head.next = &self._head
        self._buckets = <CacheNode **>calloc(1024, sizeof(CacheNode *))
        if self._buckets == NULL:
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
        free(self._buckets)
        if self._lock_ready:
            pthread_mutex_destroy(&self._lock)

    cdef CacheNode *_find(self, uint64_t file_number, uint64_t offset) noexcept nogil:
        cdef CacheNode *node = self._buckets[_hash(file_number, offset) & self._mask]
        while node != NULL and (node.offset != offset or node.file_number != file_number):
            node = node.hnext
        return node

    cdef object c_lookup(self, uint64_t file_number, uint64_t offset):
        cdef CacheNode *node
        cdef object found
        _acquire(&self._lock)
        node = self._find(file_number, offset)
        if node == NULL:
            self.misses += 1
            pthread_mutex_unlock(&self._lock)
            return None
        if self._head.next != node:
            _unlink(node)
            _push_front(&self._head, node)
        self.hits += 1
        found = <object>node.value
        pthread_mutex_unlock(&self._lock)
        return found

    cdef int _remove_locked(self, CacheNode *node, list graveyard) except -1:
        cdef CacheNode **link = &self._buckets[_hash(node.file_number, node.offset) & self._mask]
        while link[0] != node:
            link = &link[0].hnext
        link[0] = node.hnext
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
        cdef size_t n = (self._mask + 1) * 2, i
        cdef CacheNode **buckets = <CacheNode **>calloc(n, sizeof(CacheNode *))
        cdef CacheNode *node
        cdef CacheNode *nxt
        if buckets == NULL:
            raise MemoryError()
        for i in range(self._mask + 1):
            node = self._buckets[i]
            while node != NULL:
                nxt = node.hnext
                node.hnext = buckets[_hash(node.file_number, node.offset) & (n - 1)]
                buckets[_hash(node.file_number, node.offset) & (n - 1)] = node
                node = nxt
        free(self._buckets)
        self._buckets = buckets
        self._mask = n - 1
        return 0

    cdef int c_insert(self, uint64_t file_number, uint64_t offset, object value,
                      Py_ssize_t charge) except -1:
        cdef list graveyard = []
        cdef CacheNode *node
        cdef CacheNode **chain
        cdef _FileBlocks blocks
        if charge < 0:
            raise InvalidArgumentError(f"charge must be >= 0, got {charge}")
        _acquire(&self._lock)
        try:
            node = self._find(file_number, offset)
            if node != NULL:
                self._remove_locked(node, graveyard)
            if charge > self.capacity - self.reserved:
                return 0
            while (self.usage + self.reserved + charge > self.capacity
                   and self._head.prev != &self._head):
                self._remove_locked(self._head.prev, graveyard)
                self.evictions += 1
            if <size_t>self.count >= self._mask + 1:
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
            chain = &self._buckets[_hash(file_number, offset) & self._mask]
            node.hnext = chain[0]
            chain[0] = node
            _push_front(&self._head, node)
            self.usage += charge
            self.count += 1
        finally:
            pthread_mutex_unlock(&self._lock)
        del graveyard  # evicted values are freed here, outside the mutex
        return 0

    def lookup(self, uint64_t file_number, uint64_t offset):
        """The cached value or None (counts a hit or a miss)."""
        return self.c_lookup(file_number, offset)

    def insert(self, uint64_t file_number, uint64_t offset, value, Py_ssize_t charge) -> None:
        """Cache ``value``, replacing any entry under the same key, evicting LRU entries."""
        self.c_insert(file_number, offset, value, charge)

    def erase_file(self, uint64_t file_number) -> int:
        """Drop every block of one file; returns how many were dropped."""
        cdef list graveyard = []
        cdef CacheNode *node
        _acquire(&self._lock)
        try:
            found = self._files.get(file_number)   # kept alive here while its list empties
            if found is not None:
                while (<_FileBlocks>found).first != NULL:
                    self._remove_locked((<_FileBlocks>found).first, graveyard)
        finally:
            pthread_mutex_unlock(&self._lock)
        return len(graveyard)

    def clear(self) -> None:
        cdef list graveyard = []
        _acquire(&self._lock)
        try:
            while self._head.prev != &self._head:
                self._remove_locked(self._head.prev, graveyard)
        finally:
            pthread_mutex_unlock(&self._lock)

    def set_capacity(self, Py_ssize_t capacity_bytes) -> None:
        """Change the bound, evicting LRU entries if the cache is now over it."""
        cdef list graveyard = []
        if capacity_bytes < 0:
            raise InvalidArgumentError(f"capacity_bytes must be >= 0, got {capacity_bytes}")
        _acquire(&self._lock)
        try:
            self.capacity = capacity_bytes
            self._shrink_locked(graveyard)
        finally:
            pthread_mutex_unlock(&self._lock)

    def set_reserved(self, Py_ssize_t reserved_bytes) -> None:
        """Charge ``reserved_bytes`` of the capacity to something else than blocks (replacing
        the previous reservation), evicting LRU blocks until ``usage + reserved <=
        capacity``. A reservation above the capacity leaves no room for blocks."""
        cdef list graveyard = []
        if reserved_bytes < 0:
            raise InvalidArgumentError(f"reserved_bytes must be >= 0, got {reserved_bytes}")
        _acquire(&self._lock)
        try:
            self.reserved = reserved_bytes
            self._shrink_locked(graveyard)
        finally:
            pthread_mutex_unlock(&self._lock)
        del graveyard  # evicted values are freed here, outside the mutex

    cdef int _shrink_locked(self, list graveyard) except -1:
        while self.usage + self.reserved > self.capacity and self._head.prev != &self._head:
            self._remove_locked(self._head.prev, graveyard)
            self.evictions += 1
        return 0

    def __len__(self) -> int:
        return self.count

    def __contains__(self, key) -> bool:
        cdef bint found
        file_number, offset = key
        if file_number < 0 or offset < 0:
            return False
        _acquire(&self._lock)
        found = self._find(file_number, offset) != NULL
        pthread_mutex_unlock(&self._lock)
        return found

    def keys_lru_order(self) -> list:
        """(file_number, offset) from most to least recently used (for tests and stats)."""
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
