from libc.stdint cimport uint8_t, uint32_t


cdef extern from "crc32_impl.h":
    void lsmdb_crc32_init() nogil
    uint32_t lsmdb_crc32_update(uint32_t crc, const uint8_t *p, size_t n) nogil


cdef inline uint32_t crc32_of(const uint8_t *p, size_t n) noexcept nogil:
    return lsmdb_crc32_update(0, p, n)
