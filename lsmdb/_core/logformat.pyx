# The log format shared by the WAL and the MANIFEST (LevelDB's log format).
#
# A log file is a sequence of 32 KiB blocks (the last one may be partial). A block holds
# physical records; a block tail too small for a header (< 7 bytes) is zero-filled.
#
#   record   := checksum:fixed32_le  length:fixed16_le  type:uint8  payload[length]
#   checksum := crc32 (zlib) over type byte + payload (not masked)
#   type     := FULL=1 | FIRST=2 | MIDDLE=3 | LAST=4   (0 = zero-filled/preallocated area)
#
# A logical record (a write batch, a version edit) is one FULL fragment, or FIRST MIDDLE*
# LAST when it does not fit in what is left of the current block. Fragments never cross a
# block boundary, so a reader can resynchronise at the next block after damage.
# Details, torn-tail rule and a worked example: docs/format/log.md.

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint8_t, uint32_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

from lsmdb._core.coding cimport load_u32_le
from lsmdb._core.crc32 cimport lsmdb_crc32_init, lsmdb_crc32_update

from lsmdb.errors import CorruptionError, InvalidArgumentError

lsmdb_crc32_init()

# The on-disk constants (BLOCK_SIZE, HEADER_SIZE, the record types) are in logformat.pxd.

BLOCK_BYTES = BLOCK_SIZE
HEADER_BYTES = HEADER_SIZE
FULL = FULL_TYPE
FIRST = FIRST_TYPE
MIDDLE = MIDDLE_TYPE
LAST = LAST_TYPE


cdef inline uint32_t _record_crc(int rtype, const uint8_t *p, size_t n) noexcept nogil:
    cdef uint8_t t = <uint8_t>rtype
    cdef uint32_t c = lsmdb_crc32_update(0, &t, 1)
    if n:
        c = lsmdb_crc32_update(c, p, n)
    return c


cdef Py_ssize_t _encoded_size(Py_ssize_t n, Py_ssize_t block_offset) noexcept nogil:
    """Bytes that encoding an n-byte payload at this block offset appends (incl. padding)."""
    cdef Py_ssize_t total = 0, left = n, leftover, avail, frag
    while True:
        leftover = BLOCK_SIZE - block_offset
        if leftover < HEADER_SIZE:
            total += leftover
            block_offset = 0
        avail = BLOCK_SIZE - block_offset - HEADER_SIZE
        frag = left if left < avail else avail
        total += HEADER_SIZE + frag
        block_offset += HEADER_SIZE + frag
        left -= frag
        if left == 0:
            return total


cdef Py_ssize_t _encode(const uint8_t *p, Py_ssize_t n, Py_ssize_t block_offset,
                        uint8_t *out) noexcept nogil:
    """Writes the fragments of one payload to out; returns bytes written."""
    cdef Py_ssize_t w = 0, left = n, leftover, avail, frag
    cdef bint begin = True
    cdef int rtype
    cdef uint32_t crc
    while True:
        leftover = BLOCK_SIZE - block_offset
        if leftover < HEADER_SIZE:
            if leftover > 0:
                memset(out + w, 0, leftover)
                w += leftover
            block_offset = 0
        avail = BLOCK_SIZE - block_offset - HEADER_SIZE
        frag = left if left < avail else avail
        if begin and frag == left:
            rtype = FULL_TYPE
        elif begin:
            rtype = FIRST_TYPE
        elif frag == left:
            rtype = LAST_TYPE
        else:
            rtype = MIDDLE_TYPE
        crc = _record_crc(rtype, p, <size_t>frag)
        out[w] = <uint8_t>crc
        out[w + 1] = <uint8_t>(crc >> 8)
        out[w + 2] = <uint8_t>(crc >> 16)
        out[w + 3] = <uint8_t>(crc >> 24)
        out[w + 4] = <uint8_t>frag
        out[w + 5] = <uint8_t>(frag >> 8)
        out[w + 6] = <uint8_t>rtype
        if frag:
            memcpy(out + w + HEADER_SIZE, p, frag)
        w += HEADER_SIZE + frag
        block_offset += HEADER_SIZE + frag
        p += frag
        left -= frag
        begin = False
        if left == 0:
            return w


cdef void _encode_all(const uint8_t **ptrs, const Py_ssize_t *lens, Py_ssize_t count,
                      Py_ssize_t block_offset, uint8_t *dst) noexcept nogil:
    cdef Py_ssize_t i, k, w = 0
    for i in range(count):
        k = _encode(ptrs[i], lens[i], block_offset, dst + w)
        w += k
        block_offset = (block_offset + k) % BLOCK_SIZE


def encode_records(payloads, Py_ssize_t block_offset=0) -> bytes:
    """The bytes a log writer positioned at ``block_offset`` (file offset modulo 32 KiB)
    appends for ``payloads``, in order: used for group commit (one append, many records)."""
    if block_offset < 0:
        raise InvalidArgumentError(f"block_offset {block_offset} is negative")
    block_offset %= BLOCK_SIZE
    # bytes payloads are used in place; other buffers are copied once.
    cdef list items = [p if type(p) is bytes else bytes(memoryview(p).cast("B"))
                       for p in payloads]
    cdef Py_ssize_t total = 0, bo = block_offset, k, n
    cdef bytes item
    for item in items:
        k = _encoded_size(PyBytes_GET_SIZE(item), bo)
        total += k
        bo = (bo + k) % BLOCK_SIZE
    cdef bytes out = PyBytes_FromStringAndSize(NULL, total)
    cdef uint8_t *dst = <uint8_t *>PyBytes_AS_STRING(out)
    cdef Py_ssize_t count = len(items), i
    cdef const uint8_t **ptrs = <const uint8_t **>malloc(max(count, 1) * sizeof(uint8_t *))
    cdef Py_ssize_t *lens = <Py_ssize_t *>malloc(max(count, 1) * sizeof(Py_ssize_t))
    if ptrs == NULL or lens == NULL:
        free(ptrs)
        free(lens)
        raise MemoryError()
    for i in range(count):
        item = items[i]
        ptrs[i] = <const uint8_t *>PyBytes_AS_STRING(item)
        lens[i] = PyBytes_GET_SIZE(item)
    with nogil:  # C loop over immutable bytes kept alive by `items` into the fresh `out`
        _encode_all(ptrs, lens, count, block_offset, dst)
    free(ptrs)
    free(lens)
    return out


cdef class LogWriter:
    """Appends records to a file with ``append(bytes)`` and ``sync()`` (Env WritableFile).

    ``initial_offset`` is the file's current size when appending to an existing log (the
    block position is derived from it). Each call issues exactly one ``append``. Its two
    fields are declared in logformat.pxd (walappend.pyx appends through the same offset).
    """

    def __init__(self, file, long long initial_offset=0):
        if initial_offset < 0:
            raise InvalidArgumentError(f"initial_offset {initial_offset} is negative")
        self._file = file
        self._offset = initial_offset

    @property
    def offset(self) -> int:
        """File offset after the last appended record."""
        return self._offset

    @property
    def file(self):
        return self._file

    def add_record(self, payload) -> int:
        """Appends one record; returns the number of bytes appended."""
        if type(payload) is not bytes:
            return self.add_records((payload,))
        # One-record fast path (a WAL append per write): no list, no malloc.
        cdef const uint8_t *p = <const uint8_t *>PyBytes_AS_STRING(payload)
        cdef Py_ssize_t plen = PyBytes_GET_SIZE(payload)
        cdef Py_ssize_t bo = self._offset % BLOCK_SIZE
        cdef Py_ssize_t total = _encoded_size(plen, bo)
        cdef bytes out = PyBytes_FromStringAndSize(NULL, total)
        _encode_all(&p, &plen, 1, bo, <uint8_t *>PyBytes_AS_STRING(out))
        self._file.append(out)
        self._offset += total
        return total

    def add_records(self, payloads) -> int:
        """Appends several records with a single ``append``; returns bytes appended."""
        cdef bytes data = encode_records(payloads, self._offset % BLOCK_SIZE)
        self._file.append(data)
        self._offset += len(data)
        return len(data)

    def sync(self) -> None:
        self._file.sync()


# Reader ---------------------------------------------------------------------------------

cdef enum FragResult:
    FRAG_OK = 0
    FRAG_EOF = 1         # clean end of data
    FRAG_BAD = 2         # damaged fragment; reader resyncs at the next block
    FRAG_TRUNCATED = 3   # fragment cut off by the end of the data


cdef class LogReader:
    """Reads the records of a whole log file (bytes-like ``data``).

    Iterating yields ``(offset, payload)`` for each complete record, ``offset`` being the
    file offset of its first fragment. Damage with nothing valid after it is a torn tail:
    reported in ``tail_error`` / ``torn_tail_offset``, never raised. Damage followed by a
    valid record raises :class:`CorruptionError` when that record is reached, unless
    ``skip_corrupted`` is true: then it is recorded in ``corruptions`` and reading goes on.

    ``zero_tail_is_end`` (WAL segments, which are preallocated: walmap.pyx): zeros from a
    record boundary to the end of the file are the end of the log, not damage; where they
    start is ``zero_tail_offset``. A MANIFEST is never preallocated, so its reader keeps
    treating such zeros as a torn tail.
    """
    cdef object _data
    cdef const uint8_t[::1] _view
    cdef Py_ssize_t _size
    cdef Py_ssize_t _pos
    cdef readonly object file_name
    cdef readonly bint skip_corrupted
    cdef readonly list corruptions
    cdef readonly object tail_error
    cdef readonly object torn_tail_offset
    cdef readonly bint zero_tail_is_end
    cdef readonly object zero_tail_offset
    cdef Py_ssize_t _zeros_from     # start of the file's trailing run of zero bytes; -1: unknown
    cdef list _pending          # damage seen since the last good record: [(offset, reason)]
    cdef bint _resyncing        # after damage: MIDDLE/LAST fragments belong to it
    cdef bint _done
    # fragment decoded by _read_fragment
    cdef int _ftype
    cdef Py_ssize_t _fstart, _flen, _fpos
    cdef object _freason

    def __init__(self, data, file_name=None, *, bint skip_corrupted=False,
                 bint zero_tail_is_end=False):
        self._data = data
        self._view = memoryview(data).cast("B")
        self._size = self._view.shape[0]
        self._pos = 0
        self.file_name = file_name
        self.skip_corrupted = skip_corrupted
        self.corruptions = []
        self.tail_error = None
        self.torn_tail_offset = None
        self._pending = []
        self._resyncing = False
        self._done = False
        self.zero_tail_is_end = zero_tail_is_end
        self.zero_tail_offset = None
        self._zeros_from = -1

    @classmethod
    def from_file(cls, raf, *, bint skip_corrupted=False, bint zero_tail_is_end=False):
        """Reader over a whole Env RandomAccessFile."""
        return cls(raf.pread(0, raf.size), raf.path, skip_corrupted=skip_corrupted,
                   zero_tail_is_end=zero_tail_is_end)

    cdef Py_ssize_t _trailing_zeros_start(self) noexcept:
        """Offset where the file's final run of zero bytes starts (computed once)."""
        cdef Py_ssize_t i
        if self._zeros_from < 0:
            i = self._size
            while i > 0 and self._view[i - 1] == 0:
                i -= 1
            self._zeros_from = i
        return self._zeros_from

    @property
    def size(self) -> int:
        return self._size

    def __iter__(self):
        return self

    def __next__(self):
        rec = self._next_record()
        if rec is None:
            raise StopIteration
        return rec

    def read_all(self) -> list:
        """Every remaining record as a list of (offset, payload)."""
        cdef list out = []
        while True:
            rec = self._next_record()
            if rec is None:
                return out
            out.append(rec)

    cdef int _read_fragment(self) except -1:
        """Decodes the fragment at _pos into _ftype/_fstart/_flen/_fpos; returns FragResult."""
        cdef Py_ssize_t leftover, length
        cdef const uint8_t *h
        cdef int rtype
        while True:
            if self._pos >= self._size:
                return FRAG_EOF
            leftover = BLOCK_SIZE - self._pos % BLOCK_SIZE
            if leftover < HEADER_SIZE:
                # Block trailer padding: skip to the next block.
                self._pos += leftover
                continue
            self._fpos = self._pos
            if self.zero_tail_is_end and self._pos >= self._trailing_zeros_start():
                # Only zeros from this record boundary on: preallocated space the writer
                # never reached. The log ends here.
                self.zero_tail_offset = self._pos
                self._pos = self._size
                return FRAG_EOF
            if self._size - self._pos < HEADER_SIZE:
                self._freason = (f"truncated record header ({self._size - self._pos} of "
                                 f"{HEADER_SIZE} bytes at end of file)")
                self._pos = self._size
                return FRAG_TRUNCATED
            h = &self._view[self._pos]
            length = <Py_ssize_t>h[4] | (<Py_ssize_t>h[5] << 8)
            rtype = h[6]
            if rtype == ZERO_TYPE and length == 0 and load_u32_le(h) == 0:
                self._freason = "zero-filled (preallocated) area"
                self._skip_block()
                return FRAG_BAD
            if HEADER_SIZE + length > leftover:
                self._freason = (f"record length {length} exceeds the {leftover - HEADER_SIZE}"
                                 " bytes left in its block")
                self._skip_block()
                return FRAG_BAD
            if self._pos + HEADER_SIZE + length > self._size:
                self._freason = (f"truncated record payload ({self._size - self._pos - HEADER_SIZE}"
                                 f" of {length} bytes at end of file)")
                self._pos = self._size
                return FRAG_TRUNCATED
            if rtype < FULL_TYPE or rtype > LAST_TYPE:
                self._freason = f"unknown record type {rtype}"
                self._pos += HEADER_SIZE + length
                return FRAG_BAD
            if _record_crc(rtype, h + HEADER_SIZE, <size_t>length) != load_u32_le(h):
                self._freason = "record checksum mismatch"
                # The length fits the block and the file: step over just this record, so a
                # valid record after it (damage in the middle of the log, not a torn tail)
                # is seen and reported rather than dropped with the rest of the block.
                # A wrong length lands on garbage, which fails again and resyncs.
                self._pos += HEADER_SIZE + length
                return FRAG_BAD
            self._ftype = rtype
            self._fstart = self._pos + HEADER_SIZE
            self._flen = length
            self._pos += HEADER_SIZE + length
            return FRAG_OK

    cdef inline void _skip_block(self) noexcept:
        # A damaged header's length cannot be trusted: drop the rest of the block.
        cdef Py_ssize_t nxt = (self._pos // BLOCK_SIZE + 1) * BLOCK_SIZE
        self._pos = nxt if nxt < self._size else self._size

    cdef int _damage(self, Py_ssize_t offset, str reason) except -1:
        self._pending.append((offset, reason))
        self._resyncing = True
        return 0

    cdef object _deliver(self, Py_ssize_t offset, object payload):
        """A good record follows any pending damage: that damage is mid-log corruption."""
        cdef Py_ssize_t doff
        if self._pending:
            if not self.skip_corrupted:
                doff, reason = self._pending[0]
                self._done = True
                raise CorruptionError(f"log corruption: {reason}, followed by valid records",
                                      self.file_name, doff)
            self.corruptions.extend(self._pending)
            self._pending = []
        self._resyncing = False
        return (offset, payload)

    cdef object _next_record(self):
        cdef Py_ssize_t rec_start = -1
        cdef bytearray scratch = None
        cdef int r
        if self._done:
            return None
        while True:
            r = self._read_fragment()
            if r == FRAG_EOF or r == FRAG_TRUNCATED:
                if r == FRAG_TRUNCATED:
                    self._damage(rec_start if rec_start >= 0 else self._fpos, self._freason)
                elif rec_start >= 0:
                    self._damage(rec_start, "fragmented record without its LAST fragment at "
                                            "end of file")
                self._finish()
                return None
            if r == FRAG_BAD:
                if rec_start >= 0:
                    self._damage(rec_start, f"{self._freason} at offset {self._fpos} inside "
                                            "a fragmented record")
                    rec_start = -1
                    scratch = None
                else:
                    self._damage(self._fpos, self._freason)
                continue
            if self._ftype == FULL_TYPE:
                if rec_start >= 0:
                    self._damage(rec_start, "fragmented record without its LAST fragment")
                    rec_start = -1
                return self._deliver(self._fpos, PyBytes_FromStringAndSize(
                    <const char *>&self._view[0] + self._fstart, self._flen))
            if self._ftype == FIRST_TYPE:
                if rec_start >= 0:
                    self._damage(rec_start, "fragmented record without its LAST fragment")
                rec_start = self._fpos
                scratch = bytearray(self._view[self._fstart:self._fstart + self._flen])
                continue
            # MIDDLE or LAST
            if rec_start < 0:
                if not self._resyncing:
                    # The tail of a record whose start was lost to earlier damage is part
                    # of that damage; otherwise it is damage of its own.
                    self._damage(self._fpos, "fragment without the start of its record")
                continue
            scratch += self._view[self._fstart:self._fstart + self._flen]
            if self._ftype == LAST_TYPE:
                return self._deliver(rec_start, bytes(scratch))

    cdef int _finish(self) except -1:
        self._done = True
        if self._pending:
            self.torn_tail_offset = self._pending[0][0]
            self.tail_error = self._pending[0][1]
            self._pending = []
        return 0
