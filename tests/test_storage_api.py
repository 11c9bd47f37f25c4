"""lsmdb.storage_api: descriptors validate every field at construction (InvalidArgumentError
naming the field), defaults follow the origin, types map to the codec's specs."""

import pytest

from lsmdb.errors import InvalidArgumentError
from lsmdb.storage_api import (
    UNBOUNDED,
    DataKind,
    DataType,
    Excluded,
    HnswStorageOptions,
    Included,
    IndexKeyColumn,
    IndexStorageDescriptor,
    IsolationLevel,
    IvfFlatStorageOptions,
    KeyRange,
    StorageColumn,
    StorageDDL,
    StorageDML,
    StorageShardConfig,
    StoredQuantizationKind,
    StoredVectorMetric,
    TableStorageDescriptor,
    TupleRecord,
    VectorElementType,
)

COL = StorageColumn(1, DataType.INT)


def test_defaults_follow_the_origin():
    h = HnswStorageOptions()
    assert (h.m, h.ef_construction, h.distance_metric, h.quantization, h.prenormalised) == (
        16, 200, StoredVectorMetric.L2, StoredQuantizationKind.NONE, False)
    i = IvfFlatStorageOptions()
    assert (i.nlist, i.nprobe, i.distance_metric) == (64, 8, StoredVectorMetric.L2)
    assert StorageColumn(3, DataType.TEXT).nullable is True
    assert StorageColumn(3, DataType.TEXT).name == "c3"
    t = TableStorageDescriptor(7, [COL])
    assert t.columns == (COL,) and t.primary_key is None and t.name == "t7"
    assert StorageShardConfig((1,), 4).virtual_nodes_per_shard == 128
    assert StoredVectorMetric.INNER_PRODUCT.as_str() == "inner_product"
    assert StoredQuantizationKind.PRODUCT.as_str() == "pq"


def test_index_key_column_nulls_default_as_postgresql():
    assert IndexKeyColumn(1).nulls_first is False
    assert IndexKeyColumn(1, descending=True).nulls_first is True
    assert IndexKeyColumn(1, True, False).codec_flags == 1
    assert IndexKeyColumn(1, False, True).codec_flags == 2


def test_data_types_and_specs():
    assert DataType.INT.spec() == (DataKind.INT.value,)
    assert DataType.vector(3).spec() == (16, 3)
    assert DataType.array(DataType.array(DataType.TEXT)).spec() == (17, (17, (7,)))
    assert DataType.vector(3).element_type is VectorElementType.FLOAT32
    for t in (DataType.BIGINT, DataType.vector(5), DataType.array(DataType.JSONB)):
        assert DataType.from_json(t.to_json()) == t
    assert str(DataType.array(DataType.INT)) == "INT[]"


@pytest.mark.parametrize("make, field", [
    (lambda: DataType("INT"), "kind"),
    (lambda: DataType.vector(0), "dims"),
    (lambda: DataType.vector(True), "dims"),
    (lambda: DataType(DataKind.INT, dims=3), "dims"),
    (lambda: DataType(DataKind.ARRAY, None, None), "element_type"),
    (lambda: DataType(DataKind.TEXT, None, DataType.INT), "element_type"),
    (lambda: StorageColumn(-1, DataType.INT), "column_id"),
    (lambda: StorageColumn("1", DataType.INT), "column_id"),
    (lambda: StorageColumn(1, "INT"), "data_type"),
    (lambda: StorageColumn(1, DataType.INT, 1), "nullable"),
    (lambda: StorageColumn(1, DataType.INT, True, ""), "name"),
    (lambda: TableStorageDescriptor(0, [COL]), "table_id"),
    (lambda: TableStorageDescriptor(1, []), "columns"),
    (lambda: TableStorageDescriptor(1, [COL, COL]), "columns"),
    (lambda: TableStorageDescriptor(1, ["x"]), "columns"),
    (lambda: TableStorageDescriptor(1, [COL], primary_key=(2,)), "primary_key"),
    (lambda: TableStorageDescriptor(1, [COL], primary_key=()), "primary_key"),
    (lambda: TableStorageDescriptor(1, [COL], shard_config=5), "shard_config"),
    (lambda: StorageShardConfig((1,), 0), "shard_count"),
    (lambda: StorageShardConfig((), 2), "shard_key_columns"),
    (lambda: StorageShardConfig((1,), 2, "sha"), "hash_function"),
    (lambda: StorageShardConfig((1,), 2, virtual_nodes_per_shard=5000),
     "virtual_nodes_per_shard"),
    (lambda: IndexKeyColumn(1, "yes"), "descending"),
    (lambda: IndexKeyColumn(1, False, 0), "nulls_first"),
    (lambda: IndexStorageDescriptor(0, 1, (IndexKeyColumn(1),)), "index_id"),
    (lambda: IndexStorageDescriptor(1, 0, (IndexKeyColumn(1),)), "table_id"),
    (lambda: IndexStorageDescriptor(1, 1, ()), "key_columns"),
    (lambda: IndexStorageDescriptor(1, 1, (1,)), "key_columns"),
    (lambda: IndexStorageDescriptor(1, 1, (IndexKeyColumn(1), IndexKeyColumn(1))),
     "key_columns"),
    (lambda: IndexStorageDescriptor(1, 1, (IndexKeyColumn(1),), unique=1), "unique"),
    (lambda: IndexStorageDescriptor(1, 1, (IndexKeyColumn(1),), include_columns=(1,)),
     "include_columns"),
    (lambda: IndexStorageDescriptor(1, 1, (IndexKeyColumn(1),), hnsw_options={}),
     "hnsw_options"),
    (lambda: IndexStorageDescriptor(1, 1, (IndexKeyColumn(1),),
                                    hnsw_options=HnswStorageOptions(),
                                    ivf_flat_options=IvfFlatStorageOptions()),
     "ivf_flat_options"),
    (lambda: HnswStorageOptions(m=1), "m"),
    (lambda: HnswStorageOptions(ef_construction=0), "ef_construction"),
    (lambda: HnswStorageOptions(distance_metric="l2"), "distance_metric"),
    (lambda: HnswStorageOptions(quantization=None), "quantization"),
    (lambda: HnswStorageOptions(prenormalised=None), "prenormalised"),
    (lambda: IvfFlatStorageOptions(nlist=0), "nlist"),
    (lambda: IvfFlatStorageOptions(nprobe=-1), "nprobe"),
    (lambda: KeyRange(5), "lower"),
    (lambda: KeyRange(UNBOUNDED, Included(())), "upper"),
    (lambda: KeyRange(Included("abc")), "lower"),
])
def test_bad_field_raises_naming_it(make, field):
    with pytest.raises(InvalidArgumentError, match=field):
        make()


def test_key_range_and_records():
    kr = KeyRange.point([1, "a"])
    assert kr.lower == Included((1, "a")) and kr.upper == Included((1, "a"))
    assert KeyRange.full() == KeyRange(UNBOUNDED, UNBOUNDED)
    assert KeyRange(Excluded([3])).lower == Excluded((3,))
    rec = TupleRecord(5, (1, 2))
    assert rec.tuple_id == 5 and rec.row == (1, 2) and rec.heap_position == 5
    tid, row = rec
    assert (tid, row) == (5, (1, 2))


def test_isolation_parse():
    assert IsolationLevel.parse("repeatable read") is IsolationLevel.SNAPSHOT
    assert IsolationLevel.parse("READ_COMMITTED") is IsolationLevel.READ_COMMITTED
    assert IsolationLevel.parse(IsolationLevel.SERIALIZABLE) is IsolationLevel.SERIALIZABLE
    with pytest.raises(InvalidArgumentError, match="isolation"):
        IsolationLevel.parse("chaos")


def test_descriptors_are_frozen_and_hashable():
    t = TableStorageDescriptor(1, [COL], primary_key=[1])
    assert t.primary_key == (1,)
    with pytest.raises(AttributeError):
        t.table_id = 2  # type: ignore[misc]
    assert hash(t) == hash(TableStorageDescriptor(1, (COL,), (1,)))


def test_protocols_are_runtime_checkable():
    class NotAnEngine:
        pass

    assert not isinstance(NotAnEngine(), StorageDDL)
    assert not isinstance(NotAnEngine(), StorageDML)
