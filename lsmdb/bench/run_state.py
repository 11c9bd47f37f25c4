"""The state of one run, shared by its phases: the keys and their values, which keys are
live, the database under test (created fresh, closed, removed) and how a phase records its
row."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from lsmdb.bench.config import BenchConfig
from lsmdb.bench.results import WorkloadResult, percentiles, read_io, short_repr
from lsmdb.bench.targets import make_target
from lsmdb.bench.workload import encode_key, value_buffer
from lsmdb.errors import InvalidArgumentError

__all__ = ["RunState", "check_db_root", "chunks", "SAMPLE_MASK", "CHUNK"]

SAMPLE_MASK = 7  # time one operation in 8
CHUNK = 1024  # operations between progress updates
VERIFY_SAMPLE = 1000

T = TypeVar("T")


def chunks(items: Sequence[T], bar: Any) -> Iterator[Sequence[T]]:
    """``items`` in slices of :data:`CHUNK`, advancing the progress ``bar`` (or None) after
    each: the per-chunk part of a phase's timed loop. Its cost is one resume per CHUNK
    operations; the per-operation part (and its sampled clock) stays inline in the phase."""
    for start in range(0, len(items), CHUNK):
        chunk = items[start:start + CHUNK]
        yield chunk
        if bar is not None:
            bar.update(len(chunk))


def check_db_root(path: str) -> str:
    """The absolute path of a usable ``--db``: an empty directory, or a new one whose parent
    exists. The bench creates only the last directory of the path, never its parents: a typo
    in a parent is an error, not a tree of new directories left behind."""
    root = os.path.abspath(path)
    if os.path.exists(root):
        if not os.path.isdir(root):
            raise InvalidArgumentError(f"--db: {root} is not a directory")
        if os.listdir(root):
            raise InvalidArgumentError(f"--db: {root} is not empty (the bench creates and "
                                       "destroys databases in it)")
        return root
    parent = os.path.dirname(root)
    if not os.path.isdir(parent):
        what = "is not a directory" if os.path.exists(parent) else "does not exist"
        raise InvalidArgumentError(f"--db: {parent} {what} (the bench creates the last "
                                   "directory of --db, not its parents)")
    return root


class RunState:
    """One run's keys, values and database; the phases (write_phases, read_phases,
    mixed_phase) read and update it."""

    def __init__(self, cfg: BenchConfig, progress: Callable[[str, int], Any] | None = None):
        cfg.validate()
        self.cfg = cfg
        self.options = cfg.options()
        self._progress_factory = progress
        self.keys = [encode_key(2 * i, cfg.key_size) for i in range(cfg.num)]
        self._buf = value_buffer(cfg.seed, cfg.value_size, cfg.compression_ratio)
        self._span = max(1, len(self._buf) - cfg.value_size)
        self.version = 0
        self.live = bytearray(cfg.num)  # 1: key i holds value(i, version)
        self.target = None
        self.owner = "none"  # "named": state above is the DB's; "spec": a mixed workload's
        self.generation = 0
        self.root = ""
        self._own_root = False
        self.dbpath = ""
        self.results: list[WorkloadResult] = []
        self.io_at_create: dict[str, int] = {}
        self.user_bytes = 0

    # -- data ------------------------------------------------------------------------------
    def value(self, i: int, version: int) -> bytes:
        o = (i * 2654435761 + version * 97531) % self._span
        return self._buf[o:o + self.cfg.value_size]

    def order(self, salt: int, n: int | None = None) -> list[int]:
        """A seeded permutation of range(num), cycled or cut to ``n`` entries."""
        import random

        perm = list(range(self.cfg.num))
        random.Random(self.cfg.seed * 1_000_003 + salt).shuffle(perm)
        if n is None or n == len(perm):
            return perm
        reps = -(-n // len(perm))
        return (perm * reps)[:n]

    # -- lifecycle -------------------------------------------------------------------------
    def _prepare_root(self) -> None:
        if self.cfg.db is None:
            self.root = tempfile.mkdtemp(prefix="lsmdb-bench-")
            self._own_root = True
            return
        self.root = check_db_root(self.cfg.db)
        if not os.path.isdir(self.root):
            os.mkdir(self.root)

    def fresh_db(self) -> None:
        self.close_db()
        if self.dbpath:
            shutil.rmtree(self.dbpath, ignore_errors=True)
        self.generation += 1
        self.dbpath = os.path.join(self.root, f"db{self.generation}")
        self.io_at_create = read_io()
        self.user_bytes = 0
        self.target = make_target(self.cfg, self.dbpath, self.options)
        self.live = bytearray(self.cfg.num)
        self.owner = "named"

    def close_db(self) -> None:
        if self.target is not None:
            self.target.close()
            self.target = None

    # -- timing helpers --------------------------------------------------------------------
    @contextlib.contextmanager
    def _bar(self, name: str, total: int):
        bar = self._progress_factory(name, total) if self._progress_factory else None
        try:
            yield bar
        finally:
            if bar is not None:
                bar.close()

    def _record(self, name: str, ops: int, seconds: float, nbytes: int, samples: list[int],
                **kw: Any) -> WorkloadResult:
        p50, p99 = percentiles(samples)
        row = WorkloadResult(
            name=name, ops=ops, seconds=seconds,
            ops_per_sec=ops / seconds if seconds > 0 else 0.0,
            micros_per_op=seconds * 1e6 / ops if ops else 0.0,
            p50_us=p50, p99_us=p99,
            mb_per_sec=nbytes / seconds / 1e6 if seconds > 0 else 0.0, bytes=nbytes, **kw)
        row.verified = not row.errors
        self.results.append(row)
        return row

    def _ensure_filled(self) -> bool:
        """Load every key (batched, untimed) unless the DB already holds the named keys."""
        if self.owner == "named" and any(self.live):
            return False
        self.fresh_db()
        keys, value, version = self.keys, self.value, self.version
        step = 1000
        for start in range(0, self.cfg.num, step):
            end = min(start + step, self.cfg.num)
            self.target.write_pairs([(keys[i], value(i, version)) for i in range(start, end)])
        self.user_bytes += self.cfg.num * (self.cfg.key_size + self.cfg.value_size)
        self.live = bytearray(b"\x01") * self.cfg.num
        return True

    def _verify_values(self, salt: int, errors: list[str]) -> None:
        import random

        rng = random.Random(self.cfg.seed * 7919 + salt)
        get, keys, value, version, live = (self.target.get, self.keys, self.value, self.version,
                                           self.live)
        for _ in range(min(VERIFY_SAMPLE, self.cfg.num)):
            i = rng.randrange(self.cfg.num)
            got = get(keys[i])
            want = value(i, version) if live[i] else None
            if got != want:
                errors.append(f"key {keys[i]!r}: got {short_repr(got)}, "
                              f"expected {short_repr(want)}")
                return
