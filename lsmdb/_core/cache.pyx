"""Block cache shared by every SSTableReader of a DB (the LSM "buffer pool").

Bytes-bounded LRU: each entry has a ``charge`` (its decoded size); inserting evicts the
least recently used entries until ``usage <= capacity``. An entry larger than the whole
capacity is not cached. Keys are ``(file_number, block_offset)``; ``erase_file`` drops a
deleted table's blocks in O(blocks of that file).

Thread safety: one mutex guards the dicts and the ring. It is taken without blocking
first and, if contended, with the GIL released (the holder may need the GIL to finish).
Evicted values are released only after the mutex is dropped, so no destructor runs while
it is held.
"""

from cpython.pythread cimport (
    NOWAIT_LOCK,
    WAIT_LOCK,
    PyThread_acquire_lock,
    PyThread_allocate_lock,
    PyThread_type_lock,
    PyThread_free_lock,
    PyThread_release_lock,
)
from cpython.ref cimport PyObject

from lsmdb.errors import InvalidArgumentError


cdef class _CacheNode:
    pass


cdef inline void _unlink(_CacheNode node) noexcept:
    (<_CacheNode>node.prev).next = node.next
    (<_CacheNode>node.next).prev = node.prev
    node.prev = NULL
    node.next = NULL


cdef inline void _push_front(_CacheNode head, _CacheNode node) noexcept:
    node.next = head.next
    node.prev = <PyObject *>head
    (<_CacheNode>head.next).prev = <PyObject *>node
    head.next = <PyObject *>node


cdef inline void _acquire(PyThread_type_lock lock) noexcept:
    if not PyThread_acquire_lock(lock, NOWAIT_LOCK):
        with nogil:  # blocking wait: the holder may need the GIL to release the mutex
            PyThread_acquire_lock(lock, WAIT_LOCK)


cdef class BlockCache:
    """LRU cache of decoded blocks bounded by the sum of their charges (bytes)."""

    def __cinit__(self, Py_ssize_t capacity_bytes):
        if capacity_bytes < 0:
            raise InvalidArgumentError(f"capacity_bytes must be >= 0, got {capacity_bytes}")
        self.capacity = capacity_bytes
        self._files = {}
        self._head = _CacheNode()
        self._head.prev = <PyObject *>self._head
        self._head.next = <PyObject *>self._head
        self._lock = PyThread_allocate_lock()
        if self._lock == NULL:
            raise MemoryError()

    def __dealloc__(self):
        if self._lock != NULL:
            PyThread_free_lock(self._lock)

    cdef object c_lookup(self, object file_number, object offset):
        cdef object per_file
        cdef object found = None
        cdef _CacheNode node
        _acquire(self._lock)
        per_file = self._files.get(file_number)
        if per_file is not None:
            found = (<dict>per_file).get(offset)
        if found is None:
            self.misses += 1
            PyThread_release_lock(self._lock)
            return None
        node = <_CacheNode>found
        _unlink(node)
        _push_front(self._head, node)
        self.hits += 1
        found = node.value
        PyThread_release_lock(self._lock)
        return found

    cdef int _remove_locked(self, _CacheNode node, list graveyard) except -1:
        _unlink(node)
        self.usage -= node.charge
        self.count -= 1
        per_file = <dict>self._files[node.file_number]
        del per_file[node.offset]
        if not per_file:
            del self._files[node.file_number]
        graveyard.append(node)
        return 0

    cdef int c_insert(self, object file_number, object offset, object value,
                      Py_ssize_t charge) except -1:
        cdef list graveyard = []
        cdef object per_file
        cdef object old
        cdef _CacheNode node
        if charge < 0:
            raise InvalidArgumentError(f"charge must be >= 0, got {charge}")
        _acquire(self._lock)
        try:
            per_file = self._files.get(file_number)
            if per_file is not None:
                old = (<dict>per_file).get(offset)
                if old is not None:
                    self._remove_locked(<_CacheNode>old, graveyard)
            if charge > self.capacity:
                return 0
            while self.usage + charge > self.capacity and self._head.prev != <PyObject *>self._head:
                self._remove_locked(<_CacheNode>self._head.prev, graveyard)
                self.evictions += 1
            node = _CacheNode()
            node.file_number = file_number
            node.offset = offset
            node.value = value
            node.charge = charge
            per_file = self._files.get(file_number)
            if per_file is None:
                per_file = {}
                self._files[file_number] = per_file
            (<dict>per_file)[offset] = node
            _push_front(self._head, node)
            self.usage += charge
            self.count += 1
        finally:
            PyThread_release_lock(self._lock)
        del graveyard  # evicted values are freed here, outside the mutex
        return 0

    def lookup(self, file_number, offset):
        """The cached value or None (counts a hit or a miss)."""
        return self.c_lookup(file_number, offset)

    def insert(self, file_number, offset, value, Py_ssize_t charge) -> None:
        """Cache ``value``, replacing any entry under the same key, evicting LRU entries."""
        self.c_insert(file_number, offset, value, charge)

    def erase_file(self, file_number) -> int:
        """Drop every block of one file; returns how many were dropped."""
        cdef list graveyard = []
        cdef _CacheNode node
        _acquire(self._lock)
        try:
            per_file = self._files.get(file_number)
            if per_file is not None:
                for node in list((<dict>per_file).values()):
                    self._remove_locked(node, graveyard)
        finally:
            PyThread_release_lock(self._lock)
        return len(graveyard)

    def clear(self) -> None:
        cdef list graveyard = []
        _acquire(self._lock)
        try:
            while self._head.prev != <PyObject *>self._head:
                self._remove_locked(<_CacheNode>self._head.prev, graveyard)
        finally:
            PyThread_release_lock(self._lock)

    def set_capacity(self, Py_ssize_t capacity_bytes) -> None:
        """Change the bound, evicting LRU entries if the cache is now over it."""
        cdef list graveyard = []
        if capacity_bytes < 0:
            raise InvalidArgumentError(f"capacity_bytes must be >= 0, got {capacity_bytes}")
        _acquire(self._lock)
        try:
            self.capacity = capacity_bytes
            while self.usage > self.capacity and self._head.prev != <PyObject *>self._head:
                self._remove_locked(<_CacheNode>self._head.prev, graveyard)
                self.evictions += 1
        finally:
            PyThread_release_lock(self._lock)

    def __len__(self) -> int:
        return self.count

    def __contains__(self, key) -> bool:
        file_number, offset = key
        per_file = self._files.get(file_number)
        return per_file is not None and offset in per_file

    def keys_lru_order(self) -> list:
        """(file_number, offset) from most to least recently used (for tests and stats)."""
        cdef list out = []
        cdef _CacheNode node
        _acquire(self._lock)
        try:
            node = <_CacheNode>self._head.next
            while node is not self._head:
                out.append((node.file_number, node.offset))
                node = <_CacheNode>node.next
        finally:
            PyThread_release_lock(self._lock)
        return out

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0
