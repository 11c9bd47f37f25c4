from collections.abc import Callable, Iterable, Iterator
from typing import Any

class _Records(Iterator[Any]):
    count: int
    def __next__(self) -> Any: ...
    def then(self, fn: Callable[[], object]) -> _Records: ...
    def finish(self) -> None: ...
    def close(self) -> None: ...

class HeapRecords(_Records):
    def __init__(self, source: Iterable[tuple[bytes, bytes]], specs: tuple, positions:
                 tuple[int, ...] | None, record_type: type, decode_row: Callable,
                 decode_row_columns: Callable, metrics: Any = None) -> None: ...

class IndexRecords(_Records):
    def __init__(self, source: Iterable[tuple[bytes, bytes]], get_many: Callable, snapshot: Any,
                 table_id: int, unique: bool, specs: tuple, positions: tuple[int, ...] | None,
                 record_type: type, decode_row: Callable, decode_row_columns: Callable,
                 metrics: Any = None) -> None: ...
