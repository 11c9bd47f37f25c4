from collections.abc import Iterable

from lsmdb._core.iterator import InternalIterator

class ListIterator(InternalIterator):
    def __init__(self, entries: Iterable[tuple[bytes, bytes]], *, sort: bool = False) -> None: ...
    def __len__(self) -> int: ...
