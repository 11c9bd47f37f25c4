# The log format (layout at the top of logformat.pyx, docs/format/log.md): what other Cython
# modules share with it. walappend.pyx frames its one-op WAL records with the same encoder
# and advances the same LogWriter offset, so a segment's records stay one valid log.
from libc.stdint cimport uint8_t

# On-disk constants: never change them.
cdef enum:
    BLOCK_SIZE = 32768
    HEADER_SIZE = 7
    ZERO_TYPE = 0
    FULL_TYPE = 1
    FIRST_TYPE = 2
    MIDDLE_TYPE = 3
    LAST_TYPE = 4

cdef class LogWriter:
    cdef object _file
    cdef long long _offset           # file offset after the last appended record


# Bytes that encoding an n-byte payload at this block offset appends (incl. block padding).
cdef Py_ssize_t _encoded_size(Py_ssize_t n, Py_ssize_t block_offset) noexcept nogil
# Writes the fragments of one payload to out (_encoded_size bytes); returns bytes written.
cdef Py_ssize_t _encode(const uint8_t *p, Py_ssize_t n, Py_ssize_t block_offset,
                        uint8_t *out) noexcept nogil
