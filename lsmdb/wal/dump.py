"""Human-readable dump of a log file (WAL segment or MANIFEST): ``lsmdb wal-dump``.

Prints each record's offset and length; WAL records are decoded as write batches
(``seqno fixed64 | count fixed32 | ops``) when lsmdb._core.batch is available, otherwise a
hex preview is shown. Torn tails are reported (exit 0); mid-log corruption or an
undecodable batch makes the result 1. A non-empty file without one valid record at offset
0 is not a log at all: :class:`NotALogError`, naming what the file looks like instead (an
SSTable, JSON, text) — the log reader alone would call it a torn tail and print nothing.
Usage: ``python -m lsmdb.wal.dump FILE [--kind auto|wal|raw]``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TextIO

from lsmdb._core.logformat import LogReader
from lsmdb._core.walmap import WINDOW_BYTES
from lsmdb.env import Env, default_env
from lsmdb.errors import CorruptionError, Error, InvalidArgumentError

__all__ = ["NotALogError", "dump_log", "identify", "main"]

_OP_NAMES = {0: "DELETE", 1: "PUT", 2: "RANGE_DELETE"}
_PREVIEW = 48


def _preview(data: bytes) -> str:
    text = repr(bytes(data[:_PREVIEW]))
    return text + (f"...(+{len(data) - _PREVIEW} bytes)" if len(data) > _PREVIEW else "")


# The SSTable footer ends with magic:fixed64 crc32:fixed32 (docs/format/sstable.md).
_SST_MAGIC = b"\x89LSMSST\n"
_SST_FOOTER_BYTES = 80


class NotALogError(InvalidArgumentError):
    """The file holds no log record at all (``lsmdb wal-dump`` exits non-zero)."""


def identify(data: bytes) -> str | None:
    """What a file that is not a log looks like (for the error message), None if unknown."""
    if len(data) >= _SST_FOOTER_BYTES and data[-12:-4] == _SST_MAGIC:
        return (f"looks like an SSTable (magic {_SST_MAGIC.hex(' ')} at offset "
                f"{len(data) - 12}; see lsmdb sst-dump)")
    head = bytes(data[:4096])
    if head.lstrip()[:1] in (b"{", b"["):
        return "looks like JSON text (an OPTIONS or CONTRACT file?)"
    if not head.strip(b"\x00"):
        return "holds only zero bytes"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if all(c.isprintable() or c in "\n\r\t" for c in text):
        return f"looks like text ({text.strip()[:40]!r})"
    return None


def _guess_kind(path: str) -> str:
    name = os.path.basename(path)
    if name.startswith("MANIFEST"):
        return "raw"
    return "wal" if name.endswith(".log") else "raw"


def _load_batch_decoder():
    try:
        from lsmdb._core.batch import WriteBatch
    except ImportError:
        return None
    return WriteBatch.from_bytes


def _format_op(op) -> str:
    kind, *rest = op
    name = _OP_NAMES.get(kind, str(kind)) if isinstance(kind, int) else str(kind)
    if name == "PUT" and len(rest) >= 2:
        return f"PUT key={_preview(rest[0])} value={_preview(rest[1])}"
    if name == "RANGE_DELETE" and len(rest) >= 2:
        return f"RANGE_DELETE [{_preview(rest[0])}, {_preview(rest[1])})"
    return f"{name} key={_preview(rest[0])}" if rest else name


def dump_log(path: str | bytes | os.PathLike, out: TextIO | None = None, *, kind: str = "auto",
             env: Env | None = None) -> int:
    """Prints the records of the log at ``path``; returns 0 if clean (a torn tail is only
    reported), 1 on corruption or an undecodable WAL batch."""
    path = os.fsdecode(os.fspath(path))
    if kind not in ("auto", "wal", "raw"):
        raise ValueError(f"kind must be 'auto', 'wal' or 'raw', not {kind!r}")
    out = sys.stdout if out is None else out
    env = env or default_env()
    if kind == "auto":
        kind = _guess_kind(path)
    decode = _load_batch_decoder() if kind == "wal" else None
    data = env.read_file(path)
    # A WAL segment is preallocated (lsmdb/_core/walmap.pyx): zeros after its last record are
    # the end of the log. A MANIFEST ("raw") never is.
    reader = LogReader(data, path, skip_corrupted=True, zero_tail_is_end=kind == "wal")
    records_found = list(reader)
    # Zeros only: a segment created by a writer that died before its first record (whole
    # preallocation windows) is an empty log; any other all-zero file is not a WAL.
    preallocated_only = reader.zero_tail_offset == 0 and len(data) % WINDOW_BYTES == 0
    if data and not records_found and not reader.corruptions and not preallocated_only:
        # Damage at offset 0 with nothing valid after it: the reader's "torn tail". A log
        # the writer cut during its very first append is indistinguishable from a file of
        # another kind; either way there is nothing to dump and exit 0 would mislead.
        looks = identify(data)
        if looks is None:
            looks = f"no valid WAL record at offset 0 ({reader.tail_error or 'no record'})"
        raise NotALogError(f"not a WAL file: {looks}: {path}")
    status = 0
    records = 0
    print(f"{path}: {len(data)} bytes, {kind} log", file=out)
    if kind == "wal" and decode is None:
        print("  (write-batch decoder unavailable: showing payload previews)", file=out)
    for offset, payload in records_found:
        records += 1
        line = f"@{offset:<10d} len={len(payload):<8d}"
        if decode is None:
            print(f"{line} {_preview(payload)}", file=out)
            continue
        try:
            batch = decode(payload, path, offset)
            ops = list(batch.ops())
        except CorruptionError as exc:
            print(f"{line} BAD BATCH: {exc}", file=out)
            status = 1
            continue
        print(f"{line} seq={batch.sequence} count={batch.count}", file=out)
        for op in ops:
            print(f"    {_format_op(op)}", file=out)
    for offset, reason in reader.corruptions:
        print(f"CORRUPTION at offset {offset}: {reason} (skipped to the next block)",
              file=out)
        status = 1
    if reader.tail_error is not None:
        print(f"torn tail at offset {reader.torn_tail_offset}: {reader.tail_error} "
              f"({len(data) - reader.torn_tail_offset} bytes ignored)", file=out)
    if reader.zero_tail_offset is not None:
        print(f"preallocated zeros from offset {reader.zero_tail_offset} "
              f"({len(data) - reader.zero_tail_offset} bytes; the writer stopped before "
              "closing the segment)", file=out)
    print(f"{records} records", file=out)
    return status


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Dump a lsmdb WAL segment or MANIFEST.")
    ap.add_argument("path")
    ap.add_argument("--kind", choices=["auto", "wal", "raw"], default="auto")
    args = ap.parse_args(argv)
    try:
        return dump_log(args.path, kind=args.kind)
    except Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
