from libc.stdint cimport uint8_t


cdef class MappedAppender:
    cdef int fd
    cdef readonly object path
    cdef uint8_t *map              # the mapped window, or NULL
    cdef long long win_base        # file offset of map[0]
    cdef long long reserved        # file size reached by preallocation (posix_fallocate)
    cdef public long long size     # logical end: bytes appended (the log's offset)
    cdef readonly long long windows_mapped

    # Append n bytes at the logical end; 0, or -1 with StorageIOError/ClosedError set.
    cdef int c_put(self, const uint8_t *p, Py_ssize_t n) except -1
    # The same with pwrite(2) instead of a copy: for records fsynced at once (walmap.pyx).
    cdef int c_pwrite(self, const uint8_t *p, Py_ssize_t n) except -1
    cdef void _unmap(self) noexcept
    cdef int _map_window(self, long long base) except -1
    cdef int _make_room(self, Py_ssize_t n) except -1
    cdef int _reserve(self, long long end) except -1
