"""Which options a reopen uses (issue 12, item 4): the stored ones are the base, overrides
change only the fields they name, an Options object is used whole; a stored policy that
cannot be loaded and a damaged OPTIONS file are errors unless accept_default_options=True."""

import json
import os

import pytest

import lsmdb
from lsmdb.errors import CorruptionError, InvalidArgumentError
from lsmdb.lsm.compaction import LeveledPolicy
from lsmdb.lsm.options_file import latest_options_file, load_policy
from lsmdb.options import Compaction, InvalidOptionsError, Options


class EagerPolicy(LeveledPolicy):
    """A custom policy importable by its qualified name (this test module)."""


def _stored(path) -> dict:
    with open(latest_options_file(lsmdb.env.default_env(), str(path))) as f:
        return json.load(f)


def _tiered(tmp_path):
    path = tmp_path / "db"
    opts = Options(memtable_bytes=1 << 20, compaction=Compaction(style="tiered", size_ratio=4))
    with lsmdb.open(path, opts) as db:
        db.put(b"k", b"v")
    return path


def test_keyword_overrides_change_only_the_fields_they_name(tmp_path):
    path = _tiered(tmp_path)
    with lsmdb.open(path, wal_sync="always") as db:
        assert db.options.wal_sync == "always"
        assert db.options.compaction.style == "tiered"  # was reset to "leveled"
        assert db.options.compaction.size_ratio == 4
        assert db.options.memtable_bytes == 1 << 20
        assert db.get(b"k") == b"v"
    stored = _stored(path)
    assert stored["compaction"]["style"] == "tiered" and stored["wal_sync"] == "always"


def test_a_plain_reopen_keeps_every_stored_field(tmp_path):
    path = _tiered(tmp_path)
    with lsmdb.open(path) as db:
        assert db.options == Options(memtable_bytes=1 << 20,
                                     compaction=Compaction(style="tiered", size_ratio=4))


def test_dotted_overrides_and_cross_field_rules_see_the_stored_options(tmp_path):
    path = tmp_path / "db"
    with lsmdb.open(path, Options(compaction=Compaction(style="fifo", max_levels=1))):
        pass
    # ttl_seconds needs style "fifo": valid against the stored options, not the defaults.
    with lsmdb.open(path, ttl_seconds=60.0, **{"compaction.base_level_bytes": 1 << 20}) as db:
        assert db.options.ttl_seconds == 60.0
        assert db.options.compaction.style == "fifo"
        assert db.options.compaction.base_level_bytes == 1 << 20


def test_an_options_object_is_used_whole_and_keywords_apply_on_top(tmp_path):
    path = _tiered(tmp_path)
    with lsmdb.open(path, Options(), wal_sync="always") as db:
        assert db.options == Options(wal_sync="always")  # leveled: the object says so
    assert _stored(path)["compaction"]["style"] == "leveled"


def test_a_custom_policy_is_reloaded_by_its_class_name(tmp_path):
    path = tmp_path / "db"
    with lsmdb.open(path, Options(compaction=Compaction(policy=EagerPolicy()))):
        pass
    with lsmdb.open(path) as db:
        assert isinstance(db.options.compaction.policy, EagerPolicy)
    with lsmdb.open(path, wal_sync="always") as db:
        assert isinstance(db.options.compaction.policy, EagerPolicy)
        assert db._policy is db.options.compaction.policy


def _name_a_missing_policy(path) -> str:
    options_file = latest_options_file(lsmdb.env.default_env(), str(path))
    data = _stored(path)
    data["compaction"]["policy"] = "nonexistent_policies.GonePolicy"
    with open(options_file, "w") as f:
        json.dump(data, f)
    return options_file


def test_a_stored_policy_that_cannot_be_loaded_is_an_error_naming_it(tmp_path):
    path = tmp_path / "db"
    opts = Options(compaction=Compaction(style="tiered", policy=EagerPolicy()))
    with lsmdb.open(path, opts) as db:
        db.put(b"k", b"v")
    _name_a_missing_policy(path)
    with pytest.raises(InvalidOptionsError) as info:
        lsmdb.open(path)
    assert "nonexistent_policies.GonePolicy" in str(info.value)
    assert "accept_default_options=True" in str(info.value)
    # Opt in: the built-in policy of the stored style, the other stored fields kept.
    with lsmdb.open(path, accept_default_options=True) as db:
        assert db.options.compaction.policy is None
        assert db.options.compaction.style == "tiered"
        assert db.get(b"k") == b"v"
    _name_a_missing_policy(path)
    # Or hand the object over.
    mine = EagerPolicy()
    with lsmdb.open(path, **{"compaction.policy": mine}) as db:
        assert db.options.compaction.policy is mine
        assert db.options.compaction.style == "tiered"


def test_load_policy_reports_why(tmp_path):
    assert isinstance(load_policy(f"{__name__}.EagerPolicy"), EagerPolicy)
    with pytest.raises(InvalidArgumentError, match="cannot be imported"):
        load_policy("nonexistent_policies.GonePolicy")
    with pytest.raises(InvalidArgumentError, match="cannot be re-created"):
        load_policy(f"{__name__}.NoSuchClass")


@pytest.mark.parametrize("damage", ["garbage", "truncated", "bad_value", "not_object"])
def test_a_damaged_options_file_is_corruption_naming_the_file(tmp_path, damage):
    path = _tiered(tmp_path)
    options_file = latest_options_file(lsmdb.env.default_env(), str(path))
    with open(options_file, "rb") as f:
        text = f.read()
    broken = {
        "garbage": b"\x00\xff\x13garbage",
        "truncated": text[: len(text) // 2],
        "bad_value": text.replace(b'"size_ratio": 4', b'"size_ratio": 1'),
        "not_object": b"[1, 2]",
    }[damage]
    assert broken != text
    with open(options_file, "wb") as f:
        f.write(broken)
    with pytest.raises(CorruptionError) as info:
        lsmdb.open(path, wal_sync="always")
    assert info.value.file == options_file
    assert os.path.basename(options_file) in str(info.value)
    with pytest.raises(CorruptionError):
        lsmdb.open(path, read_only=True)
    with lsmdb.open(path, accept_default_options=True, wal_sync="always") as db:
        assert db.options == Options(wal_sync="always")
        assert db.get(b"k") == b"v"
    with lsmdb.open(path) as db:  # the open above stored valid options again
        assert db.options.wal_sync == "always"


def test_invalid_overrides_on_a_new_directory_leave_nothing_behind(tmp_path):
    path = tmp_path / "db"
    with pytest.raises(InvalidOptionsError):
        lsmdb.open(path, ttl_seconds=5.0)  # needs style "fifo"
    assert not path.exists()
    with lsmdb.open(path) as db:  # the directory is still usable
        db.put(b"k", b"v")


def test_stored_options_from_a_newer_version_are_refused_as_options_not_corruption(tmp_path):
    """A well-formed OPTIONS file naming options this version lacks (a newer lsmdb wrote it,
    then the user went back a version) is an options error naming each unknown field, not a
    damaged file; accept_default_options opens it with this version's defaults."""
    path = tmp_path / "db"
    with lsmdb.open(path) as db:
        db.put(b"k", b"v")
    options_file = latest_options_file(lsmdb.env.default_env(), str(path))
    with open(options_file) as f:
        data = json.load(f)
    data["future_knob"] = 3
    data["compaction"]["future_style_knob"] = True
    with open(options_file, "w") as f:
        json.dump(data, f)
    for kwargs in ({}, {"read_only": True}):
        with pytest.raises(InvalidOptionsError) as info:
            lsmdb.open(path, **kwargs)
        assert not isinstance(info.value, CorruptionError)
        assert sorted(info.value.fields) == ["compaction.future_style_knob", "future_knob"]
        assert "newer lsmdb" in str(info.value)
        assert os.path.basename(options_file) in str(info.value)
    with lsmdb.open(path, accept_default_options=True) as db:
        assert db.get(b"k") == b"v"


def test_a_damaged_option_name_is_corruption_not_a_newer_version(tmp_path):
    """A flipped byte in a field name leaves an unknown name AND a missing known field: that
    is a damaged file (CorruptionError), unlike a newer version's file, which adds names."""
    path = tmp_path / "db"
    with lsmdb.open(path) as db:
        db.put(b"k", b"v")
    options_file = latest_options_file(lsmdb.env.default_env(), str(path))
    with open(options_file, "rb") as f:
        text = f.read()
    with open(options_file, "wb") as f:
        f.write(text.replace(b'"block_bytes"', b'"block_bztes"'))
    with pytest.raises(CorruptionError):
        lsmdb.open(path)
