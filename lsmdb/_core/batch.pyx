"""Write batch codec: the WAL payload and the unit of atomic application to the memtable.

Layout (integers little-endian; the WAL of every version depends on it: never change)::

    batch := seqno:fixed64  count:fixed32  op{count}
    op    := 0x01 varint32 klen, key, varint32 vlen, value            PUT
           | 0x00 varint32 klen, key                                  DELETE
           | 0x02 varint32 slen, start, varint32 elen, end            RANGE_DELETE [start, end)

The op type bytes are the internal-key value types of ikey.pxd. Op i of the batch is applied
with sequence number ``seqno + i``. Grammar and a worked example: docs/format/write_batch.md.

The encoding lives in one growable C buffer that always holds a complete, valid batch, so
``data()`` is a single copy and the memtable walks it in C (``batch_decode_op`` in batch.pxd).
Key/value size limits are the DB layer's business; this module only requires each length to
fit in a varint32 and, when decoding, inside the bytes actually present.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize
from cpython.bytes cimport PyBytes_GET_SIZE
from cpython.memoryview cimport PyMemoryView_GET_BUFFER
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from cpython.pyport cimport PY_SSIZE_T_MAX
from libc.stdlib cimport free, realloc
from libc.string cimport memcpy

from lsmdb._core.coding cimport (
    encode_varint32,
    load_u32_le,
    load_u64_le,
    store_u32_le,
    store_u64_le,
)
from lsmdb._core.ikey cimport TYPE_DELETE, TYPE_PUT, TYPE_RANGE_DELETE, max_seqno

from lsmdb.errors import CorruptionError, InvalidArgumentError

cdef enum:
    INITIAL_CAPACITY = 256
    KEEP_CAPACITY_ON_CLEAR = 1 << 20    # clear() returns larger buffers to the allocator
    MAX_VARINT32_BYTES = 5

cdef uint64_t MAX_COUNT = 0xFFFFFFFF


cdef object borrow_bytes(object obj, str name, const uint8_t **ptr, Py_ssize_t *n):
    cdef Py_buffer *view
    if PyBytes_CheckExact(obj):
        ptr[0] = <const uint8_t *>PyBytes_AS_STRING(obj)
        n[0] = PyBytes_GET_SIZE(obj)
        return obj
    try:
        mv = memoryview(obj)
    except TypeError:
        raise TypeError(
            f"{name} must be a bytes-like object, not {type(obj).__name__}") from None
    if not mv.c_contiguous:
        mv = memoryview(mv.tobytes())
    view = PyMemoryView_GET_BUFFER(mv)
    ptr[0] = <const uint8_t *>view.buf
    n[0] = view.len
    return mv


cdef inline Py_ssize_t put_varint32(uint8_t *p, Py_ssize_t pos, uint32_t v) noexcept nogil:
    """Write ``v`` as a varint32 at p[pos]; the offset after it."""
    return encode_varint32(p + pos, v) - p


cdef str _op_error_reason(Py_ssize_t code, const uint8_t *p, Py_ssize_t pos):
    if code == BATCH_ERR_TYPE:
        return f"unknown op type {p[pos]}"
    if code == BATCH_ERR_LENGTH:
        return "truncated or over-long varint32 length"
    if code == BATCH_ERR_KEY:
        return "key length runs past the end of the batch"
    if code == BATCH_ERR_MISSING:
        return "the batch ends before this op (count too large or batch truncated)"
    return "value length runs past the end of the batch"


cdef Py_ssize_t _validate_ops(const uint8_t *p, Py_ssize_t end, uint32_t count,
                              uint32_t *done, Py_ssize_t *bad_pos) noexcept nogil:
    """Walk ``count`` ops from the header on: the end offset, or a BATCH_ERR_* code with
    done = index of the bad op and bad_pos = its offset."""
    cdef Py_ssize_t pos = BATCH_HEADER_BYTES, r
    cdef int vtype
    cdef const uint8_t *k
    cdef const uint8_t *v
    cdef uint32_t kn, vn, i
    for i in range(count):
        r = batch_decode_op(p, pos, end, &vtype, &k, &kn, &v, &vn)
        if r < 0:
            done[0] = i
            bad_pos[0] = pos
            return r
        pos = r
    done[0] = count
    return pos


cdef int _validate_encoding(const uint8_t *p, Py_ssize_t n, object file, object offset,
                            uint32_t *count_out) except -1:
    """Check a whole batch encoding (header, every op, nothing after them); CorruptionError
    naming ``file`` and the offset (``offset`` + position in the batch) otherwise."""
    cdef Py_ssize_t end, bad_pos = 0
    cdef uint32_t count, done = 0
    cdef uint64_t seq
    base = 0 if offset is None else offset
    if n < BATCH_HEADER_BYTES:
        raise CorruptionError(
            f"write batch of {n} bytes is shorter than its {BATCH_HEADER_BYTES}-byte header",
            file, base)
    seq = load_u64_le(p)
    count = load_u32_le(p + BATCH_COUNT_OFFSET)
    if seq > max_seqno() or (count and count - 1 > max_seqno() - seq):
        raise CorruptionError(
            f"write batch sequence {seq} with {count} ops exceeds MAX_SEQNO", file, base)
    if n >= 1 << 16:
        with nogil:  # pure C walk over a buffer the caller keeps alive
            end = _validate_ops(p, n, count, &done, &bad_pos)
    else:
        end = _validate_ops(p, n, count, &done, &bad_pos)
    if end < 0:
        raise CorruptionError(
            f"write batch op {done} of {count}: {_op_error_reason(end, p, bad_pos)}",
            file, base + bad_pos)
    if end != n:
        raise CorruptionError(
            f"write batch has {n - end} bytes after its {count} ops", file, base + end)
    count_out[0] = count
    return 0


cdef inline int _check_unpinned(WriteBatch wb) except -1:
    if wb.pins:
        raise InvalidArgumentError("write batch modified while a memtable is applying it")
    return 0


cdef class WriteBatch:
    """An ordered group of PUT / DELETE / RANGE_DELETE ops applied atomically.

    Not thread-safe: one thread builds a batch, then hands it to the DB.
    """

    def __cinit__(self):
        self.buf = <uint8_t *>realloc(NULL, INITIAL_CAPACITY)
        if self.buf == NULL:
            raise MemoryError()
        self.capacity = INITIAL_CAPACITY
        self.length = BATCH_HEADER_BYTES
        self.n_ops = 0
        store_u64_le(self.buf, 0)
        store_u32_le(self.buf + BATCH_COUNT_OFFSET, 0)
        self.generation = 0

    def __dealloc__(self):
        free(self.buf)

    cdef int c_reserve(self, Py_ssize_t extra) except -1:
        cdef Py_ssize_t need = self.length + extra
        cdef Py_ssize_t cap = self.capacity
        cdef uint8_t *grown
        if need <= cap:
            return 0
        while cap < need:
            cap *= 2
        grown = <uint8_t *>realloc(self.buf, cap)
        if grown == NULL:
            raise MemoryError(f"write batch cannot grow to {cap} bytes")
        self.buf = grown
        self.capacity = cap
        return 0

    cdef int c_add(self, int vtype, const uint8_t *key, Py_ssize_t klen,
                   const uint8_t *value, Py_ssize_t vlen) except -1:
        _check_unpinned(self)
        if vtype < 0 or vtype > TYPE_RANGE_DELETE:
            raise InvalidArgumentError(f"unknown write batch op type {vtype}")
        if <uint64_t>klen > 0xFFFFFFFF or <uint64_t>vlen > 0xFFFFFFFF:
            raise InvalidArgumentError("write batch keys and values must be < 4 GiB")
        if self.n_ops == MAX_COUNT:
            raise InvalidArgumentError("write batch holds the maximum of 2**32-1 ops")
        self.c_reserve(1 + 2 * MAX_VARINT32_BYTES + klen + vlen)
        cdef uint8_t *p = self.buf
        cdef Py_ssize_t pos = self.length
        p[pos] = <uint8_t>vtype
        pos = put_varint32(p, pos + 1, <uint32_t>klen)
        if klen:
            memcpy(p + pos, key, klen)
        pos += klen
        if vtype != TYPE_DELETE:
            pos = put_varint32(p, pos, <uint32_t>vlen)
            if vlen:
                memcpy(p + pos, value, vlen)
            pos += vlen
        self.length = pos
        self.n_ops += 1
        store_u32_le(p + BATCH_COUNT_OFFSET, self.n_ops)
        return 0

    # Python-visible API ---------------------------------------------------------------

    def put(self, key, value) -> None:
        """Append PUT key -> value."""
        cdef const uint8_t *k
        cdef const uint8_t *v
        cdef Py_ssize_t kn, vn
        keep_k = borrow_bytes(key, "key", &k, &kn)
        keep_v = borrow_bytes(value, "value", &v, &vn)
        self.c_add(TYPE_PUT, k, kn, v, vn)

    def delete(self, key) -> None:
        """Append DELETE key."""
        cdef const uint8_t *k
        cdef Py_ssize_t kn
        keep_k = borrow_bytes(key, "key", &k, &kn)
        self.c_add(TYPE_DELETE, k, kn, NULL, 0)

    def delete_range(self, start, end) -> None:
        """Append RANGE_DELETE of user keys in [start, end)."""
        cdef const uint8_t *s
        cdef const uint8_t *e
        cdef Py_ssize_t sn, en
        keep_s = borrow_bytes(start, "start", &s, &sn)
        keep_e = borrow_bytes(end, "end", &e, &en)
        self.c_add(TYPE_RANGE_DELETE, s, sn, e, en)

    def clear(self) -> None:
        """Drop every op and reset the header (sequence 0, count 0), like LevelDB's Clear."""
        cdef uint8_t *shrunk
        _check_unpinned(self)
        if self.capacity > KEEP_CAPACITY_ON_CLEAR:
            shrunk = <uint8_t *>realloc(self.buf, INITIAL_CAPACITY)
            if shrunk != NULL:
                self.buf = shrunk
                self.capacity = INITIAL_CAPACITY
        self.length = BATCH_HEADER_BYTES
        self.n_ops = 0
        store_u64_le(self.buf, 0)
        store_u32_le(self.buf + BATCH_COUNT_OFFSET, 0)
        self.generation += 1

    def append(self, WriteBatch other not None) -> None:
        """Append every op of ``other`` (its sequence is ignored; ours is kept)."""
        cdef Py_ssize_t extra = other.length - BATCH_HEADER_BYTES
        _check_unpinned(self)
        if <uint64_t>other.n_ops > MAX_COUNT - self.n_ops:
            raise InvalidArgumentError("appended write batch would exceed 2**32-1 ops")
        self.c_reserve(extra)
        # Read other.buf only after c_reserve: when other is self it may have moved.
        memcpy(self.buf + self.length, other.buf + BATCH_HEADER_BYTES, extra)
        self.length += extra
        self.n_ops += other.n_ops
        store_u32_le(self.buf + BATCH_COUNT_OFFSET, self.n_ops)

    @property
    def count(self) -> int:
        """Number of ops."""
        return self.n_ops

    @property
    def byte_size(self) -> int:
        """Size of the encoding returned by data(), header included."""
        return self.length

    @property
    def sequence(self) -> int:
        """Sequence number of the first op (set by the DB at commit)."""
        return load_u64_le(self.buf)

    @sequence.setter
    def sequence(self, value) -> None:
        _check_unpinned(self)
        if not 0 <= value <= max_seqno():
            raise InvalidArgumentError(f"sequence {value} is outside [0, MAX_SEQNO]")
        store_u64_le(self.buf, <uint64_t>value)

    def data(self) -> bytes:
        """The complete encoding (header included): the WAL record payload."""
        return PyBytes_FromStringAndSize(<const char *>self.buf, self.length)

    @staticmethod
    def from_bytes(data, file=None, offset=None) -> WriteBatch:
        """Decode and fully validate an encoding; CorruptionError naming file and offset.

        ``offset`` is where the batch starts in ``file``; reported offsets are that plus the
        position of the bad op inside the batch (``offset`` None counts from the batch start).
        """
        cdef const uint8_t *p
        cdef Py_ssize_t n
        cdef uint32_t count
        keep = borrow_bytes(data, "data", &p, &n)
        _validate_encoding(p, n, file, offset, &count)
        cdef WriteBatch wb = WriteBatch.__new__(WriteBatch)
        wb.c_reserve(n - BATCH_HEADER_BYTES)
        memcpy(wb.buf, p, n)
        wb.length = n
        wb.n_ops = count
        return wb

    def append_encoded(self, data, file=None, offset=None,
                       Py_ssize_t max_bytes=PY_SSIZE_T_MAX) -> bool:
        """Append the ops of the encoded batch ``data`` if its sequence continues this one's
        (``sequence + count``), it has ops and this batch is under ``max_bytes``; validated
        as by from_bytes (CorruptionError naming file and offset, nothing appended). False,
        nothing appended, otherwise: WAL replay then starts a new batch from it."""
        cdef const uint8_t *p
        cdef Py_ssize_t n
        cdef uint32_t count
        keep = borrow_bytes(data, "data", &p, &n)
        _check_unpinned(self)
        if (self.length >= max_bytes or n < BATCH_HEADER_BYTES
                or load_u64_le(p) != load_u64_le(self.buf) + self.n_ops):
            return False
        _validate_encoding(p, n, file, offset, &count)
        if count == 0 or <uint64_t>count > MAX_COUNT - self.n_ops:
            return False
        self.c_reserve(n - BATCH_HEADER_BYTES)
        memcpy(self.buf + self.length, p + BATCH_HEADER_BYTES, n - BATCH_HEADER_BYTES)
        self.length += n - BATCH_HEADER_BYTES
        self.n_ops += count
        store_u32_le(self.buf + BATCH_COUNT_OFFSET, self.n_ops)
        return True

    def ops(self):
        """Yield (type, key, value) per op; value is None for DELETE and the end key for
        RANGE_DELETE. Ops appended during iteration are yielded; clear() ends it with
        RuntimeError."""
        cdef Py_ssize_t pos = BATCH_HEADER_BYTES, r
        cdef int vtype
        cdef const uint8_t *k
        cdef const uint8_t *v
        cdef uint32_t kn, vn
        cdef uint64_t generation = self.generation
        while True:
            if self.generation != generation:
                raise RuntimeError("write batch was cleared during iteration")
            if pos >= self.length:
                return
            r = batch_decode_op(self.buf, pos, self.length, &vtype, &k, &kn, &v, &vn)
            if r < 0:
                raise AssertionError("write batch buffer is not a valid encoding")
            key = PyBytes_FromStringAndSize(<const char *>k, kn)
            value = None if vtype == TYPE_DELETE else PyBytes_FromStringAndSize(
                <const char *>v, vn)
            pos = r
            yield vtype, key, value

    def __iter__(self):
        return self.ops()

    def __len__(self) -> int:
        return self.n_ops

    def __repr__(self) -> str:
        return (f"WriteBatch(sequence={self.sequence}, count={self.n_ops}, "
                f"byte_size={self.length})")
