"""The write phases of a run: fillseq, fillrandom, fillsync, overwrite, deleterandom.

Their loops time one operation in :data:`~lsmdb.bench.run_state.SAMPLE_MASK` + 1 inline, on
purpose: a helper called per operation would add its call to every measured operation."""

from __future__ import annotations

import time

from lsmdb.bench.results import WorkloadResult
from lsmdb.bench.run_state import SAMPLE_MASK, RunState, chunks

__all__ = ["WritePhases"]


class WritePhases(RunState):
    """The workloads that put or delete the named keys."""

    def _put_all(self, name: str, order: list[int], version: int, *, sync: bool = False):
        target, keys, value, cfg = self.target, self.keys, self.value, self.cfg
        put = target.put_sync if sync else target.put
        batch = 1 if sync else cfg.batch_size
        samples: list[int] = []
        add = samples.append
        now = time.perf_counter_ns
        n = len(order)
        with self._bar(name, n) as bar:
            t0 = time.perf_counter()
            for chunk in chunks(order, bar):
                if batch == 1:
                    for j, i in enumerate(chunk):
                        if j & SAMPLE_MASK:
                            put(keys[i], value(i, version))
                        else:
                            s = now()
                            put(keys[i], value(i, version))
                            add(now() - s)
                else:
                    for b in range(0, len(chunk), batch):
                        s = now()
                        target.write_pairs([(keys[i], value(i, version))
                                            for i in chunk[b:b + batch]])
                        add(now() - s)
            seconds = time.perf_counter() - t0
        for i in order:
            self.live[i] = 1
        nbytes = n * (cfg.key_size + cfg.value_size)
        self.user_bytes += nbytes
        extra = {"batch_size": batch} if batch > 1 else {}
        return self._record(name, n, seconds, nbytes, samples, extra=extra)

    def fillseq(self) -> WorkloadResult:
        self.fresh_db()
        self.version = 0
        return self._put_all("fillseq", list(range(self.cfg.num)), 0)

    def fillrandom(self) -> WorkloadResult:
        self.fresh_db()
        self.version = 0
        return self._put_all("fillrandom", self.order(1), 0)

    def fillsync(self) -> WorkloadResult:
        self.fresh_db()
        self.version = 0
        n = min(self.cfg.n_sync, self.cfg.num)
        return self._put_all("fillsync", self.order(2)[:n], 0, sync=True)

    def overwrite(self) -> WorkloadResult:
        prefilled = self._ensure_filled()
        self.version += 1
        row = self._put_all("overwrite", self.order(3), self.version)
        row.prefilled = prefilled
        return row

    def deleterandom(self) -> WorkloadResult:
        prefilled = self._ensure_filled()
        delete, keys = self.target.delete, self.keys
        order = self.order(4)
        samples: list[int] = []
        add = samples.append
        now = time.perf_counter_ns
        with self._bar("deleterandom", len(order)) as bar:
            t0 = time.perf_counter()
            for chunk in chunks(order, bar):
                for j, i in enumerate(chunk):
                    if j & SAMPLE_MASK:
                        delete(keys[i])
                    else:
                        s = now()
                        delete(keys[i])
                        add(now() - s)
            seconds = time.perf_counter() - t0
        self.live = bytearray(self.cfg.num)
        nbytes = len(order) * self.cfg.key_size
        self.user_bytes += nbytes
        errors: list[str] = []
        self._verify_values(4, errors)
        return self._record("deleterandom", len(order), seconds, nbytes, samples,
                            prefilled=prefilled, errors=errors)
