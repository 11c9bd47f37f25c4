# Bytes-bounded LRU cache of decoded blocks, keyed by (file_number, block_offset).
from cpython.pythread cimport PyThread_type_lock
from cpython.ref cimport PyObject


cdef class _CacheNode:
    cdef object file_number
    cdef object offset
    cdef object value
    cdef Py_ssize_t charge
    cdef PyObject *prev      # borrowed: the cache's dicts own the nodes
    cdef PyObject *next


cdef class BlockCache:
    cdef dict _files                  # file_number -> {offset: _CacheNode}
    cdef _CacheNode _head             # sentinel of the LRU ring; head.next = most recent
    cdef PyThread_type_lock _lock
    cdef readonly Py_ssize_t usage
    cdef readonly Py_ssize_t capacity
    cdef readonly unsigned long long hits
    cdef readonly unsigned long long misses
    cdef readonly unsigned long long evictions
    cdef readonly Py_ssize_t count
    cdef int _remove_locked(self, _CacheNode node, list graveyard) except -1
    cdef object c_lookup(self, object file_number, object offset)
    cdef int c_insert(self, object file_number, object offset, object value,
                      Py_ssize_t charge) except -1
