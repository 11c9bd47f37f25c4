"""The write-ahead log: its segments, writer, reader, commit policy and the wal-dump tool.

- ``segment``: ``<dir>/wal/<number>.log`` naming and listing, one segment per memtable
- ``writer``: ``WalWriter`` appends one record per write batch and fsyncs on demand
- ``commit_policy``: ``WalCommitPolicy`` (ALWAYS / every(n) / NEVER, parsed once from
  ``Options.wal_sync``) and the ``CommitSchedule`` the write leader asks "sync this commit?"
- ``reader``: ``read_segment`` replays a segment at open under a ``wal_recovery`` mode
- ``dump``: ``lsmdb wal-dump``

The log format itself (shared with the MANIFEST) is Cython: ``LogWriter`` appends records
(one ``append`` per call, several records per call for group commit); ``LogReader`` reads a
whole log, telling a torn tail (reported) from mid-log corruption (raised, or skipped with
``skip_corrupted=True``). Format: docs/format/log.md.
"""

from lsmdb._core.logformat import BLOCK_BYTES, HEADER_BYTES, LogReader, LogWriter, encode_records
from lsmdb.wal.commit_policy import CommitSchedule, WalCommitPolicy
from lsmdb.wal.reader import (
    RECOVERY_MODES,
    ReplayedSequences,
    SegmentReplay,
    WalRecoveryInfo,
    read_segment,
)
from lsmdb.wal.segment import list_segments, segment_path
from lsmdb.wal.writer import WalWriter

__all__ = [
    "BLOCK_BYTES",
    "HEADER_BYTES",
    "RECOVERY_MODES",
    "CommitSchedule",
    "LogReader",
    "LogWriter",
    "ReplayedSequences",
    "SegmentReplay",
    "WalRecoveryInfo",
    "WalCommitPolicy",
    "WalWriter",
    "encode_records",
    "list_segments",
    "read_segment",
    "segment_path",
]
