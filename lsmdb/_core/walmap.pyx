"""MappedAppender: appends to a WAL segment by copying into a shared file mapping.

Why: a ``write(2)`` per record costs ~0.6-0.8 us of kernel time on the machines we measured
(ext4, a 143-byte record), more than the rest of a single put. A store into a
``MAP_SHARED`` mapping of the file lands in the same page cache a ``write(2)`` would fill, so
the guarantees do not change: a record survives the process (kill -9) as soon as the copy
returns, and survives power loss only after ``fdatasync`` (which writes back pages dirtied
through a mapping like any other dirty page). LevelDB's first POSIX Env wrote its logs this
way (``PosixMmapFile``).

Layout on disk: the file grows in preallocated steps of ``WINDOW_BYTES``
(``posix_fallocate``: the blocks are reserved, so a later store can never meet a full disk,
which would be a SIGBUS instead of an error). Bytes past the logical end are zeros. ``close``
truncates the file to its logical end; a process that dies first leaves the zeros, which the
WAL reader takes as the end of the log when they start at a record boundary and run to the
end of the file (``LogReader(zero_tail_is_end=True)``, docs/format/log.md). One window of
the file is mapped at a time; a record that crosses a window's end is copied in two parts.

A record that is about to be fsynced is better written than copied (``c_pwrite``: a
``pwrite(2)`` at the logical end, into the same preallocated, possibly mapped, pages; the
page cache keeps the mapping and the file coherent): ``fdatasync`` must write-protect every
page dirtied through the mapping again, and while other threads of the process run on other
CPUs that takes a TLB shootdown, an interrupt to each of them. With 4 writer threads whose
synced puts are grouped (writefront.pyx), the group's fsync took 83-89 µs (median) for
copied records and 66-81 µs for written ones, and the threads wrote 37.3-37.5k puts/s
against 40.9-45.8k; one thread 12.0-12.1k against 12.3-12.6k (``pwrite`` costs ~0.6 µs
more per record, nothing beside an fsync). A C loop of 572-byte appends, each fsynced, with
three threads of the same process yielding the CPU: 97-103 µs per fsync copied, 80-94
written.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.errno cimport EINTR, errno
from libc.stdint cimport uint8_t
from libc.string cimport memcpy, strerror

from lsmdb.errors import ClosedError, StorageIOError

cdef extern from "fcntl.h" nogil:
    int posix_fallocate(int fd, long long offset, long long length)

cdef extern from "unistd.h" nogil:
    int ftruncate(int fd, long long length)
    ssize_t pwrite(int fd, const void *buf, size_t n, long long off)

cdef extern from "sys/mman.h" nogil:
    void *mmap(void *addr, size_t length, int prot, int flags, int fd, long long offset)
    int munmap(void *addr, size_t length)
    int PROT_READ
    int PROT_WRITE
    int MAP_SHARED
    void *MAP_FAILED

cdef enum:
    # A multiple of every page size in use (4 KiB, 16 KiB, 64 KiB): a window starts at a
    # multiple of it, as mmap's offset must be page aligned.
    WINDOW = 1 << 20

WINDOW_BYTES = WINDOW


cdef object _io_error(str what, object path, int err):
    return StorageIOError(f"{what} failed ({strerror(err).decode(errors='replace')})", path, err)


cdef class MappedAppender:
    """Appends to the file open read-write on ``fd`` from offset ``size`` on (the file must
    hold exactly ``size`` bytes). The descriptor stays the caller's: ``close`` unmaps and
    truncates, the caller closes it. Fields in walmap.pxd."""

    def __init__(self, int fd, path=None, long long size=0):
        self.fd = fd
        self.path = path
        self.map = NULL
        self.size = size
        self.reserved = size
        self.win_base = -1
        self.windows_mapped = 0
        # Map the first window now, so a file system that cannot map files (or preallocate)
        # is found before any record is written: the caller then appends with write(2),
        # to a file cut back to what it held.
        try:
            self._map_window(size - size % WINDOW)
        except BaseException:
            self._unmap()
            if self.reserved != size:
                ftruncate(fd, size)
            raise

    cdef void _unmap(self) noexcept:
        if self.map != NULL:
            munmap(self.map, WINDOW)
            self.map = NULL
            self.win_base = -1

    cdef int _map_window(self, long long base) except -1:
        cdef void *m
        self._unmap()
        if base + WINDOW > self.reserved:
            self._reserve(base + WINDOW)
        m = mmap(NULL, WINDOW, PROT_READ | PROT_WRITE, MAP_SHARED, self.fd, base)
        if m == MAP_FAILED:
            raise _io_error("mmap", self.path, errno)
        self.map = <uint8_t *>m
        self.win_base = base
        self.windows_mapped += 1
        return 0

    cdef int _make_room(self, Py_ssize_t n) except -1:
        """Before an append of n bytes: the appender is open, and the whole record is
        reserved before any of it is copied or written (a full disk then fails the write
        with nothing appended)."""
        if self.fd < 0:
            raise ClosedError("WAL segment is closed: no mapped append")
        if self.size + n > self.reserved:
            self._reserve(self.size + n)
        return 0

    cdef int c_put(self, const uint8_t *p, Py_ssize_t n) except -1:
        cdef long long off, room, c
        self._make_room(n)
        while n > 0:
            off = self.size - self.win_base
            if self.map == NULL or off >= WINDOW or off < 0:
                self._map_window(self.size - self.size % WINDOW)
                off = self.size - self.win_base
            room = WINDOW - off
            c = n if n < room else room
            memcpy(self.map + off, p, <size_t>c)
            self.size += c
            p += c
            n -= c
        return 0

    cdef int c_pwrite(self, const uint8_t *p, Py_ssize_t n) except -1:
        cdef ssize_t r
        self._make_room(n)
        while n > 0:
            r = pwrite(self.fd, p, <size_t>n, self.size)
            if r < 0:
                if errno == EINTR:
                    continue
                # Part of the record may be in the file: the caller stops writes.
                raise _io_error("write", self.path, errno)
            self.size += r
            p += r
            n -= r
        return 0

    cdef int _reserve(self, long long end) except -1:
        """Preallocate the file up to ``end`` rounded up to a whole window."""
        cdef long long target = end + (WINDOW - end % WINDOW) % WINDOW
        cdef int rc = posix_fallocate(self.fd, self.reserved, target - self.reserved)
        if rc != 0:  # returns the error number; errno is not set
            raise _io_error("preallocate", self.path, rc)
        self.reserved = target
        return 0

    def append(self, data, *, bint pwrite=False) -> None:
        """Append a bytes-like object (the WAL's general path: LogWriter's file); ``pwrite``:
        by ``pwrite(2)`` rather than a copy into the mapping (``c_pwrite``)."""
        cdef const uint8_t[::1] view
        cdef const uint8_t *p
        cdef Py_ssize_t n
        if type(data) is bytes:
            p = <const uint8_t *>PyBytes_AS_STRING(data)
            n = PyBytes_GET_SIZE(data)
        else:
            view = memoryview(data).cast("B")
            n = view.shape[0]
            if n == 0:
                return
            p = &view[0]
        if pwrite:
            self.c_pwrite(p, n)
        else:
            self.c_put(p, n)

    @property
    def reserved_bytes(self) -> int:
        """The file's size on disk while open (the logical end plus preallocated zeros)."""
        return self.reserved

    @property
    def closed(self) -> bool:
        return self.fd < 0

    def close(self) -> None:
        """Unmap, and cut the preallocated zeros off (the file ends at ``size``). Idempotent.
        A failed truncate is not an error: a reader takes the zeros as the end of the log."""
        self._unmap()
        if self.fd >= 0:
            if self.reserved != self.size:
                ftruncate(self.fd, self.size)
            self.fd = -1

    def __dealloc__(self):
        self._unmap()
