"""Blocks: LevelDB's prefix-compressed, restart-indexed sorted key/value format.

Layout (never change; see docs/format/sstable.md)::

    block    := entry* restart[num_restarts] num_restarts
    entry    := shared:varint32 non_shared:varint32 value_len:varint32
                key_delta[non_shared] value[value_len]
    restart  := fixed32 LE offset of an entry whose shared == 0
    num_restarts := fixed32 LE

The key of an entry is the first ``shared`` bytes of the previous entry's key followed by
``key_delta``. Every ``restart_interval``-th entry is a restart point (shared = 0) so a
reader can binary-search the restart array and then scan at most one interval. A block with
no entries is ``restart[0] = 0, num_restarts = 1`` (8 bytes).

Data and index blocks hold internal keys (see ikey.pxd) in strictly increasing internal
order; meta blocks (properties, range tombstones) hold arbitrary keys and are read with
:func:`decode_kv_block`. :class:`Block` validates the whole block once when it is parsed
(restart array, every entry's lengths against the block bounds, internal-key length and
order), so cursors can then walk it without bounds checks.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy

from lsmdb._core.coding cimport (
    decode_varint32,
    encode_varint32,
    load_u32_le,
    load_u64_le,
    prefetch,
    prefetch_range,
    store_u32_le,
)
from lsmdb._core.ikey cimport compare_internal

from lsmdb.errors import CorruptionError, InvalidArgumentError


cdef extern from *:
    """
    #define LSMDB_CTZ64(x) __builtin_ctzll(x)
    """
    int ctz64 "LSMDB_CTZ64"(uint64_t x) noexcept nogil    # x != 0


cdef uint64_t MAX_BLOCK_BYTES = 0xFFFFFFF0   # offsets inside a block are uint32


cdef int _grow(uint8_t **buf, size_t *cap, size_t need) except -1:
    cdef size_t new_cap
    cdef uint8_t *grown
    if need <= cap[0]:
        return 0
    new_cap = cap[0] * 2 if cap[0] else 64
    if new_cap < need:
        new_cap = need
    grown = <uint8_t *>realloc(buf[0], new_cap)
    if grown == NULL:
        raise MemoryError()
    buf[0] = grown
    cap[0] = new_cap
    return 0


cdef object _at(object offset, uint64_t delta):
    return None if offset is None else offset + delta


cdef class Block:
    """A parsed, fully validated block. ``data`` is pinned, not copied (mmap views work).

    ``internal_keys`` (default) requires every key to be an internal key (>= 8 bytes) in
    non-decreasing internal order; with False any keys are accepted (meta blocks).
    Malformed bytes raise CorruptionError naming ``file`` and ``offset + entry offset``.
    """

    def __cinit__(self, data, file=None, offset=None, *, bint internal_keys=True):
        self.file = file
        self.offset = offset
        self.internal_keys = internal_keys
        cdef Py_ssize_t n
        # A plain buffer, not a typed memoryview: a block is built on every cache miss, and a
        # Cython memoryview costs two extra objects to create and to free.
        if isinstance(data, bytes):
            self._owner = data
            n = PyBytes_GET_SIZE(data)
            self.data = <const uint8_t *>PyBytes_AS_STRING(data)
        else:
            PyObject_GetBuffer(data, &self._buf, PyBUF_SIMPLE)
            self._has_buf = True
            n = self._buf.len
            self.data = <const uint8_t *>self._buf.buf
        if <uint64_t>n > MAX_BLOCK_BYTES:
            raise CorruptionError(f"block of {n} bytes exceeds the 4 GiB block limit", file,
                                  offset)
        self.size = <uint32_t>n
        if n == 0:
            self.data = NULL
        self._validate()

    def __dealloc__(self):
        if self._has_buf:
            PyBuffer_Release(&self._buf)

    cdef int _validate(self) except -1:
        cdef uint32_t n = self.size
        cdef const uint8_t *d = self.data
        cdef uint32_t num, limit, i, r, prev_r
        cdef uint32_t off = 0, ri = 0, entries = 0
        cdef uint32_t shared, non_shared, vlen, remaining
        cdef uint64_t key_len, prev_len = 0, max_key = 0
        cdef const uint8_t *q
        cdef uint8_t *a = NULL
        cdef uint8_t *b = NULL
        cdef uint8_t *t
        cdef size_t acap = 0, bcap = 0, tcap
        if n < 4:
            raise CorruptionError(f"block of {n} bytes is shorter than its restart count",
                                  self.file, self.offset)
        num = load_u32_le(d + n - 4)
        if num > (n - 4) // 4:
            raise CorruptionError(f"block restart count {num} does not fit in {n} bytes",
                                  self.file, _at(self.offset, n - 4))
        limit = n - 4 - 4 * num
        if limit == 0:
            if num > 1 or (num == 1 and load_u32_le(d) != 0):
                raise CorruptionError("empty block has invalid restart points", self.file,
                                      _at(self.offset, 0))
        else:
            if num == 0:
                raise CorruptionError("block with entries has no restart point", self.file,
                                      _at(self.offset, n - 4))
            prev_r = 0
            for i in range(num):
                r = load_u32_le(d + limit + 4 * i)
                if r >= limit or (i == 0 and r != 0) or (i > 0 and r <= prev_r):
                    raise CorruptionError(f"block restart point {i} has invalid offset {r}",
                                          self.file, _at(self.offset, limit + 4 * i))
                prev_r = r
        try:
            while off < limit:
                q = decode_varint32(d + off, d + limit, &shared)
                if q != NULL:
                    q = decode_varint32(q, d + limit, &non_shared)
                if q != NULL:
                    q = decode_varint32(q, d + limit, &vlen)
                if q == NULL:
                    raise CorruptionError("truncated block entry header", self.file,
                                          _at(self.offset, off))
                remaining = limit - <uint32_t>(q - d)
                if non_shared > remaining or vlen > remaining - non_shared:
                    raise CorruptionError("block entry overruns the block", self.file,
                                          _at(self.offset, off))
                if shared > prev_len:
                    raise CorruptionError(
                        f"block entry shares {shared} bytes of a {prev_len}-byte key",
                        self.file, _at(self.offset, off))
                if ri < num and load_u32_le(d + limit + 4 * ri) == off:
                    if shared != 0:
                        raise CorruptionError("block restart entry has a shared prefix",
                                              self.file, _at(self.offset, off))
                    ri += 1
                elif ri < num and load_u32_le(d + limit + 4 * ri) < off:
                    raise CorruptionError("block restart point is not at an entry",
                                          self.file, _at(self.offset, limit + 4 * ri))
                key_len = <uint64_t>shared + non_shared
                if self.internal_keys:
                    if key_len < 8:
                        raise CorruptionError(
                            f"block key of {key_len} bytes is not an internal key",
                            self.file, _at(self.offset, off))
                    # b = prev[:shared] + delta, then compare with prev (in a)
                    _grow(&b, &bcap, key_len)
                    if shared:
                        memcpy(b, a, shared)
                    memcpy(b + shared, q, non_shared)
                    if entries and compare_internal(a, prev_len, b, key_len) > 0:
                        raise CorruptionError("block keys are out of order", self.file,
                                              _at(self.offset, off))
                    t = a
                    a = b
                    b = t
                    tcap = acap
                    acap = bcap
                    bcap = tcap
                if key_len > max_key:
                    max_key = key_len
                prev_len = key_len
                off = <uint32_t>(q - d) + non_shared + vlen
                entries += 1
        finally:
            free(a)
            free(b)
        if limit > 0 and ri != num:
            raise CorruptionError("block restart point is not at an entry", self.file,
                                  _at(self.offset, limit + 4 * ri))
        self.limit = limit
        self.num_restarts = num
        self.max_key_len = <uint32_t>max_key
        self.num_entries = entries
        return 0

    def __len__(self) -> int:
        return self.num_entries

    @property
    def charge(self) -> int:
        """Bytes this block accounts for in a BlockCache."""
        return self.size + 96

    def iterator(self) -> BlockIterator:
        return BlockIterator(self)


# ---- cursor (trusted: the block was validated) ------------------------------------------

cdef inline uint32_t _restart(const BlockCursor *c, uint32_t i) noexcept nogil:
    return load_u32_le(c.data + c.limit + 4 * i)


cdef inline void _invalidate(BlockCursor *c) noexcept nogil:
    c.cur = c.limit
    c.nxt = c.limit
    c.key_len = 0
    c.val = NULL
    c.val_len = 0


cdef inline void _parse(BlockCursor *c, uint32_t off) noexcept nogil:
    cdef uint32_t shared = 0, non_shared = 0, vlen = 0
    cdef const uint8_t *end = c.data + c.limit
    cdef const uint8_t *p = decode_varint32(c.data + off, end, &shared)
    p = decode_varint32(p, end, &non_shared)
    p = decode_varint32(p, end, &vlen)
    memcpy(c.key + shared, p, non_shared)
    c.key_len = shared + non_shared
    c.val = p + non_shared
    c.val_len = vlen
    c.cur = off
    c.nxt = <uint32_t>(p - c.data) + non_shared + vlen
    while c.restart_idx + 1 < c.num_restarts and _restart(c, c.restart_idx + 1) <= off:
        c.restart_idx += 1


cdef inline void _seek_to_restart(BlockCursor *c, uint32_t i) noexcept nogil:
    c.restart_idx = i
    c.key_len = 0
    _parse(c, _restart(c, i))


cdef int cursor_attach(BlockCursor *c, Block b) except -1:
    cdef size_t need = b.max_key_len if b.max_key_len else 1
    cdef uint8_t *grown
    if c.key == NULL or c.key_cap < need:
        # the old contents need not survive: attaching invalidates the position
        grown = <uint8_t *>(realloc(c.key, need) if c.owned else malloc(need))
        if grown == NULL:
            raise MemoryError()
        c.key = grown
        c.key_cap = need
        c.owned = True
    c.data = b.data
    c.limit = b.limit
    c.num_restarts = b.num_restarts
    c.restart_idx = 0
    _invalidate(c)
    return 0


cdef void cursor_release(BlockCursor *c) noexcept nogil:
    if c.owned:
        free(c.key)
    c.owned = False
    c.key = NULL
    c.key_cap = 0
    c.limit = 0
    c.cur = 0


cdef void cursor_seek_to_first(BlockCursor *c) noexcept nogil:
    if c.limit == 0:
        _invalidate(c)
        return
    _seek_to_restart(c, 0)


cdef void cursor_seek_to_last(BlockCursor *c) noexcept nogil:
    if c.limit == 0:
        _invalidate(c)
        return
    _seek_to_restart(c, c.num_restarts - 1)
    while c.nxt < c.limit:
        _parse(c, c.nxt)


cdef void cursor_seek_to_restart_point(BlockCursor *c, uint32_t i) noexcept nogil:
    if c.limit == 0 or i >= c.num_restarts:
        _invalidate(c)
        return
    _seek_to_restart(c, i)


cdef inline int _compare_from(const uint8_t *k, size_t klen, const uint8_t *t, size_t tlen,
                              size_t *m) noexcept nogil:
    """compare_internal(k, t), given that the first m[0] bytes of k and t are equal (an m[0]
    past the shorter user key means all of it: the loops below then do not run). Sets m[0] to
    the length of the common prefix of the two user keys, so the next entry of a scan, which
    shares `shared` bytes with k, can start at min(m[0], shared)."""
    cdef size_t ku = klen - 8, tu = tlen - 8
    cdef size_t lim = ku if ku < tu else tu
    cdef size_t i = m[0]
    cdef uint64_t x, ta, tb
    while i + 8 <= lim:
        x = load_u64_le(k + i) ^ load_u64_le(t + i)
        if x:
            i += <size_t>(ctz64(x) >> 3)      # little-endian load: the lowest byte differs first
            m[0] = i
            return <int>k[i] - <int>t[i]
        i += 8
    while i < lim:
        if k[i] != t[i]:
            m[0] = i
            return <int>k[i] - <int>t[i]
        i += 1
    m[0] = lim
    if ku != tu:
        return -1 if ku < tu else 1
    ta = load_u64_le(k + ku)
    tb = load_u64_le(t + tu)
    return -1 if ta > tb else (1 if ta < tb else 0)


cdef inline const uint8_t *_decode_header(const uint8_t *p, const uint8_t *end,
                                          uint32_t *shared, uint32_t *non_shared,
                                          uint32_t *vlen) noexcept nogil:
    # An entry's three varints, in one step when each is one byte (the usual case: keys and
    # values under 128 bytes). A validated entry has at least three header bytes before end.
    if ((p[0] | p[1] | p[2]) & 0x80) == 0:
        shared[0] = p[0]
        non_shared[0] = p[1]
        vlen[0] = p[2]
        return p + 3
    p = decode_varint32(p, end, shared)
    p = decode_varint32(p, end, non_shared)
    return decode_varint32(p, end, vlen)


cdef inline void _copy_key_delta(uint8_t *d, const uint8_t *s, size_t n) noexcept nogil:
    # memcpy(d, s, n) without the libc call for the common delta of 8..16 bytes (a few bytes of
    # user key + the trailer): two overlapping 8-byte moves, which write nothing outside d[:n]
    cdef uint64_t a, b
    if 8 <= n <= 16:
        memcpy(&a, s, 8)
        memcpy(&b, s + n - 8, 8)
        memcpy(d, &a, 8)
        memcpy(d + n - 8, &b, 8)
    else:
        memcpy(d, s, n)


cdef void cursor_seek(BlockCursor *c, const uint8_t *target, size_t n) noexcept nogil:
    cdef uint32_t left = 0, right, mid, shared = 0, non_shared = 0, vlen = 0, i, off, stop
    cdef size_t m = 0
    cdef const uint8_t *p
    cdef const uint8_t *end = c.data + c.limit
    cdef bint whole = c.limit <= PREFETCH_WHOLE_BLOCK
    if c.limit == 0:
        _invalidate(c)
        return
    right = c.num_restarts - 1
    if whole:
        prefetch(end)                       # the restart array first: everything waits on it
        prefetch_range(c.data, end)
    else:
        prefetch(c.data)
        if right <= 8:
            for i in range(1, right + 1):
                prefetch(c.data + _restart(c, i))
    while left < right:
        mid = (left + right + 1) // 2
        p = _decode_header(c.data + _restart(c, mid), end, &shared, &non_shared, &vlen)
        m = 0
        if _compare_from(p, non_shared, target, n, &m) < 0:
            left = mid
        else:
            right = mid - 1
    off = _restart(c, left)
    stop = _restart(c, left + 1) if left + 1 < c.num_restarts else c.limit
    if not whole:
        prefetch_range(c.data + off, c.data + stop)
    # Scan from restart `left` (what _parse does, inlined): each key is the previous key's
    # first `shared` bytes + its delta, so it agrees with the target on min(m, shared) bytes
    # and the compare starts there. `stop` is where the next restart interval begins.
    c.restart_idx = left
    m = 0
    while True:
        p = _decode_header(c.data + off, end, &shared, &non_shared, &vlen)
        _copy_key_delta(c.key + shared, p, non_shared)
        c.key_len = shared + non_shared
        if m > shared:
            m = shared
        if _compare_from(c.key, c.key_len, target, n, &m) >= 0:
            break
        off = <uint32_t>(p - c.data) + non_shared + vlen
        if off >= c.limit:
            _invalidate(c)
            return
        if off == stop:
            c.restart_idx += 1
            stop = _restart(c, c.restart_idx + 1) if c.restart_idx + 1 < c.num_restarts \
                else c.limit
    c.cur = off
    c.val = p + non_shared
    c.val_len = vlen
    c.nxt = <uint32_t>(p - c.data) + non_shared + vlen


cdef void cursor_seek_for_prev(BlockCursor *c, const uint8_t *target, size_t n) noexcept nogil:
    cursor_seek(c, target, n)
    if not cursor_valid(c):
        cursor_seek_to_last(c)
    elif compare_internal(c.key, c.key_len, target, n) > 0:
        cursor_prev(c)


cdef void cursor_next(BlockCursor *c) noexcept nogil:
    if c.cur >= c.limit:
        return
    if c.nxt >= c.limit:
        _invalidate(c)
    else:
        _parse(c, c.nxt)


cdef void cursor_prev(BlockCursor *c) noexcept nogil:
    cdef uint32_t original = c.cur
    cdef uint32_t ri = c.restart_idx
    if original >= c.limit:
        return
    while _restart(c, ri) >= original:
        if ri == 0:
            _invalidate(c)
            return
        ri -= 1
    _seek_to_restart(c, ri)
    while c.nxt < original:
        _parse(c, c.nxt)


cdef class BlockIterator(InternalIterator):
    """Iterator over a Block of internal keys (forward, backward, seek, seek_for_prev)."""

    def __cinit__(self, Block block not None):
        if not block.internal_keys:
            raise InvalidArgumentError("BlockIterator needs a block of internal keys")
        self.block = block
        cursor_init(&self.cur, NULL, 0)
        cursor_attach(&self.cur, block)

    def __dealloc__(self):
        cursor_release(&self.cur)

    cdef int c_seek_to_first(self) except -1:
        cursor_seek_to_first(&self.cur)
        return 0

    cdef int c_seek_to_last(self) except -1:
        cursor_seek_to_last(&self.cur)
        return 0

    cdef int c_seek(self, const uint8_t *target, Py_ssize_t n) except -1:
        cursor_seek(&self.cur, target, n)
        return 0

    cdef int c_seek_for_prev(self, const uint8_t *target, Py_ssize_t n) except -1:
        cursor_seek_for_prev(&self.cur, target, n)
        return 0

    cdef int c_next(self) except -1:
        cursor_next(&self.cur)
        return 0

    cdef int c_prev(self) except -1:
        cursor_prev(&self.cur)
        return 0

    cdef bint c_valid(self) noexcept:
        return cursor_valid(&self.cur)

    cdef const uint8_t *c_key(self, Py_ssize_t *n) noexcept:
        n[0] = self.cur.key_len
        return self.cur.key

    cdef const uint8_t *c_value(self, Py_ssize_t *n) noexcept:
        n[0] = self.cur.val_len
        return self.cur.val

    @property
    def restart_index(self) -> int:
        """The restart interval holding the current entry (for tests: prev() relies on it)."""
        return self.cur.restart_idx


def decode_kv_block(data, file=None, offset=None) -> list:
    """All (key, value) pairs of a block with arbitrary keys (meta blocks), in block order."""
    cdef Block block = Block(data, file, offset, internal_keys=False)
    cdef BlockCursor c
    cdef list out = []
    cursor_init(&c, NULL, 0)
    cursor_attach(&c, block)
    try:
        cursor_seek_to_first(&c)
        while cursor_valid(&c):
            out.append((PyBytes_FromStringAndSize(<const char *>c.key, c.key_len),
                        PyBytes_FromStringAndSize(<const char *>c.val, c.val_len)))
            cursor_next(&c)
    finally:
        cursor_release(&c)
    return out


cdef class BlockBuilder:
    """Builds one block. Keys must be added in the order readers expect (the SSTable
    builder checks internal order); after ``finish()`` call ``reset()`` to start over."""

    def __cinit__(self, int restart_interval=16):
        if restart_interval < 1:
            raise InvalidArgumentError(f"restart_interval must be >= 1, got {restart_interval}")
        self.restart_interval = restart_interval
        self.buf = NULL
        self.buf_cap = 0
        self.restarts = NULL
        self.restarts_cap = 0
        self.last_key = NULL
        self.last_cap = 0
        self.restarts = <uint32_t *>malloc(16 * sizeof(uint32_t))
        if self.restarts == NULL:
            raise MemoryError()
        self.restarts_cap = 16
        self.c_reset()

    def __dealloc__(self):
        free(self.buf)
        free(self.restarts)
        free(self.last_key)

    cdef void c_reset(self) noexcept:
        self.buf_len = 0
        self.num_restarts = 1
        self.restarts[0] = 0
        self.counter = 0
        self.last_len = 0
        self.num_entries = 0
        self.finished = False

    cdef int c_add(self, const uint8_t *k, size_t kn, const uint8_t *v, size_t vn) except -1:
        cdef size_t shared = 0, lim, non_shared
        cdef uint32_t *grown
        cdef uint8_t *p
        if self.finished:
            raise InvalidArgumentError("BlockBuilder.add after finish(); call reset() first")
        if <uint64_t>self.buf_len + kn + vn + 4 * (self.num_restarts + 1) + 32 > MAX_BLOCK_BYTES:
            raise InvalidArgumentError("block would exceed the 4 GiB block limit")
        if self.counter < self.restart_interval:
            lim = kn if kn < self.last_len else self.last_len
            while shared < lim and self.last_key[shared] == k[shared]:
                shared += 1
        else:
            if self.num_restarts == self.restarts_cap:
                grown = <uint32_t *>realloc(self.restarts,
                                            2 * self.restarts_cap * sizeof(uint32_t))
                if grown == NULL:
                    raise MemoryError()
                self.restarts = grown
                self.restarts_cap *= 2
            self.restarts[self.num_restarts] = <uint32_t>self.buf_len
            self.num_restarts += 1
            self.counter = 0
        non_shared = kn - shared
        _grow(&self.buf, &self.buf_cap, self.buf_len + 15 + non_shared + vn)
        p = self.buf + self.buf_len
        p = encode_varint32(p, <uint32_t>shared)
        p = encode_varint32(p, <uint32_t>non_shared)
        p = encode_varint32(p, <uint32_t>vn)
        if non_shared:
            memcpy(p, k + shared, non_shared)
        p += non_shared
        if vn:
            memcpy(p, v, vn)
        p += vn
        self.buf_len = p - self.buf
        _grow(&self.last_key, &self.last_cap, kn if kn else 1)
        if non_shared:
            memcpy(self.last_key + shared, k + shared, non_shared)
        self.last_len = kn
        self.counter += 1
        self.num_entries += 1
        return 0

    cdef bytes c_finish(self):
        cdef size_t i
        cdef uint8_t *p
        if not self.finished:
            _grow(&self.buf, &self.buf_cap, self.buf_len + 4 * self.num_restarts + 4)
            p = self.buf + self.buf_len
            for i in range(self.num_restarts):
                store_u32_le(p, self.restarts[i])
                p += 4
            store_u32_le(p, <uint32_t>self.num_restarts)
            self.buf_len += 4 * self.num_restarts + 4
            self.finished = True
        return PyBytes_FromStringAndSize(<const char *>self.buf, self.buf_len)

    def add(self, key, value) -> None:
        cdef bytes k = as_bytes(key)
        cdef bytes v = as_bytes(value)
        self.c_add(<const uint8_t *>PyBytes_AS_STRING(k), PyBytes_GET_SIZE(k),
                   <const uint8_t *>PyBytes_AS_STRING(v), PyBytes_GET_SIZE(v))

    def finish(self) -> bytes:
        return self.c_finish()

    def reset(self) -> None:
        self.c_reset()

    @property
    def estimated_size(self) -> int:
        """Size of the block if finished now (entries + restart array + count)."""
        return self.buf_len if self.finished else self.c_estimated_size()

    @property
    def empty(self) -> bool:
        return self.num_entries == 0

    @property
    def last_key(self) -> bytes:
        return PyBytes_FromStringAndSize(<const char *>self.last_key, self.last_len)
