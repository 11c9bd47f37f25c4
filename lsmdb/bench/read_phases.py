"""The read phases of a run: readrandom, readmissing, readseq, seekrandom, readwhilewriting.

Every read checks what it got (found counts, a sample of values, scan order, seek targets);
latency is sampled inline, one operation in :data:`~lsmdb.bench.run_state.SAMPLE_MASK` + 1."""

from __future__ import annotations

import contextlib
import threading
import time

from lsmdb.bench.results import WorkloadResult, read_amp_from, short_repr
from lsmdb.bench.run_state import CHUNK, SAMPLE_MASK, RunState, chunks
from lsmdb.bench.workload import encode_key

__all__ = ["ReadPhases"]


class ReadPhases(RunState):
    """The workloads that read the named keys (loading them first if the DB holds none)."""

    def _gets(self, name: str, keys: list[bytes]) -> tuple:
        get = self.target.get
        samples: list[int] = []
        add = samples.append
        now = time.perf_counter_ns
        found = 0
        nbytes = 0
        before = self.target.read_counters()
        with self._bar(name, len(keys)) as bar:
            t0 = time.perf_counter()
            for chunk in chunks(keys, bar):
                for j, k in enumerate(chunk):
                    if j & SAMPLE_MASK:
                        v = get(k)
                    else:
                        s = now()
                        v = get(k)
                        add(now() - s)
                    if v is not None:
                        found += 1
                        nbytes += len(v)
            seconds = time.perf_counter() - t0
        amp = read_amp_from(before, self.target.read_counters(), len(keys))
        return seconds, found, nbytes, samples, amp

    def readrandom(self) -> WorkloadResult:
        prefilled = self._ensure_filled()
        order = self.order(5, self.cfg.n_reads)
        keys = self.keys
        seconds, found, nbytes, samples, amp = self._gets(
            "readrandom", [keys[i] for i in order])
        expected = sum(self.live[i] for i in order)
        errors = [] if found == expected else [f"found {found} keys, expected {expected}"]
        self._verify_values(5, errors)
        nbytes += found * self.cfg.key_size
        return self._record("readrandom", len(order), seconds, nbytes, samples, found=found,
                            prefilled=prefilled, errors=errors, read_amp=amp)

    def readmissing(self) -> WorkloadResult:
        prefilled = self._ensure_filled()
        order = self.order(6, self.cfg.n_reads)
        size = self.cfg.key_size
        seconds, found, nbytes, samples, amp = self._gets(
            "readmissing", [encode_key(2 * i + 1, size) for i in order])
        errors = [] if found == 0 else [f"found {found} keys that were never written"]
        return self._record("readmissing", len(order), seconds, nbytes, samples, found=found,
                            prefilled=prefilled, errors=errors, read_amp=amp)

    def readseq(self) -> WorkloadResult:
        prefilled = self._ensure_filled()
        count = 0
        nbytes = 0
        ordered = True
        prev = b""
        with self._bar("readseq", sum(self.live)) as bar:
            t0 = time.perf_counter()
            for k, v in self.target.scan():
                count += 1
                nbytes += len(k) + len(v)
                if k <= prev:
                    ordered = False
                prev = k
                if bar is not None and not count % CHUNK:
                    bar.update(CHUNK)
            seconds = time.perf_counter() - t0
        expected = sum(self.live)
        errors = [] if count == expected else [f"scanned {count} entries, expected {expected}"]
        if not ordered:
            errors.append("scan returned keys out of order")
        return self._record("readseq", count, seconds, nbytes, [], found=count,
                            prefilled=prefilled, errors=errors)

    def seekrandom(self) -> WorkloadResult:
        prefilled = self._ensure_filled()
        order = self.order(7, self.cfg.n_reads)
        keys, live, nexts = self.keys, self.live, self.cfg.seek_nexts
        target = self.target
        seek_read = target.seek_read
        it = target.new_iterator()
        samples: list[int] = []
        add = samples.append
        now = time.perf_counter_ns
        found = 0
        read = 0
        wrong = None
        with self._bar("seekrandom", len(order)) as bar:
            t0 = time.perf_counter()
            for chunk in chunks(order, bar):
                for j, i in enumerate(chunk):
                    if j & SAMPLE_MASK:
                        count, first = seek_read(it, keys[i], nexts + 1)
                    else:
                        s = now()
                        count, first = seek_read(it, keys[i], nexts + 1)
                        add(now() - s)
                    read += count
                    if first == keys[i]:
                        found += 1
                    elif live[i] and wrong is None:
                        wrong = f"seek to live key {keys[i]!r} landed on {short_repr(first)}"
            seconds = time.perf_counter() - t0
        with contextlib.suppress(AttributeError):
            it.close()
        expected = sum(live[i] for i in order)
        errors = [wrong] if wrong else []
        if found != expected:
            errors.append(f"seeks found {found} keys, expected {expected}")
        nbytes = read * (self.cfg.key_size + self.cfg.value_size)
        return self._record("seekrandom", len(order), seconds, nbytes, samples, found=found,
                            prefilled=prefilled, errors=errors,
                            extra={"entries_read": read, "seek_nexts": nexts})

    def readwhilewriting(self) -> WorkloadResult:
        prefilled = self._ensure_filled()
        cfg, keys, value, version = self.cfg, self.keys, self.value, self.version
        target = self.target
        stop = threading.Event()
        writes = [0]
        failures: list[BaseException] = []

        def writer() -> None:
            # Re-puts the current values: real writes (WAL, memtable, flushes, compactions)
            # that keep every read's expected answer exact.
            try:
                import random

                rng = random.Random(cfg.seed + 11)
                put, n = target.put, cfg.num
                while not stop.is_set():
                    for _ in range(64):
                        i = rng.randrange(n)
                        put(keys[i], value(i, version))
                    writes[0] += 64
            except BaseException as exc:  # reported in the row, not lost in a thread
                failures.append(exc)

        per_thread = max(1, cfg.n_reads // cfg.threads)
        results: list[tuple] = [()] * cfg.threads
        amp_before = target.read_counters()

        def reader(t: int) -> None:
            try:
                order = self.order(100 + t, per_thread)
                get = target.get
                samples: list[int] = []
                now = time.perf_counter_ns
                found = 0
                for j, i in enumerate(order):
                    if j & SAMPLE_MASK:
                        v = get(keys[i])
                    else:
                        s = now()
                        v = get(keys[i])
                        samples.append(now() - s)
                    found += v is not None
                results[t] = (found, samples)
            except BaseException as exc:
                failures.append(exc)

        wthread = threading.Thread(target=writer, name="bench-writer", daemon=True)
        readers = [threading.Thread(target=reader, args=(t,), name=f"bench-reader-{t}")
                   for t in range(cfg.threads)]
        with self._bar("readwhilewriting", 0):
            t0 = time.perf_counter()
            wthread.start()
            for th in readers:
                th.start()
            for th in readers:
                th.join()
            seconds = time.perf_counter() - t0
            stop.set()
            wthread.join()
        ops = per_thread * cfg.threads
        found = sum(r[0] for r in results if r)
        samples = [s for r in results if r for s in r[1]]
        errors = [f"{type(e).__name__}: {e}" for e in failures]
        if not failures and found != ops:
            errors.append(f"found {found} keys, expected {ops}")
        self.user_bytes += writes[0] * (cfg.key_size + cfg.value_size)
        amp = read_amp_from(amp_before, target.read_counters(), ops)
        return self._record("readwhilewriting", ops, seconds,
                            found * (cfg.key_size + cfg.value_size), samples, found=found,
                            prefilled=prefilled, errors=errors, read_amp=amp,
                            extra={"threads": cfg.threads, "writer_ops": writes[0],
                                   "writer_ops_per_sec": writes[0] / seconds if seconds else 0})

