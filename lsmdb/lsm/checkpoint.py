"""db.checkpoint(dir): a consistent, openable copy of a live DB.

SSTables are immutable, so they are hard-linked (copied across file systems); the MANIFEST
is written fresh from the current Version; WAL segments not yet flushed are copied (after a
flush they hold only the writes since). Everything is built in ``<dir>.tmp`` and renamed
into place, so a crash never leaves a half-made checkpoint under the final name.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from lsmdb import wal as walmod
from lsmdb._core.logformat import LogWriter
from lsmdb.env import Env
from lsmdb.errors import InvalidArgumentError
from lsmdb.lsm.table_cache import table_path
from lsmdb.lsm.version import VersionSet, manifest_name
from lsmdb.options import Options


@dataclass(frozen=True)
class CheckpointSource:
    """What a checkpoint reads from its DB, handed over by the DB (as ``VersionView`` is to
    policies) so that this module never reaches into the DB's private fields."""

    env: Env
    path: str  # the DB directory (absolute)
    options: Options
    read_only: bool
    flush: Callable[[], None]  # flush the memtables first (not called when read_only)
    versions: VersionSet
    version_lock: AbstractContextManager  # held while the state to copy is captured


def make_checkpoint(db: CheckpointSource, target: str) -> None:
    env = db.env
    target = os.path.abspath(target)
    if env.exists(target) and env.listdir(target):
        raise InvalidArgumentError(f"checkpoint target {target} exists and is not empty")
    if target == db.path or target.startswith(db.path + os.sep):
        raise InvalidArgumentError("checkpoint target must be outside the database directory")
    if not db.read_only:
        db.flush()
    tmp = target + ".tmp"
    if env.exists(tmp):
        env.remove_tree(tmp)
    for sub in ("", "sst", "wal"):
        env.mkdirs(os.path.join(tmp, sub))
    with db.version_lock:
        versions = db.versions
        version = versions.current
        for _, f in version.files():
            env.link(table_path(db.path, f.number), table_path(tmp, f.number))
        record = versions.snapshot_record()
        segments = [n for n in walmod.list_segments(env, db.path) if n >= versions.log_number]
        manifest_number = versions.next_file_number + 1
    for n in segments:
        src = walmod.segment_path(db.path, n)
        if env.exists(src):
            data = env.read_file(src)
            out = env.open_writable(walmod.segment_path(tmp, n))
            try:
                out.append(data)
                out.sync()
            finally:
                out.close()
    mf = env.open_writable(os.path.join(tmp, manifest_name(manifest_number)))
    try:
        LogWriter(mf).add_record(record)
        mf.sync()
    finally:
        mf.close()
    env.write_file_atomic(os.path.join(tmp, "CURRENT"),
                          (manifest_name(manifest_number) + "\n").encode())
    for name in ("CONTRACT",):
        env.write_file_atomic(os.path.join(tmp, name), env.read_file(os.path.join(db.path, name)))
    env.write_file_atomic(os.path.join(tmp, f"OPTIONS-{manifest_number + 1:06d}.json"),
                          db.options.to_json().encode())
    for sub in ("sst", "wal", ""):
        env.fsync_dir(os.path.join(tmp, sub))
    if env.exists(target):
        env.remove_tree(target)  # empty directory
    env.rename(tmp, target)
    env.fsync_dir(os.path.dirname(target) or ".")
