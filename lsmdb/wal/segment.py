"""WAL segment files: ``<dir>/wal/<number>.log``, one per memtable.

A segment is the log format of docs/format/log.md; each record's payload is a write batch
(docs/format/write_batch.md), whose header carries its first sequence number. Each memtable
owns one segment; once the memtable is flushed to an SSTable and the MANIFEST records the
next segment's number as ``log_number``, the segment is obsolete and deleted, unless it is
one of the newest ``Options.wal_keep_segments`` obsolete ones, which stay (never replayed).
"""

from __future__ import annotations

import os
import re

from lsmdb.env import Env

_SEGMENT_RE = re.compile(r"^(\d+)\.log$")


def segment_path(dbdir: str, number: int) -> str:
    return os.path.join(dbdir, "wal", f"{number:06d}.log")


def list_segments(env: Env, dbdir: str) -> list[int]:
    waldir = os.path.join(dbdir, "wal")
    if not env.exists(waldir):
        return []
    out = []
    for name in env.listdir(waldir):
        m = _SEGMENT_RE.match(name)
        if m:
            out.append(int(m.group(1)))
    return sorted(out)
