"""Version (an immutable shape of the tree) and VersionSet (MANIFEST + CURRENT).

A Version lists the live SSTables per level. Level 0 holds overlapping files, newest first;
every deeper level holds sorted runs of non-overlapping files (leveled styles: one run per
level, run id 0; tiered styles: several runs, higher run id = newer). Versions are never
mutated: a flush or compaction logs a VersionEdit to the MANIFEST and installs a new Version.
Files stay on disk while any live Version (held by an iterator or snapshot read) lists them.
"""

from __future__ import annotations

import os
import threading
import weakref

from lsmdb._core.logformat import LogReader, LogWriter
from lsmdb.env import Env, WritableFile
from lsmdb.errors import CorruptionError, FormatVersionError
from lsmdb.killpoint import kill_point
from lsmdb.lsm.version_edit import MANIFEST_FORMAT_VERSION, FileMetaData, VersionEdit
from lsmdb.wal.segment import list_segments


class Version:
    __slots__ = ("levels", "__weakref__", "compact_pointers", "style",
                 "iter_plan")

    def __init__(self, num_levels: int):
        self.levels: list[list[FileMetaData]] = [[] for _ in range(num_levels)]
        self.compact_pointers: dict[int, bytes] = {}
        self.style = "leveled"
        self.iter_plan = None  # DB-owned cache: how to build iterators over this Version

    @property
    def num_levels(self) -> int:
        return len(self.levels)

    def files(self):
        for level, files in enumerate(self.levels):
            for f in files:
                yield level, f

    def file_numbers(self) -> set[int]:
        return {f.number for files in self.levels for f in files}

    def level_bytes(self, level: int) -> int:
        return sum(f.size for f in self.levels[level])

    def total_bytes(self) -> int:
        return sum(f.size for files in self.levels for f in files)

    def runs(self, level: int) -> list[list[FileMetaData]]:
        """Sorted runs of a level, newest first (each L0 file is its own run)."""
        files = self.levels[level]
        if level == 0:
            return [[f] for f in files]
        by_run: dict[int, list[FileMetaData]] = {}
        for f in files:
            by_run.setdefault(f.run, []).append(f)
        return [by_run[r] for r in sorted(by_run, reverse=True)]

    def num_runs(self, level: int) -> int:
        if level == 0:
            return len(self.levels[0])
        return len({f.run for f in self.levels[level]})

    def finalize(self) -> None:
        """Sort levels: L0 newest first, deeper levels by run (newest first), then key."""
        self.levels[0].sort(key=lambda f: (f.max_seqno, f.number), reverse=True)
        for level in range(1, len(self.levels)):
            self.levels[level].sort(key=lambda f: (-f.run, f.smallest_user_key, f.number))

    def overlapping_files(self, level: int, lo: bytes | None, hi: bytes | None) -> list[FileMetaData]:
        """Files of a level whose user-key range intersects [lo, hi] (None: unbounded)."""
        return [f for f in self.levels[level]
                if (hi is None or f.smallest_user_key <= hi)
                and (lo is None or f.largest_user_key >= lo)]

    def apply(self, edit: VersionEdit) -> Version:
        v = Version(len(self.levels))
        v.compact_pointers = dict(self.compact_pointers)
        v.style = edit.style or self.style
        deleted = edit.deleted_files
        for level, files in enumerate(self.levels):
            v.levels[level] = [f for f in files if (level, f.number) not in deleted]
        for level, meta in edit.new_files:
            if level >= len(v.levels):
                raise CorruptionError(f"file {meta.number} added at level {level} beyond max")
            v.levels[level].append(meta)
        for level, key in edit.compact_pointers:
            v.compact_pointers[level] = key
        v.finalize()
        return v


# LogReader tail reasons a crash during an append can leave (a short file or preallocated
# zeros); any other damage at the end of a MANIFEST is corruption.
_CRASH_TAIL_REASONS = ("truncated record", "zero-filled",
                       "fragmented record without its LAST fragment at end of file")


def manifest_name(number: int) -> str:
    return f"MANIFEST-{number:06d}"


def missing_table_error(number: int, level: int, manifest: str | None) -> CorruptionError:
    return CorruptionError(f"MANIFEST lists missing table sst/{number:06d}.sst at level {level}",
                           manifest, None)


def table_numbers(env: Env, dbdir: str) -> set[int]:
    """Numbers of the sst/<n>.sst files present (other names are ignored)."""
    sst_dir = os.path.join(dbdir, "sst")
    if not env.exists(sst_dir):
        return set()
    out = set()
    for name in env.listdir(sst_dir):
        if name.endswith(".sst") and name[:-4].isdigit():
            out.add(int(name[:-4]))
    return out


class _ManifestProgress:
    """How far recovery has read one MANIFEST: the state its complete records add up to."""

    __slots__ = ("path", "data", "version", "last_offset", "log_number", "next_file",
                 "last_seq")

    def __init__(self, path: str, version: Version):
        self.path = path
        self.data = b""
        self.version = version
        self.last_offset = -1  # offset of the last record applied
        self.log_number: int | None = None
        self.next_file: int | None = None
        self.last_seq: int | None = None


class VersionSet:
    """The current Version, file numbering and the MANIFEST log that persists them."""

    def __init__(self, dbdir: str, env: Env, num_levels: int):
        self.dbdir = dbdir
        self.env = env
        self.num_levels = num_levels
        self.current = Version(num_levels)
        self.next_file_number = 2
        self.last_sequence = 0
        self.log_number = 0
        self.manifest_number = 0
        self._manifest: WritableFile | None = None
        self._log_writer = None
        self._live: weakref.WeakSet[Version] = weakref.WeakSet()
        self._lock = threading.Lock()
        self.manifest_bytes = 0
        self.recovered_edits = 0
        # What recover() read, for the checks the DB makes after WAL replay and for a
        # read-only open to tell a writer's file replacement from corruption.
        self.recovered_manifest: str | None = None  # path of the MANIFEST read
        self.read_current: bytes | None = None  # CURRENT's bytes as read
        self.read_manifest_path: str | None = None  # the MANIFEST CURRENT named
        self.read_manifest: bytes | None = None  # its bytes as read
        self.manifest_next_file_number = 0  # as recorded in the MANIFEST (before any bump)
        self.manifest_torn_offset: int | None = None  # offset of a torn last record
        self.manifest_mtime_ns = 0
        self.table_numbers_on_disk: set[int] = set()  # every sst/<n>.sst found
        self._progress: _ManifestProgress | None = None

    # -- numbering ----------------------------------------------------------------------

    def new_file_number(self) -> int:
        with self._lock:
            n = self.next_file_number
            self.next_file_number += 1
            return n

    def mark_file_number_used(self, number: int) -> None:
        with self._lock:
            if self.next_file_number <= number:
                self.next_file_number = number + 1

    # -- recovery -----------------------------------------------------------------------

    def create_new(self, style: str) -> None:
        self.current.style = style
        self._write_snapshot_manifest()

    def recover_read_only(self) -> None:
        """Rebuild the current Version without writing anything; called again, apply only
        the records appended since (a read-only view catching up with a writer). Listed
        tables are not checked here: the reader pins them and tells a writer's deletion
        from a missing file (DB._pin_read_only_version)."""
        self._recover(self._progress, check_tables=False)

    def recover(self, write_manifest: bool = True) -> None:
        """Rebuild the current Version from CURRENT -> MANIFEST; open a fresh MANIFEST."""
        self._recover(None)
        if write_manifest:
            self._write_snapshot_manifest()

    def _read_current(self) -> str:
        """The path of the MANIFEST that CURRENT names."""
        current_path = os.path.join(self.dbdir, "CURRENT")
        self.read_current = self.read_manifest_path = self.read_manifest = None
        current = self.read_current = self.env.read_file(current_path)
        name = current.decode("ascii", "replace").strip()
        if not name.startswith("MANIFEST-") or "/" in name:
            raise CorruptionError(f"CURRENT names {name!r}, not a MANIFEST", current_path, 0)
        path = self.read_manifest_path = os.path.join(self.dbdir, name)
        if not self.env.exists(path):
            raise CorruptionError(f"CURRENT names missing {name}", current_path, 0)
        return path

    def _recover(self, progress: _ManifestProgress | None, check_tables: bool = True) -> None:
        path = self._read_current()
        # The modification time first: a table written after it is newer than this MANIFEST.
        mtime_ns = self.env.modified_time_ns(path)
        data = self.read_manifest = self.env.read_file(path)
        p = progress
        if p is None or p.path != path or data[:p.last_offset] != p.data[:p.last_offset]:
            p = self._progress = _ManifestProgress(path, Version(self.num_levels))
        p.data = data
        reader = LogReader(data, file_name=path)
        for offset, payload in reader:
            if offset <= p.last_offset:
                continue  # applied by an earlier read of this append-only file
            edit = VersionEdit.decode(payload, path, offset)
            if edit.format_version is not None and edit.format_version > MANIFEST_FORMAT_VERSION:
                raise FormatVersionError(
                    f"{path}: MANIFEST format {edit.format_version} is newer than supported "
                    f"{MANIFEST_FORMAT_VERSION}")
            for level, meta in edit.new_files:
                if level >= self.num_levels:
                    raise CorruptionError(
                        f"file {meta.number} at level {level} but max_levels is "
                        f"{self.num_levels}", path, offset)
            p.version = p.version.apply(edit)
            p.last_offset = offset
            if edit.log_number is not None:
                p.log_number = edit.log_number
            if edit.next_file_number is not None:
                p.next_file = edit.next_file_number
            if edit.last_sequence is not None:
                p.last_seq = edit.last_sequence
            self.recovered_edits += 1
        version, log_number, next_file, last_seq = p.version, p.log_number, p.next_file, p.last_seq
        if p.last_offset < 0 or next_file is None or last_seq is None or log_number is None:
            raise CorruptionError("MANIFEST has no complete snapshot record", path, 0)
        tail = reader.tail_error
        if tail is not None and not tail.startswith(_CRASH_TAIL_REASONS):
            # A crash can only cut the last append short. Overwritten bytes in the last
            # record are corruption: dropping that edit would resurrect an older Version
            # whose WAL segments or input files are already deleted (a silent wrong answer).
            raise CorruptionError(f"MANIFEST ends in a damaged record: {tail}", path,
                                  reader.torn_tail_offset)
        tables = table_numbers(self.env, self.dbdir)
        for level, f in version.files() if check_tables else ():
            if f.number not in tables:
                raise missing_table_error(f.number, level, path)
        self.current = version
        self.log_number = log_number
        self.next_file_number = next_file
        self.last_sequence = last_seq
        self.manifest_number = int(os.path.basename(path).split("-", 1)[1])
        self.recovered_manifest = path  # the file this state was read from (for errors)
        self.manifest_next_file_number = next_file
        self.manifest_torn_offset = reader.torn_tail_offset if tail is not None else None
        self.manifest_mtime_ns = mtime_ns
        self.table_numbers_on_disk = tables
        self.mark_file_number_used(self.manifest_number)
        # Every file found, listed or not, keeps its number: a table the MANIFEST does not
        # list may hold writes whose MANIFEST record was lost, and a new file given its
        # number would overwrite it (lsm/unlisted_tables.py).
        for number in tables:
            self.mark_file_number_used(number)
        for number in list_segments(self.env, self.dbdir):
            self.mark_file_number_used(number)

    # -- logging edits ------------------------------------------------------------------

    def _snapshot_edit(self) -> VersionEdit:
        e = VersionEdit(log_number=self.log_number, next_file_number=self.next_file_number,
                        last_sequence=self.last_sequence, format_version=MANIFEST_FORMAT_VERSION,
                        style=self.current.style)
        for level, f in self.current.files():
            e.add_file(level, f)
        e.compact_pointers = sorted(self.current.compact_pointers.items())
        return e

    def snapshot_record(self) -> bytes:
        """One MANIFEST record describing the whole current state (used by checkpoints)."""
        return self._snapshot_edit().encode()

    def _write_snapshot_manifest(self) -> None:
        """Start a new MANIFEST holding the whole current state, then point CURRENT at it."""
        old_number = self.manifest_number
        number = self.new_file_number()
        path = os.path.join(self.dbdir, manifest_name(number))
        f = self.env.open_writable(path)
        try:
            writer = LogWriter(f)
            writer.add_record(self._snapshot_edit().encode())
            f.sync()
            kill_point("manifest.snapshot:written")
            self.env.write_file_atomic(os.path.join(self.dbdir, "CURRENT"),
                                       (manifest_name(number) + "\n").encode())
            kill_point("current.install:after")
        except BaseException:
            f.close()
            raise
        if self._manifest is not None:
            self._manifest.close()
        self._manifest, self._log_writer = f, writer
        self.manifest_number = number
        self.manifest_bytes = f.size
        if old_number and old_number != number:
            old = os.path.join(self.dbdir, manifest_name(old_number))
            if self.env.exists(old):
                self.env.remove(old)

    def log_and_apply(self, edit: VersionEdit, max_manifest_bytes: int = 64 << 20) -> Version:
        """Persist edit (fsync) and install the resulting Version. Raises on I/O error,
        leaving the current Version unchanged."""
        with self._lock:
            if edit.next_file_number is None:
                edit.next_file_number = self.next_file_number
            if edit.last_sequence is None:
                edit.last_sequence = self.last_sequence
            if edit.log_number is None:
                edit.log_number = self.log_number
        new_version = self.current.apply(edit)
        if self._log_writer is None:
            raise CorruptionError("MANIFEST is not open")
        try:
            kill_point("manifest.append:before")
            self._log_writer.add_record(edit.encode())
            kill_point("manifest.sync:before")
            self._manifest.sync()
            kill_point("manifest.sync:after")
        except BaseException:
            # The MANIFEST may now end in a torn record; start a fresh one on the next edit.
            self._manifest.close()
            self._manifest = self._log_writer = None
            raise
        self.manifest_bytes = self._manifest.size
        self.log_number = edit.log_number
        self.last_sequence = max(self.last_sequence, edit.last_sequence)
        self.install(new_version)
        if self.manifest_bytes > max_manifest_bytes:
            self._write_snapshot_manifest()
        return new_version

    def reopen_manifest(self) -> None:
        """After a failed MANIFEST write: write a fresh snapshot MANIFEST (db.resume())."""
        self._write_snapshot_manifest()

    @property
    def manifest_ok(self) -> bool:
        return self._log_writer is not None

    def install(self, version: Version) -> None:
        self.current = version
        self._live.add(version)

    def live_file_numbers(self) -> set[int]:
        live = self.current.file_numbers()
        for v in list(self._live):
            live |= v.file_numbers()
        return live

    def close(self) -> None:
        if self._manifest is not None:
            self._manifest.close()
            self._manifest = self._log_writer = None
