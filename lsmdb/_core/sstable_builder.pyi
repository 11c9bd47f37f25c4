from collections.abc import Sequence
from typing import Any, Literal, Protocol

class _Appendable(Protocol):
    def append(self, data: bytes) -> None: ...

class SSTableBuilder:
    file_name: str | None
    compression_level: int | None
    bits_per_key: float
    level: int
    num_entries: int
    zeroed_seqnos: int
    def __init__(
        self,
        file: _Appendable,
        *,
        block_bytes: int = 4096,
        restart_interval: int = 16,
        compression_level: int | None = 3,
        bits_per_key: float = 10.0,
        level: int = 0,
        file_name: str | None = None,
        bloom_format: Literal["standard", "blocked"] = "blocked",
        zero_seqnos_upto: int | None = None,
        max_seqno_at_least: int = 0,
    ) -> None: ...
    def add(self, internal_key: bytes, value: bytes) -> None: ...
    def add_many(self, keys: Sequence[bytes], values: Sequence[bytes]) -> None: ...
    def add_range_tombstone(self, start: bytes, end: bytes, seqno: int) -> None: ...
    @property
    def file_size(self) -> int: ...
    @property
    def estimated_size(self) -> int: ...
    @property
    def num_range_tombstones(self) -> int: ...
    def finish(self) -> dict[str, Any]: ...
    def abandon(self) -> None: ...
