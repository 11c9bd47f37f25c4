"""WalWriter: appends write batches, one log record each, to one WAL segment and fsyncs it
when the DB's write leader asks (its WalCommitPolicy decides when; see commit_policy.py)."""

from __future__ import annotations

import os

from lsmdb._core.logformat import LogWriter
from lsmdb.env import Env
from lsmdb.killpoint import kill_point
from lsmdb.wal.segment import segment_path


class WalWriter:
    """Appends batches to one segment. Not thread-safe: the DB's write leader calls it."""

    def __init__(self, env: Env, dbdir: str, number: int):
        self.number = number
        self.path = segment_path(dbdir, number)
        self._file = env.open_writable(self.path)
        kill_point("wal.segment:created")
        # Make the segment's name durable now, or synced records in it could vanish with it.
        env.fsync_dir(os.path.dirname(self.path))
        self._writer = LogWriter(self._file)
        self.bytes_written = 0
        self.syncs = 0
        self.unsynced_records = 0

    def add(self, payload: bytes) -> int:
        kill_point("wal.append:before")
        n = self._writer.add_record(payload)
        kill_point("wal.append:after")
        self.bytes_written += n
        self.unsynced_records += 1
        return n

    def sync(self) -> None:
        kill_point("wal.sync:before")
        self._file.sync()
        kill_point("wal.sync:after")
        self.syncs += 1
        self.unsynced_records = 0

    def close(self) -> None:
        self._file.close()
