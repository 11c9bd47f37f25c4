"""SSTableBuilder: writes one SSTable (layout in sstable_format.pyx, docs/format/sstable.md):
data blocks as keys arrive, then the filter, range-tombstone, properties and index blocks
and the footer."""

import time

import zstandard

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, realloc
from libc.string cimport memcpy

from lsmdb._core.block cimport BlockBuilder, as_bytes
from lsmdb._core.bloom cimport BLOOM_FORMAT_BLOCKED, BloomFilterBuilder
from lsmdb._core.coding cimport buf_free, buf_set, load_u64_le, store_u64_le
from lsmdb._core.crc32 cimport crc32_of, lsmdb_crc32_init, lsmdb_crc32_update
from lsmdb._core.ikey cimport (
    TYPE_DELETE,
    TYPE_PUT,
    TYPE_RANGE_DELETE,
    compare_internal,
    compare_user,
    max_seqno,
)
from lsmdb._core.sstable_format cimport encode_handle

from lsmdb._core.ikey import MAX_SEQNO, make_internal_key
from lsmdb._core.sstable_format import (
    BLOCK_TRAILER_BYTES,
    COMPRESSION_NONE,
    COMPRESSION_ZSTD,
    FORMAT_VERSION,
    FORMAT_VERSION_STANDARD_BLOOM,
    encode_footer,
    encode_properties,
)
from lsmdb.errors import InvalidArgumentError

lsmdb_crc32_init()

cdef uint64_t _FLUSH_BYTES = 1 << 20


cdef object _compressor_for(object level):
    return zstandard.ZstdCompressor(level=level, write_content_size=True,
                                    write_checksum=False)


cdef class SSTableBuilder:
    """Writes one SSTable to ``file`` (anything with ``append(bytes)``, e.g. an Env
    WritableFile, positioned at offset 0). ``finish()`` writes the meta blocks and the
    footer; syncing and closing the file is the caller's job."""

    def __cinit__(self, file, *, Py_ssize_t block_bytes=4096, int restart_interval=16,
                  compression_level=3, double bits_per_key=10.0, int level=0, file_name=None,
                  bloom_format="blocked", zero_seqnos_upto=None, max_seqno_at_least=0):
        if block_bytes < 64 or block_bytes > (64 << 20):
            raise InvalidArgumentError(f"block_bytes must be in [64, 64 MiB], got {block_bytes}")
        if compression_level is not None:
            if not isinstance(compression_level, int) or not (-7 <= compression_level <= 22):
                raise InvalidArgumentError(
                    f"compression_level must be None or an int in [-7, 22], got "
                    f"{compression_level!r}")
        if level < 0:
            raise InvalidArgumentError(f"level must be >= 0, got {level}")
        self.zeroing = zero_seqnos_upto is not None
        if self.zeroing:
            if (not isinstance(zero_seqnos_upto, int) or isinstance(zero_seqnos_upto, bool)
                    or not 0 <= zero_seqnos_upto <= MAX_SEQNO):
                raise InvalidArgumentError(
                    f"zero_seqnos_upto must be None or an int in [0, {MAX_SEQNO}], got "
                    f"{zero_seqnos_upto!r}")
            self.zero_upto = zero_seqnos_upto
        if (not isinstance(max_seqno_at_least, int) or isinstance(max_seqno_at_least, bool)
                or not 0 <= max_seqno_at_least <= MAX_SEQNO):
            raise InvalidArgumentError(
                f"max_seqno_at_least must be an int in [0, {MAX_SEQNO}], got "
                f"{max_seqno_at_least!r}")
        # A zeroed entry's own seqno is gone: a compaction that rewrites zeroed entries
        # passes its inputs' max_seqno here, so the table's max_seqno still bounds every
        # write it holds (recovery compares it with unlisted tables: lsm/unlisted_tables.py).
        self.max_seqno_floor = max_seqno_at_least
        self.file = file
        self.file_name = file_name if file_name is not None else getattr(file, "path", None)
        self.data_block = BlockBuilder(restart_interval)
        self.index_block = BlockBuilder(1)
        self.bloom = BloomFilterBuilder(bits_per_key, bloom_format)
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
        buf_free(&self.zkey)

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
        cdef bytes handle = encode_handle(offset, size)
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
        if self.zeroing and vtype == TYPE_PUT and seq != 0 and seq <= self.zero_upto:
            # A bottommost compaction's PUT no live snapshot predates: every reader sees it,
            # so its seqno carries nothing and is written as 0, which compresses to almost
            # nothing (RocksDB does the same). min/max_seqno below keep the original.
            buf_set(&self.zkey, k, kn)
            store_u64_le(self.zkey.p + kn - 8, <uint64_t>TYPE_PUT)
            k = self.zkey.p
            self.zeroed_seqnos += 1
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
        # A blocked filter needs a reader that knows format tag 2: mark the table version 2,
        # so an older build refuses it with FormatVersionError. Standard (or no) filter:
        # version 1, readable by every build.
        version = (FORMAT_VERSION if PyBytes_GET_SIZE(filter_payload) > 0
                   and self.bloom.format_tag == BLOOM_FORMAT_BLOCKED
                   else FORMAT_VERSION_STANDARD_BLOOM)
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
            "max_seqno": max(self.max_seqno, self.max_seqno_floor) if has_any else 0,
            "smallest_key": smallest if smallest is not None else b"",
            "largest_key": largest if largest is not None else b"",
            "level": self.level,
            "bloom_bits_per_key": float(self.bits_per_key),
            "compression": "none" if self.compressor is None else "zstd",
            "compression_level": 0 if self.compressor is None else max(self.compression_level, 0),
            "creation_time": int(time.time()),
            "format_version": version,
            **({"zeroed_seqnos": self.zeroed_seqnos} if self.zeroing else {}),
        }
        handles["properties"] = self._write_block(encode_properties(props), False)
        handles["index"] = self._write_block(index_payload, False)
        self._emit(encode_footer(handles, version))
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
