from collections.abc import Iterable, Iterator
from typing import Any

from lsmdb.env import RandomAccessFile

BLOCK_BYTES: int
HEADER_BYTES: int
FULL: int
FIRST: int
MIDDLE: int
LAST: int

def encode_records(payloads: Iterable[bytes | bytearray | memoryview], block_offset: int = 0) -> bytes: ...

class LogWriter:
    def __init__(self, file: Any, initial_offset: int = 0) -> None: ...
    @property
    def offset(self) -> int: ...
    @property
    def file(self) -> Any: ...
    def add_record(self, payload: bytes | bytearray | memoryview) -> int: ...
    def add_records(self, payloads: Iterable[bytes | bytearray | memoryview]) -> int: ...
    def sync(self) -> None: ...

class LogReader:
    file_name: str | None
    skip_corrupted: bool
    corruptions: list[tuple[int, str]]
    tail_error: str | None
    torn_tail_offset: int | None
    zero_tail_is_end: bool
    zero_tail_offset: int | None
    def __init__(
        self, data: bytes | bytearray | memoryview, file_name: str | None = None, *,
        skip_corrupted: bool = False, zero_tail_is_end: bool = False,
    ) -> None: ...
    @classmethod
    def from_file(cls, raf: RandomAccessFile, *, skip_corrupted: bool = False,
                  zero_tail_is_end: bool = False) -> LogReader: ...
    @property
    def size(self) -> int: ...
    def __iter__(self) -> Iterator[tuple[int, bytes]]: ...
    def __next__(self) -> tuple[int, bytes]: ...
    def read_all(self) -> list[tuple[int, bytes]]: ...
