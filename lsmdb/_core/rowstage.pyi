from collections.abc import Callable

from lsmdb._core.batch import WriteBatch

def stage_inserts(table_id: int, tids: list[int], rows: list[tuple], datas: list[bytes],
                  plans: tuple, puts: dict[bytes, bytes], get: Callable[[bytes], bytes | None],
                  max_key: int, encode_key: Callable, encode_row: Callable
                  ) -> tuple[list[bytes], tuple[str, int, bytes, int] | None]: ...
def batch_overlay(batch: WriteBatch, overlay: dict[bytes, bytes | None]) -> None: ...
def deleted_keys(overlay: dict[bytes, bytes | None]) -> frozenset[bytes]: ...
