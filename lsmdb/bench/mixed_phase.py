"""The mixed phase of a run: a :class:`~lsmdb.bench.workload.WorkloadSpec`'s preload (a
timed ``load`` row) and its operation stream, every lookup checked against the generator."""

from __future__ import annotations

import contextlib
import time

from lsmdb.bench.results import WorkloadResult, percentiles, read_amp_from, short_repr
from lsmdb.bench.run_state import CHUNK, SAMPLE_MASK, RunState
from lsmdb.bench.workload import (
    DELETE,
    INSERT,
    LOOKUP,
    OP_KINDS,
    RANGE_DELETE,
    UPDATE,
    WorkloadGenerator,
    WorkloadSpec,
)

__all__ = ["MixedPhase"]


class MixedPhase(RunState):
    """The generator's workload on a fresh DB."""

    def mixed(self) -> WorkloadResult:
        spec = self.cfg.spec()
        self.fresh_db()
        self.owner = "spec"
        gen = WorkloadGenerator(spec)
        target = self.target
        with self._bar(f"{spec.name}:load", spec.preload) as bar:
            load_seconds = 0.0
            nbytes = 0
            for pairs in gen.preload(batch=1000):
                t0 = time.perf_counter()
                target.write_pairs(pairs)
                load_seconds += time.perf_counter() - t0
                nbytes += sum(len(k) + len(v) for k, v in pairs)
                if bar is not None:
                    bar.update(len(pairs))
        self.user_bytes += nbytes
        if spec.preload:
            self._record(f"{spec.name}:load", spec.preload, load_seconds, nbytes, [],
                         extra={"batch_size": 1000})
        return self._run_ops(spec, gen)

    def _run_ops(self, spec: WorkloadSpec, gen: WorkloadGenerator) -> WorkloadResult:
        target = self.target
        put, get, delete = target.put, target.get, target.delete
        delete_range, seek_read = target.delete_range, target.seek_read
        samples: dict[int, list[int]] = {k: [] for k in range(len(OP_KINDS))}
        now = time.perf_counter_ns
        errors: list[str] = []
        found = 0
        nbytes = 0
        written = 0
        lookups = 0
        seconds = 0.0
        before = target.read_counters()
        with self._bar(spec.name, spec.operations) as bar:
            for ops in gen.chunks(CHUNK):
                t0 = time.perf_counter()
                for j, (code, key, arg, expect) in enumerate(ops):
                    s = now() if not j & SAMPLE_MASK else 0
                    if code == LOOKUP:
                        v = get(key)
                        lookups += 1
                        if v is not None:
                            found += 1
                            nbytes += len(key) + len(v)
                        if v != expect and len(errors) < 5:
                            errors.append(f"get {key!r}: got {short_repr(v)}, expected "
                                          f"{short_repr(expect)}")
                    elif code == UPDATE or code == INSERT:
                        put(key, arg)
                        written += len(key) + len(arg)
                    elif code == DELETE:
                        delete(key)
                        written += len(key)
                    elif code == RANGE_DELETE:
                        delete_range(key, arg)
                        written += len(key) + len(arg)
                    else:
                        it = target.new_iterator()
                        count, first = seek_read(it, key, arg)
                        with contextlib.suppress(AttributeError):
                            it.close()
                        nbytes += count * (len(key) + spec.value_size)
                        if count != expect and len(errors) < 5:
                            errors.append(f"range lookup from {key!r}: {count} entries, "
                                          f"expected {expect}")
                    if s:
                        samples[code].append(now() - s)
                seconds += time.perf_counter() - t0
                if bar is not None:
                    bar.update(len(ops))
        self.user_bytes += written
        amp = read_amp_from(before, target.read_counters(), lookups)
        everything = [x for lst in samples.values() for x in lst]
        per_kind = {}
        for code, lst in samples.items():
            if lst:
                p50, p99 = percentiles(lst)
                per_kind[OP_KINDS[code]] = {"p50_us": p50, "p99_us": p99}
        return self._record(spec.name, spec.operations, seconds, nbytes + written, everything,
                            found=found, errors=errors, read_amp=amp,
                            extra={"counts": dict(gen.counts),
                                   "zero_result_lookups": gen.zero_result_lookups,
                                   "latency_by_kind": per_kind, "spec": spec.to_dict()})

