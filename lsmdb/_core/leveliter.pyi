from collections.abc import Callable, Sequence

from lsmdb._core.iterator import InternalIterator

class LevelIterator(InternalIterator):
    def __init__(
        self, largest: Sequence[bytes], opener: Callable[[int], InternalIterator]
    ) -> None: ...
