"""The engine's key layout in its one ordered key space (docs/format/engine.md).

All integers are big-endian so byte order equals numeric order. Tags are persisted: never
change them.

    0x01 'T' u64 table_id                    -> table catalog record (JSON, see catalog.py)
    0x01 'I' u64 index_id                    -> index catalog record (JSON)
    0x01 'S' u64 table_id                    -> table statistics (JSON, see stats in engine.py)
    0x01 'M' name                            -> engine meta: b"format" (JSON), b"commit_ts"
                                                (u64), b"checkpoint_ts" (u64)
    0x10 u64 table_id u64 tuple_id           -> encoded row (rowcodec.encode_row)
    0x20 u64 index_id <key columns> u64 tuple_id
                                             -> encoded include columns (or b"")

A primary key is a unique B-tree index with id ``PK_INDEX_BIT | table_id``; user index ids are
below PK_INDEX_BIT. ``0x10 u64 table_id`` alone (9 bytes, never a row key) names the table in
the engine's in-memory conflict tracking (a DML marker), and ``0x01 'N' kind name`` a table
('T') or index ('I') name; neither is ever stored.
"""

from __future__ import annotations

import struct

CATALOG = 0x01
HEAP = 0x10
INDEX = 0x20
TABLE_TAG = b"\x01T"
INDEX_TAG = b"\x01I"
STATS_TAG = b"\x01S"
META_TAG = b"\x01M"
NAME_TAG = b"\x01N"  # conflict tracking only, never stored
PK_INDEX_BIT = 1 << 63
FORMAT_VERSION = 1

META_FORMAT = META_TAG + b"format"
META_COMMIT_TS = META_TAG + b"commit_ts"
META_CHECKPOINT_TS = META_TAG + b"checkpoint_ts"

_U64 = struct.Struct(">Q")
_HEAP_KEY = struct.Struct(">BQQ")
pack_u64 = _U64.pack


def unpack_u64(b: bytes, offset: int = 0) -> int:
    return _U64.unpack_from(b, offset)[0]


def table_key(table_id: int) -> bytes:
    return TABLE_TAG + _U64.pack(table_id)


def index_key(index_id: int) -> bytes:
    return INDEX_TAG + _U64.pack(index_id)


def stats_key(table_id: int) -> bytes:
    return STATS_TAG + _U64.pack(table_id)


def heap_prefix(table_id: int) -> bytes:
    return b"\x10" + _U64.pack(table_id)


def heap_key(table_id: int, tuple_id: int) -> bytes:
    return _HEAP_KEY.pack(HEAP, table_id, tuple_id)


def index_prefix(index_id: int) -> bytes:
    return b"\x20" + _U64.pack(index_id)


def pk_index_id(table_id: int) -> int:
    return PK_INDEX_BIT | table_id


def prefix_end(prefix: bytes) -> bytes:
    """The first key after every key starting with ``prefix`` (prefixes here never end 0xFF
    in all bytes, so this always exists)."""
    b = bytearray(prefix)
    while b[-1] == 0xFF:
        b.pop()
    b[-1] += 1
    return bytes(b)
