"""A read-only open beside a writer process: telling a race from corruption.

A read-only view is read file by file (CURRENT, the MANIFEST, the tables it lists, the WAL
segments), and a writer may replace any of them in between: compact a table away, delete a
WAL segment after a flush, append to or replace the MANIFEST, half-append a WAL record. Any
of these can make a healthy database look damaged to the reader. The rule
(docs/reliability.md, "Read-only opens"): a failure is a race, and retried, if a file
vanished or anything the failed attempt read has changed since; bytes that read the same
twice and are still bad are corruption.
"""

from __future__ import annotations

import errno
import os

from lsmdb.env import Env
from lsmdb.errors import StorageIOError
from lsmdb.lsm.version import VersionSet
from lsmdb.wal.reader import segment_fingerprint
from lsmdb.wal.segment import segment_path

# A read-only open that keeps seeing a writer replace the files it reads gives up after this
# many attempts (with backoff from 1 ms to 50 ms: about a second in all) with BusyError.
OPEN_ATTEMPTS = 25
# MANIFEST catch-ups per attempt while pinning the listed tables (each applies only the
# records appended since the last read).
CATCH_UP_ROUNDS = 200


def is_race(exc: BaseException | None, env: Env, dbdir: str, versions: VersionSet | None,
            wal_read: dict[int, tuple[int, int]]) -> bool:
    """Did a writer change what the failed attempt read? ``wal_read``: the fingerprint
    (``wal.reader.segment_fingerprint``) of each WAL segment's bytes the attempt decoded."""
    if isinstance(exc, StorageIOError):
        return exc.errno == errno.ENOENT  # a file vanished between listing and reading
    if versions is None or versions.read_current is None:
        return False
    try:
        if env.read_file(os.path.join(dbdir, "CURRENT")) != versions.read_current:
            return True
        if versions.read_manifest is not None and versions.read_manifest_path is not None \
                and env.read_file(versions.read_manifest_path) != versions.read_manifest:
            return True
        for number, fingerprint in wal_read.items():
            if segment_fingerprint(env.read_file(segment_path(dbdir, number))) != fingerprint:
                return True  # e.g. a record half appended when it was read
    except StorageIOError as again:
        return again.errno == errno.ENOENT
    return False
