import argparse
import os
import subprocess
import sys

import pytest

import lsmdb
from lsmdb import cli
from lsmdb.errors import CorruptionError, InvalidArgumentError, StorageIOError


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got {text!r}"
    assert "Traceback" not in text
    return lines[0]


def test_version(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"lsmdb {lsmdb.__version__}"


def test_help_lists_subcommands(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "sst-dump" in out and "wal-dump" in out
    assert cli.main(["sst-dump", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--no-entries" in out and "--limit" in out and "--verify" in out
    assert cli.main(["wal-dump", "--help"]) == 0
    assert "--kind" in capsys.readouterr().out


def test_no_command_prints_usage(capsys):
    assert cli.main([]) == cli.EXIT_USAGE
    assert "usage: lsmdb" in capsys.readouterr().err


@pytest.mark.parametrize("argv,needle", [
    (["bogus"], "invalid choice"),
    (["sst-dump"], "required: FILE"),
    (["sst-dump", "f", "--limit", "-1"], "--limit"),
    (["sst-dump", "f", "--limit", "x"], "--limit"),
    (["wal-dump", "f", "--kind", "xml"], "--kind"),
    (["--no-such-flag"], "unrecognized arguments"),
])
def test_usage_errors_are_one_line(capsys, argv, needle):
    assert cli.main(argv) == cli.EXIT_USAGE
    captured = capsys.readouterr()
    line = _one_line(captured.err)
    assert needle in line and line.startswith("lsmdb")
    assert captured.out == ""


@pytest.mark.parametrize("sub", ["sst-dump", "wal-dump"])
def test_missing_file_exits_1_naming_the_path(capsys, tmp_path, sub):
    path = str(tmp_path / "missing.file")
    assert cli.main([sub, path]) == cli.EXIT_IO
    line = _one_line(capsys.readouterr().err)
    assert line == f"lsmdb: error: No such file or directory: {path}"
    assert cli.main([sub, str(tmp_path)]) == cli.EXIT_IO
    assert "Is a directory" in _one_line(capsys.readouterr().err)


def _run_with_handler(monkeypatch, handler, argv=("wal-dump", __file__)):
    monkeypatch.setattr(cli, "cmd_wal_dump", handler)
    parser = cli.build_parser()
    for action in parser._subparsers._group_actions:
        action.choices["wal-dump"].set_defaults(handler=handler)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    return cli.main(list(argv))


@pytest.mark.parametrize("exc,code,prefix", [
    (CorruptionError("bad block checksum", file="x.sst", offset=4096), cli.EXIT_CORRUPTION,
     "lsmdb: corruption: bad block checksum (file x.sst, offset 4096)"),
    (StorageIOError("read failed (Input/output error)", "x.sst", 5), cli.EXIT_IO,
     "lsmdb: error: read failed (Input/output error): x.sst"),
    (PermissionError(13, "Permission denied", "/root/x"), cli.EXIT_IO,
     "lsmdb: error: Permission denied: /root/x"),
    (InvalidArgumentError("limit too large"), cli.EXIT_ERROR, "lsmdb: error: limit too large"),
    (ImportError("No module named 'lsmdb._core.sstable'"), cli.EXIT_ERROR,
     "lsmdb: error: wal-dump is unavailable in this build"),
    (RuntimeError("boom\nsecond line"), cli.EXIT_INTERNAL, "lsmdb: internal error: RuntimeError"),
    (KeyboardInterrupt(), cli.EXIT_INTERRUPTED, "lsmdb: interrupted"),
])
def test_errors_map_to_exit_codes_and_one_line(monkeypatch, capsys, exc, code, prefix):
    def handler(args, out):
        raise exc

    assert _run_with_handler(monkeypatch, handler) == code
    assert _one_line(capsys.readouterr().err).startswith(prefix)


def test_traceback_flag_reraises_internal_errors(monkeypatch):
    def handler(args, out):
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError, match="bug"):
        _run_with_handler(monkeypatch, handler, ("--traceback", "wal-dump", __file__))


def test_broken_pipe_is_quiet(monkeypatch, capsys):
    def handler(args, out):
        raise BrokenPipeError(32, "Broken pipe")

    assert _run_with_handler(monkeypatch, handler) == cli.EXIT_OK
    assert capsys.readouterr().err == ""


def test_command_registry_plugs_in_one_function(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_COMMANDS", list(cli._COMMANDS))

    def configure(p: argparse.ArgumentParser):
        p.add_argument("--times", type=int, default=1)

    @cli.command("hello", "say hello", configure)
    def cmd_hello(args, out):
        out.write("hello\n" * args.times)
        return 0

    assert cli.main(["hello", "--times", "2"]) == 0
    assert capsys.readouterr().out == "hello\nhello\n"


def test_console_entry_point_runs(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "lsmdb.cli", "sst-dump",
                           str(tmp_path / "nope.sst")], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1
    assert _one_line(proc.stderr).startswith("lsmdb: error: No such file or directory")


# -- on real files (need the dump modules, written separately) ------------------------------


def _write_sstable(path, n=50):
    sstable = pytest.importorskip("lsmdb._core.sstable_builder")
    from lsmdb._core.ikey import PUT, make_internal_key
    from lsmdb.env import default_env

    with default_env().open_writable(path) as f:
        builder = sstable.SSTableBuilder(f, block_bytes=512, restart_interval=16,
                                         compression_level=None, bits_per_key=10.0, level=0,
                                         file_name=path)
        for i in range(n):
            builder.add(make_internal_key(b"key%04d" % i, i + 1, PUT), b"value%d" % i)
        builder.finish()
        f.sync()


def test_sst_dump_real_file(capsys, tmp_path):
    pytest.importorskip("lsmdb.sstable.dump")
    path = str(tmp_path / "000001.sst")
    _write_sstable(path)
    assert cli.main(["sst-dump", path]) == 0
    full = capsys.readouterr().out
    assert "key0000" in full and "key0049" in full
    assert cli.main(["sst-dump", path, "--limit", "3", "--verify"]) == 0
    limited = capsys.readouterr().out
    assert "key0002" in limited and "key0003" not in limited
    assert cli.main(["sst-dump", path, "--no-entries"]) == 0
    assert "key0025" not in capsys.readouterr().out


def test_sst_dump_corrupt_file_exits_2(capsys, tmp_path):
    pytest.importorskip("lsmdb.sstable.dump")
    garbage = tmp_path / "garbage.sst"
    garbage.write_bytes(os.urandom(300))
    assert cli.main(["sst-dump", str(garbage)]) == cli.EXIT_CORRUPTION
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("lsmdb: corruption:") and "garbage.sst" in line
    path = str(tmp_path / "000002.sst")
    _write_sstable(path)
    data = bytearray(open(path, "rb").read())
    data[40] ^= 0xFF  # inside the first data block
    open(path, "wb").write(bytes(data))
    assert cli.main(["sst-dump", path, "--verify"]) == cli.EXIT_CORRUPTION
    assert _one_line(capsys.readouterr().err).startswith("lsmdb: corruption:")


def test_wal_dump_real_file(capsys, tmp_path):
    pytest.importorskip("lsmdb.wal.dump")
    logformat = pytest.importorskip("lsmdb._core.logformat")
    batch_mod = pytest.importorskip("lsmdb._core.batch")
    batches = []
    for i in range(3):
        b = batch_mod.WriteBatch()
        b.put(b"walkey%d" % i, b"v" * 10)
        b.delete(b"gone%d" % i)
        b.sequence = 1 + 2 * i
        batches.append(b.data())
    path = tmp_path / "000007.log"
    path.write_bytes(logformat.encode_records(batches))
    assert cli.main(["wal-dump", str(path)]) == 0
    out = capsys.readouterr().out
    assert "walkey0" in out and "walkey2" in out and "gone1" in out
    assert cli.main(["wal-dump", str(path), "--kind", "raw"]) == 0
    assert capsys.readouterr().out.strip()
    # A torn tail is reported, not a crash.
    raw = path.read_bytes()
    path.write_bytes(raw[:-5])
    code = cli.main(["wal-dump", str(path)])
    captured = capsys.readouterr()
    assert code in (0, cli.EXIT_CORRUPTION)
    assert "Traceback" not in captured.err


# -- wal-dump on files that are not logs (issue 12) ------------------------------------------


def _log_of_batches(tmp_path, name="000009.log", n=3):
    logformat = pytest.importorskip("lsmdb._core.logformat")
    batch_mod = pytest.importorskip("lsmdb._core.batch")
    payloads = []
    for i in range(n):
        b = batch_mod.WriteBatch()
        b.put(b"walkey%d" % i, b"v" * 10)
        b.sequence = 1 + i
        payloads.append(b.data())
    path = tmp_path / name
    path.write_bytes(logformat.encode_records(payloads))
    return path


def test_wal_dump_refuses_garbage_naming_offset_0(capsys, tmp_path):
    import random

    path = tmp_path / "000003.log"
    path.write_bytes(random.Random(12).randbytes(5000))
    assert cli.main(["wal-dump", str(path)]) == cli.EXIT_ERROR
    captured = capsys.readouterr()
    line = _one_line(captured.err)
    assert line.startswith("lsmdb: error: not a WAL file: no valid WAL record at offset 0 (")
    assert line.endswith(str(path))
    assert captured.out == ""


@pytest.mark.parametrize("name,argv", [("000001.sst", []), ("000001.log", ["--kind", "wal"])])
def test_wal_dump_refuses_an_sstable_saying_so(capsys, tmp_path, name, argv):
    path = str(tmp_path / name)
    _write_sstable(path)
    assert cli.main(["wal-dump", path, *argv]) == cli.EXIT_ERROR
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("lsmdb: error: not a WAL file: looks like an SSTable "
                           "(magic 89 4c 53 4d 53 53 54 0a at offset ")
    assert "sst-dump" in line and line.endswith(path)


def test_wal_dump_names_json_text_and_zeros(capsys, tmp_path):
    options = tmp_path / "OPTIONS-000003.json"
    options.write_text('{\n  "memtable_bytes": 67108864\n}\n')
    current = tmp_path / "CURRENT"
    current.write_text("MANIFEST-000002\n")
    zeros = tmp_path / "000004.log"
    zeros.write_bytes(bytes(100))
    for path, needle in ((options, "looks like JSON text"),
                         (current, "looks like text ('MANIFEST-000002')"),
                         (zeros, "holds only zero bytes")):
        assert cli.main(["wal-dump", str(path)]) == cli.EXIT_ERROR
        assert f"not a WAL file: {needle}" in _one_line(capsys.readouterr().err)


def test_wal_dump_empty_log_is_a_log_with_no_records(capsys, tmp_path):
    path = tmp_path / "000005.log"
    path.write_bytes(b"")
    assert cli.main(["wal-dump", str(path)]) == 0
    assert "0 records" in capsys.readouterr().out


def test_wal_dump_mid_log_corruption_exits_2(capsys, tmp_path):
    path = _log_of_batches(tmp_path)
    data = bytearray(path.read_bytes())
    data[12] ^= 0xFF  # the first record's payload: its checksum fails, records 2 and 3 follow
    path.write_bytes(bytes(data))
    assert cli.main(["wal-dump", str(path)]) == cli.EXIT_CORRUPTION
    out = capsys.readouterr().out
    assert "CORRUPTION at offset 0" in out and "walkey1" in out and "2 records" in out


def test_require_writable_leaves_an_existing_file_and_creates_none(tmp_path):
    existing = tmp_path / "out.json"
    existing.write_text("keep")
    assert cli.require_writable(str(existing), "--json") == str(existing)
    assert existing.read_text() == "keep"
    fresh = tmp_path / "fresh.csv"
    cli.require_writable(str(fresh), "--csv")
    assert not fresh.exists()
    with pytest.raises(FileNotFoundError, match="--json: cannot write"):
        cli.require_writable(str(tmp_path / "no" / "dir.json"), "--json")
    with pytest.raises(IsADirectoryError):
        cli.require_writable(str(tmp_path), "--plot")


def test_whole_number_states_its_bounds_once():
    parse = cli.whole_number(1, 100, underscores=True)
    assert parse("1_0") == 10
    with pytest.raises(argparse.ArgumentTypeError, match=r"^must be 1 to 100, got 101$"):
        parse("101")
    assert cli.out_of_bounds(0, 1, 100) == "must be 1 to 100, got 0"
    assert cli.out_of_bounds(5, 1) is None and cli.bounds_text(0) == ">= 0"
