from typing import Any

FORMAT_VERSION: int
MAGIC: int
FOOTER_BYTES: int
BLOCK_TRAILER_BYTES: int
COMPRESSION_NONE: int
COMPRESSION_ZSTD: int
MAX_BLOCK_BYTES: int

HANDLE_NAMES: tuple[str, ...]

def encode_varint64(v: int) -> bytes: ...
def encode_footer(handles: dict[str, tuple[int, int]], format_version: int = ...) -> bytes: ...
def decode_footer(
    data: bytes | memoryview, file: str | None = None, offset: int | None = None
) -> dict[str, Any]: ...
def encode_properties(props: dict[str, int | float | str | bytes]) -> bytes: ...
def decode_properties(
    data: bytes | memoryview, file: str | None = None, offset: int | None = None
) -> dict[str, int | float | str | bytes]: ...
def decode_range_tombstones(
    data: bytes | memoryview, file: str | None = None, offset: int | None = None
) -> list[tuple[bytes, bytes, int]]: ...
