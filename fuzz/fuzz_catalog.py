"""Fuzz the storage engine's catalog records (lsmdb/engine/catalog.py).

Each input is a mode byte, then a payload:
  mode 0  decode_table of the payload
  mode 1  decode_index of the payload, against two known tables
  mode 2  the payload drives a FuzzedDataProvider that builds a table descriptor and an index
          descriptor on it (constructors may refuse with InvalidArgumentError only)
Hostile bytes may only raise CorruptionError (unreadable or invalid record) or
FormatVersionError (a record of another format version). Whatever decodes, or is built, must
round-trip: encode -> decode gives the same descriptor, and encoding again gives the same
bytes (a fixed point).

    python fuzz/fuzz_catalog.py -max_total_time=60 fuzz/corpus/catalog
    python fuzz/fuzz_catalog.py --make-corpus fuzz/corpus/catalog
"""

import os

import atheris
import fuzzmain

with atheris.instrument_imports(include=["lsmdb"]):
    from lsmdb.engine.catalog import (
        TableInfo,
        decode_index,
        decode_table,
        encode_index,
        encode_table,
    )
    from lsmdb.indexes.base import kind_for
    from lsmdb.storage_api import (
        DataKind,
        DataType,
        IndexKeyColumn,
        IndexStorageDescriptor,
        StorageColumn,
        TableStorageDescriptor,
        VectorElementType,
    )

from lsmdb.errors import CorruptionError, FormatVersionError, InvalidArgumentError

DECODE_ERRORS = (CorruptionError, FormatVersionError)
SCALARS = [k for k in DataKind if k not in (DataKind.VECTOR, DataKind.ARRAY)]


def known_tables() -> dict[int, TableInfo]:
    """The tables mode 1's index records may refer to (ids 1 and 7)."""
    t1 = TableStorageDescriptor(1, (StorageColumn(1, DataType.BIGINT, False, "id"),
                                    StorageColumn(2, DataType.TEXT, True, "name"),
                                    StorageColumn(3, DataType.vector(3), True, "emb")),
                                (1,), None, "t")
    t7 = TableStorageDescriptor(7, (StorageColumn(4, DataType.array(DataType.JSONB)),
                                    StorageColumn(9, DataType.NUMERIC)), None, None, "u")
    return {1: TableInfo(t1, 3), 7: TableInfo(t7)}


TABLES = known_tables()


def check_table_round_trip(info: TableInfo) -> None:
    once = encode_table(info)
    again = decode_table(once)
    if again.descriptor != info.descriptor or again.schema_version != info.schema_version:
        raise AssertionError(f"table record does not round-trip: {once!r}")
    if encode_table(again) != once:
        raise AssertionError(f"table record is not a fixed point: {once!r}")


def check_index_round_trip(index, tables: dict[int, TableInfo]) -> None:
    once = encode_index(index)
    again = decode_index(once, tables)
    if again.descriptor != index.descriptor or again.primary != index.primary:
        raise AssertionError(f"index record does not round-trip: {once!r}")
    if encode_index(again) != once:
        raise AssertionError(f"index record is not a fixed point: {once!r}")


@atheris.instrument_func
def data_type(fdp, depth: int = 0) -> DataType:
    pick = fdp.ConsumeIntInRange(0, len(SCALARS) + 1)
    if pick < len(SCALARS):
        return DataType(SCALARS[pick])
    if pick == len(SCALARS) or depth >= 4:
        elem = fdp.PickValueInList(list(VectorElementType))
        return DataType.vector(fdp.ConsumeIntInRange(-1, 70000), elem)
    return DataType.array(data_type(fdp, depth + 1))


@atheris.instrument_func
def name(fdp):
    if fdp.ConsumeIntInRange(0, 5) == 0:
        return None  # the descriptor's default name
    return fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 6))


@atheris.instrument_func
def build(fdp) -> None:
    """Descriptors from the fuzzer: refused only with InvalidArgumentError, else round-trip."""
    try:
        cols = tuple(StorageColumn(fdp.ConsumeIntInRange(0, 6), data_type(fdp),
                                   fdp.ConsumeBool(), name(fdp))
                     for _ in range(fdp.ConsumeIntInRange(0, 4)))
        ids = [c.column_id for c in cols]
        pk = (None if fdp.ConsumeBool() else
              tuple(fdp.PickValueInList(ids) if ids and fdp.ConsumeIntInRange(0, 7)
                    else fdp.ConsumeIntInRange(0, 9)
                    for _ in range(fdp.ConsumeIntInRange(0, 2))))
        table = TableStorageDescriptor(fdp.ConsumeIntInRange(0, 2**64), cols, pk, None,
                                       name(fdp))
    except InvalidArgumentError:
        return
    info = TableInfo(table, fdp.ConsumeIntInRange(1, 2**40))
    check_table_round_trip(info)
    tables = {table.table_id: info}
    try:
        key = tuple(IndexKeyColumn(fdp.PickValueInList(ids) if fdp.ConsumeIntInRange(0, 7)
                                   else fdp.ConsumeIntInRange(0, 9),
                                   fdp.ConsumeBool(),
                                   fdp.PickValueInList([None, False, True]))
                    for _ in range(fdp.ConsumeIntInRange(0, 3)))
        include = tuple(fdp.PickValueInList(ids) for _ in range(fdp.ConsumeIntInRange(0, 2)))
        desc = IndexStorageDescriptor(
            index_id=fdp.ConsumeIntInRange(0, 2**64), table_id=table.table_id,
            key_columns=key, unique=fdp.ConsumeBool(), nulls_not_distinct=fdp.ConsumeBool(),
            include_columns=include, name=name(fdp))
    except InvalidArgumentError:
        return
    if any(k.column_id not in ids for k in key):
        return  # the DDL refuses such an index before building it (SchemaError)
    index = kind_for(desc, table, fdp.ConsumeBool())
    check_index_round_trip(index, tables)


@atheris.instrument_func
def TestOneInput(data: bytes) -> None:
    if not data:
        return
    mode, payload = data[0] % 3, data[1:]
    if mode == 2:
        build(atheris.FuzzedDataProvider(payload))
        return
    if mode == 0:
        try:
            info = decode_table(payload)
        except DECODE_ERRORS:
            return
        check_table_round_trip(info)
        return
    try:
        index = decode_index(payload, TABLES)
    except DECODE_ERRORS:
        return
    check_index_round_trip(index, TABLES)


def make_corpus(directory: str) -> None:
    os.makedirs(directory, exist_ok=True)
    seeds = {f"table_{tid}": b"\x00" + encode_table(info) for tid, info in TABLES.items()}
    idx = IndexStorageDescriptor(5, 1, (IndexKeyColumn(2, True), IndexKeyColumn(1, False, True)),
                                 unique=True, nulls_not_distinct=True, include_columns=(3,),
                                 name="by_name")
    seeds["index_btree"] = b"\x01" + encode_index(kind_for(idx, TABLES[1].descriptor))
    pk = IndexStorageDescriptor(9, 7, (IndexKeyColumn(9),), unique=True, name="u_pkey")
    seeds["index_primary"] = b"\x01" + encode_index(kind_for(pk, TABLES[7].descriptor, True))
    seeds["build"] = b"\x02" + bytes(range(256))
    for name_, blob in seeds.items():
        with open(os.path.join(directory, name_), "wb") as f:
            f.write(blob)


if __name__ == "__main__":
    fuzzmain.run(TestOneInput, make_corpus)
