"""``lsmdb sst-dump FILE``: print an SSTable's footer, properties, index, range tombstones
and entries; ``verify_sstable`` checks every block's checksum."""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from lsmdb._core.ikey import parse_internal_key
from lsmdb._core.sstable_format import FOOTER_BYTES
from lsmdb._core.sstable_reader import SSTableReader
from lsmdb.env import Env, default_env
from lsmdb.errors import CorruptionError

__all__ = ["dump_sstable", "verify_sstable", "escape"]

_TYPE_NAMES = {0: "DEL", 1: "PUT", 2: "RANGE_DEL"}


def escape(data: bytes, limit: int = 80) -> str:
    """Printable ASCII as is, everything else as \\xNN; long values are elided."""
    out = []
    for b in data[:limit]:
        if 0x20 <= b < 0x7F and b != 0x5C:
            out.append(chr(b))
        else:
            out.append(f"\\x{b:02x}")
    text = "".join(out)
    return text + f"...({len(data)} bytes)" if len(data) > limit else text


def _describe_key(key: bytes) -> str:
    user_key, seqno, vtype = parse_internal_key(key)
    return f"'{escape(user_key)}' @{seqno} {_TYPE_NAMES.get(vtype, vtype)}"


def dump_sstable(
    path: str,
    out: TextIO | None = None,
    *,
    verify: bool = True,
    show_entries: bool = True,
    limit: int | None = None,
    env: Env | None = None,
) -> int:
    """Print a readable dump of the table at ``path``; returns the number of entries shown.

    Raises CorruptionError if the table (or, with ``verify``, any block) is corrupt.
    """
    out = out or sys.stdout
    file = (env or default_env()).open_random_access(path)
    with SSTableReader(file, verify_checksums=verify) as reader:
        print(f"SSTable {path} ({reader.file_size} bytes)", file=out)
        footer = reader.footer
        print(f"footer @ {reader.file_size - FOOTER_BYTES}: format_version "
              f"{footer['format_version']}", file=out)
        for name in ("filter", "range_del", "properties", "index"):
            offset, size = footer[name]
            print(f"  {name:<11} offset {offset:>10} size {size:>8}", file=out)
        print(f"filter: {reader.bloom_format or 'none'}, {reader.bloom_num_bits} bits, "
              f"{reader.bloom_num_probes} probes per key", file=out)
        print("properties:", file=out)
        for name, value in sorted(reader.properties.items()):
            if isinstance(value, bytes):
                value = _describe_key(value) if len(value) >= 8 else f"'{escape(value)}'"
            print(f"  {name:<20} {value}", file=out)
        handles = reader.block_handles()
        print(f"index: {len(handles)} data blocks", file=out)
        for last_key, offset, size in handles:
            print(f"  offset {offset:>10} size {size:>8} last {_describe_key(last_key)}",
                  file=out)
        tombstones = reader.range_tombstones()
        print(f"range tombstones: {len(tombstones)}", file=out)
        for start, end, seqno in tombstones:
            print(f"  ['{escape(start)}', '{escape(end)}') @{seqno}", file=out)
        shown = 0
        if show_entries:
            print("entries:", file=out)
            it = reader.iterator()
            it.seek_to_first()
            while it.valid() and (limit is None or shown < limit):
                print(f"  {_describe_key(it.key())} => '{escape(it.value())}'", file=out)
                shown += 1
                it.next()
            if it.valid():
                print(f"  ... (stopped after {limit})", file=out)
    return shown


def verify_sstable(path: str | bytes | os.PathLike, *, env: Env | None = None
                   ) -> dict[str, Any]:
    """Check the footer and every block's crc and structure.

    Returns ``{"path", "ok", "blocks_checked", "entries", "problems": [str]}`` (``path`` as
    a str); never raises CorruptionError (problems are listed instead).
    """
    path = os.fsdecode(os.fspath(path))
    report: dict[str, Any] = {"path": path, "ok": False, "blocks_checked": 0, "entries": 0,
                              "problems": []}
    file = (env or default_env()).open_random_access(path)
    try:
        reader = SSTableReader(file, verify_checksums=True)
    except CorruptionError as exc:
        file.close()
        report["problems"].append(str(exc))
        return report
    with reader:
        report["blocks_checked"] = 5  # footer + index, filter, properties, range_del
        entries = 0
        for _, offset, size in reader.block_handles():
            try:
                entries += len(reader.data_block(offset, size))
            except CorruptionError as exc:
                report["problems"].append(str(exc))
            report["blocks_checked"] += 1
        report["entries"] = entries
        expected = reader.properties.get("entries")
        if not report["problems"] and expected is not None and expected != entries:
            report["problems"].append(
                f"properties say {expected} entries, data blocks hold {entries}")
    report["ok"] = not report["problems"]
    return report
