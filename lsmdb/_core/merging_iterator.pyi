from collections.abc import Iterable

from lsmdb._core.iterator import InternalIterator

class MergingIterator(InternalIterator):
    def __init__(self, children: Iterable[InternalIterator]) -> None: ...
    @property
    def children(self) -> list[InternalIterator]: ...
