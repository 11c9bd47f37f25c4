# WalTail: the append end of one WAL segment (walappend.pyx). writefront.pyx appends its
# one-op records through c_append_op without a Python call.
from libc.stdint cimport uint64_t

from lsmdb._core.logformat cimport LogWriter
from lsmdb._core.memtable cimport Memtable
from lsmdb._core.walmap cimport MappedAppender


cdef class WalTail:
    cdef public LogWriter log
    cdef readonly object file
    cdef readonly int fd
    # Set: records are copied into the segment's mapping (walmap.pyx), not written with write(2).
    cdef readonly MappedAppender mapped
    # Counters of the segment (both paths add to them; see walappend.pyx's docstring).
    cdef public long long bytes_written
    cdef public long long unsynced_records
    # What append_op wrote since take_direct_counts(): the DB's statistics fold these in
    # rather than pay a Python call per put.
    cdef long long direct_ops
    cdef long long direct_payload_bytes
    cdef long long direct_record_bytes

    # append_op without the Python call: the record's bytes, or -1 with an exception set.
    cdef Py_ssize_t c_append_op(self, uint64_t seq, int vtype, bytes key, bytes value,
                                Memtable mem) except -1
    # The record only (no memtable insert, no direct-path counts): its bytes; *payload gets
    # the batch's bytes. For the synced front (writefront.pyx), which inserts after fsync;
    # through_write: a mapped segment gets it by pwrite(2), not a copy (walmap.pyx: records
    # fsynced at once).
    cdef Py_ssize_t c_append_record(self, uint64_t seq, int vtype, bytes key, bytes value,
                                    Py_ssize_t *payload_bytes, bint through_write=*) except -1
