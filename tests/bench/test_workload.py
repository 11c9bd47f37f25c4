"""The K-V workload generator: proportions, distributions, the model's bookkeeping, JSON specs.

Statistical bounds are loose (several standard deviations) and the generator is seeded, so
these tests are deterministic.
"""

from __future__ import annotations

import json
import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lsmdb.bench.workload import (
    DELETE,
    INSERT,
    LOOKUP,
    OP_KINDS,
    PRESETS,
    RANGE_DELETE,
    RANGE_LOOKUP,
    UPDATE,
    KeyDistribution,
    WorkloadGenerator,
    WorkloadSpec,
    ZipfianSampler,
    encode_key,
)
from lsmdb.errors import InvalidArgumentError


def _ops(spec: WorkloadSpec) -> tuple[WorkloadGenerator, list[tuple]]:
    gen = WorkloadGenerator(spec)
    for _ in gen.preload():
        pass
    return gen, [op for chunk in gen.chunks(500) for op in chunk]


def test_operation_proportions_match_the_spec():
    spec = WorkloadSpec(operations=20_000, preload=2_000, inserts=0.1, updates=0.2,
                        point_deletes=0.05, range_deletes=0.01, point_lookups=0.5,
                        range_lookups=0.14, seed=7)
    gen, ops = _ops(spec)
    assert len(ops) == 20_000
    counts = Counter(op[0] for op in ops)
    for code, share in enumerate(spec.proportions()):
        expected = share * len(ops)
        sd = math.sqrt(len(ops) * share * (1 - share))
        assert abs(counts[code] - expected) <= 5 * sd + 1, (OP_KINDS[code], counts[code])
    assert sum(gen.counts.values()) == len(ops)


def test_zero_result_share_of_lookups():
    spec = WorkloadSpec(operations=10_000, preload=1_000, updates=0, point_lookups=1,
                        zero_result_lookups=0.3, seed=3)
    gen, ops = _ops(spec)
    misses = sum(1 for op in ops if op[0] == LOOKUP and op[3] is None)
    assert gen.zero_result_lookups == misses
    assert abs(misses / len(ops) - 0.3) < 0.03
    # A zero-result key is an odd number: never written by any insert.
    for op in ops:
        if op[0] == LOOKUP and op[3] is None:
            assert int(op[1]) % 2 == 1


def test_generator_is_a_faithful_model():
    """Replaying the stream on a dict gives exactly the expected outcome of every op."""
    spec = WorkloadSpec(operations=6_000, preload=800, inserts=0.2, updates=0.2,
                        point_deletes=0.1, range_deletes=0.02, point_lookups=0.3,
                        range_lookups=0.18, zero_result_lookups=0.2,
                        range_delete_selectivity=0.01, range_lookup_selectivity=0.01,
                        value_size=8, value_size_max=40, seed=11,
                        update_keys=KeyDistribution("zipfian"),
                        delete_keys=KeyDistribution("normal", stddev=0.2),
                        range_keys=KeyDistribution("sequential"))
    gen = WorkloadGenerator(spec)
    model: dict[bytes, bytes] = {}
    for pairs in gen.preload(batch=100):
        for k, v in pairs:
            assert k not in model
            model[k] = v
    assert len(model) == 800 == gen.live_count
    for chunk in gen.chunks(256):
        for code, key, arg, expect in chunk:
            if code == INSERT:
                assert key not in model
                model[key] = arg
            elif code == UPDATE:
                assert key in model
                model[key] = arg
            elif code == DELETE:
                assert (key in model) is expect
                del model[key]
            elif code == RANGE_DELETE:
                doomed = [k for k in model if key <= k < arg]
                assert len(doomed) == expect >= 1
                for k in doomed:
                    del model[k]
            elif code == LOOKUP:
                assert model.get(key) == expect
            else:
                assert code == RANGE_LOOKUP
                from_key = sorted(k for k in model if k >= key)
                assert expect == min(arg, len(from_key))
    assert len(model) == gen.live_count
    sizes = {len(v) for v in model.values()}
    assert min(sizes) >= 8 and max(sizes) <= 40 and len(sizes) > 10


def test_uniform_lookups_cover_the_keys_evenly():
    spec = WorkloadSpec(operations=40_000, preload=200, updates=0, point_lookups=1, seed=5)
    _, ops = _ops(spec)
    counts = Counter(op[1] for op in ops)
    assert len(counts) == 200
    mean = 40_000 / 200
    assert max(counts.values()) < mean + 6 * math.sqrt(mean)
    assert min(counts.values()) > mean - 6 * math.sqrt(mean)


def test_zipfian_lookups_are_skewed():
    spec = WorkloadSpec(operations=40_000, preload=1_000, updates=0, point_lookups=1, seed=5,
                        lookup_keys=KeyDistribution("zipfian", theta=0.99))
    _, ops = _ops(spec)
    counts = sorted(Counter(op[1] for op in ops).values(), reverse=True)
    # theta 0.99 over 1000 keys: the hottest key takes ~13% of accesses, top 10 ~ 40%.
    assert counts[0] / len(ops) > 0.08
    assert sum(counts[:10]) / len(ops) > 0.3
    # The hot keys are scrambled over the key space, not the 10 smallest ids.
    hot = [k for k, _ in Counter(op[1] for op in ops).most_common(10)]
    assert sorted(hot) != sorted(encode_key(2 * i, 16) for i in range(10))


def test_zipfian_sampler_matches_the_zipf_law():
    sampler = ZipfianSampler(0.8)
    import random

    rng = random.Random(1)
    n = 50
    counts = Counter(sampler.sample(rng.random(), n) for _ in range(60_000))
    assert set(counts) <= set(range(n))
    zeta = sum(1 / (i + 1) ** 0.8 for i in range(n))
    for rank in (0, 1, 4, 20):
        p = 1 / (rank + 1) ** 0.8 / zeta
        sd = math.sqrt(60_000 * p * (1 - p))
        assert abs(counts[rank] - 60_000 * p) < 6 * sd + 0.02 * 60_000 * p, rank
    # n changes: zeta is updated incrementally, still ranks in range
    assert all(0 <= sampler.sample(rng.random(), 7) < 7 for _ in range(200))
    assert sampler.zetan == pytest.approx(sum(1 / (i + 1) ** 0.8 for i in range(7)))


def test_normal_lookups_concentrate_around_the_mean():
    spec = WorkloadSpec(operations=20_000, preload=2_000, updates=0, point_lookups=1, seed=9,
                        lookup_keys=KeyDistribution("normal", mean=0.25, stddev=0.05))
    gen, ops = _ops(spec)
    positions = [int(op[1]) // 2 / gen.domain for op in ops]
    inside = sum(1 for p in positions if 0.15 <= p <= 0.35)  # mean +- 2 sd
    assert inside / len(positions) > 0.9


def test_sequential_inserts_ascend_and_sequential_reads_walk_in_order():
    spec = WorkloadSpec(operations=3_000, preload=0, inserts=1, updates=0, point_lookups=0,
                        insert_keys=KeyDistribution("sequential"), seed=1)
    _, ops = _ops(spec)
    keys = [op[1] for op in ops]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    spec = WorkloadSpec(operations=500, preload=100, updates=0, point_lookups=1,
                        lookup_keys=KeyDistribution("sequential"), seed=1)
    _, ops = _ops(spec)
    keys = [op[1] for op in ops]
    assert keys[:100] == sorted(keys[:100]) and keys[100:200] == keys[:100]


def test_range_selectivity_scales_with_live_keys():
    spec = WorkloadSpec(operations=300, preload=5_000, updates=0, point_lookups=0,
                        range_lookups=1, range_lookup_selectivity=0.01, seed=2)
    _, ops = _ops(spec)
    assert {op[2] for op in ops} == {50}
    assert all(op[3] <= 50 for op in ops) and sum(op[3] == 50 for op in ops) > 250


def test_operations_on_an_empty_store_stay_well_defined():
    spec = WorkloadSpec(operations=200, preload=0, updates=0.5, point_deletes=0.25,
                        point_lookups=0.25, seed=4)
    _, ops = _ops(spec)
    assert ops[0][0] in (INSERT, LOOKUP)
    assert all(op[0] != DELETE or op[3] for op in ops)


def test_same_seed_same_stream_other_seed_other_stream():
    spec = WorkloadSpec(operations=500, preload=100, seed=42)
    a = _ops(spec)[1]
    b = _ops(WorkloadSpec.from_json(spec.to_json()))[1]
    c = _ops(WorkloadSpec(operations=500, preload=100, seed=43))[1]
    assert a == b
    assert a != c


def test_presets_are_valid_ycsb_mixes():
    assert PRESETS["ycsb-a"].proportions()[UPDATE] == pytest.approx(0.5)
    assert PRESETS["ycsb-b"].proportions()[LOOKUP] == pytest.approx(0.95)
    assert PRESETS["ycsb-e"].proportions()[RANGE_LOOKUP] == pytest.approx(0.95)
    for spec in PRESETS.values():
        assert WorkloadSpec.from_json(spec.to_json()) == spec


def test_spec_json_round_trip(tmp_path):
    spec = WorkloadSpec(name="exp1", operations=10, preload=5, inserts=0.3, range_deletes=0.1,
                        value_size_max=300, key_space=10_000,
                        lookup_keys=KeyDistribution("zipfian", theta=0.7),
                        insert_keys=KeyDistribution("normal", mean=0.3, stddev=0.2), seed=99)
    path = tmp_path / "w.json"
    spec.save(str(path))
    assert WorkloadSpec.load(str(path)) == spec
    data = json.loads(path.read_text())
    assert data["lookup_keys"] == {"kind": "zipfian", "theta": 0.7, "mean": 0.5, "stddev": 0.1}
    # a distribution may be given by name alone
    data["update_keys"] = "sequential"
    assert WorkloadSpec.from_dict(data).update_keys == KeyDistribution("sequential")


@given(st.builds(
    WorkloadSpec,
    operations=st.integers(0, 10_000), preload=st.integers(0, 10_000),
    inserts=st.floats(0, 5), updates=st.floats(0.01, 5),
    point_lookups=st.floats(0, 5), zero_result_lookups=st.floats(0, 1),
    value_size=st.integers(0, 500), seed=st.integers(0, 2**32),
    lookup_keys=st.builds(KeyDistribution, kind=st.sampled_from(
        ["uniform", "zipfian", "normal", "sequential"]), theta=st.floats(0.01, 0.99))))
@settings(max_examples=40, deadline=None)
def test_any_valid_spec_round_trips(spec):
    assert WorkloadSpec.from_json(spec.to_json()) == spec


def test_assignments_edit_fields_and_distributions():
    spec = WorkloadSpec().with_assignments([("updates", 0.2), ("lookup_keys.kind", "normal"),
                                            ("lookup_keys.stddev", 0.05),
                                            ("update_keys", "zipfian")])
    assert spec.updates == 0.2
    assert spec.lookup_keys == KeyDistribution("normal", stddev=0.05)
    assert spec.update_keys.kind == "zipfian"


@pytest.mark.parametrize("change,field", [
    ({"updates": -1}, "updates"),
    ({"updates": 0, "point_lookups": 0}, "proportions"),
    ({"zero_result_lookups": 1.5}, "zero_result_lookups"),
    ({"key_size": 2}, "key_size"),
    ({"preload": 10**9, "key_size": 8}, "key_size"),
    ({"value_size": 10, "value_size_max": 5}, "value_size_max"),
    ({"operations": "many"}, "operations"),
    ({"lookup_keys": {"kind": "pareto"}}, "lookup_keys.kind"),
    ({"lookup_keys": {"kind": "zipfian", "theta": 1.0}}, "lookup_keys.theta"),
    ({"lookup_keys": {"stdev": 1}}, "lookup_keys.stdev"),
    ({"colour": "red"}, "colour"),
])
def test_invalid_specs_name_the_field(change, field):
    data = WorkloadSpec().to_dict()
    data.update(change)
    with pytest.raises(InvalidArgumentError, match=f"workload {field}"):
        WorkloadSpec.from_dict(data)


def test_bad_json_is_an_invalid_argument():
    with pytest.raises(InvalidArgumentError, match="not valid JSON"):
        WorkloadSpec.from_json("{nope")
    with pytest.raises(InvalidArgumentError, match="JSON object"):
        WorkloadSpec.from_json("[1, 2]")
