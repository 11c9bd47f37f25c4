# Bytes-bounded LRU cache of decoded blocks, keyed by (file_number, block_offset).
from cpython.ref cimport PyObject
from libc.stdint cimport uint8_t, uint64_t, uintptr_t


cdef extern from "<pthread.h>" nogil:
    ctypedef struct pthread_mutex_t:
        pass
    ctypedef struct pthread_mutexattr_t:
        pass
    int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a)
    int pthread_mutex_destroy(pthread_mutex_t *m)
    int pthread_mutex_lock(pthread_mutex_t *m)
    int pthread_mutex_trylock(pthread_mutex_t *m)
    int pthread_mutex_unlock(pthread_mutex_t *m)


# One cached block: a member of the ring and of its file's list (for erase_file); owns a
# reference to value.
cdef struct CacheNode:
    uint64_t file_number
    uint64_t offset
    PyObject *value
    Py_ssize_t charge
    CacheNode *prev
    CacheNode *next
    CacheNode *fprev
    CacheNode *fnext
    PyObject *blocks                  # its file's _FileBlocks (owned by BlockCache._files)


# A slot of the open-addressing index: the key and the value's pointer inline, so that a
# hit reads and marks one slot; node NULL = empty. vref is the value's address with bit 0
# set when the entry was hit since it last reached the ring's old end (objects are aligned).
cdef struct CacheSlot:
    uint64_t file_number
    uint64_t offset
    uintptr_t vref
    CacheNode *node
    const uint8_t *hot                # [hot, hot + hot_len) is prefetched on a hit
    size_t hot_len


cdef class BlockCache:
    cdef CacheNode _head              # sentinel of the ring; head.next = newest
    cdef CacheSlot *_slots            # linear probing, a power-of-two count, at most half full
    cdef size_t _mask
    cdef dict _files                  # file_number -> _FileBlocks: its cached blocks
    cdef pthread_mutex_t _lock
    cdef bint _lock_ready
    cdef bint _busy                   # a change holds the mutex (lookups then take it too)
    cdef readonly Py_ssize_t usage
    cdef readonly Py_ssize_t capacity
    cdef readonly Py_ssize_t reserved  # capacity charged to others (set_reserved)
    cdef readonly unsigned long long hits
    cdef readonly unsigned long long misses
    cdef readonly unsigned long long evictions
    cdef readonly Py_ssize_t count
    cdef size_t _probe(self, uint64_t file_number, uint64_t offset) noexcept nogil
    cdef CacheSlot *_hit(self, uint64_t file_number, uint64_t offset) noexcept nogil
    cdef void _erase_slot(self, size_t i) noexcept nogil
    cdef int _remove_locked(self, CacheNode *node, list graveyard) except -1
    cdef int _grow_locked(self) except -1
    cdef int _evict_locked(self, Py_ssize_t incoming, list graveyard) except -1
    cdef int _set_bounds(self, Py_ssize_t capacity, Py_ssize_t reserved) except -1
    cdef object c_lookup(self, uint64_t file_number, uint64_t offset)
    cdef int c_insert(self, uint64_t file_number, uint64_t offset, object value,
                      Py_ssize_t charge, const uint8_t *hot=*, size_t hot_len=*) except -1
