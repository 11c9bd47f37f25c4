"""B-tree secondary indexes as ordered keys (layout in lsmdb/storage_keys.py).

Non-unique entry: key ``0x20 u64 index_id  encode_key(key columns, flags)  u64 tuple_id``,
value the include columns encoded as a row (b"" without include columns). Unique entry: key
``0x20 u64 index_id  encode_key(...)`` (no tuple id: the key is the uniqueness slot, checked by
one point read), value ``u64 tuple_id`` + include columns; a key holding a NULL under NULLS
DISTINCT keeps the tuple id suffix as well (such keys never conflict). The key codec is
order-preserving per column (descending columns complemented, NULLs first or last per flag),
so the LSM's byte order is the index order and range scans are key-range scans. Appending the
tuple id keeps entries of equal keys distinct (non-unique indexes) and ordered by tuple id.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

from lsmdb._core import rowcodec
from lsmdb.storage_api import (
    UNBOUNDED,
    DataKind,
    Excluded,
    Included,
    IndexStorageDescriptor,
    KeyRange,
    TableStorageDescriptor,
)
from lsmdb.storage_keys import index_prefix, pack_u64, prefix_end, unpack_u64

__all__ = ["BTreeIndex"]

_encode_key = rowcodec.encode_key
_encode_row = rowcodec.encode_row
_PLAIN_KINDS = frozenset(k.value for k in (DataKind.BOOLEAN, DataKind.INT, DataKind.BIGINT,
                                           DataKind.TEXT, DataKind.BLOB))


class BTreeIndex:
    kind = "btree"

    def __init__(self, desc: IndexStorageDescriptor, table: TableStorageDescriptor,
                 primary: bool = False):
        self.descriptor = desc
        self.index_id = desc.index_id
        self.table_id = desc.table_id
        self.name = desc.name
        self.primary = primary
        self.unique = desc.unique
        self.nulls_not_distinct = desc.nulls_not_distinct
        pos = {c.column_id: i for i, c in enumerate(table.columns)}
        self.key_positions = tuple(pos[k.column_id] for k in desc.key_columns)
        self.key_specs = tuple(table.columns[p].data_type.spec() for p in self.key_positions)
        self.flags = tuple(k.codec_flags for k in desc.key_columns)
        self.include_positions = tuple(pos[c] for c in desc.include_columns)
        self.include_specs = tuple(table.columns[p].data_type.spec()
                                   for p in self.include_positions)
        self.prefix = index_prefix(desc.index_id)
        self.end = prefix_end(self.prefix)
        self.column_ids = tuple(k.column_id for k in desc.key_columns)
        kp, ip = self.key_positions, self.include_positions
        # itemgetter returns a bare value for one position: wrap it so callers get a tuple.
        self._keys_of = ((lambda row, p=kp[0]: (row[p],)) if len(kp) == 1
                         else operator.itemgetter(*kp))
        self._includes_of = (None if not ip else (lambda row, p=ip[0]: (row[p],))
                             if len(ip) == 1 else operator.itemgetter(*ip))
        self._slot_always = self.unique and self.nulls_not_distinct
        # Key columns of these kinds encode equal exactly when the (stored) Python values are
        # equal, so an update that leaves them equal leaves the entry as it is (REAL/DOUBLE
        # are not here: -0.0 == 0.0 and NaN != NaN; include columns are compared as bytes).
        self._plain_keys = not ip and all(s[0] in _PLAIN_KINDS for s in self.key_specs)
        # What lsmdb/_core/rowstage.pyx needs to build this index's entries of new rows.
        self.insert_plan = (self.prefix, self.key_specs, self.flags, self.key_positions,
                            self.unique, self._slot_always, self.include_specs,
                            self.include_positions)
        # The encoding of a NULL leading column: entries starting with it are NULL keys.
        self.null_lead = self.prefix + _encode_key(self.key_specs[:1], (None,), self.flags[:1])

    # ------------------------------------------------------------------ entries

    def entry(self, row: Sequence[Any], tuple_id: int) -> tuple[bytes, bytes]:
        """(key, value) of the row's entry. A unique index keys the entry by its key alone,
        so a uniqueness check is one point read, and keeps the tuple id in the value; a key
        holding a NULL under NULLS DISTINCT cannot conflict and gets the tuple id suffix too."""
        values = self._keys_of(row)
        key = self.prefix + _encode_key(self.key_specs, values, self.flags)
        inc = b"" if self._includes_of is None else _encode_row(self.include_specs,
                                                                 self._includes_of(row))
        tid = pack_u64(tuple_id)
        if self.unique:
            if self._slot_always or None not in values:
                return key, tid + inc
            return key + tid, tid + inc
        return key + tid, inc

    def insert_entry(self, row: Sequence[Any], tid: bytes) -> tuple[bytes, bytes, bool]:
        """``entry`` for a new row (``tid`` already packed) and whether its key is a
        uniqueness slot (``is_slot``): the insert path's one call per index and row."""
        values = self._keys_of(row)
        key = self.prefix + _encode_key(self.key_specs, values, self.flags)
        inc = b"" if self._includes_of is None else _encode_row(self.include_specs,
                                                                 self._includes_of(row))
        if self.unique:
            if self._slot_always or None not in values:
                return key, tid + inc, True
            return key + tid, tid + inc, False
        return key + tid, inc, False

    def key_of(self, row: Sequence[Any]) -> tuple:
        """The row's key column values (a tuple)."""
        return self._keys_of(row)

    def is_slot(self, row: Sequence[Any]) -> bool:
        """Whether the row's entry key is a uniqueness slot (unique, no NULL exemption)."""
        return self.unique and (self._slot_always or None not in self._keys_of(row))

    def entry_tuple_id(self, key: bytes, value: bytes) -> int:
        return unpack_u64(value) if self.unique else unpack_u64(key, len(key) - 8)

    def on_insert(self, row: Sequence[Any], tuple_id: int) -> list[tuple[bytes, bytes]]:
        return [self.entry(row, tuple_id)]

    def on_delete(self, row: Sequence[Any], tuple_id: int) -> list[bytes]:
        return [self.entry(row, tuple_id)[0]]

    def on_update(self, old: Sequence[Any], new: Sequence[Any], tuple_id: int):
        if self._plain_keys:
            ko, kn = self._keys_of(old), self._keys_of(new)
            if ko == kn and [*map(type, ko)] == [*map(type, kn)]:
                return [], []
        old_key, old_value = self.entry(old, tuple_id)
        new_key, new_value = self.entry(new, tuple_id)
        if old_key == new_key:
            return [], ([] if old_value == new_value else [(new_key, new_value)])
        return [old_key], [(new_key, new_value)]

    def leading_bytes(self, key: bytes) -> bytes:
        """The encoded leading key column of an entry key."""
        _, used = rowcodec.decode_key(self.key_specs, self.flags, key[9:], 1)
        return key[9:9 + used]

    def decode_leading(self, key: bytes, ncols: int = 1) -> tuple:
        values, _ = rowcodec.decode_key(self.key_specs, self.flags, key[9:], ncols)
        return values

    # ------------------------------------------------------------------ ranges

    def _bound_bytes(self, values: tuple) -> bytes:
        n = len(values)
        if n > len(self.key_specs):
            from lsmdb.errors import InvalidArgumentError

            raise InvalidArgumentError(
                f"key range bound has {n} values, index {self.name} has "
                f"{len(self.key_specs)} key columns")
        return self.prefix + _encode_key(self.key_specs[:n], values, self.flags[:n])

    def key_range_bytes(self, kr: KeyRange) -> tuple[bytes, bytes]:
        """[start, stop) of the entries inside ``kr`` (bounds are key prefixes in index order)."""
        lo, hi = kr.lower, kr.upper
        if isinstance(lo, Included):
            start = self._bound_bytes(lo.value)
        elif isinstance(lo, Excluded):
            start = prefix_end(self._bound_bytes(lo.value))
        else:
            start = self.prefix
        if isinstance(hi, Included):
            stop = prefix_end(self._bound_bytes(hi.value))
        elif isinstance(hi, Excluded):
            stop = self._bound_bytes(hi.value)
        else:
            stop = self.end
        return start, stop

    def value_range_bytes(self, lower, upper) -> tuple[bytes, bytes]:
        """[start, stop) of entries whose leading column lies in the value range
        (lower, upper) given in the type's natural order (NULL entries are not excluded
        here: callers skip keys starting with ``null_lead``)."""
        if self.flags[0] & 1:
            # Descending: larger values come first, so the value bounds swap sides (each
            # keeping its inclusiveness).
            lower, upper = upper, lower
        return self.key_range_bytes(KeyRange(_as_key_bound(lower), _as_key_bound(upper)))


def _as_key_bound(b):
    if isinstance(b, (Included, Excluded)):
        return type(b)((b.value,))
    return UNBOUNDED
