"""SSTableReader: reads one SSTable (layout in sstable_format.pyx, docs/format/sstable.md),
validating the footer, every handle and every block before use; point lookups through the
bloom filter and the block cache. SSTableIterator: its two-level (index -> data block)
InternalIterator."""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcmp, memcpy

from lsmdb._core.block cimport (
    PREFETCH_WHOLE_BLOCK,
    Block,
    BlockCursor,
    as_bytes,
    cursor_attach,
    cursor_init,
    cursor_next,
    cursor_prev,
    cursor_release,
    cursor_seek,
    cursor_seek_for_prev,
    cursor_seek_to_restart_point,
    cursor_seek_to_first,
    cursor_seek_to_last,
    cursor_valid,
)
from lsmdb._core.bloom cimport BloomFilter, bloom_hash
from lsmdb._core.cache cimport BlockCache
from lsmdb._core.coding cimport load_u32_le, load_u64_le, store_u64_le
from lsmdb._core.crc32 cimport crc32_of, lsmdb_crc32_init
from lsmdb._core.ikey cimport (
    TYPE_DELETE,
    TYPE_MAX,
    TYPE_PUT,
    compare_internal,
    compare_user,
    max_seqno,
    pack_trailer,
)
from lsmdb._core.iterator cimport InternalIterator
from lsmdb._core.sstable_format cimport decode_handle, decompress_block

from lsmdb._core.sstable_format import (
    BLOCK_TRAILER_BYTES,
    COMPRESSION_NONE,
    COMPRESSION_ZSTD,
    FOOTER_BYTES,
    HANDLE_NAMES,
    decode_footer,
    decode_properties,
    decode_range_tombstones,
)
from lsmdb.errors import ClosedError, CorruptionError

lsmdb_crc32_init()

cdef tuple _MISSING = (0, None, 0)


cdef inline uint64_t _head(const uint8_t *k, size_t ulen, size_t skip) noexcept nogil:
    """Big-endian value of user-key bytes [skip, skip + 8), zero-padded past ulen: equal
    prefixes and different heads order two keys like their bytes do."""
    cdef uint64_t h = 0
    cdef size_t i
    for i in range(skip, skip + 8):
        h = (h << 8) | (k[i] if i < ulen else 0)
    return h


cdef class BlockHint:
    """Scratch for a sorted multi-key read: the last data block one lookup used."""


cdef class SSTableReader:
    """Reads one SSTable from an Env RandomAccessFile (``pread``, ``size``, ``path`` and
    optionally ``mmap_view()``, used for zero-copy reads when it returns a view and ``mmap``
    is True; a file truncated while mapped then kills the process with SIGBUS at the next
    access to the lost pages, where pread reports a short read as CorruptionError).

    With a shared ``cache``, ``file_number`` must be unique among the cache's files: it
    is half of every cache key."""

    def __cinit__(self, file, *, file_number=0, BlockCache cache=None,
                  bint verify_checksums=True, bint mmap=True):
        self.file = file
        self.path = getattr(file, "path", None)
        self.file_number = file_number
        self.cache = cache
        if cache is not None:
            self._cache_file = file_number
        self.verify = verify_checksums
        self.file_size = file.size
        mmap_view = getattr(file, "mmap_view", None) if mmap else None
        self._mmap = mmap_view() if mmap_view is not None else None
        if self._mmap is not None and <uint64_t>len(self._mmap) != self.file_size:
            self._mmap = None
        self._open()

    def _open(self):
        path = self.path
        if self.file_size < FOOTER_BYTES:
            raise CorruptionError(
                f"file of {self.file_size} bytes is shorter than the SSTable footer", path, 0)
        cdef uint64_t footer_at = self.file_size - FOOTER_BYTES
        footer = decode_footer(self._read(footer_at, FOOTER_BYTES), path, footer_at)
        for name in HANDLE_NAMES:
            off, size = footer[name]
            if off > footer_at or size > footer_at - off or \
                    size + BLOCK_TRAILER_BYTES > footer_at - off:
                raise CorruptionError(f"{name} block handle ({off}, {size}) is out of bounds",
                                      path, footer_at)
        self.footer = footer
        self.data_end = footer["filter"][0]
        off, size = footer["index"]
        self.index = Block(self._read_block_payload(off, size, True), path, off)
        off, size = footer["filter"]
        self.bloom = BloomFilter(self._read_block_payload(off, size, True), path, off)
        off, size = footer["properties"]
        self.properties = decode_properties(self._read_block_payload(off, size, True), path, off)
        off, size = footer["range_del"]
        self._tombstones = decode_range_tombstones(self._read_block_payload(off, size, True),
                                                   path, off)
        self._check_index()
        self._decode_index()

    def __dealloc__(self):
        free(self._ix)

    cdef int _decode_index(self) except -1:
        """Fill _ix from the (validated) index block. Index blocks are written with restart
        interval 1, so every key is stored whole; a block that shares prefixes (not written
        by lsmdb) leaves _ix NULL and lookups seek the block itself. Entry i is then also
        restart point i, which is how iterators position their index cursor."""
        cdef BlockCursor c
        cdef Py_ssize_t n = self.index.num_entries, i = 0
        cdef IndexEntry *ix
        cdef const uint8_t *first = NULL
        cdef size_t lcp = 0, ulen, j
        if n == 0 or self.index.num_restarts != n:
            return 0
        ix = <IndexEntry *>malloc(n * sizeof(IndexEntry))
        if ix == NULL:
            raise MemoryError()
        cursor_init(&c, NULL, 0)
        cursor_attach(&c, self.index)
        try:
            cursor_seek_to_first(&c)
            while cursor_valid(&c) and i < n:
                if c.data[c.cur] != 0:       # shared != 0: the key is not stored whole
                    free(ix)
                    return 0
                ix[i].key = c.val - c.key_len
                ix[i].key_len = <uint32_t>c.key_len
                decode_handle(c.val, c.val_len, &ix[i].offset, &ix[i].size)
                ulen = c.key_len - 8
                if i == 0:
                    first = ix[0].key
                    lcp = ulen
                else:
                    j = 0
                    while j < lcp and j < ulen and ix[i].key[j] == first[j]:
                        j += 1
                    lcp = j
                i += 1
                cursor_next(&c)
        finally:
            cursor_release(&c)
        for j in range(<size_t>i):
            ix[j].head = _head(ix[j].key, ix[j].key_len - 8, lcp)
        self._ix = ix
        self._nix = i
        self._ix_prefix = first
        self._ix_prefix_len = lcp
        return 0

    cdef Py_ssize_t _index_find(self, const uint8_t *target, size_t n) noexcept nogil:
        """Ordinal of the first index entry >= the internal key target (n bytes), or _nix."""
        cdef Py_ssize_t lo = 0, hi = self._nix, mid
        cdef size_t p = self._ix_prefix_len
        cdef uint64_t th
        cdef int c
        cdef const IndexEntry *e
        if p:
            c = compare_user(target, p if n - 8 >= p else n - 8, self._ix_prefix, p)
            if c < 0:
                return 0
            if c > 0:
                return self._nix
        th = _head(target, n - 8, p)
        while lo < hi:
            mid = (lo + hi) >> 1
            e = &self._ix[mid]
            if e.head != th:
                c = -1 if e.head < th else 1
            else:
                c = compare_internal(e.key, e.key_len, target, n)
            if c < 0:
                lo = mid + 1
            else:
                hi = mid
        return lo

    cdef int _check_index(self) except -1:
        cdef BlockCursor c
        cdef uint64_t off, size, prev_end = 0
        cursor_init(&c, NULL, 0)
        cursor_attach(&c, self.index)
        try:
            cursor_seek_to_first(&c)
            while cursor_valid(&c):
                if not decode_handle(c.val, c.val_len, &off, &size):
                    raise CorruptionError("malformed block handle in the index", self.path,
                                          self.footer["index"][0] + c.cur)
                if off < prev_end or off > self.data_end or size > self.data_end - off or \
                        size + BLOCK_TRAILER_BYTES > self.data_end - off:
                    raise CorruptionError(f"data block handle ({off}, {size}) is out of bounds",
                                          self.path, self.footer["index"][0] + c.cur)
                prev_end = off + size + BLOCK_TRAILER_BYTES
                cursor_next(&c)
        finally:
            cursor_release(&c)
        return 0

    cdef object _read(self, uint64_t offset, uint64_t n):
        if self.closed:
            raise ClosedError(f"SSTableReader for {self.path} is closed")
        if self._mmap is not None:
            return self._mmap[offset:offset + n]
        data = self.file.pread(offset, n)
        if <uint64_t>len(data) != n:
            raise CorruptionError(f"short read: {len(data)} of {n} bytes", self.path, offset)
        return data

    cdef object _read_block_payload(self, uint64_t offset, uint64_t size, bint verify):
        raw = self._read(offset, size + BLOCK_TRAILER_BYTES)
        cdef Py_buffer buf
        cdef const uint8_t *v
        cdef bint held = not isinstance(raw, bytes)
        cdef uint8_t tag
        cdef uint32_t stored, crc
        # The raw pointer, not a typed memoryview: this runs on every block cache miss.
        if held:
            PyObject_GetBuffer(raw, &buf, PyBUF_SIMPLE)
            v = <const uint8_t *>buf.buf
        else:
            v = <const uint8_t *>PyBytes_AS_STRING(raw)
        try:
            tag = v[size]
            stored = load_u32_le(v + size + 1)
            if verify:
                with nogil:  # C loop over a pinned buffer
                    crc = crc32_of(v, size + 1)
                if crc != stored:
                    raise CorruptionError("block checksum mismatch", self.path, offset)
        finally:
            if held:
                PyBuffer_Release(&buf)
        payload = memoryview(raw)[:size]
        if tag == COMPRESSION_NONE:
            return payload
        if tag == COMPRESSION_ZSTD:
            return decompress_block(payload, self.path, offset)
        raise CorruptionError(f"unknown block compression tag {tag}", self.path, offset + size)

    cdef Block c_data_block(self, uint64_t offset, uint64_t size):
        cdef object cached
        cdef Block blk
        if self.cache is not None:
            cached = self.cache.c_lookup(self._cache_file, offset)
            if cached is not None:
                self.cache_hits += 1
                return <Block>cached
        blk = Block(self._read_block_payload(offset, size, self.verify), self.path, offset)
        self.data_blocks_read += 1
        if self.cache is not None:
            # A hit prefetches the block (a small one whole, else its restart array, which a
            # search reads first), so those misses overlap the load of the Block object.
            if blk.limit <= PREFETCH_WHOLE_BLOCK:  # the rule cursor_seek applies
                self.cache.c_insert(self._cache_file, offset, blk, blk.charge, blk.data,
                                    blk.size)
            else:
                self.cache.c_insert(self._cache_file, offset, blk, blk.charge,
                                    blk.data + blk.limit, 64)
        return blk

    cdef object c_get(self, const uint8_t *uk, size_t n, uint64_t snapshot,
                      BlockHint hint=None):
        """(status, value, seqno) as get() returns it."""
        cdef int status = 0
        cdef uint64_t seq = 0
        value = self.c_lookup(uk, n, snapshot, hint, &status, &seq)
        return _MISSING if status == 0 else (status, value, seq)

    cdef object c_lookup(self, const uint8_t *uk, size_t n, uint64_t snapshot, BlockHint hint,
                         int *status, uint64_t *seqno):
        """The newest point entry of uk at snapshot: status 1 (PUT; returns its value), 2
        (DELETE) or 0 (none), its seqno in *seqno. No result tuple: ReadView calls this once
        per table a get reaches."""
        cdef uint64_t h[2]
        cdef uint64_t off = 0, size = 0, trailer
        cdef bint bloomed = False, found
        cdef Py_ssize_t ordinal
        cdef BlockCursor ic
        cdef BlockCursor dc
        cdef uint8_t *target
        cdef Block blk
        cdef int vtype
        # stack scratch for the seek target and both cursors' keys (typical keys fit)
        cdef uint8_t tbuf[256]
        cdef uint8_t ibuf[256]
        cdef uint8_t dbuf[256]
        if self.closed:
            raise ClosedError(f"SSTableReader for {self.path} is closed")
        if snapshot > max_seqno():
            snapshot = max_seqno()
        if not self.bloom.no_filter:
            self.bloom_checks += 1
            bloom_hash(uk, n, h)
            if not self.bloom.c_may_contain_hash(h[0], h[1]):
                self.bloom_negatives += 1
                status[0] = 0
                return None
            bloomed = True
        if n + 8 <= sizeof(tbuf):
            target = &tbuf[0]
        else:
            target = <uint8_t *>malloc(n + 8)
        if target == NULL:
            raise MemoryError()
        cursor_init(&ic, ibuf, sizeof(ibuf))
        cursor_init(&dc, dbuf, sizeof(dbuf))
        try:
            memcpy(target, uk, n)
            store_u64_le(target + n, pack_trailer(snapshot, TYPE_MAX))
            if self._ix != NULL:
                ordinal = self._index_find(target, n + 8)
                found = ordinal < self._nix
                if found:
                    off = self._ix[ordinal].offset
                    size = self._ix[ordinal].size
            else:
                cursor_attach(&ic, self.index)
                cursor_seek(&ic, target, n + 8)
                found = cursor_valid(&ic)
                if found:
                    decode_handle(ic.val, ic.val_len, &off, &size)   # validated at open
            if found:
                if hint is None:
                    blk = self.c_data_block(off, size)
                elif hint.block is not None and hint.reader is self and hint.offset == off:
                    blk = hint.block
                else:
                    blk = self.c_data_block(off, size)
                    hint.reader = self
                    hint.offset = off
                    hint.block = blk
                cursor_attach(&dc, blk)
                cursor_seek(&dc, target, n + 8)
                if cursor_valid(&dc) and dc.key_len - 8 == n and \
                        (n == 0 or memcmp(dc.key, uk, n) == 0):
                    trailer = load_u64_le(dc.key + n)
                    vtype = <int>(trailer & 0xFF)
                    seqno[0] = trailer >> 8
                    if vtype == TYPE_PUT:
                        status[0] = 1
                        return PyBytes_FromStringAndSize(<const char *>dc.val, dc.val_len)
                    if vtype == TYPE_DELETE:
                        status[0] = 2
                        return None
                    raise CorruptionError(f"data block entry has value type {vtype}",
                                          self.path, off)
            if bloomed:
                self.bloom_false_positives += 1
            status[0] = 0
            return None
        finally:
            if target != &tbuf[0]:
                free(target)
            cursor_release(&ic)
            cursor_release(&dc)

    def get(self, user_key, uint64_t snapshot_seqno=(1 << 56) - 1) -> tuple:
        """Newest point entry of user_key with seqno <= snapshot: (1, value, seqno) for a
        PUT, (2, None, seqno) for a DELETE, (0, None, 0) if none. Range tombstones are
        not applied (see range_tombstones())."""
        cdef bytes k = as_bytes(user_key)
        return self.c_get(<const uint8_t *>PyBytes_AS_STRING(k), PyBytes_GET_SIZE(k),
                          snapshot_seqno)

    def get_many(self, user_keys, uint64_t snapshot_seqno=(1 << 56) - 1) -> list:
        """[get(k, snapshot_seqno) for k in user_keys] in one C loop."""
        cdef list out = []
        cdef bytes k
        for key in user_keys:
            k = as_bytes(key)
            out.append(self.c_get(<const uint8_t *>PyBytes_AS_STRING(k), PyBytes_GET_SIZE(k),
                                  snapshot_seqno))
        return out

    def may_contain(self, user_key) -> bool:
        """The bloom filter's answer (True when the table has no filter)."""
        cdef bytes k = as_bytes(user_key)
        return self.bloom.c_may_contain(<const uint8_t *>PyBytes_AS_STRING(k),
                                        PyBytes_GET_SIZE(k))

    def iterator(self) -> SSTableIterator:
        if self.closed:
            raise ClosedError(f"SSTableReader for {self.path} is closed")
        return SSTableIterator(self)

    def range_tombstones(self) -> list:
        """[(start, end, seqno)] sorted by (start, seqno desc, end)."""
        return list(self._tombstones)

    @property
    def smallest_key(self):
        """Smallest internal key (point entries and range-tombstone starts); None if empty."""
        k = self.properties.get("smallest_key", b"")
        return k if k else None

    @property
    def largest_key(self):
        """Largest internal key; a range tombstone [s, e) contributes (e, MAX_SEQNO,
        RANGE_DELETE), which sorts before every real entry of e. None if empty."""
        k = self.properties.get("largest_key", b"")
        return k if k else None

    @property
    def num_entries(self) -> int:
        return self.properties.get("entries", 0)

    @property
    def bloom_num_bits(self) -> int:
        return self.bloom.nbits

    @property
    def bloom_format(self):
        """The filter's layout: "blocked", "standard", or None (no filter)."""
        return self.bloom.format

    @property
    def bloom_num_probes(self) -> int:
        return self.bloom.k

    def block_handles(self) -> list:
        """[(last_internal_key, offset, size)] of every data block, in file order."""
        cdef BlockCursor c
        cdef uint64_t off = 0, size = 0
        cdef list out = []
        cursor_init(&c, NULL, 0)
        cursor_attach(&c, self.index)
        try:
            cursor_seek_to_first(&c)
            while cursor_valid(&c):
                decode_handle(c.val, c.val_len, &off, &size)
                out.append((PyBytes_FromStringAndSize(<const char *>c.key, c.key_len), off,
                            size))
                cursor_next(&c)
        finally:
            cursor_release(&c)
        return out

    def read_block(self, uint64_t offset, uint64_t size) -> bytes:
        """The (decompressed) payload of the block at a handle, crc always verified."""
        if offset > self.file_size or size + BLOCK_TRAILER_BYTES > self.file_size - offset:
            raise CorruptionError(f"block handle ({offset}, {size}) is out of bounds",
                                  self.path, offset)
        return bytes(self._read_block_payload(offset, size, True))

    def data_block(self, uint64_t offset, uint64_t size) -> Block:
        """The parsed data block at a handle from block_handles() (through the cache)."""
        if offset > self.data_end or size + BLOCK_TRAILER_BYTES > self.data_end - offset:
            raise CorruptionError(f"data block handle ({offset}, {size}) is out of bounds",
                                  self.path, offset)
        return self.c_data_block(offset, size)

    def close(self) -> None:
        """Release the file. Iterators already created keep their pinned blocks only."""
        if self.closed:
            return
        self.closed = True
        self._mmap = None
        close = getattr(self.file, "close", None)
        if close is not None:
            close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


cdef class SSTableIterator(InternalIterator):
    """Two-level iterator: index block cursor -> data block cursor."""

    def __cinit__(self, SSTableReader reader not None):
        self.reader = reader
        self.index = reader.index
        cursor_init(&self.ic, NULL, 0)
        cursor_init(&self.dc, NULL, 0)
        cursor_attach(&self.ic, self.index)
        self._clear_data()

    def __dealloc__(self):
        cursor_release(&self.ic)
        cursor_release(&self.dc)

    cdef void _clear_data(self) noexcept:
        self.data = None
        self.dc.limit = 0
        self.dc.cur = 0

    def release(self) -> None:
        """Drop the data block (the iterator is then invalid until positioned again): an
        iterator kept for later use pins no block meanwhile."""
        self._clear_data()

    cdef int _load_current(self) except -1:
        cdef uint64_t off = 0, size = 0
        decode_handle(self.ic.val, self.ic.val_len, &off, &size)   # validated at open
        blk = self.reader.c_data_block(off, size)
        self.data = blk
        self.data_offset = off
        cursor_attach(&self.dc, blk)
        return 0

    cdef int _load_for_seek(self) except -1:
        """The data block under the index cursor, unless it is already the loaded one: a
        seek near the previous one (an index scan, a short range read after a get) stays
        in its block without a block-cache lookup."""
        cdef uint64_t off = 0, size = 0
        if self.data is not None:
            decode_handle(self.ic.val, self.ic.val_len, &off, &size)
            if off == self.data_offset:
                return 0
        return self._load_current()

    cdef int _skip_forward(self) except -1:
        while not cursor_valid(&self.dc):
            if not cursor_valid(&self.ic):
                self._clear_data()
                return 0
            cursor_next(&self.ic)
            if not cursor_valid(&self.ic):
                self._clear_data()
                return 0
            self._load_current()
            cursor_seek_to_first(&self.dc)
        return 0

    cdef int _skip_backward(self) except -1:
        while not cursor_valid(&self.dc):
            if not cursor_valid(&self.ic):
                self._clear_data()
                return 0
            cursor_prev(&self.ic)
            if not cursor_valid(&self.ic):
                self._clear_data()
                return 0
            self._load_current()
            cursor_seek_to_last(&self.dc)
        return 0

    cdef int c_seek_to_first(self) except -1:
        cursor_seek_to_first(&self.ic)
        if not cursor_valid(&self.ic):
            self._clear_data()
            return 0
        self._load_current()
        cursor_seek_to_first(&self.dc)
        return self._skip_forward()

    cdef int c_seek_to_last(self) except -1:
        cursor_seek_to_last(&self.ic)
        if not cursor_valid(&self.ic):
            self._clear_data()
            return 0
        self._load_current()
        cursor_seek_to_last(&self.dc)
        return self._skip_backward()

    cdef void _seek_index(self, const uint8_t *target, Py_ssize_t n) noexcept:
        """The index cursor on the first block whose last key >= target."""
        if self.reader._ix != NULL:
            cursor_seek_to_restart_point(
                &self.ic, <uint32_t>self.reader._index_find(target, <size_t>n))
        else:
            cursor_seek(&self.ic, target, n)

    cdef int c_seek(self, const uint8_t *target, Py_ssize_t n) except -1:
        self._seek_index(target, n)
        if not cursor_valid(&self.ic):
            self._clear_data()
            return 0
        self._load_for_seek()
        cursor_seek(&self.dc, target, n)
        return self._skip_forward()

    cdef int c_seek_for_prev(self, const uint8_t *target, Py_ssize_t n) except -1:
        self._seek_index(target, n)
        if not cursor_valid(&self.ic):
            return self.c_seek_to_last()
        self._load_for_seek()
        cursor_seek_for_prev(&self.dc, target, n)
        return self._skip_backward()

    cdef int c_next(self) except -1:
        if not cursor_valid(&self.dc):
            return 0
        cursor_next(&self.dc)
        return self._skip_forward()

    cdef int c_prev(self) except -1:
        if not cursor_valid(&self.dc):
            return 0
        cursor_prev(&self.dc)
        return self._skip_backward()

    cdef bint c_valid(self) noexcept:
        return cursor_valid(&self.dc)

    cdef const uint8_t *c_key(self, Py_ssize_t *n) noexcept:
        n[0] = self.dc.key_len
        return self.dc.key

    cdef const uint8_t *c_value(self, Py_ssize_t *n) noexcept:
        n[0] = self.dc.val_len
        return self.dc.val
