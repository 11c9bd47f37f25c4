"""Golden-file tests of the per-level stats table (`lsmdb bench` and `report.format_levels`).

Regenerate after an intended change with ``LSMDB_UPDATE_GOLDEN=1 python -m pytest
tests/bench/test_levels_golden.py`` and review the diff like code.
"""

from __future__ import annotations

import os
from pathlib import Path

import lsmdb
from lsmdb.bench.report import format_levels
from lsmdb.options import Compression
from lsmdb.testing.presets import small_options

GOLDEN = Path(__file__).parent / "golden"


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("LSMDB_UPDATE_GOLDEN"):
        path.write_text(text + "\n")
    assert text + "\n" == path.read_text(), f"{name} changed; see the module doc to update"


def test_levels_table_from_hand_written_stats():
    stats = {"levels": [
        {"level": 0, "files": 3, "bytes": 3 * 1024 * 1024 + 17, "sorted_runs": 3,
         "compaction_bytes_read": 0, "compaction_bytes_written": 12_345_678,
         "write_amp": None, "bloom_bits_per_key": 12.708, "bloom_fp_rate": 0.00031},
        {"level": 1, "files": 0, "bytes": 0, "sorted_runs": 0, "compaction_bytes_read": 0,
         "compaction_bytes_written": 0, "write_amp": None, "bloom_bits_per_key": 0.0,
         "bloom_fp_rate": None},  # empty and never written: left out
        {"level": 5, "files": 0, "bytes": 0, "sorted_runs": 0,
         "compaction_bytes_read": 5 << 30, "compaction_bytes_written": 6 << 30,
         "write_amp": 1.2, "bloom_bits_per_key": 5.0, "bloom_fp_rate": None},  # drained
        {"level": 6, "files": 1234, "bytes": 2_500_000_000, "sorted_runs": 1,
         "compaction_bytes_read": 123_456_789_012, "compaction_bytes_written": 130_000_000_000,
         "write_amp": 13.25, "bloom_bits_per_key": 4.17, "bloom_fp_rate": 0.0915},
    ]}
    _check("levels_hand_written.txt", format_levels(stats))
    assert format_levels({"levels": []}) == "(no SSTables)"


def test_levels_table_of_a_deterministic_database(tmp_path):
    # Inline background work and no compression: the same writes give the same files.
    o = small_options(compression=Compression(kind="none"))
    db = lsmdb.open(tmp_path / "db", o, inline_background=True)
    for i in range(4000):
        db.put(b"key%06d" % (i * 7919 % 4000), b"value-%06d" % i * 3)
    db.flush()
    text = format_levels(db.stats().to_dict())
    db.close()
    _check("levels_small_db.txt", text)
