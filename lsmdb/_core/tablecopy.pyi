from lsmdb._core.iterator import InternalIterator
from lsmdb._core.sstable_builder import SSTableBuilder

def copy_entries(
    src: InternalIterator,
    builder: SSTableBuilder,
    target_bytes: int,
    boundaries: list[bytes] | None = None,
    min_bytes: int = 0,
) -> tuple[int, bool]: ...
