# cython: language_level=3
"""CRC-32 (zlib polynomial) used by every checksummed lsmdb structure.

Other Cython modules ``cimport`` :func:`crc32_of` from ``crc32.pxd``; each module that
does must call ``lsmdb_crc32_init()`` once at import (the tables are per extension
module because the helper is a static C function). Python callers use :func:`crc32`.
"""

from libc.stdint cimport uint32_t

lsmdb_crc32_init()


def crc32(data, uint32_t value=0) -> int:
    """CRC-32 of ``data`` (any buffer), continuing from ``value``; equals zlib.crc32."""
    cdef const unsigned char[::1] view = memoryview(data).cast("B")
    if view.shape[0] == 0:
        return value
    with nogil:  # pure C loop over a pinned buffer
        value = lsmdb_crc32_update(value, &view[0], view.shape[0])
    return value
