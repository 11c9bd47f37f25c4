"""Tables in sst/ that the MANIFEST does not list: what an open may do with them.

Three kinds of table end up unlisted:

- inputs of a compaction whose deletion a crash cut short: obsolete, every entry they hold
  is in the listed outputs;
- outputs of a flush or compaction whose MANIFEST edit never became durable (a crash, or a
  power cut tearing the edit): redundant, their writes are still in the WAL or in the
  listed inputs;
- outputs whose durable edit was later lost because the MANIFEST was truncated or cut
  (damage; a crash can only tear an edit that was never synced). After that edit the WAL
  segment the flush came from was deleted, so the table may be the only copy of
  acknowledged writes. Deleting it, as an obsolete file, would make the loss permanent.

How an open tells them apart (docs/reliability.md, "Lost MANIFEST records"):

- *Unrecovered writes.* Flushes are installed in order, so every listed table holds only
  writes up to ``listed_max`` (the largest ``max_seqno`` the MANIFEST lists); writes that a
  lost edit added are newer. An unlisted table's sequence numbers above ``listed_max`` must
  therefore have been replayed from the WAL; those that were not are unrecovered.
- *Lost durable records.* A WAL segment is deleted only after a durable edit moves
  ``log_number`` past it, and segment ``log_number`` exists from the edit that names it on.
  So if the MANIFEST's ``log_number`` segment is gone, records after it were lost. If it is
  there, unrecovered writes in an unlisted table are writes a power cut took from the WAL
  before the flush's edit became durable: the state without them is one the database was
  in, as after any crash, and the open goes on without them.
- Lost records and unrecovered writes together: the strict ``wal_recovery`` modes raise
  ``CorruptionError`` naming the MANIFEST and the offset where its records end. The lossy
  modes salvage the writes, RocksDB-repair style: the table's entries above ``listed_max``
  are added to the recovery memtable like replayed WAL records (and flushed to a new table
  by a writable open). Only tables all of whose entries are newer than ``listed_max`` are
  salvaged; a table that merges listed and lost writes (a compaction output) cannot be
  placed without risking a stale answer, so it is ``CorruptionError`` in every mode.
- *Deletion.* A table numbered at or above the MANIFEST's next file number, or modified
  after the MANIFEST, is not provably obsolete by that MANIFEST: the open that found it never
  deletes it (``protected``). The next open, whose MANIFEST is newer and numbers past it, can.
"""

from __future__ import annotations

from dataclasses import dataclass

from lsmdb.env import Env
from lsmdb.errors import CorruptionError, FormatVersionError, StorageIOError
from lsmdb.lsm.table_cache import table_path
from lsmdb.lsm.version_edit import FileMetaData
from lsmdb.wal.reader import ReplayedSequences

STRICT_MODES = ("tolerate_corrupted_tail", "absolute_consistency")


@dataclass(frozen=True)
class UnlistedTable:
    number: int
    meta: FileMetaData | None  # from the table's own properties; None: unreadable
    protected: bool  # not provably obsolete: this open must not delete it

    def unrecovered(self, listed_max: int, replayed: ReplayedSequences) -> tuple[int, int] | None:
        """The span of sequence numbers only this table may hold, or None."""
        m = self.meta
        if m is None or (m.entries == 0 and m.range_deletions == 0):
            return None  # a partial write (never installed) or an empty table
        lo, hi = max(m.min_seqno, listed_max + 1), m.max_seqno
        return None if replayed.covers(lo, hi) else (lo, hi)


def find_unlisted_tables(env: Env, dbdir: str, listed: set[int], on_disk: set[int],
                         manifest_next_file_number: int,
                         manifest_mtime_ns: int) -> list[UnlistedTable]:
    out = []
    for number in sorted(on_disk - listed):
        try:
            # Same tick counts as newer: coarse clocks cannot order the two writes.
            newer = env.modified_time_ns(table_path(dbdir, number)) >= manifest_mtime_ns
        except StorageIOError:
            continue  # removed since the listing (a writer beside a read-only open)
        protected = newer or number >= manifest_next_file_number
        out.append(UnlistedTable(number, read_table_meta(env, dbdir, number), protected))
    return out


def _open_reader(env: Env, dbdir: str, number: int):
    # Lazy, as in table_cache: keeps zstandard off start-up.
    from lsmdb._core.sstable_reader import SSTableReader

    f = env.open_random_access(table_path(dbdir, number))
    try:
        return SSTableReader(f, file_number=number, cache=None, verify_checksums=True)
    except BaseException:
        f.close()
        raise


def read_table_meta(env: Env, dbdir: str, number: int) -> FileMetaData | None:
    """FileMetaData from a table's own footer and properties; None if it cannot be read
    (a crash left it half written: an output whose edit was never logged)."""
    try:
        reader = _open_reader(env, dbdir, number)
    except (CorruptionError, FormatVersionError, StorageIOError):
        return None
    try:
        p = reader.properties
        return FileMetaData(
            number=number, size=reader.file_size, smallest=p.get("smallest_key", b""),
            largest=p.get("largest_key", b""), min_seqno=p.get("min_seqno", 0),
            max_seqno=p.get("max_seqno", 0), entries=p.get("entries", 0),
            deletions=p.get("deletions", 0), range_deletions=p.get("range_deletions", 0),
            raw_bytes=p.get("raw_key_bytes", 0) + p.get("raw_value_bytes", 0),
            creation_time=p.get("creation_time", 0))
    finally:
        reader.close()


def lost_records_error(tables: list[tuple[UnlistedTable, tuple[int, int]]], manifest: str | None,
                       offset: int | None, torn: bool, log_number: int,
                       listed_max: int) -> CorruptionError:
    """The error for unlisted tables holding writes that records lost from the MANIFEST
    installed; names first a table that cannot be salvaged, if any."""
    tables = sorted(tables, key=lambda t: t[0].meta.min_seqno > listed_max)
    (first, (lo, hi)), more = tables[0], len(tables) - 1
    salvageable = first.meta.min_seqno > listed_max
    also = f" (and {more} more table{'s' if more > 1 else ''})" if more else ""
    gone = (f"the WAL segment {log_number:06d}.log it names is gone" if log_number
            else "it names no WAL segment")
    hint = ("; wal_recovery='point_in_time' or 'skip_any_corrupted' recovers them from the "
            "table" if salvageable else
            "; the table merges them with listed writes, so it cannot be salvaged")
    return CorruptionError(
        f"MANIFEST lost records after the offset below{' (a torn record)' if torn else ''}: "
        f"{gone}, and sst/{first.number:06d}.sst{also} holds writes (sequences {lo}..{hi}) "
        f"that no listed table and no WAL segment holds{hint}", manifest, offset)


def salvage(env: Env, dbdir: str, tables: list[FileMetaData], mem, listed_max: int,
            replayed: ReplayedSequences) -> int:
    """Add the entries of ``tables`` newer than ``listed_max`` and not replayed from the
    WAL to the memtable ``mem``; returns the highest sequence number added (0 if none)."""
    from lsmdb._core.ikey import PUT, RANGE_DELETE, parse_internal_key

    added: set[tuple[bytes, int, int]] = set()  # a compaction output repeats its inputs
    # Range tombstones by (start, seqno): the widest piece (outputs hold clipped pieces).
    tombstones: dict[tuple[bytes, int], bytes] = {}
    last = 0
    for meta in sorted(tables, key=lambda m: (m.max_seqno, m.number)):
        reader = _open_reader(env, dbdir, meta.number)
        try:
            it = reader.iterator()
            it.seek_to_first()
            while it.valid():
                user_key, seq, vtype = parse_internal_key(it.key())
                if seq == 0:
                    # A bottommost compaction zeroed it (Compaction.zero_bottom_seqnos): its
                    # place among the lost writes is unknown, so the table cannot be placed.
                    raise CorruptionError(
                        f"sst/{meta.number:06d}.sst holds lost writes whose sequence numbers "
                        "a bottommost compaction zeroed; it cannot be salvaged",
                        table_path(dbdir, meta.number), None)
                if seq > listed_max and seq not in replayed and (user_key, seq, vtype) not in added:
                    added.add((user_key, seq, vtype))
                    mem.add(seq, vtype, user_key, it.value() if vtype == PUT else None)
                    last = max(last, seq)
                it.next()
            for start, end, seq in reader.range_tombstones():
                if seq > listed_max and seq not in replayed:
                    tombstones[start, seq] = max(end, tombstones.get((start, seq), end))
        finally:
            reader.close()
    for (start, seq), end in tombstones.items():
        mem.add(seq, RANGE_DELETE, start, end)
        last = max(last, seq)
    return last
