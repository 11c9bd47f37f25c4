"""The index-kind seam: what the engine asks of every index kind.

An index kind turns row changes into key-space operations and answers scans over its key
range. The engine calls ``on_insert``/``on_update``/``on_delete`` with decoded rows and applies
the returned operations to the transaction's overlay, so an index never writes by itself and
its entries commit atomically with the rows. Kinds whose entries are not plain ordered keys
(HNSW, IVF) implement the same hooks over their own structures in a later issue; until then
``kind_for`` refuses them at create time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from lsmdb.errors import FeatureNotSupportedError
from lsmdb.storage_api import IndexStorageDescriptor, TableStorageDescriptor

__all__ = ["IndexKind", "Put", "Delete", "kind_for"]

Put = tuple[bytes, bytes]  # (key, value) to write
Delete = bytes  # key to remove


class IndexKind(Protocol):
    index_id: int
    table_id: int
    descriptor: IndexStorageDescriptor
    prefix: bytes
    unique: bool

    def on_insert(self, row: Sequence[Any], tuple_id: int) -> list[Put]: ...

    def on_delete(self, row: Sequence[Any], tuple_id: int) -> list[Delete]: ...

    def on_update(self, old: Sequence[Any], new: Sequence[Any],
                  tuple_id: int) -> tuple[list[Delete], list[Put]]: ...

    def entry(self, row: Sequence[Any], tuple_id: int) -> Put:
        """The row's entry; for a unique index a key without tuple id is the uniqueness slot."""

    def entry_tuple_id(self, key: bytes, value: bytes) -> int: ...


def kind_for(index: IndexStorageDescriptor, table: TableStorageDescriptor,
             primary: bool = False) -> IndexKind:
    """The index kind object for a descriptor; FeatureNotSupportedError for kinds not built."""
    kind = index.kind
    if kind != "btree":
        raise FeatureNotSupportedError(
            f"{kind} indexes are not supported by this storage engine yet "
            f"(index {index.index_id}); only B-tree indexes are")
    from lsmdb.indexes.btree import BTreeIndex

    return BTreeIndex(index, table, primary)
