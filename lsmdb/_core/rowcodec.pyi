from collections.abc import Sequence
from typing import Any, Final

TypeSpec = tuple[Any, ...]

T_BOOLEAN: Final[int]
T_INT: Final[int]
T_BIGINT: Final[int]
T_REAL: Final[int]
T_DOUBLE: Final[int]
T_NUMERIC: Final[int]
T_TEXT: Final[int]
T_BLOB: Final[int]
T_DATE: Final[int]
T_TIME: Final[int]
T_TIMESTAMP: Final[int]
T_TIMESTAMPTZ: Final[int]
T_INTERVAL: Final[int]
T_UUID: Final[int]
T_JSONB: Final[int]
T_VECTOR: Final[int]
T_ARRAY: Final[int]
ROW_FORMAT_VERSION: Final[int]
MAX_ARRAY_DEPTH: Final[int]
MAX_JSON_DEPTH: Final[int]
MAX_VECTOR_DIMS: Final[int]
DESC: Final[int]
NULLS_FIRST: Final[int]

class _JsonNullType:
    def __bool__(self) -> bool: ...

JSON_NULL: Final[_JsonNullType]

Bytes = bytes | bytearray | memoryview

def check_spec(spec: TypeSpec) -> TypeSpec: ...
def format_spec(spec: TypeSpec) -> str: ...
def normalize(spec: TypeSpec, value: Any) -> Any: ...
def encode_row(specs: tuple[TypeSpec, ...], row: Sequence[Any]) -> bytes: ...
def decode_row(specs: tuple[TypeSpec, ...], data: Bytes) -> tuple[Any, ...]: ...
def decode_row_columns(
    specs: tuple[TypeSpec, ...], data: Bytes, positions: Sequence[int]
) -> tuple[Any, ...]: ...
def encode_key(
    specs: tuple[TypeSpec, ...], values: Sequence[Any], flags: Sequence[int]
) -> bytes: ...
def decode_key(
    specs: tuple[TypeSpec, ...], flags: Sequence[int], data: Bytes, ncols: int
) -> tuple[tuple[Any, ...], int]: ...
def prefix_successor(prefix: Bytes) -> bytes | None: ...
