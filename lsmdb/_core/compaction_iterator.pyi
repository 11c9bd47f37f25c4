from collections.abc import Callable, Iterable, Iterator

from lsmdb._core.iterator import InternalIterator
from lsmdb._core.rangedel import FragmentedRangeTombstones

class CompactionIterator(InternalIterator):
    kept: int
    dropped_overwritten: int
    dropped_deleted: int
    dropped_range_deleted: int
    def __init__(
        self,
        source: InternalIterator,
        snapshots: Iterable[int] = (),
        tombstones: FragmentedRangeTombstones | None = None,
        bottommost: bool = False,
    ) -> None: ...
    @property
    def snapshots(self) -> list[int]: ...
    def __iter__(self) -> Iterator[tuple[bytes, bytes]]: ...
    def drain_into(
        self,
        add: Callable[[bytes, bytes], object] | Callable[[list[tuple[bytes, bytes]]], object],
        batch: int = 0,
    ) -> int: ...
    def stats(self) -> dict[str, int]: ...
