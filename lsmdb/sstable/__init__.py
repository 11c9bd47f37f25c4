"""SSTables: the one table format of lsmdb (layout in lsmdb/_core/sstable_format.pyx and
docs/format/sstable.md). The builder, reader and block cache are Cython; this package adds
the file-level conveniences (open by path, build from an iterable) and the dump tool."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lsmdb._core.cache import BlockCache
from lsmdb._core.sstable_builder import SSTableBuilder
from lsmdb._core.sstable_format import FORMAT_VERSION, decode_footer
from lsmdb._core.sstable_reader import SSTableIterator, SSTableReader
from lsmdb.env import Env, default_env
from lsmdb.sstable.dump import dump_sstable, verify_sstable

__all__ = [
    "FORMAT_VERSION",
    "BlockCache",
    "SSTableBuilder",
    "SSTableIterator",
    "SSTableReader",
    "build_sstable",
    "decode_footer",
    "dump_sstable",
    "open_sstable",
    "verify_sstable",
]


def open_sstable(
    path: str,
    *,
    env: Env | None = None,
    file_number: int = 0,
    cache: BlockCache | None = None,
    verify_checksums: bool = True,
) -> SSTableReader:
    """Open ``path`` for reading; the reader owns (and closes) the file."""
    file = (env or default_env()).open_random_access(path)
    try:
        return SSTableReader(file, file_number=file_number, cache=cache,
                             verify_checksums=verify_checksums)
    except BaseException:
        file.close()
        raise


def build_sstable(
    path: str,
    entries: Iterable[tuple[bytes, bytes]],
    *,
    range_tombstones: Iterable[tuple[bytes, bytes, int]] = (),
    env: Env | None = None,
    sync: bool = True,
    **options: Any,
) -> dict[str, Any]:
    """Write (internal_key, value) pairs (sorted) and tombstones to a new file at ``path``.

    ``options`` are SSTableBuilder keywords. Returns the table's properties + file_size.
    On error the partial file is removed.
    """
    env = env or default_env()
    file = env.open_writable(path)
    try:
        builder = SSTableBuilder(file, file_name=path, **options)
        for key, value in entries:
            builder.add(key, value)
        for start, end, seqno in range_tombstones:
            builder.add_range_tombstone(start, end, seqno)
        props = builder.finish()
        if sync:
            file.sync()
    except BaseException:
        file.close()
        env.remove(path)
        raise
    file.close()
    return props
