"""SSTable: the one table format of lsmdb (SPEC section 3), builder and reader.

File layout (format_version 1; never change; worked example in docs/format/sstable.md)::

    sstable      := data_block* filter_block range_del_block properties_block
                    index_block footer
    <X>_block    := payload[size] compression:u8 crc32:fixed32     (the 5-byte block trailer)
                    compression 0 = raw, 1 = zstd frame (with content size)
                    crc32 (zlib polynomial) covers payload + compression byte
    handle       := (offset, size): where a block's payload starts and its length (the
                    trailer follows the payload and is not counted in size)

    data block   payload: a block (block.pyx) of internal keys -> values, internal order
                 strictly increasing across the whole file; zstd-compressed when that
                 saves >= 12.5 %, else raw
    filter block payload: ONE bloom filter (bloom.pyx) over the distinct user keys of all
                 point entries of the file; empty payload when bits_per_key is 0
    range_del    payload: a block with arbitrary keys: start user key ->
                 fixed64 LE seqno | end user key; sorted by (start, seqno desc, end);
                 each entry deletes user keys in [start, end) with seqno < its seqno
    properties   payload: a block with arbitrary keys: property name (ASCII, sorted) ->
                 type:u8 value, type 'i' varint64 (unsigned int), 'f' float64 LE,
                 's' UTF-8 text, 'b' raw bytes
    index block  payload: a block (restart interval 1) of internal keys: for each data
                 block, its last internal key -> varint64 offset | varint64 size
    footer       := filter:handle64 range_del:handle64 properties:handle64 index:handle64
                    format_version:fixed32 magic:fixed64 crc32:fixed32      (80 bytes)
                    handle64 = fixed64 LE offset | fixed64 LE size
                    magic = bytes 89 4C 53 4D 53 53 54 0A ("\\x89LSMSST\\n")
                    crc32 covers the 76 footer bytes before it

Meta blocks are written raw; readers accept either compression tag on every block.
Reading validates everything before use: footer (magic, crc, version), every handle
against the file bounds, every block's crc (data blocks: unless verify_checksums=False),
every block's structure (block.pyx). Any problem raises CorruptionError naming the file
and offset; a newer format_version raises FormatVersionError.
"""

import struct
import threading
import time

import zstandard

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcmp, memcpy

from lsmdb._core.block cimport (
    Block,
    BlockBuilder,
    BlockCursor,
    as_bytes,
    cursor_attach,
    cursor_init,
    cursor_next,
    cursor_prev,
    cursor_release,
    cursor_seek,
    cursor_seek_for_prev,
    cursor_seek_to_first,
    cursor_seek_to_last,
    cursor_valid,
)
from lsmdb._core.bloom cimport BloomFilter, BloomFilterBuilder, bloom_hash
from lsmdb._core.cache cimport BlockCache
from lsmdb._core.coding cimport decode_varint64 as _varint64, encode_varint64 as _put_varint64
from lsmdb._core.crc32 cimport crc32_of, lsmdb_crc32_init, lsmdb_crc32_update
from lsmdb._core.ikey cimport (
    TYPE_DELETE,
    TYPE_MAX,
    TYPE_PUT,
    TYPE_RANGE_DELETE,
    compare_internal,
    compare_user,
    load_u64_le,
    max_seqno,
    pack_trailer,
    store_u64_le,
)
from lsmdb._core.iterator cimport InternalIterator

from lsmdb._core.block import decode_kv_block
from lsmdb._core.ikey import MAX_SEQNO, make_internal_key
from lsmdb.errors import ClosedError, CorruptionError, FormatVersionError, InvalidArgumentError

lsmdb_crc32_init()

# On-disk constants: never change.
FORMAT_VERSION = 1
MAGIC = 0x0A5453534D534C89                # bytes 89 4C 53 4D 53 53 54 0A
FOOTER_BYTES = 80
BLOCK_TRAILER_BYTES = 5
COMPRESSION_NONE = 0
COMPRESSION_ZSTD = 1
# Largest decompressed block accepted (one 64 MiB value + a 64 KiB key, with room to spare).
MAX_BLOCK_BYTES = 128 << 20

cdef object _FOOTER = struct.Struct("<8QIQ")
cdef tuple _MISSING = (0, None, 0)
cdef uint64_t _FLUSH_BYTES = 1 << 20
cdef tuple _HANDLE_NAMES = ("filter", "range_del", "properties", "index")
_tls = threading.local()


# ---- small codecs --------------------------------------------------------------------------

cdef bytes _encode_handle(uint64_t offset, uint64_t size):
    cdef uint8_t buf[20]
    cdef uint8_t *end = _put_varint64(_put_varint64(buf, offset), size)
    return PyBytes_FromStringAndSize(<const char *>buf, end - buf)


cdef inline bint _decode_handle(const uint8_t *p, size_t n, uint64_t *offset,
                                uint64_t *size) noexcept nogil:
    cdef const uint8_t *q = _varint64(p, p + n, offset)
    if q == NULL:
        return False
    q = _varint64(q, p + n, size)
    return q != NULL and q == p + n


def encode_varint64(uint64_t v) -> bytes:
    cdef uint8_t buf[10]
    cdef uint8_t *end = _put_varint64(buf, v)
    return PyBytes_FromStringAndSize(<const char *>buf, end - buf)


def encode_footer(handles: dict, int format_version=FORMAT_VERSION) -> bytes:
    """80-byte footer from {"filter"|"range_del"|"properties"|"index": (offset, size)}."""
    fields = []
    for name in _HANDLE_NAMES:
        offset, size = handles[name]
        fields += [offset, size]
    body = _FOOTER.pack(*fields, format_version, MAGIC)
    cdef bytes b = body
    cdef uint32_t crc = crc32_of(<const uint8_t *>PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b))
    return body + struct.pack("<I", crc)


def decode_footer(data, file=None, offset=None) -> dict:
    """Parse an 80-byte footer: {name: (offset, size)..., "format_version": int}."""
    cdef const uint8_t[::1] v = data if isinstance(data, bytes) else memoryview(data).cast("B")
    if v.shape[0] != FOOTER_BYTES:
        raise CorruptionError(f"footer must be {FOOTER_BYTES} bytes, got {v.shape[0]}",
                              file, offset)
    cdef uint64_t magic = load_u64_le(&v[68])
    if magic != MAGIC:
        raise CorruptionError(f"bad SSTable magic {magic:#018x} (not an lsmdb SSTable)", file,
                              None if offset is None else offset + 68)
    cdef uint32_t stored = (<uint32_t>v[76] | (<uint32_t>v[77] << 8) | (<uint32_t>v[78] << 16) |
                            (<uint32_t>v[79] << 24))
    if crc32_of(&v[0], 76) != stored:
        raise CorruptionError("SSTable footer checksum mismatch", file, offset)
    fields = _FOOTER.unpack(bytes(v[:76]))
    version = fields[8]
    if version > FORMAT_VERSION:
        raise FormatVersionError(
            f"SSTable format_version {version} is newer than supported {FORMAT_VERSION}"
            + ("" if file is None else f" ({file})"))
    if version < 1:
        raise CorruptionError(f"invalid SSTable format_version {version}", file,
                              None if offset is None else offset + 64)
    out = {name: (fields[2 * i], fields[2 * i + 1]) for i, name in enumerate(_HANDLE_NAMES)}
    out["format_version"] = version
    return out


def encode_properties(props: dict) -> bytes:
    """Properties block payload (sorted names; typed values)."""
    cdef BlockBuilder b = BlockBuilder(16)
    for name in sorted(props):
        value = props[name]
        if isinstance(value, bool) or isinstance(value, int):
            if value < 0:
                raise InvalidArgumentError(f"property {name} must be >= 0, got {value}")
            enc = b"i" + encode_varint64(int(value))
        elif isinstance(value, float):
            enc = b"f" + struct.pack("<d", value)
        elif isinstance(value, str):
            enc = b"s" + value.encode()
        elif isinstance(value, (bytes, bytearray, memoryview)):
            enc = b"b" + bytes(value)
        else:
            raise InvalidArgumentError(f"property {name} has unsupported type {type(value)}")
        b.add(name.encode(), enc)
    return b.finish()


def decode_properties(data, file=None, offset=None) -> dict:
    cdef dict out = {}
    cdef uint64_t iv
    cdef bytes enc
    cdef const uint8_t *p
    for key, enc in decode_kv_block(data, file, offset):
        try:
            name = key.decode()
        except UnicodeDecodeError:
            raise CorruptionError("property name is not UTF-8", file, offset) from None
        if not enc:
            raise CorruptionError(f"property {name!r} has no type byte", file, offset)
        tag = enc[0]
        p = <const uint8_t *>PyBytes_AS_STRING(enc)
        if tag == 0x69:      # 'i'
            if _varint64(p + 1, p + len(enc), &iv) != p + len(enc):
                raise CorruptionError(f"property {name!r} has a malformed integer", file, offset)
            out[name] = iv
        elif tag == 0x66:    # 'f'
            if len(enc) != 9:
                raise CorruptionError(f"property {name!r} has a malformed float", file, offset)
            out[name] = struct.unpack("<d", enc[1:])[0]
        elif tag == 0x73:    # 's'
            try:
                out[name] = enc[1:].decode()
            except UnicodeDecodeError:
                raise CorruptionError(f"property {name!r} is not UTF-8", file, offset) from None
        elif tag == 0x62:    # 'b'
            out[name] = enc[1:]
        else:
            raise CorruptionError(f"property {name!r} has unknown type {tag}", file, offset)
    return out


def decode_range_tombstones(data, file=None, offset=None) -> list:
    cdef list out = []
    cdef bytes value
    cdef uint64_t seq
    for start, value in decode_kv_block(data, file, offset):
        if len(value) < 8:
            raise CorruptionError("range tombstone value is shorter than its seqno", file,
                                  offset)
        seq = load_u64_le(<const uint8_t *>PyBytes_AS_STRING(value))
        if seq > max_seqno():
            raise CorruptionError(f"range tombstone seqno {seq} exceeds MAX_SEQNO", file,
                                  offset)
        out.append((start, value[8:], seq))
    return out


cdef object _compressor_for(object level):
    return zstandard.ZstdCompressor(level=level, write_content_size=True,
                                    write_checksum=False)


cdef object _decompress(object payload, object file, uint64_t offset):
    dctx = getattr(_tls, "dctx", None)
    if dctx is None:
        # ZstdDecompressor objects are not thread-safe: one per thread.
        dctx = _tls.dctx = zstandard.ZstdDecompressor()
    try:
        size = zstandard.frame_content_size(payload)
    except zstandard.ZstdError as exc:
        raise CorruptionError(f"bad zstd frame header ({exc})", file, offset) from None
    # Cap the allocation by what the frame can legitimately produce (zstd cannot exceed
    # ~1:43690 expansion) and by the largest block lsmdb ever writes.
    if size < 0 or size > MAX_BLOCK_BYTES or size > len(payload) * 65536:
        raise CorruptionError(f"zstd block declares an invalid size {size}", file, offset)
    try:
        out = dctx.decompress(payload, max_output_size=size)
    except zstandard.ZstdError as exc:
        raise CorruptionError(f"zstd block does not decompress ({exc})", file, offset) from None
    if len(out) != size:
        raise CorruptionError("zstd block decompressed to the wrong size", file, offset)
    return out


# ---- builder ------------------------------------------------------------------------------

cdef class SSTableBuilder:
    """Writes one SSTable to ``file`` (anything with ``append(bytes)``, e.g. an Env
    WritableFile, positioned at offset 0). ``finish()`` writes the meta blocks and the
    footer; syncing and closing the file is the caller's job."""

    def __cinit__(self, file, *, Py_ssize_t block_bytes=4096, int restart_interval=16,
                  compression_level=3, double bits_per_key=10.0, int level=0, file_name=None):
        if block_bytes < 64 or block_bytes > (64 << 20):
            raise InvalidArgumentError(f"block_bytes must be in [64, 64 MiB], got {block_bytes}")
        if compression_level is not None:
            if not isinstance(compression_level, int) or not (-7 <= compression_level <= 22):
                raise InvalidArgumentError(
                    f"compression_level must be None or an int in [-7, 22], got "
                    f"{compression_level!r}")
        if level < 0:
            raise InvalidArgumentError(f"level must be >= 0, got {level}")
        self.file = file
        self.file_name = file_name if file_name is not None else getattr(file, "path", None)
        self.data_block = BlockBuilder(restart_interval)
        self.index_block = BlockBuilder(1)
        self.bloom = BloomFilterBuilder(bits_per_key)
        self.bits_per_key = bits_per_key
        self.compression_level = compression_level
        self.compressor = None if compression_level is None else _compressor_for(
            compression_level)
        self.level = level
        self.block_bytes = block_bytes
        self.tombstones = []
        self.pending = []
        self.last_key = NULL
        self.last_cap = 0
        self.min_seqno = max_seqno()

    def __dealloc__(self):
        free(self.last_key)

    cdef int _emit(self, bytes data) except -1:
        self.pending.append(data)
        self.pending_bytes += PyBytes_GET_SIZE(data)
        self.offset += <uint64_t>PyBytes_GET_SIZE(data)
        if <uint64_t>self.pending_bytes >= _FLUSH_BYTES:
            self._flush_pending()
        return 0

    cdef int _flush_pending(self) except -1:
        if self.pending:
            data = b"".join(self.pending)
            self.pending = []
            self.pending_bytes = 0
            self.file.append(data)
        return 0

    cdef tuple _write_block(self, bytes payload, bint compress):
        cdef uint8_t tag = COMPRESSION_NONE
        cdef bytes packed
        cdef Py_ssize_t n = PyBytes_GET_SIZE(payload)
        cdef uint8_t trailer[5]
        cdef uint32_t crc
        if compress and self.compressor is not None and n > 0:
            packed = self.compressor.compress(payload)
            if PyBytes_GET_SIZE(packed) <= n - n // 8:
                payload = packed
                tag = COMPRESSION_ZSTD
                n = PyBytes_GET_SIZE(payload)
        crc = crc32_of(<const uint8_t *>PyBytes_AS_STRING(payload), n)
        crc = lsmdb_crc32_update(crc, &tag, 1)
        trailer[0] = tag
        trailer[1] = <uint8_t>crc
        trailer[2] = <uint8_t>(crc >> 8)
        trailer[3] = <uint8_t>(crc >> 16)
        trailer[4] = <uint8_t>(crc >> 24)
        cdef uint64_t at = self.offset
        self._emit(payload)
        self._emit(PyBytes_FromStringAndSize(<const char *>trailer, 5))
        return (at, <uint64_t>n)

    cdef int _flush_data_block(self) except -1:
        if self.data_block.num_entries == 0:
            return 0
        cdef bytes raw = self.data_block.c_finish()
        offset, size = self._write_block(raw, True)
        self.data_bytes += size + BLOCK_TRAILER_BYTES
        self.num_data_blocks += 1
        cdef bytes handle = _encode_handle(offset, size)
        self.index_block.c_add(self.last_key, self.last_len,
                               <const uint8_t *>PyBytes_AS_STRING(handle),
                               PyBytes_GET_SIZE(handle))
        self.data_block.c_reset()
        return 0

    cdef int c_add(self, const uint8_t *k, size_t kn, const uint8_t *v, size_t vn) except -1:
        cdef uint64_t trailer, seq
        cdef int vtype, c
        cdef bint same_user = False
        cdef uint8_t *grown
        if self.closed:
            raise InvalidArgumentError("SSTableBuilder is already finished or abandoned")
        if kn < 8:
            raise InvalidArgumentError(f"internal key of {kn} bytes is shorter than its trailer")
        trailer = load_u64_le(k + kn - 8)
        vtype = <int>(trailer & 0xFF)
        seq = trailer >> 8
        if vtype != TYPE_PUT and vtype != TYPE_DELETE:
            raise InvalidArgumentError(
                f"value type {vtype} cannot be a point entry (range tombstones go through "
                "add_range_tombstone)")
        if self.num_entries:
            c = compare_internal(self.last_key, self.last_len, k, kn)
            if c >= 0:
                raise InvalidArgumentError(
                    "SSTable keys must be added in strictly increasing internal order: "
                    f"{PyBytes_FromStringAndSize(<const char *>k, kn)!r} after "
                    f"{PyBytes_FromStringAndSize(<const char *>self.last_key, self.last_len)!r}")
            same_user = compare_user(self.last_key, self.last_len - 8, k, kn - 8) == 0
        else:
            self.first_key = PyBytes_FromStringAndSize(<const char *>k, kn)
        if not same_user:
            self.bloom.c_add(k, kn - 8)
        self.data_block.c_add(k, kn, v, vn)
        if kn > self.last_cap:
            grown = <uint8_t *>realloc(self.last_key, kn)
            if grown == NULL:
                raise MemoryError()
            self.last_key = grown
            self.last_cap = kn
        memcpy(self.last_key, k, kn)
        self.last_len = kn
        self.num_entries += 1
        if vtype == TYPE_DELETE:
            self.num_deletions += 1
        self.raw_key_bytes += kn
        self.raw_value_bytes += vn
        if seq < self.min_seqno:
            self.min_seqno = seq
        if seq > self.max_seqno:
            self.max_seqno = seq
        if self.data_block.c_estimated_size() >= self.block_bytes:
            self._flush_data_block()
        return 0

    def add(self, internal_key, value) -> None:
        """Append one point entry; keys must be strictly increasing in internal order."""
        cdef bytes k = as_bytes(internal_key)
        cdef bytes v = as_bytes(value)
        self.c_add(<const uint8_t *>PyBytes_AS_STRING(k), PyBytes_GET_SIZE(k),
                   <const uint8_t *>PyBytes_AS_STRING(v), PyBytes_GET_SIZE(v))

    def add_many(self, keys, values) -> None:
        """add() for each pair of two equally long sequences (one C loop)."""
        cdef Py_ssize_t i, n = len(keys)
        cdef bytes k, v
        if len(values) != n:
            raise InvalidArgumentError("add_many needs as many values as keys")
        for i in range(n):
            k = as_bytes(keys[i])
            v = as_bytes(values[i])
            self.c_add(<const uint8_t *>PyBytes_AS_STRING(k), PyBytes_GET_SIZE(k),
                       <const uint8_t *>PyBytes_AS_STRING(v), PyBytes_GET_SIZE(v))

    def add_range_tombstone(self, start, end, uint64_t seqno) -> None:
        """Record that user keys in [start, end) with seqno < ``seqno`` are deleted."""
        if self.closed:
            raise InvalidArgumentError("SSTableBuilder is already finished or abandoned")
        s = as_bytes(start)
        e = as_bytes(end)
        if seqno > max_seqno():
            raise InvalidArgumentError(f"seqno {seqno} exceeds MAX_SEQNO")
        if not s < e:
            raise InvalidArgumentError(f"range tombstone start {s!r} must be < end {e!r}")
        self.tombstones.append((s, e, seqno))
        if seqno < self.min_seqno:
            self.min_seqno = seqno
        if seqno > self.max_seqno:
            self.max_seqno = seqno

    @property
    def file_size(self) -> int:
        """Bytes written so far (data blocks flushed; the footer once finished)."""
        return self.offset

    @property
    def estimated_size(self) -> int:
        """file_size plus the open data block and the index/filter still to be written."""
        return (self.offset + self.data_block.c_estimated_size()
                + self.index_block.c_estimated_size()
                + <uint64_t>(len(self.bloom) * self.bits_per_key / 8))

    @property
    def num_range_tombstones(self) -> int:
        return len(self.tombstones)

    def finish(self) -> dict:
        """Write the remaining blocks and the footer; returns properties + file_size."""
        if self.closed:
            raise InvalidArgumentError("SSTableBuilder is already finished or abandoned")
        self._flush_data_block()
        handles = {}
        cdef bytes filter_payload = self.bloom.c_finish()
        handles["filter"] = self._write_block(filter_payload, False)

        cdef BlockBuilder rd = BlockBuilder(16)
        cdef uint8_t seqbuf[8]
        ordered = sorted(self.tombstones, key=lambda t: (t[0], -t[2], t[1]))
        for s, e, seq in ordered:
            store_u64_le(seqbuf, seq)
            rd.add(s, PyBytes_FromStringAndSize(<const char *>seqbuf, 8) + e)
        handles["range_del"] = self._write_block(rd.c_finish(), False)

        cdef bytes index_payload = self.index_block.c_finish()
        largest = (PyBytes_FromStringAndSize(<const char *>self.last_key, self.last_len)
                   if self.num_entries else None)
        smallest = self.first_key if self.num_entries else None
        for s, e, seq in ordered:
            lo = make_internal_key(s, seq, TYPE_RANGE_DELETE)
            # The end is exclusive: (end, MAX_SEQNO) sorts before every real entry of end.
            hi = make_internal_key(e, MAX_SEQNO, TYPE_RANGE_DELETE)
            if smallest is None or _cmp_ikeys(lo, smallest) < 0:
                smallest = lo
            if largest is None or _cmp_ikeys(hi, largest) > 0:
                largest = hi
        has_any = self.num_entries or self.tombstones
        props = {
            "entries": self.num_entries,
            "deletions": self.num_deletions,
            "range_deletions": len(self.tombstones),
            "raw_key_bytes": self.raw_key_bytes,
            "raw_value_bytes": self.raw_value_bytes,
            "data_bytes": self.data_bytes,
            "index_bytes": PyBytes_GET_SIZE(index_payload),
            "filter_bytes": PyBytes_GET_SIZE(filter_payload),
            "num_data_blocks": self.num_data_blocks,
            "min_seqno": self.min_seqno if has_any else 0,
            "max_seqno": self.max_seqno if has_any else 0,
            "smallest_key": smallest if smallest is not None else b"",
            "largest_key": largest if largest is not None else b"",
            "level": self.level,
            "bloom_bits_per_key": float(self.bits_per_key),
            "compression": "none" if self.compressor is None else "zstd",
            "compression_level": 0 if self.compressor is None else max(self.compression_level, 0),
            "creation_time": int(time.time()),
            "format_version": FORMAT_VERSION,
        }
        handles["properties"] = self._write_block(encode_properties(props), False)
        handles["index"] = self._write_block(index_payload, False)
        self._emit(encode_footer(handles))
        self._flush_pending()
        self.closed = True
        props["file_size"] = self.offset
        return props

    def abandon(self) -> None:
        """Stop building: nothing more is written (the caller deletes the file)."""
        self.closed = True
        self.pending = []
        self.pending_bytes = 0


cdef int _cmp_ikeys(bytes a, bytes b) except? -2:
    return compare_internal(<const uint8_t *>PyBytes_AS_STRING(a), PyBytes_GET_SIZE(a),
                            <const uint8_t *>PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b))


# ---- reader -------------------------------------------------------------------------------

cdef class SSTableReader:
    """Reads one SSTable from an Env RandomAccessFile (``pread``, ``size``, ``path`` and
    optionally ``mmap_view()``, used for zero-copy reads when it returns a view).

    With a shared ``cache``, ``file_number`` must be unique among the cache's files: it
    is half of every cache key."""

    def __cinit__(self, file, *, file_number=0, BlockCache cache=None,
                  bint verify_checksums=True):
        self.file = file
        self.path = getattr(file, "path", None)
        self.file_number = file_number
        self.cache = cache
        self.verify = verify_checksums
        self.file_size = file.size
        mmap_view = getattr(file, "mmap_view", None)
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
        for name in _HANDLE_NAMES:
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

    cdef int _check_index(self) except -1:
        cdef BlockCursor c
        cdef uint64_t off, size, prev_end = 0
        cursor_init(&c, NULL, 0)
        cursor_attach(&c, self.index)
        try:
            cursor_seek_to_first(&c)
            while cursor_valid(&c):
                if not _decode_handle(c.val, c.val_len, &off, &size):
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
        cdef const uint8_t[::1] v = raw if isinstance(raw, bytes) else memoryview(raw).cast("B")
        cdef uint8_t tag = v[size]
        cdef uint32_t stored = (<uint32_t>v[size + 1] | (<uint32_t>v[size + 2] << 8) |
                                (<uint32_t>v[size + 3] << 16) | (<uint32_t>v[size + 4] << 24))
        cdef uint32_t crc
        if verify:
            with nogil:  # C loop over a pinned buffer
                crc = crc32_of(&v[0], size + 1)
            if crc != stored:
                raise CorruptionError("block checksum mismatch", self.path, offset)
        payload = memoryview(raw)[:size]
        if tag == COMPRESSION_NONE:
            return payload
        if tag == COMPRESSION_ZSTD:
            return _decompress(payload, self.path, offset)
        raise CorruptionError(f"unknown block compression tag {tag}", self.path, offset + size)

    cdef Block c_data_block(self, uint64_t offset, uint64_t size):
        cdef object cached
        cdef Block blk
        if self.cache is not None:
            cached = self.cache.c_lookup(self.file_number, offset)
            if cached is not None:
                self.cache_hits += 1
                return <Block>cached
        blk = Block(self._read_block_payload(offset, size, self.verify), self.path, offset)
        self.data_blocks_read += 1
        if self.cache is not None:
            self.cache.c_insert(self.file_number, offset, blk, blk.charge)
        return blk

    cdef object c_get(self, const uint8_t *uk, size_t n, uint64_t snapshot):
        cdef uint64_t h[2]
        cdef uint64_t off = 0, size = 0, trailer
        cdef bint bloomed = False
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
                return _MISSING
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
            cursor_attach(&ic, self.index)
            cursor_seek(&ic, target, n + 8)
            if cursor_valid(&ic):
                _decode_handle(ic.val, ic.val_len, &off, &size)   # validated at open
                blk = self.c_data_block(off, size)
                cursor_attach(&dc, blk)
                cursor_seek(&dc, target, n + 8)
                if cursor_valid(&dc) and dc.key_len - 8 == n and \
                        (n == 0 or memcmp(dc.key, uk, n) == 0):
                    trailer = load_u64_le(dc.key + n)
                    vtype = <int>(trailer & 0xFF)
                    if vtype == TYPE_PUT:
                        return (1, PyBytes_FromStringAndSize(<const char *>dc.val, dc.val_len),
                                trailer >> 8)
                    if vtype == TYPE_DELETE:
                        return (2, None, trailer >> 8)
                    raise CorruptionError(f"data block entry has value type {vtype}",
                                          self.path, off)
            if bloomed:
                self.bloom_false_positives += 1
            return _MISSING
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
                _decode_handle(c.val, c.val_len, &off, &size)
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

    cdef int _load_current(self) except -1:
        cdef uint64_t off = 0, size = 0
        _decode_handle(self.ic.val, self.ic.val_len, &off, &size)   # validated at open
        blk = self.reader.c_data_block(off, size)
        self.data = blk
        cursor_attach(&self.dc, blk)
        return 0

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

    cdef int c_seek(self, const uint8_t *target, Py_ssize_t n) except -1:
        cursor_seek(&self.ic, target, n)
        if not cursor_valid(&self.ic):
            self._clear_data()
            return 0
        self._load_current()
        cursor_seek(&self.dc, target, n)
        return self._skip_forward()

    cdef int c_seek_for_prev(self, const uint8_t *target, Py_ssize_t n) except -1:
        cursor_seek(&self.ic, target, n)
        if not cursor_valid(&self.ic):
            return self.c_seek_to_last()
        self._load_current()
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
