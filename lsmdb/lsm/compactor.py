"""Executes a CompactionJob: merge the input files, write the outputs, build the edit.

The merge runs through the Cython MergingIterator + CompactionIterator (which decides, per
user key and snapshot stripe, which versions survive); TableOutput splits and writes files.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from lsmdb._core.compaction_iterator import CompactionIterator
from lsmdb._core.ikey import MAX_SEQNO
from lsmdb._core.leveliter import LevelIterator
from lsmdb._core.merging_iterator import MergingIterator
from lsmdb._core.rangedel import FragmentedRangeTombstones, compaction_tombstones_to_keep
from lsmdb.killpoint import kill_point
from lsmdb.lsm.bloom_alloc import output_bits_per_key
from lsmdb.lsm.compaction import CompactionJob, key_range
from lsmdb.lsm.table_cache import table_path
from lsmdb.lsm.table_writer import TableOutput
from lsmdb.lsm.version_edit import FileMetaData, VersionEdit


@dataclass
class CompactionStats:
    bytes_read: int = 0
    bytes_written: int = 0
    bytes_read_per_level: dict | None = None
    files_in: int = 0
    files_out: int = 0
    entries_in: int = 0
    entries_out: int = 0
    dropped_overwritten: int = 0
    dropped_deleted: int = 0
    dropped_range_deleted: int = 0
    seconds: float = 0.0
    trivial_move: bool = False
    output_level: int = 0


def is_bottommost(version, job: CompactionJob) -> bool:
    """True when no level below the output holds a key in the job's range."""
    files = job.input_files()
    if not files:
        return True
    lo, hi = key_range(files)
    for level in range(job.output_level + 1, version.num_levels):
        if version.overlapping_files(level, lo, hi):
            return False
    # Older runs of the output level itself (tiered styles) also hold older data.
    inputs = {f.number for f in files}
    for f in version.overlapping_files(job.output_level, lo, hi):
        if f.number not in inputs:
            return False
    return True


def grandparent_boundaries(version, job: CompactionJob) -> list[bytes] | None:
    """First user keys of the files of the level below the output (the "grandparents"), in
    the job's key range, when that level is one sorted run: the output files are cut there
    once they hold ``table_writer.ALIGNED_CUT_MIN_FRACTION`` of their target, so each spans
    whole grandparent files, as few as it can, and its own later compaction rewrites no
    partly-overlapped neighbour (RocksDB cuts compaction output at grandparent boundaries
    the same way, from half its target on). None for L0 outputs and multi-run levels."""
    below = job.output_level + 1
    if job.output_level == 0 or below >= version.num_levels or version.num_runs(below) != 1:
        return None
    lo, hi = key_range(job.input_files())
    keys = [f.smallest_user_key for f in version.overlapping_files(below, lo, hi)]
    return keys[1:] or None  # cutting before the first grandparent gains nothing


def run_compaction(db, job: CompactionJob, snapshots: list[int]) -> tuple[VersionEdit,
                                                                          CompactionStats]:
    t0 = time.perf_counter()
    stats = CompactionStats(output_level=job.output_level, bytes_read_per_level={})
    edit = VersionEdit()
    files = job.input_files()
    for level, fs in job.inputs:
        for f in fs:
            edit.delete_file(level, f.number)
        stats.bytes_read_per_level[level] = stats.bytes_read_per_level.get(level, 0) + \
            sum(f.size for f in fs)
    stats.files_in = len(files)
    if job.compact_pointer is not None:
        edit.compact_pointers.append(job.compact_pointer)
    if job.delete_only:
        stats.bytes_read_per_level = {}  # dropped files are not read
        stats.seconds = time.perf_counter() - t0
        return edit, stats
    if job.trivial_move:
        for f in files:
            edit.add_file(job.output_level, dataclasses.replace(f, run=job.output_run))
        stats.trivial_move = True
        stats.seconds = time.perf_counter() - t0
        return edit, stats

    tables = db._tables
    children = []
    tombstones = []
    for level, fs in job.inputs:
        if not fs:
            continue
        if level == 0:
            ordered = sorted(fs, key=lambda f: (f.max_seqno, f.number), reverse=True)
            children.extend(tables.get(f).iterator() for f in ordered)
        else:
            runs: dict[int, list[FileMetaData]] = {}
            for f in fs:
                runs.setdefault(f.run, []).append(f)
            for run_id in sorted(runs, reverse=True):
                run = sorted(runs[run_id], key=lambda f: f.smallest_user_key)

                def opener(i, run=run):
                    return tables.get(run[i]).iterator()

                children.append(LevelIterator([f.largest for f in run], opener))
        for f in fs:
            stats.bytes_read += f.size
            stats.entries_in += f.entries
            if f.range_deletions:
                tombstones.extend(tables.get(f).range_tombstones())
    version = db._versions.current
    bottommost = is_bottommost(version, job)
    consumed = {f.number for f in files}
    output_runs = {f.run for f in version.levels[job.output_level] if f.number not in consumed}
    bits = output_bits_per_key(db.options, version, job.output_level, stats.entries_in,
                               removed=job.inputs,
                               new_run=job.output_level == 0 or job.output_run not in output_runs,
                               key_range=key_range(files))
    frag = FragmentedRangeTombstones(tombstones) if tombstones else None
    kept_tombstones = (compaction_tombstones_to_keep(frag, snapshots, bottommost)
                       if frag is not None else [])
    merged = MergingIterator(children)
    merged.seek_to_first()
    citer = CompactionIterator(merged, snapshots, frag, bottommost)
    # At the bottom, the CompactionIterator keeps one version per key at or below the oldest
    # snapshot (its earliest stripe) and compaction_tombstones_to_keep drops that stripe's
    # range tombstones, so such a PUT is seen by every reader and shadows nothing below: its
    # seqno can be 0. Zeroed entries (only ever at the bottom, so only inputs of bottommost
    # jobs) have lost their own seqnos, so a bottommost job's outputs take their inputs'
    # largest max_seqno as theirs: recovery's listed_max must bound every write they hold.
    zero_upto = None
    floor = 0
    if bottommost:
        floor = max((f.max_seqno for f in files), default=0)
        if db.options.compaction.zero_bottom_seqnos:
            zero_upto = min(snapshots) if snapshots else MAX_SEQNO
    out = TableOutput(db.env, db.path, db.options, job.output_level, db._new_output_number,
                      target_file_bytes=job.target_file_bytes, run=job.output_run,
                      tombstones=kept_tombstones, bits_per_key=bits,
                      boundaries=grandparent_boundaries(version, job),
                      zero_seqnos_upto=zero_upto, max_seqno_at_least=floor)
    try:
        citer.seek_to_first()
        out.copy_from(citer)
        outputs = out.finish()
        kill_point("compaction.output:done")
    except BaseException:
        for n in out.abandon():
            db._remove_quietly(table_path(db.path, n))
        raise
    for m in outputs:
        edit.add_file(job.output_level, m)
        stats.entries_out += m.entries
    stats.files_out = len(outputs)
    stats.bytes_written = out.bytes_written
    for name in ("dropped_overwritten", "dropped_deleted", "dropped_range_deleted"):
        setattr(stats, name, getattr(citer, name, 0))
    stats.seconds = time.perf_counter() - t0
    return edit, stats
