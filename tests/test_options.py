import dataclasses
import inspect
import json
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lsmdb.errors import InvalidArgumentError
from lsmdb.options import (
    BLOOM_ALLOCATIONS,
    COMPACTION_STYLES,
    FILE_PICKS,
    WAL_RECOVERY_MODES,
    Bloom,
    Compaction,
    Compression,
    InvalidOptionsError,
    KiB,
    MiB,
    Options,
    every,
    keyword_overrides,
    parse_assignment,
    parse_wal_sync,
)


class PickNothing:
    """A user compaction policy (module level so its qualified name is stable)."""

    def pick(self, version_view):
        return None


def test_defaults_are_valid_and_documented():
    o = Options()
    assert o.memtable_bytes == 64 * MiB
    assert o.memtable_front_bytes == 2 * MiB
    assert o.max_immutable_memtables == 2
    assert o.block_bytes == 4096 and o.block_restart_interval == 16
    assert o.compression == Compression(kind="zstd", level=3, per_level=None)
    assert o.bloom.bits_per_key == 10.0 and isinstance(o.bloom.bits_per_key, float)
    assert o.bloom.allocation == "uniform" and o.bloom.memory_budget_bytes is None
    c = o.compaction
    assert (c.style, c.size_ratio, c.l0_trigger, c.l0_slowdown, c.l0_stop) == (
        "leveled", 10, 4, 20, 36)
    assert c.base_level_bytes == 256 * MiB and c.target_file_bytes == 64 * MiB
    assert c.max_levels == 7 and c.file_pick == "min_overlap" and c.max_space_amp == 2.0
    assert c.dynamic_level_bytes is True and c.policy is None
    assert o.block_cache_bytes == 64 * MiB
    assert o.charge_memtables_to_cache is False
    assert o.wal_sync == "never" and o.wal_recovery == "tolerate_corrupted_tail"
    assert o.background_threads == 1 and o.paranoid_checks is True
    assert o.max_key_bytes == 64 * KiB and o.max_value_bytes == 64 * MiB
    assert o.ttl_seconds is None
    # Pebble practice: every field carries a docstring that states its default.
    # Each class is read in its own module (lsmdb/options/ is a package).
    for cls in (Options, Compression, Bloom, Compaction):
        source = inspect.getsource(cls)
        for f in dataclasses.fields(cls):
            after = source.split(f"    {f.name}: ", 1)[1].split('"""', 2)[1]
            assert "Default" in after, f"{cls.__name__}.{f.name} lacks a documented default"


# (constructor, field path, bad value) for every field; each must be rejected by name.
BAD_VALUES = [
    (Options, "memtable_bytes", 10),
    (Options, "memtable_bytes", 5.0),
    (Options, "memtable_bytes", True),
    (Options, "memtable_front_bytes", -1),
    (Options, "memtable_front_bytes", 2 * 1024 * MiB),
    (Options, "memtable_front_bytes", 1.0),
    (Options, "max_immutable_memtables", 0),
    (Options, "block_bytes", 255),
    (Options, "block_bytes", 4 * MiB + 1),
    (Options, "block_restart_interval", 0),
    (Options, "block_cache_bytes", -1),
    (Options, "wal_sync", "sometimes"),
    (Options, "wal_sync", "every(0)"),
    (Options, "wal_sync", "every(-3)"),
    (Options, "wal_sync", "every(07)"),
    (Options, "wal_sync", 5),
    (Options, "wal_recovery", "yolo"),
    (Options, "background_threads", 0),
    (Options, "background_threads", 65),
    (Options, "paranoid_checks", 1),
    (Options, "mmap_reads", "yes"),
    (Options, "mmap_wal_writes", 1),
    (Options, "charge_memtables_to_cache", "yes"),
    (Options, "charge_memtables_to_cache", 1),
    (Options, "max_key_bytes", 64 * KiB + 1),
    (Options, "max_key_bytes", 0),
    (Options, "max_value_bytes", 64 * MiB + 1),
    (Options, "wal_segment_bytes", 100),
    (Options, "wal_keep_segments", -1),
    (Options, "ttl_seconds", 0),
    (Options, "ttl_seconds", float("nan")),
    (Options, "compression", {"kind": "zstd"}),
    (Options, "bloom", None),
    (Options, "compaction", "leveled"),
    (Compression, "kind", "lz4"),
    (Compression, "level", 23),
    (Compression, "level", 3.0),
    (Compression, "per_level", (1, "x")),
    (Compression, "per_level", ()),
    (Compression, "per_level", "1,2"),
    (Bloom, "bits_per_key", -0.5),
    (Bloom, "bits_per_key", 65),
    (Bloom, "bits_per_key", float("inf")),
    (Bloom, "bits_per_key", "10"),
    (Bloom, "allocation", "greedy"),
    (Bloom, "format", "cuckoo"),
    (Bloom, "format", 2),
    (Bloom, "memory_budget_bytes", -1),
    (Bloom, "per_level_bits", (10, -1)),
    (Compaction, "style", "universal"),
    (Compaction, "size_ratio", 1),
    (Compaction, "size_ratio", 2.5),
    (Compaction, "size_ratio_per_level", (4, 1)),
    (Compaction, "runs_per_level", (0,)),
    (Compaction, "l0_trigger", 0),
    (Compaction, "l0_slowdown", False),
    (Compaction, "l0_stop", -5),
    (Compaction, "soft_pending_compaction_bytes", 100),
    (Compaction, "hard_pending_compaction_bytes", "64MiB"),
    (Compaction, "delayed_write_bytes_per_sec", 0),
    (Compaction, "base_level_bytes", 1),
    (Compaction, "dynamic_level_bytes", "yes"),
    (Compaction, "zero_bottom_seqnos", 1),
    (Compaction, "target_file_bytes", 0),
    (Compaction, "max_levels", 0),
    (Compaction, "max_levels", 33),
    (Compaction, "file_pick", "random"),
    (Compaction, "max_space_amp", 1.0),
    (Compaction, "tombstone_density_trigger", 0.0),
    (Compaction, "tombstone_density_trigger", 1.5),
    (Compaction, "policy", object()),
    (Compaction, "policy", "my.Policy"),
]

PREFIX = {Options: "", Compression: "compression.", Bloom: "bloom.", Compaction: "compaction."}


@pytest.mark.parametrize("cls,name,value", BAD_VALUES,
                         ids=[f"{c.__name__}.{n}={v!r}" for c, n, v in BAD_VALUES])
def test_every_field_rejects_bad_values_by_name(cls, name, value):
    path = PREFIX[cls] + name
    with pytest.raises(InvalidArgumentError) as info:
        cls(**{name: value})
    assert isinstance(info.value, ValueError)
    assert info.value.fields == [path]
    assert str(info.value).count(f"{path}:") == 1
    # The same value arriving through JSON / dict is rejected with the same path.
    if cls is not Options and name != "policy":
        with pytest.raises(InvalidOptionsError) as info2:
            Options.from_dict({PREFIX[cls].rstrip("."): {name: value}})
        assert info2.value.fields == [path]
    elif cls is Options and name not in Options._NESTED:
        with pytest.raises(InvalidOptionsError) as info2:
            Options.from_dict({name: value})
        assert info2.value.fields == [path]


def test_every_field_has_a_bad_value_case():
    covered = {(cls, name) for cls, name, _ in BAD_VALUES}
    for cls in (Options, Compression, Bloom, Compaction):
        for f in dataclasses.fields(cls):
            assert (cls, f.name) in covered, f"no invalid-value test for {cls.__name__}.{f.name}"


def test_message_format_names_path_reason_and_value():
    with pytest.raises(InvalidOptionsError) as info:
        Compaction(size_ratio=1)
    assert "compaction.size_ratio: must be in [2, 1000], got 1" in str(info.value)
    assert info.value.problems == [("compaction.size_ratio", "must be in [2, 1000], got 1")]


def test_multiple_bad_fields_are_reported_together():
    with pytest.raises(InvalidOptionsError) as info:
        Options(block_bytes=1, block_restart_interval=0, wal_sync="often", background_threads=0)
    assert info.value.fields == ["block_bytes", "block_restart_interval", "wal_sync",
                                 "background_threads"]
    assert "4 fields" in str(info.value)
    text = json.dumps({"block_bytes": 1, "nope": 1,
                       "compaction": {"size_ratio": 1, "style": "x", "extra": 0},
                       "bloom": {"bits_per_key": -1}})
    with pytest.raises(InvalidOptionsError) as info:
        Options.from_json(text)
    assert sorted(info.value.fields) == sorted([
        "nope", "block_bytes", "compaction.extra", "compaction.size_ratio", "compaction.style",
        "bloom.bits_per_key"])


def test_cross_field_checks():
    with pytest.raises(InvalidOptionsError) as info:
        Compaction(l0_trigger=10, l0_slowdown=5, l0_stop=4)
    assert info.value.fields == ["compaction.l0_slowdown", "compaction.l0_stop"]
    Compaction(l0_trigger=5, l0_slowdown=5, l0_stop=5)
    with pytest.raises(InvalidOptionsError) as info:
        Compaction(soft_pending_compaction_bytes=8 << 20, hard_pending_compaction_bytes=4 << 20)
    assert info.value.fields == ["compaction.hard_pending_compaction_bytes"]
    Compaction(hard_pending_compaction_bytes=4 << 20)  # either limit alone is fine
    with pytest.raises(InvalidOptionsError, match="compression.per_level: has 4 entries"):
        Options(compression=Compression(per_level=(1, 2, 3, 4)),
                compaction=Compaction(max_levels=3))
    with pytest.raises(InvalidOptionsError, match="bloom.per_level_bits"):
        Options(bloom=Bloom(per_level_bits=(1, 2, 3)), compaction=Compaction(max_levels=2))
    with pytest.raises(InvalidOptionsError, match="compaction.size_ratio_per_level"):
        Compaction(max_levels=3, size_ratio_per_level=(2, 3, 4))
    with pytest.raises(InvalidOptionsError, match="compaction.runs_per_level: is not used"):
        Compaction(runs_per_level=(2, 1))
    with pytest.raises(InvalidOptionsError, match="compaction.runs_per_level: has 3"):
        Compaction(style="fluid", max_levels=2, runs_per_level=(2, 2, 1))
    with pytest.raises(InvalidOptionsError, match="compaction.max_levels"):
        Compaction(max_levels=1)
    Compaction(style="fifo", max_levels=1)
    with pytest.raises(InvalidOptionsError, match="compression.per_level"):
        Compression(kind="none", per_level=(1,))
    with pytest.raises(InvalidOptionsError, match="bloom.per_level_bits"):
        Bloom(allocation="monkey", per_level_bits=(10,))
    with pytest.raises(InvalidOptionsError, match="ttl_seconds"):
        Options(ttl_seconds=60)
    Options(ttl_seconds=60, compaction=Compaction(style="fifo"))


def test_normalization_makes_equal_options_equal():
    a = Options(bloom=Bloom(bits_per_key=8, per_level_bits=[10, 8]),
                compression=Compression(per_level=[None, 1]))
    assert a.bloom.bits_per_key == 8.0 and isinstance(a.bloom.bits_per_key, float)
    assert a.bloom.per_level_bits == (10.0, 8.0)
    assert a.compression.per_level == (None, 1)
    assert a == Options(bloom=Bloom(bits_per_key=8.0, per_level_bits=(10.0, 8.0)),
                        compression=Compression(per_level=(None, 1)))
    assert hash(a) == hash(Options.from_json(a.to_json()))


def test_frozen():
    o = Options()
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.block_bytes = 8192
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.compaction.size_ratio = 4


def test_helpers_per_level():
    c = Compression(per_level=(None, None, 1, 6))
    assert [c.level_for(i) for i in range(7)] == [None, None, 1, 6, 6, 6, 6]
    assert Compression(kind="none").level_for(3) is None
    assert Compression(level=5).level_for(0) == 5
    assert Bloom(per_level_bits=(12, 8)).bits_for(5) == 8.0
    assert Bloom().bits_for(2) == 10.0
    cp = Compaction(size_ratio=10, size_ratio_per_level=(4, 6))
    assert [cp.ratio_for(i) for i in range(4)] == [4, 6, 10, 10]


def test_wal_sync_forms():
    assert every(8) == "every(8)"
    assert Options(wal_sync=every(8)).wal_sync_interval == 8
    assert Options(wal_sync="always").wal_sync_interval == 1
    assert Options().wal_sync_interval == 0
    assert parse_wal_sync("every(1)") == 1
    for bad in (0, -1, True, 2.0, 2**31):
        with pytest.raises(InvalidArgumentError):
            every(bad)
    for bad in ("every()", "every(1", "every(١)", " always", "EVERY(2)"):
        with pytest.raises(InvalidArgumentError):
            parse_wal_sync(bad)


def test_replace_and_override():
    o = Options()
    assert o.replace(block_bytes=8192).block_bytes == 8192
    assert o.compaction.replace(size_ratio=4).size_ratio == 4
    with pytest.raises(InvalidOptionsError) as info:
        o.replace(block_size=1)
    assert info.value.fields == ["block_size"]
    with pytest.raises(InvalidOptionsError):
        o.replace(block_bytes=1)
    o2 = o.override({"compaction.size_ratio": 6, "bloom.allocation": "monkey",
                     "block_bytes": 16384, "compression.per_level": (None, 3)})
    assert o2.compaction.size_ratio == 6 and o2.bloom.allocation == "monkey"
    assert o2.block_bytes == 16384 and o2.compression.per_level == (None, 3)
    assert o == Options()  # the original is untouched
    with pytest.raises(InvalidOptionsError) as info:
        o.override({"compaction.nope": 1, "bloom": 1, "block_bytes.x": 2,
                    "compaction.size_ratio": 1})
    assert info.value.fields == ["compaction.nope", "bloom", "block_bytes.x",
                                 "compaction.size_ratio"]



def test_keyword_overrides_flatten_dicts_dotted_keys_and_groups():
    assert keyword_overrides({"wal_sync": "always"}) == {"wal_sync": "always"}
    assert keyword_overrides({"compaction.style": "tiered"}) == {"compaction.style": "tiered"}
    assert keyword_overrides({"compaction": {"style": "tiered", "size_ratio": 4},
                              "bloom": {}}) == {"compaction.style": "tiered",
                                                "compaction.size_ratio": 4}
    group = keyword_overrides({"compression": Compression(kind="none")})
    assert group == {f"compression.{f.name}": getattr(Compression(kind="none"), f.name)
                     for f in dataclasses.fields(Compression)}
    o = Options().override(keyword_overrides({"compaction": {"style": "tiered"},
                                              "bloom.allocation": "monkey"}))
    assert o.compaction.style == "tiered" and o.bloom.allocation == "monkey"
    assert o.compaction.size_ratio == Options().compaction.size_ratio
    policy = PickNothing()
    with_policy = Options().override(keyword_overrides({"compaction": Compaction(policy=policy)}))
    assert with_policy == Options(compaction=Compaction(policy=policy))
    kept = with_policy.override(keyword_overrides({"compaction": {"size_ratio": 5}}))
    assert kept.compaction.policy is policy and kept.compaction.size_ratio == 5


def test_keyword_overrides_report_duplicates_and_leave_unknowns_to_override():
    with pytest.raises(InvalidOptionsError) as info:
        keyword_overrides({"compaction": {"style": "tiered"}, "compaction.style": "leveled"})
    assert info.value.fields == ["compaction.style"]
    with pytest.raises(InvalidOptionsError) as info:
        keyword_overrides({"compaction": {1: "x"}})
    assert info.value.fields == ["compaction.1"]
    flat = keyword_overrides({"compaction": {"nope": 1}, "block_bytes": {"x": 1}})
    assert flat == {"compaction.nope": 1, "block_bytes": {"x": 1}}
    with pytest.raises(InvalidOptionsError) as info:
        Options().override(flat)
    assert info.value.fields == ["compaction.nope", "block_bytes"]

def test_parse_assignment():
    assert parse_assignment("compaction.size_ratio=6") == ("compaction.size_ratio", 6)
    assert parse_assignment("compaction.style=tiered") == ("compaction.style", "tiered")
    assert parse_assignment("bloom.bits_per_key = 7.5") == ("bloom.bits_per_key", 7.5)
    assert parse_assignment("paranoid_checks=false") == ("paranoid_checks", False)
    assert parse_assignment("ttl_seconds=null") == ("ttl_seconds", None)
    assert parse_assignment("compression.per_level=[null,1]") == (
        "compression.per_level", [None, 1])
    assert parse_assignment("wal_sync=every(4)") == ("wal_sync", "every(4)")
    for bad in ("size_ratio", "=3"):
        with pytest.raises(InvalidArgumentError):
            parse_assignment(bad)


def test_json_strictness():
    with pytest.raises(InvalidOptionsError) as info:
        Options.from_json('{"block_bytes": 4096, "blok_bytes": 1}')
    assert info.value.fields == ["blok_bytes"]
    assert "unknown option" in str(info.value)
    bad_texts = [
        "", "nul", "[]", '"x"', "3", '{"block_bytes": 4096, "block_bytes": 8192}',
        '{"bloom": {"bits_per_key": NaN}}', '{"bloom": {"bits_per_key": Infinity}}',
        '{"bloom": {"bits_per_key": 1e400}}', '{"memtable_bytes": ' + "9" * 5000 + "}",
        "[" * 100_000, '{"compaction": []}', '{"compaction": {"size_ratio": "10"}}',
        b'{"block_bytes": "\xff"}', '{"compaction": {"policy": 3}}',
    ]
    for text in bad_texts:
        with pytest.raises(InvalidOptionsError):
            Options.from_json(text)
    assert Options.from_json(b"{}") == Options()
    assert Options.from_json('{"compaction": {}}') == Options()


def test_policy_round_trip_requires_the_object():
    policy = PickNothing()
    o = Options(compaction=Compaction(style="tiered", policy=policy))
    data = json.loads(o.to_json())
    assert data["compaction"]["policy"] == f"{__name__}.PickNothing"
    with pytest.raises(InvalidOptionsError) as info:
        Options.from_json(o.to_json())
    assert info.value.fields == ["compaction.policy"]
    assert "policy=" in str(info.value)
    back = Options.from_json(o.to_json(), policy=policy)
    assert back == o and back.compaction.policy is policy

    class Other:
        def pick(self, view):
            return None

    with pytest.raises(InvalidOptionsError, match="object passed is a"):
        Options.from_json(o.to_json(), policy=Other())
    with pytest.raises(InvalidOptionsError, match="options name none"):
        Options.from_json(Options().to_json(), policy=policy)
    with pytest.raises(InvalidOptionsError, match="options name none"):
        Options.from_json("{}", policy=policy)
    assert o.override({"compaction.size_ratio": 4}).compaction.policy is policy
    assert o.override({"compaction.policy": None}).compaction.policy is None


def test_error_pickles():
    try:
        Options(block_bytes=1)
    except InvalidOptionsError as exc:
        again = pickle.loads(pickle.dumps(exc))
        assert again.fields == exc.fields and str(again) == str(exc)
    assert pickle.loads(pickle.dumps(Options())) == Options()


# -- round trip over valid options --------------------------------------------------------

def _levels_vector(item, max_len):
    return st.none() | st.lists(item, min_size=1, max_size=max_len).map(tuple)


@st.composite
def valid_options(draw):
    max_levels = draw(st.integers(2, 10))
    style = draw(st.sampled_from([s for s in COMPACTION_STYLES]))
    l0 = sorted(draw(st.lists(st.integers(1, 100), min_size=3, max_size=3)))
    allocation = draw(st.sampled_from(BLOOM_ALLOCATIONS))
    per_level_bits = None
    budget = draw(st.none() | st.integers(0, 2**40))
    if allocation == "uniform" and budget is None:
        per_level_bits = draw(_levels_vector(
            st.floats(0, 64, allow_nan=False) | st.integers(0, 64), max_levels))
    kind = draw(st.sampled_from(["zstd", "none"]))
    compaction = Compaction(
        style=style,
        size_ratio=draw(st.integers(2, 1000)),
        size_ratio_per_level=draw(_levels_vector(st.integers(2, 1000), max_levels - 1)),
        runs_per_level=(None if style in ("leveled", "fifo")
                        else draw(_levels_vector(st.integers(1, 1000), max_levels))),
        l0_trigger=l0[0], l0_slowdown=l0[1], l0_stop=l0[2],
        base_level_bytes=draw(st.integers(KiB, 2**50)),
        dynamic_level_bytes=draw(st.booleans()),
        target_file_bytes=draw(st.integers(KiB, 2**40)),
        max_levels=max_levels,
        file_pick=draw(st.sampled_from(FILE_PICKS)),
        max_space_amp=draw(st.floats(1.0, 1e6, exclude_min=True)),
        tombstone_density_trigger=draw(st.none() | st.floats(0, 1, exclude_min=True)),
    )
    return Options(
        memtable_bytes=draw(st.integers(KiB, 4 * 1024 * MiB)),
        memtable_front_bytes=draw(st.integers(0, 1024 * MiB)),
        max_immutable_memtables=draw(st.integers(1, 64)),
        block_bytes=draw(st.integers(256, 4 * MiB)),
        block_restart_interval=draw(st.integers(1, 1024)),
        compression=Compression(
            kind=kind, level=draw(st.integers(-7, 22)),
            per_level=(None if kind == "none" else draw(
                _levels_vector(st.none() | st.integers(-7, 22), max_levels)))),
        bloom=Bloom(bits_per_key=draw(st.floats(0, 64)), allocation=allocation,
                    memory_budget_bytes=budget, per_level_bits=per_level_bits),
        compaction=compaction,
        block_cache_bytes=draw(st.integers(0, 2**40)),
        wal_sync=draw(st.sampled_from(["always", "never"]) | st.integers(1, 10**6).map(every)),
        wal_recovery=draw(st.sampled_from(WAL_RECOVERY_MODES)),
        background_threads=draw(st.integers(1, 64)),
        mmap_reads=draw(st.booleans()),
        mmap_wal_writes=draw(st.booleans()),
        paranoid_checks=draw(st.booleans()),
        max_key_bytes=draw(st.integers(1, 64 * KiB)),
        max_value_bytes=draw(st.integers(1, 64 * MiB)),
        wal_segment_bytes=draw(st.integers(64 * KiB, 2**40)),
        wal_keep_segments=draw(st.integers(0, 2**32 - 1)),
        ttl_seconds=(draw(st.none() | st.floats(1e-3, 1e9)) if style == "fifo" else None),
    )


@settings(max_examples=200, deadline=None)
@given(valid_options())
def test_json_round_trip_is_exact(options):
    text = options.to_json()
    back = Options.from_json(text)
    assert back == options
    assert back.to_json() == text
    assert Options.from_dict(options.to_dict()) == options
    assert pickle.loads(pickle.dumps(options)) == options


@settings(max_examples=200, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["block_bytes", "bloom", "compaction", "style",
                                       "size_ratio", "bits_per_key", "policy", "x"]),
                      children, max_size=4),
    max_leaves=12))
def test_arbitrary_json_only_raises_invalid_argument(value):
    try:
        text = json.dumps(value)
    except ValueError:
        return
    try:
        options = Options.from_json(text)
    except InvalidArgumentError:
        return
    assert Options.from_json(options.to_json()) == options
