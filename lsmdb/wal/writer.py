"""WalWriter: appends write batches, one log record each, to one WAL segment and fsyncs it
when the DB's write leader asks (its WalCommitPolicy decides when; see commit_policy.py).

A single put or delete may bypass ``add``: ``tail.append_op`` (lsmdb/_core/walappend.pyx)
encodes the one-op batch and its record in C and appends it, when the Env's file hands out
its descriptor (``WritableFile.direct_append_fd``: a plain POSIX file, never a
fault-injection or hook wrapper, which always goes through ``add`` and ``append``). Both
paths share the tail's offset and counters, so the segment is one log either way.

On such a file both paths append by copying into a shared mapping of the segment
(``MappedAppender``, lsmdb/_core/walmap.pyx: no system call per record, the same page cache,
the same guarantees; a crash leaves preallocated zeros after the last record, which the WAL
reader takes as the end of the log). Where the file cannot be preallocated or mapped, or
with ``Options(mmap_wal_writes=False)``, they use write(2)."""

from __future__ import annotations

import os

from lsmdb._core.logformat import BLOCK_BYTES, LogWriter, encode_records
from lsmdb._core.walappend import WalTail
from lsmdb._core.walmap import MappedAppender
from lsmdb.env import Env
from lsmdb.errors import StorageIOError
from lsmdb.killpoint import kill_point
from lsmdb.wal.segment import segment_path


class WalWriter:
    """Appends batches to one segment. Not thread-safe: the DB's write leader calls it."""

    def __init__(self, env: Env, dbdir: str, number: int, *, mapped: bool = True):
        self.number = number
        self.path = segment_path(dbdir, number)
        self._env = env
        self._file = env.open_writable(self.path)
        kill_point("wal.segment:created")
        # Make the segment's name durable now, or synced records in it could vanish with it.
        env.fsync_dir(os.path.dirname(self.path))
        direct_append_fd = getattr(self._file, "direct_append_fd", None)
        fd = direct_append_fd() if direct_append_fd is not None else -1
        self.mapped: MappedAppender | None = None
        if fd >= 0 and mapped:  # Options.mmap_wal_writes
            try:
                self.mapped = MappedAppender(fd, self.path)
            except StorageIOError:
                pass  # cannot be mapped: write(2) (the appender left the file empty)
        self._writer = LogWriter(self.mapped if self.mapped is not None else self._file)
        self.tail = WalTail(self._writer, self._file, fd, self.mapped)
        # Whether tail.append_op may be used: only on a plain file (see the module doc).
        self.direct = fd >= 0
        self.syncs = 0
        # An interrupt (KeyboardInterrupt, SystemExit: not an Exception) that struck once the
        # record had reached the file: add() completed the record and left the interrupt
        # here, for the caller to raise once the write is applied everywhere.
        self.deferred_interrupt: BaseException | None = None

    @property
    def bytes_written(self) -> int:
        return self.tail.bytes_written

    @property
    def unsynced_records(self) -> int:
        """Records appended (by either path) since the last sync."""
        return self.tail.unsynced_records

    def add(self, payload: bytes) -> int:
        """Append one record. An interrupt in the caller's thread leaves the segment with the
        whole record or none of it: before any byte reached the file it propagates (nothing
        appended); after, the record is completed and the interrupt deferred (see above).
        Any other exception is an I/O failure and the segment's tail is unknown."""
        start = self._writer.offset
        try:
            kill_point("wal.append:before")
            n = self._writer.add_record(payload)
            kill_point("wal.append:after")
        except Exception:
            raise
        except BaseException as exc:
            n = self._settle_interrupted_append(payload, start)
            if n == 0:
                raise
            self.deferred_interrupt = exc
        tail = self.tail
        tail.bytes_written += n
        tail.unsynced_records += 1
        return n

    def _settle_interrupted_append(self, payload: bytes, start: int) -> int:
        """After an interrupt in add(): complete a record of which some bytes reached the
        file (or leave the file at ``start`` if none did) and resynchronise the writer's
        offset. Returns the record's length, 0 when nothing was appended."""
        if self.mapped is not None:
            # add_record's copy and its offset update are one C call, which an interrupt
            # cannot split: the record is all there or not at all.
            return self.mapped.size - start
        record = encode_records([payload], start % BLOCK_BYTES)
        reached = self._env.file_size(self.path) - start
        if reached > 0 and reached < len(record):
            self._file.append(record[reached:])  # the file position is at start + reached
        end = start + (len(record) if reached > 0 else 0)
        self._file.size = end
        self._writer = self.tail.log = LogWriter(self._file, end)
        return end - start

    def sync(self) -> None:
        kill_point("wal.sync:before")
        self._file.sync()
        kill_point("wal.sync:after")
        self.syncs += 1
        self.tail.unsynced_records = 0

    def close(self) -> None:
        self.direct = False
        self.tail.detach()
        if self.mapped is not None:
            self.mapped.close()  # unmaps, cuts the preallocated zeros off
        self._file.close()
