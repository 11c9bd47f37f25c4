"""Bloom filter: measured false-positive rate vs theory at 5/10/15 bits/key, build and
probe throughput (MurmurHash3 x64-128, the default blocked layout, in C)."""

from __future__ import annotations

import time

from lsmdb._core.bloom import BloomFilter, BloomFilterBuilder, theoretical_fpr


def run(quick: bool) -> list[dict]:
    n = 100_000 if quick else 1_000_000
    # enough absent probes that sampling noise (~1/sqrt(fpr*probes)) is well under 20 %
    probes = 1_000_000 if quick else 2_000_000
    keys = [b"key-%012d" % i for i in range(n)]
    absent = [b"absent-%012d" % i for i in range(probes)]
    rows = []
    for bpk in (5.0, 10.0, 15.0):
        builder = BloomFilterBuilder(bpk)
        t0 = time.perf_counter()
        builder.add_many(keys)
        data = builder.finish()
        build_s = time.perf_counter() - t0
        f = BloomFilter(data)
        t0 = time.perf_counter()
        answers = f.may_contain_many(absent)
        probe_s = time.perf_counter() - t0
        measured = sum(answers) / probes
        theory = theoretical_fpr(n, f.num_bits, f.num_probes, f.format)
        rows += [
            {"component": "bloom", "metric": f"fpr @ {bpk:g} bits/key (theory {theory:.5f})",
             "value": measured, "unit": "ratio"},
            {"component": "bloom", "metric": f"fpr / theory @ {bpk:g} bits/key",
             "value": abs(measured / theory - 1.0), "unit": "rel.err", "target": 0.20,
             "higher_is_better": False},
            {"component": "bloom", "metric": f"add_many+finish @ {bpk:g} bits/key",
             "value": n / build_s, "unit": "keys/s"},
            {"component": "bloom", "metric": f"may_contain_many @ {bpk:g} bits/key",
             "value": probes / probe_s, "unit": "keys/s"},
        ]
    return rows


if __name__ == "__main__":
    for row in run(quick=True):
        print(row)
