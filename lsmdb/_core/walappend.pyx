"""WalTail: the append end of one WAL segment, and the one-op write path in C.

A single ``DB.put`` / ``DB.delete`` that needs no fsync is, on disk and in memory, exactly
what the general path makes of a one-op WriteBatch: one log record (logformat.pyx framing,
docs/format/log.md) whose payload is the batch (batch.pyx layout,
docs/format/write_batch.md)::

    payload := seqno:fixed64  count:fixed32 (= 1)  op
    op      := 0x01 varint32 klen, key, varint32 vlen, value       PUT
             | 0x00 varint32 klen, key                             DELETE

``append_op`` encodes that payload and its log framing into one buffer, copies it into the
segment's mapping (``MappedAppender``, walmap.pyx; or write(2)s it straight to the segment's
file descriptor where the file cannot be mapped) and inserts the op into the memtable, all
in one C call with no WriteBatch object and no Python frame per layer. Why one call: an interrupt
(Ctrl-C) is raised only between Python-level steps, so the record is applied whole or not at
all (EINTR is retried here, never turned into KeyboardInterrupt mid-record; a signal that
arrived meanwhile is raised by the interpreter after the call returns, when the caller
checks the memtable to learn whether the write went in).

The tail also keeps the segment's counters (bytes written, records since the last fsync)
for both paths: WalWriter's general path adds to them too, so ``_switch_memtable``'s
"sync the old segment if it holds unsynced records" sees every record.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.errno cimport EINTR, errno
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, strerror

from lsmdb._core.batch cimport BATCH_HEADER_BYTES
from lsmdb._core.coding cimport encode_varint32, store_u32_le, store_u64_le
from lsmdb._core.ikey cimport TYPE_DELETE, TYPE_PUT, max_seqno
from lsmdb._core.logformat cimport BLOCK_SIZE, LogWriter, _encode, _encoded_size
from lsmdb._core.memtable cimport LSMDB_NODE_MAX_VALUE_LEN, Memtable
from lsmdb._core.walmap cimport MappedAppender

from lsmdb.errors import ClosedError, InvalidArgumentError, StorageIOError

cdef extern from "unistd.h" nogil:
    ssize_t write(int fd, const void *buf, size_t count)

cdef enum:
    # Records up to this size are built on the stack (a 16-byte key and a 100-byte value
    # make a 143-byte record); larger ones in a malloc'd buffer.
    STACK_RECORD_BYTES = 1024
    # A write(2) of a record this large or larger runs without the GIL: copying it into the
    # page cache takes long enough that the ~0.1 us of releasing the GIL is worth it; a
    # small one holds it (one syscall of ~1 us, and no wait to get the GIL back).
    NOGIL_WRITE_BYTES = 64 * 1024
    MAX_VARINT32_BYTES = 5


cdef int _write_all(int fd, const uint8_t *p, Py_ssize_t n, int *err) noexcept nogil:
    """write(2) all n bytes (short writes continued, EINTR retried); 0, or -1 with *err."""
    cdef ssize_t r
    while n > 0:
        r = write(fd, p, <size_t>n)
        if r < 0:
            if errno == EINTR:
                continue
            err[0] = errno
            return -1
        p += r
        n -= r
    return 0


cdef class WalTail:
    """The append end of one WAL segment: its LogWriter, file and counters, and
    ``append_op``, the direct one-op path (only for a plain POSIX file: ``fd >= 0``), which
    copies into ``mapped`` when given (the same appender the LogWriter writes to).
    Fields in walappend.pxd."""

    def __init__(self, LogWriter log not None, file, int fd=-1, MappedAppender mapped=None):
        self.log = log
        self.file = file
        self.fd = fd
        self.mapped = mapped
        self.bytes_written = 0
        self.unsynced_records = 0
        self.direct_ops = self.direct_payload_bytes = self.direct_record_bytes = 0

    @property
    def direct(self) -> bool:
        """Whether ``append_op`` may be used (a plain file, not yet closed)."""
        return self.fd >= 0

    def take_direct_counts(self) -> tuple:
        """(ops, payload bytes, record bytes) appended by append_op since the last call; the
        counts restart from zero."""
        out = (self.direct_ops, self.direct_payload_bytes, self.direct_record_bytes)
        self.direct_ops = self.direct_payload_bytes = self.direct_record_bytes = 0
        return out

    def detach(self) -> None:
        """Forget the descriptor (the segment is being closed): a later ``append_op`` raises
        ClosedError rather than write to whatever file reuses the number."""
        self.fd = -1

    def append_op(self, uint64_t seq, int vtype, bytes key not None, bytes value not None,
                  Memtable mem not None) -> int:
        """Append the one-op batch (``vtype`` PUT or DELETE, ``seq`` its sequence number) as
        one WAL record, then insert the op into ``mem``. Returns the record's bytes.

        Refused before any byte is written (nothing applied): InvalidArgumentError for a bad
        type, sequence or size, ClosedError if detached. StorageIOError: the write failed
        and the segment's tail is unknown. MemoryError: the record is in the WAL but the
        memtable could not take it. Either of the last two must stop writes (the caller's
        rule for I/O failures of the general path)."""
        return self.c_append_op(seq, vtype, key, value, mem)

    cdef Py_ssize_t c_append_op(self, uint64_t seq, int vtype, bytes key, bytes value,
                                Memtable mem) except -1:
        cdef Py_ssize_t plen = 0
        cdef Py_ssize_t rlen = self.c_append_record(seq, vtype, key, value, &plen)
        self.direct_ops += 1
        self.direct_payload_bytes += plen
        self.direct_record_bytes += rlen
        mem.c_add(seq, vtype, <const uint8_t *>PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key),
                  <const uint8_t *>PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value))
        return rlen

    cdef Py_ssize_t c_append_record(self, uint64_t seq, int vtype, bytes key, bytes value,
                                    Py_ssize_t *payload_bytes, bint through_write=False) except -1:
        cdef Py_ssize_t klen = PyBytes_GET_SIZE(key)
        cdef Py_ssize_t vlen = PyBytes_GET_SIZE(value)
        cdef uint8_t stack_payload[STACK_RECORD_BYTES]
        cdef uint8_t stack_record[STACK_RECORD_BYTES]
        cdef uint8_t *payload = stack_payload
        cdef uint8_t *record = stack_record
        cdef uint8_t *q
        cdef Py_ssize_t plen, rlen, bo
        cdef int rc, err = 0
        if self.fd < 0:
            raise ClosedError("WAL segment is closed (or not a plain file): no direct append")
        if vtype != TYPE_PUT and vtype != TYPE_DELETE:
            raise InvalidArgumentError(f"append_op takes PUT or DELETE, not type {vtype}")
        if vtype == TYPE_DELETE and vlen:
            raise InvalidArgumentError("a DELETE carries no value")
        if seq > max_seqno():
            raise InvalidArgumentError(f"sequence {seq} exceeds MAX_SEQNO")
        # The memtable's own bounds (Memtable.c_add), checked before the WAL gets the record.
        if <uint64_t>klen > 0xFFFFFFF0 or <uint64_t>vlen > LSMDB_NODE_MAX_VALUE_LEN:
            raise InvalidArgumentError("memtable keys must be < 4 GiB and values < 256 MiB")
        plen = BATCH_HEADER_BYTES + 1 + MAX_VARINT32_BYTES + klen
        if vtype == TYPE_PUT:
            plen += MAX_VARINT32_BYTES + vlen
        bo = self.log._offset % BLOCK_SIZE
        rlen = _encoded_size(plen, bo)  # an upper bound: plen counts the longest varints
        try:
            if plen > STACK_RECORD_BYTES:
                payload = <uint8_t *>malloc(plen)
            if rlen > STACK_RECORD_BYTES:
                record = <uint8_t *>malloc(rlen)
            if payload == NULL or record == NULL:
                raise MemoryError(f"cannot allocate a {rlen}-byte WAL record")
            store_u64_le(payload, seq)
            store_u32_le(payload + 8, 1)
            payload[BATCH_HEADER_BYTES] = <uint8_t>vtype
            q = encode_varint32(payload + BATCH_HEADER_BYTES + 1, <uint32_t>klen)
            memcpy(q, PyBytes_AS_STRING(key), klen)
            q += klen
            if vtype == TYPE_PUT:
                q = encode_varint32(q, <uint32_t>vlen)
                memcpy(q, PyBytes_AS_STRING(value), vlen)
                q += vlen
            plen = q - payload
            rlen = _encode(payload, plen, bo, record)
            if self.mapped is not None:
                # Their failures raise (StorageIOError): the finally frees, nothing follows.
                if through_write:
                    rc = self.mapped.c_pwrite(record, rlen)
                else:
                    rc = self.mapped.c_put(record, rlen)
            elif rlen >= NOGIL_WRITE_BYTES:
                with nogil:  # key and value were copied: nothing borrowed stays in use
                    rc = _write_all(self.fd, record, rlen, &err)
            else:
                rc = _write_all(self.fd, record, rlen, &err)
        finally:
            if payload != stack_payload:
                free(payload)
            if record != stack_record:
                free(record)
        if rc != 0:
            raise StorageIOError(f"write failed ({strerror(err).decode(errors='replace')})",
                                 getattr(self.file, "path", None), err)
        self.log._offset += rlen
        if self.mapped is None:  # a mapped segment's logical size is the appender's
            self.file.size += rlen
        self.bytes_written += rlen
        self.unsynced_records += 1
        payload_bytes[0] = plen
        return rlen
