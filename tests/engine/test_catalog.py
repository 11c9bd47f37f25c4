"""lsmdb/engine/catalog.py: catalog records round-trip; bad records are CorruptionError or
FormatVersionError, never another exception."""

import json

import pytest

from lsmdb import DataType, IndexKeyColumn, IndexStorageDescriptor, StorageColumn
from lsmdb import TableStorageDescriptor as TSD
from lsmdb.engine.catalog import (
    TableInfo,
    decode_index,
    decode_table,
    encode_index,
    encode_table,
)
from lsmdb.errors import CorruptionError, FormatVersionError
from lsmdb.indexes.btree import BTreeIndex

DESC = TSD(4, (StorageColumn(1, DataType.INT, False, "a"),
               StorageColumn(2, DataType.array(DataType.vector(2)), True, "b")), (1,), None, "t")


def test_roundtrip():
    info = TableInfo(DESC, 3)
    back = decode_table(encode_table(info))
    assert back.descriptor == DESC and back.schema_version == 3
    ix = BTreeIndex(IndexStorageDescriptor(9, 4, (IndexKeyColumn(2, True, False),), True,
                                           include_columns=(1,), name="i"), DESC)
    back_ix = decode_index(encode_index(ix), {4: info})
    assert back_ix.descriptor == ix.descriptor and not back_ix.primary


@pytest.mark.parametrize("data", [b"", b"{", b"[]", b"\xff\xfe", b'{"v":1}',
                                  b'{"v":1,"table_id":0,"name":"x","schema_version":1,'
                                  b'"columns":[],"primary_key":null}',
                                  b'{"v":1,"table_id":1,"name":"x","schema_version":1,'
                                  b'"columns":[{"column_id":1,"name":"a","type":"NOPE",'
                                  b'"nullable":true}],"primary_key":null}'])
def test_bad_table_records(data):
    with pytest.raises(CorruptionError):
        decode_table(data)
    with pytest.raises(CorruptionError):
        decode_index(data, {})


def test_future_version_refused():
    rec = json.loads(encode_table(TableInfo(DESC)))
    rec["v"] = 2
    with pytest.raises(FormatVersionError):
        decode_table(json.dumps(rec).encode())


@pytest.mark.parametrize("data", [b"[" * 100_000, b'{"v":1,"columns":' + b"[" * 5000,
                                  b'{"v":1,"key_columns":' + b'{"a":' * 5000],
                         ids=["array", "columns", "object"])
def test_deeply_nested_record_is_corruption(data):
    # Found by fuzz/fuzz_catalog.py: json.loads raises RecursionError (not a ValueError) on
    # deep nesting; a corrupt record must still be CorruptionError.
    with pytest.raises(CorruptionError):
        decode_table(data)
    with pytest.raises(CorruptionError):
        decode_index(data, {})
