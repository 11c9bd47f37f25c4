"""VersionEdit: one MANIFEST record, the delta between two versions of the LSM tree.

Byte layout (each edit is one record of the log format, docs/format/manifest.md):

    edit     := field*
    field    := tag:varint body
    tag 1  LOG_NUMBER         varint   WAL segments numbered below this are obsolete
    tag 2  NEXT_FILE_NUMBER   varint
    tag 3  LAST_SEQUENCE      varint
    tag 4  COMPACT_POINTER    level:varint  key:lenprefixed          (round-robin picking)
    tag 5  DELETED_FILE       level:varint  number:varint
    tag 6  NEW_FILE           level:varint number:varint size:varint
                              smallest:lenprefixed largest:lenprefixed (internal keys)
                              min_seqno max_seqno entries deletions range_deletions
                              raw_bytes run creation_time : varint each
    tag 7  FORMAT_VERSION     varint   (first edit of a MANIFEST only)
    tag 8  STYLE              lenprefixed utf-8 compaction style that shaped the tree
    lenprefixed := len:varint bytes

Tag numbers are persisted: never change or reuse them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lsmdb.errors import CorruptionError

TAG_LOG_NUMBER = 1
TAG_NEXT_FILE_NUMBER = 2
TAG_LAST_SEQUENCE = 3
TAG_COMPACT_POINTER = 4
TAG_DELETED_FILE = 5
TAG_NEW_FILE = 6
TAG_FORMAT_VERSION = 7
TAG_STYLE = 8

MANIFEST_FORMAT_VERSION = 1
MAX_LEVELS = 64


@dataclass(slots=True)
class FileMetaData:
    """What the version set knows of one SSTable."""

    number: int
    size: int
    smallest: bytes  # internal keys
    largest: bytes
    min_seqno: int = 0
    max_seqno: int = 0
    entries: int = 0
    deletions: int = 0
    range_deletions: int = 0
    raw_bytes: int = 0  # uncompressed key+value bytes
    run: int = 0  # sorted-run id within the level (0: the level's single run)
    creation_time: int = 0
    being_compacted: bool = field(default=False, compare=False)
    # Bits per key of the file's bloom filter, known for files this process wrote (None for
    # files found at open). In memory only, not in the MANIFEST: the Monkey/budget allocator
    # uses it to hold the filter memory actually built to the budget (lsm/bloom_alloc.py).
    filter_bits_per_key: float | None = field(default=None, compare=False)

    @property
    def smallest_user_key(self) -> bytes:
        return self.smallest[:-8]

    @property
    def largest_user_key(self) -> bytes:
        return self.largest[:-8]


@dataclass
class VersionEdit:
    log_number: int | None = None
    next_file_number: int | None = None
    last_sequence: int | None = None
    format_version: int | None = None
    style: str | None = None
    compact_pointers: list[tuple[int, bytes]] = field(default_factory=list)
    deleted_files: set[tuple[int, int]] = field(default_factory=set)
    new_files: list[tuple[int, FileMetaData]] = field(default_factory=list)

    def add_file(self, level: int, meta: FileMetaData) -> None:
        self.new_files.append((level, meta))

    def delete_file(self, level: int, number: int) -> None:
        self.deleted_files.add((level, number))

    # -- encoding ---------------------------------------------------------------------

    def encode(self) -> bytes:
        out = bytearray()
        if self.format_version is not None:
            _put_varint(out, TAG_FORMAT_VERSION)
            _put_varint(out, self.format_version)
        if self.style is not None:
            _put_varint(out, TAG_STYLE)
            _put_bytes(out, self.style.encode())
        for tag, value in ((TAG_LOG_NUMBER, self.log_number),
                           (TAG_NEXT_FILE_NUMBER, self.next_file_number),
                           (TAG_LAST_SEQUENCE, self.last_sequence)):
            if value is not None:
                _put_varint(out, tag)
                _put_varint(out, value)
        for level, key in self.compact_pointers:
            _put_varint(out, TAG_COMPACT_POINTER)
            _put_varint(out, level)
            _put_bytes(out, key)
        for level, number in sorted(self.deleted_files):
            _put_varint(out, TAG_DELETED_FILE)
            _put_varint(out, level)
            _put_varint(out, number)
        for level, m in self.new_files:
            _put_varint(out, TAG_NEW_FILE)
            _put_varint(out, level)
            _put_varint(out, m.number)
            _put_varint(out, m.size)
            _put_bytes(out, m.smallest)
            _put_bytes(out, m.largest)
            for v in (m.min_seqno, m.max_seqno, m.entries, m.deletions, m.range_deletions,
                      m.raw_bytes, m.run, m.creation_time):
                _put_varint(out, v)
        return bytes(out)

    @classmethod
    def decode(cls, data: bytes, file: str | None = None, offset: int = 0) -> VersionEdit:
        r = _Reader(data, file, offset)
        edit = cls()
        while not r.done():
            tag = r.varint()
            if tag == TAG_LOG_NUMBER:
                edit.log_number = r.varint()
            elif tag == TAG_NEXT_FILE_NUMBER:
                edit.next_file_number = r.varint()
            elif tag == TAG_LAST_SEQUENCE:
                edit.last_sequence = r.varint()
            elif tag == TAG_FORMAT_VERSION:
                edit.format_version = r.varint()
            elif tag == TAG_STYLE:
                try:
                    edit.style = r.lenprefixed().decode()
                except UnicodeDecodeError as exc:
                    raise r.error("compaction style is not UTF-8") from exc
            elif tag == TAG_COMPACT_POINTER:
                edit.compact_pointers.append((r.level(), r.internal_key()))
            elif tag == TAG_DELETED_FILE:
                edit.deleted_files.add((r.level(), r.varint()))
            elif tag == TAG_NEW_FILE:
                level = r.level()
                number, size = r.varint(), r.varint()
                smallest, largest = r.internal_key(), r.internal_key()
                rest = [r.varint() for _ in range(8)]
                edit.new_files.append((level, FileMetaData(number, size, smallest, largest, *rest)))
            else:
                raise r.error(f"unknown version edit tag {tag}")
        return edit


def _put_varint(out: bytearray, v: int) -> None:
    if v < 0:
        raise ValueError("varint must be non-negative")
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def _put_bytes(out: bytearray, b: bytes) -> None:
    _put_varint(out, len(b))
    out += b


class _Reader:
    __slots__ = ("data", "pos", "file", "base")

    def __init__(self, data: bytes, file: str | None, base: int):
        self.data = memoryview(data).cast("B")
        self.pos = 0
        self.file = file
        self.base = base

    def done(self) -> bool:
        return self.pos >= len(self.data)

    def error(self, msg: str) -> CorruptionError:
        return CorruptionError(f"bad MANIFEST version edit: {msg}", self.file, self.base + self.pos)

    def varint(self) -> int:
        result = shift = 0
        data, pos = self.data, self.pos
        while True:
            if pos >= len(data):
                raise self.error("truncated varint")
            b = data[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                break
            shift += 7
            if shift > 63:
                raise self.error("varint longer than 64 bits")
        self.pos = pos
        return result

    def level(self) -> int:
        level = self.varint()
        if level >= MAX_LEVELS:
            raise self.error(f"level {level} out of range")
        return level

    def lenprefixed(self) -> bytes:
        n = self.varint()
        if n > len(self.data) - self.pos:
            raise self.error(f"length {n} exceeds the record")
        out = bytes(self.data[self.pos:self.pos + n])
        self.pos += n
        return out

    def internal_key(self) -> bytes:
        key = self.lenprefixed()
        if len(key) < 8:
            raise self.error("internal key shorter than 8 bytes")
        return key
