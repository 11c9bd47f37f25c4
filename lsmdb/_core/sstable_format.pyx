"""SSTable: the one table format of lsmdb (SPEC section 3): its layout, constants and the
codecs of its small structures (footer, block handles, properties, range tombstones,
block compression). SSTableBuilder (sstable_builder.pyx) writes it, SSTableReader
(sstable_reader.pyx) reads it.

File layout (format_versions 1 and 2; never change; worked example in docs/format/sstable.md)::

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
                 point entries of the file; empty payload when bits_per_key is 0.
                 format_version 1: standard layout (bloom format tag 1) only;
                 format_version 2: the blocked layout (tag 2) as well. The only
                 difference: a build that reads only version 1 meets a version-2 table
                 with FormatVersionError, not a CorruptionError over the unknown tag
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

import zstandard

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t

from lsmdb._core.block cimport BlockBuilder
from lsmdb._core.coding cimport load_u32_le, load_u64_le
from lsmdb._core.crc32 cimport crc32_of, lsmdb_crc32_init
from lsmdb._core.ikey cimport max_seqno

from lsmdb._core.block import decode_kv_block
from lsmdb.errors import CorruptionError, FormatVersionError, InvalidArgumentError

lsmdb_crc32_init()

# On-disk constants: never change.
FORMAT_VERSION = 2              # the newest this build reads and writes
FORMAT_VERSION_STANDARD_BLOOM = 1   # what a table whose filter is standard (or absent) gets
MAGIC = 0x0A5453534D534C89                # bytes 89 4C 53 4D 53 53 54 0A
FOOTER_BYTES = 80
BLOCK_TRAILER_BYTES = 5
COMPRESSION_NONE = 0
COMPRESSION_ZSTD = 1
# Largest decompressed block accepted (one 64 MiB value + a 64 KiB key, with room to spare).
MAX_BLOCK_BYTES = 128 << 20

# The footer's block handles, in footer order.
HANDLE_NAMES = ("filter", "range_del", "properties", "index")

cdef object _FOOTER = struct.Struct("<8QIQ")
_tls = threading.local()


# decode_varint64, put_varint64 and the block-handle codecs come from sstable_format.pxd.
def encode_varint64(uint64_t v) -> bytes:
    cdef uint8_t buf[10]
    cdef uint8_t *end = put_varint64(buf, v)
    return PyBytes_FromStringAndSize(<const char *>buf, end - buf)


def encode_footer(handles: dict, int format_version=FORMAT_VERSION) -> bytes:
    """80-byte footer from {"filter"|"range_del"|"properties"|"index": (offset, size)}."""
    fields = []
    for name in HANDLE_NAMES:
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
    out = {name: (fields[2 * i], fields[2 * i + 1]) for i, name in enumerate(HANDLE_NAMES)}
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
            if decode_varint64(p + 1, p + len(enc), &iv) != p + len(enc):
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


cdef int64_t _zstd_content_size(const uint8_t *p, size_t n) noexcept:
    """The content size a zstd frame header declares; -1 when it declares none, -2 when the
    bytes do not start a zstd frame (RFC 8878 section 3.1.1)."""
    cdef uint8_t fhd, fcs_flag
    cdef size_t at, fcs_bytes
    cdef uint64_t v = 0
    cdef size_t i
    if n < 5 or load_u32_le(p) != 0xFD2FB528:
        return -2
    fhd = p[4]
    if fhd & 0x08:                      # reserved bit
        return -2
    fcs_flag = fhd >> 6
    at = 5
    if not (fhd & 0x20):                # no single segment: a window descriptor byte
        at += 1
    at += (0, 1, 2, 4)[fhd & 3]         # dictionary id
    fcs_bytes = (1 if fhd & 0x20 else 0, 2, 4, 8)[fcs_flag]
    if fcs_bytes == 0:
        return -1
    if at + fcs_bytes > n:
        return -2
    for i in range(fcs_bytes):
        v |= (<uint64_t>p[at + i]) << (8 * i)
    if fcs_bytes == 2:
        v += 256
    if v > <uint64_t>0x7FFFFFFFFFFFFFFF:
        return -2
    return <int64_t>v


cdef object decompress_block(object payload, object file, uint64_t offset):
    """The zstd-compressed block ``payload`` decompressed; CorruptionError when it is not a
    well-formed frame of a plausible size."""
    cdef Py_buffer buf
    cdef int64_t size
    cdef Py_ssize_t n
    dctx = getattr(_tls, "dctx", None)
    if dctx is None:
        # ZstdDecompressor objects are not thread-safe: one per thread.
        dctx = _tls.dctx = zstandard.ZstdDecompressor()
    # The header is parsed here rather than by zstandard.frame_content_size: this runs on
    # every block cache miss.
    PyObject_GetBuffer(payload, &buf, PyBUF_SIMPLE)
    n = buf.len
    size = _zstd_content_size(<const uint8_t *>buf.buf, <size_t>buf.len)
    PyBuffer_Release(&buf)
    if size == -2:
        raise CorruptionError("bad zstd frame header", file, offset)
    # Cap the allocation by what the frame can legitimately produce (zstd cannot exceed
    # ~1:43690 expansion) and by the largest block lsmdb ever writes. Within the cap, the
    # declared size is what zstandard allocates (no max_output_size: it would allocate that
    # and shrink).
    if size < 0 or size > MAX_BLOCK_BYTES or size > n * 65536:
        raise CorruptionError(f"zstd block declares an invalid size {size}", file, offset)
    if size == 0:
        return b""
    try:
        out = dctx.decompress(payload)
    except zstandard.ZstdError as exc:
        raise CorruptionError(f"zstd block does not decompress ({exc})", file, offset) from None
    if len(out) != size:
        raise CorruptionError("zstd block decompressed to the wrong size", file, offset)
    return out
