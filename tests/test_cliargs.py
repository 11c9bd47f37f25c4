"""What every lsmdb command line shares (lsmdb.cliargs): range errors and path checks."""

import argparse

import pytest

from lsmdb import cliargs


def test_require_writable_leaves_an_existing_file_and_creates_none(tmp_path):
    existing = tmp_path / "out.json"
    existing.write_text("keep")
    assert cliargs.require_writable(str(existing), "--json") == str(existing)
    assert existing.read_text() == "keep"
    fresh = tmp_path / "fresh.csv"
    cliargs.require_writable(str(fresh), "--csv")
    assert not fresh.exists()
    with pytest.raises(FileNotFoundError, match="--json: cannot write"):
        cliargs.require_writable(str(tmp_path / "no" / "dir.json"), "--json")
    with pytest.raises(IsADirectoryError):
        cliargs.require_writable(str(tmp_path), "--plot")


def test_whole_number_states_its_bounds_once():
    parse = cliargs.whole_number(1, 100, underscores=True)
    assert parse("1_0") == 10
    with pytest.raises(argparse.ArgumentTypeError, match=r"^must be 1 to 100, got 101$"):
        parse("101")
    assert cliargs.out_of_bounds(0, 1, 100) == "must be 1 to 100, got 0"
    assert cliargs.out_of_bounds(5, 1) is None and cliargs.bounds_text(0) == ">= 0"
