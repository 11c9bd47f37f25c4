"""Log format throughput: encoding 100-byte WAL records (group commit of 64 records per
append), LogWriter.add_record to an in-memory file, and LogReader over the result.

Targets are this module's own: encode >= 500 MB/s, reader >= 300 MB/s (C loops, zlib CRC);
the per-record writer figure includes one Python call per record.
Run alone: ``python bench/core/log.py [--quick]``.
"""

from __future__ import annotations

import os
import sys
import time

from lsmdb._core.logformat import LogReader, LogWriter, encode_records

GROUP = 64


class _MemFile:
    def __init__(self):
        self.parts: list[bytes] = []

    def append(self, data) -> None:
        self.parts.append(data)

    def sync(self) -> None:
        pass


def _row(metric: str, value: float, unit: str, target: float | None = None) -> dict:
    row = {"component": "log", "metric": metric, "value": value, "unit": unit}
    if target is not None:
        row["target"] = target
    return row


def run(quick: bool) -> list[dict]:
    n = 50_000 if quick else 500_000
    payloads = [os.urandom(100) for _ in range(1000)]
    records = [payloads[i % 1000] for i in range(n)]
    groups = [records[i:i + GROUP] for i in range(0, n, GROUP)]
    payload_bytes = 100 * n

    t0 = time.perf_counter()
    out = []
    offset = 0
    for g in groups:
        data = encode_records(g, offset % 32768)
        offset += len(data)
        out.append(data)
    t_encode = time.perf_counter() - t0
    log = b"".join(out)

    w = LogWriter(_MemFile())
    t0 = time.perf_counter()
    for r in records:
        w.add_record(r)
    t_write = time.perf_counter() - t0

    t0 = time.perf_counter()
    got = LogReader(log).read_all()
    t_read = time.perf_counter() - t0
    assert len(got) == n
    return [
        _row("encode_records (group of 64)", payload_bytes / t_encode / 1e6, "MB/s", 500.0),
        _row("LogWriter.add_record", n / t_write / 1e6, "M records/s"),
        _row("LogReader.read_all", len(log) / t_read / 1e6, "MB/s", 300.0),
        _row("LogReader.read_all records", n / t_read / 1e6, "M records/s"),
    ]


if __name__ == "__main__":
    for r in run("--quick" in sys.argv):
        print(f"{r['metric']:<32} {r['value']:10.2f} {r['unit']}  (target {r.get('target')})")
