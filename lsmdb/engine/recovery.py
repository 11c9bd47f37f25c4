"""Open-time recovery of the engine's in-memory state from the key space.

The LSM has already replayed its WAL (whole write batches = whole commits), so the key space
holds exactly the committed transactions. This module rebuilds what the engine keeps in
memory: the catalog, each table's next tuple id (max heap tuple id + 1, one reverse seek per
table), table statistics, the commit-ts counter, and the RecoveryReport.

``RecoveryReport.recovered_transactions`` is the number of transactions committed after the
last checkpoint (``engine.checkpoint()`` or a clean close): the commit-ts counter minus the
ts the last checkpoint mark recorded, 0 after a clean close. The mark is written just before
the checkpoint's flush, so a crash during that flush counts from the interrupted checkpoint.
``records_replayed`` counts the WAL records the LSM replayed (background flushes may have put
some of the recovered commits into SSTables before the crash).
"""

from __future__ import annotations

import json
import struct

from lsmdb.engine.catalog import Catalog, decode_index, decode_table
from lsmdb.errors import CorruptionError, FormatVersionError
from lsmdb.storage_api import RecoveredStatistics, RecoveryReport
from lsmdb.storage_keys import (
    FORMAT_VERSION,
    INDEX_TAG,
    META_CHECKPOINT_TS,
    META_COMMIT_TS,
    META_FORMAT,
    STATS_TAG,
    TABLE_TAG,
    prefix_end,
    unpack_u64,
)

__all__ = ["RecoveredState", "recover", "format_record", "encode_stats", "decode_stats"]


class RecoveredState:
    def __init__(self) -> None:
        self.catalog = Catalog()
        self.next_tuple_ids: dict[int, int] = {}
        self.stats: dict[int, list] = {}  # table_id -> [rows, bytes, dead, column_stats]
        self.commit_ts = 0
        self.checkpoint_ts = 0
        self.fresh = False
        self.report = RecoveryReport()


def format_record() -> bytes:
    return json.dumps({"format_version": FORMAT_VERSION, "kind": "lsmdb-storage-engine"}).encode()


# Statistics record (rewritten by every commit touching the table, so it is binary):
#   u8 version=1 | i64 row_count | i64 total_bytes | i64 dead_row_count | column_stats JSON
#   ([[column_id, f64, f64, u32], ...]; empty when none were logged)
_STATS = struct.Struct(">Bqqq")


def encode_stats(s: list) -> bytes:
    head = _STATS.pack(1, s[0], s[1], s[2])
    return head + json.dumps(s[3]).encode() if s[3] else head


def decode_stats(data: bytes) -> list:
    try:
        version, rows, nbytes, dead = _STATS.unpack_from(data)
        if version != 1:
            raise FormatVersionError(f"table statistics record has format version {version}")
        rest = bytes(data[_STATS.size:])
        cols = [tuple(x) for x in json.loads(rest)] if rest else []
        return [rows, nbytes, dead, cols]
    except (ValueError, TypeError, struct.error, RecursionError) as exc:
        raise CorruptionError(f"unreadable table statistics record: {exc!r}") from exc


def _range(backend, tag: bytes):
    return backend.scan(tag, prefix_end(tag))


def recover(backend) -> RecoveredState:
    st = RecoveredState()
    fmt = backend.get(META_FORMAT)
    if fmt is None:
        st.fresh = True
    else:
        try:
            version = json.loads(fmt)["format_version"]
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            # RecursionError: a deeply nested (damaged) record, as in the catalog decoder
            raise CorruptionError(f"unreadable engine format record: {exc!r}") from exc
        if version != FORMAT_VERSION:
            raise FormatVersionError(f"storage engine format version {version} is not "
                                     f"readable by this build (reads {FORMAT_VERSION})")
    tables = {}
    for _, v in _range(backend, TABLE_TAG):
        info = decode_table(v)
        tables[info.table_id] = info
    indexes = {}
    for _, v in _range(backend, INDEX_TAG):
        ix = decode_index(v, tables)
        indexes[ix.index_id] = ix
    for tid, info in list(tables.items()):
        own = sorted((ix for ix in indexes.values() if ix.table_id == tid),
                     key=lambda x: x.index_id)
        tables[tid] = info.with_indexes(own)
    st.catalog = Catalog(tables, indexes)
    for tid, info in tables.items():
        last = next(iter(backend.scan(info.prefix, info.end, True)), None)
        st.next_tuple_ids[tid] = 1 if last is None else unpack_u64(last[0], 9) + 1
    for k, v in _range(backend, STATS_TAG):
        st.stats[unpack_u64(k, 2)] = decode_stats(v)
    raw = backend.get(META_COMMIT_TS)
    st.commit_ts = 0 if raw is None else unpack_u64(raw)
    raw = backend.get(META_CHECKPOINT_TS)
    st.checkpoint_ts = 0 if raw is None else unpack_u64(raw)
    info = backend.recovery_info()
    replayed = int(info.get("records_replayed", 0))
    st.report = RecoveryReport(
        # Every commit after the last checkpoint, whether its writes came back from the WAL
        # or from SSTables the LSM flushed in the background meanwhile (counting only when
        # WAL records were replayed made the number jump from 0 to all of them with the
        # first commit after such a flush).
        recovered_transactions=max(0, st.commit_ts - st.checkpoint_ts),
        recovered_statistics=tuple(
            RecoveredStatistics(tid, s[0], s[1], s[2], tuple(tuple(c) for c in s[3]))
            for tid, s in sorted(st.stats.items())),
        records_replayed=replayed,
        last_lsn=backend.last_sequence(),
        torn_tail=bool(info.get("torn_tail", False)))
    return st
