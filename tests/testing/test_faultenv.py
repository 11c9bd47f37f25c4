import errno
import os

import pytest

from lsmdb.env import Env, RandomAccessFile, WritableFile
from lsmdb.errors import InvalidArgumentError, StorageIOError
from lsmdb.testing.faultenv import OP_KINDS, FaultInjectionEnv


@pytest.fixture
def env():
    return FaultInjectionEnv(seed=1)


def _write(env, path, *chunks, sync_after=None):
    """Append chunks; sync after the first ``sync_after`` chunks."""
    f = env.open_writable(path)
    for i, chunk in enumerate(chunks):
        f.append(chunk)
        if sync_after is not None and i + 1 == sync_after:
            f.sync()
    return f


def test_is_an_env_with_wrapped_files(env, tmp_path):
    assert isinstance(env, Env)
    path = str(tmp_path / "f")
    f = env.open_writable(path)
    assert isinstance(f, WritableFile) and f.path == path
    f.append(b"abc")
    assert f.size == 3
    f.close()
    r = env.open_random_access(path)
    assert isinstance(r, RandomAccessFile) and r.size == 3 and r.pread(1, 5) == b"bc"
    assert bytes(r.mmap_view()) == b"abc"
    r.close()


def test_unsynced_data_dropped_synced_kept(env, tmp_path):
    env.fsync_dir(str(tmp_path))
    path = str(tmp_path / "wal")
    f = _write(env, path, b"synced-1|", b"synced-2|", b"lost-1|", b"lost-2", sync_after=2)
    env.fsync_dir(str(tmp_path))  # the file's name is durable; its tail is not
    assert env.synced_size(path) == 18
    env.crash()
    assert env.read_file(path) == b"synced-1|synced-2|"
    with pytest.raises(StorageIOError) as info:
        f.append(b"x")
    assert info.value.errno == errno.EIO and "simulated crash" in str(info.value)
    with pytest.raises(StorageIOError):
        f.sync()
    f.close()  # a dead handle closes silently
    # The env is usable again after the crash, and the old data counts as durable.
    with env.open_appendable(path) as g:
        g.append(b"again")
        g.sync()
    env.crash()
    assert env.read_file(path) == b"synced-1|synced-2|again"


def test_never_synced_file_is_emptied(env, tmp_path):
    path = str(tmp_path / "f")
    _write(env, path, b"data").close()
    env.fsync_dir(str(tmp_path))
    env.crash()
    assert env.read_file(path) == b""


def test_torn_write_keeps_a_prefix_of_the_last_append(tmp_path):
    seen = set()
    for seed in range(12):
        env = FaultInjectionEnv(seed=seed)
        path = str(tmp_path / f"f{seed}")
        _write(env, path, b"S" * 10, b"A" * 7, b"B" * 50, sync_after=1)
        env.fsync_dir(str(tmp_path))
        env.crash(tear_last_write=True)
        data = env.read_file(path)
        assert data.startswith(b"S" * 10 + b"A" * 7)
        tail = data[17:]
        assert tail == b"B" * len(tail) and len(tail) < 50  # strictly torn
        seen.add(len(tail))
    assert len(seen) > 1  # the tear point is random


def test_torn_crash_is_reproducible_by_seed(tmp_path):
    sizes = []
    for run in range(2):
        env = FaultInjectionEnv(seed=42)
        path = str(tmp_path / f"r{run}")
        _write(env, path, b"x" * 1000)
        env.fsync_dir(str(tmp_path))
        env.crash(tear_last_write=True)
        sizes.append(env.file_size(path))
    assert sizes[0] == sizes[1]


def test_new_file_without_dir_fsync_vanishes(env, tmp_path):
    d = str(tmp_path)
    kept = str(tmp_path / "kept")
    f = _write(env, kept, b"k", sync_after=1)
    f.close()
    env.fsync_dir(d)
    lost = str(tmp_path / "lost")
    g = _write(env, lost, b"synced but its name is not", sync_after=1)
    g.close()
    assert env.unsynced_entries() == [lost]
    env.crash()
    assert env.listdir(d) == ["kept"]
    assert env.read_file(kept) == b"k"


def test_unsynced_rename_rolls_back(env, tmp_path):
    d = str(tmp_path)
    current = os.path.join(d, "CURRENT")
    env.write_file_atomic(current, b"MANIFEST-1\n")  # temp + sync + rename + fsync dir
    tmp = current + ".tmp"
    _write(env, tmp, b"MANIFEST-2\n", sync_after=1).close()
    env.rename(tmp, current)
    assert env.read_file(current) == b"MANIFEST-2\n"
    env.crash()  # the rename was never made durable: old CURRENT back, temp gone
    assert env.read_file(current) == b"MANIFEST-1\n"
    assert env.listdir(d) == ["CURRENT"]
    # With the dir fsync the rename survives.
    _write(env, tmp, b"MANIFEST-3\n", sync_after=1).close()
    env.rename(tmp, current)
    env.fsync_dir(d)
    env.crash()
    assert env.read_file(current) == b"MANIFEST-3\n"


def test_rename_of_old_file_rolls_back_to_old_name(env, tmp_path):
    d = str(tmp_path)
    a, b = os.path.join(d, "a.sst"), os.path.join(d, "b.sst")
    _write(env, a, b"table", sync_after=1).close()
    env.fsync_dir(d)
    env.rename(a, b)
    env.crash()
    assert env.listdir(d) == ["a.sst"] and env.read_file(a) == b"table"


def test_reset_variants(tmp_path):
    env = FaultInjectionEnv()
    d = str(tmp_path)
    p = os.path.join(d, "p")
    _write(env, p, b"abc", b"def", sync_after=1).close()
    env.drop_unsynced_data()  # data only: the unsynced name stays
    assert env.read_file(p) == b"abc"
    s = os.path.join(d, "s")
    _write(env, s, b"never synced").close()
    env.fsync_dir(d)
    q = os.path.join(d, "q")
    _write(env, q, b"abc").close()
    env.delete_unsynced_entries()  # names only: q goes, s keeps its unsynced bytes
    assert env.listdir(d) == ["p", "s"]
    assert env.read_file(s) == b"never synced"


def test_crash_releases_locks_and_kills_readers(env, tmp_path):
    path = str(tmp_path / "t")
    _write(env, path, b"0123", sync_after=1).close()
    r = env.open_random_access(path)
    lock = env.lock_file(str(tmp_path / "LOCK"))
    env.crash()
    with pytest.raises(StorageIOError):
        r.pread(0, 1)
    lock.release()  # already released by the crash: harmless
    env.lock_file(str(tmp_path / "LOCK")).release()


def test_nth_failure_hits_exactly_the_nth_op(env, tmp_path):
    path = str(tmp_path / "f")
    f = env.open_writable(path)
    env.fail_nth("write", 3)
    f.append(b"1")
    f.append(b"2")
    with pytest.raises(StorageIOError) as info:
        f.append(b"3")
    exc = info.value
    assert exc.errno == errno.EIO and "injected" in str(exc) and path in str(exc)
    f.append(b"4")  # one-shot: later writes succeed
    f.close()
    assert env.read_file(path) == b"124"  # the failed write left nothing
    assert env.injected == [("write", path)]


@pytest.mark.parametrize("kind", ["open", "write", "sync", "read", "rename", "remove",
                                  "fsync_dir", "link", "truncate", "any"])
def test_fail_nth_for_every_kind(tmp_path, kind):
    env = FaultInjectionEnv()
    env.fail_nth(kind, 1, errno.ENOSPC)
    d = str(tmp_path)
    path = os.path.join(d, "f")
    steps = [
        ("open", lambda: env.open_writable(path)),
        ("write", lambda: handle.append(b"x")),
        ("sync", lambda: handle.sync()),
        ("read", lambda: env.open_random_access(path).pread(0, 1)),
        ("rename", lambda: env.rename(path, path + "2")),
        ("link", lambda: env.link(path + "2", path + "3")),
        ("truncate", lambda: env.truncate(path + "3", 0)),
        ("remove", lambda: env.remove(path + "3")),
        ("fsync_dir", lambda: env.fsync_dir(d)),
    ]
    handle = None
    for step_kind, step in steps:
        if step_kind == kind or kind == "any":
            with pytest.raises(StorageIOError) as info:
                step()
            assert info.value.errno == errno.ENOSPC
            assert "injected fault" in str(info.value)
            break
        result = step()
        if step_kind == "open":
            handle = result
    else:
        pytest.fail(f"no step failed for {kind}")
    assert env.injected and env.injected[0][0] == ("open" if kind == "any" else kind)


def test_failed_ops_have_no_effect(env, tmp_path):
    d = str(tmp_path)
    a = os.path.join(d, "a")
    env.fail_nth("open", 1)
    with pytest.raises(StorageIOError):
        env.open_writable(a)
    assert not env.exists(a)
    _write(env, a, b"a", sync_after=1).close()
    env.fail_nth("rename", 1)
    with pytest.raises(StorageIOError):
        env.rename(a, a + "2")
    assert env.exists(a) and not env.exists(a + "2")
    env.fail_nth("remove", 1)
    with pytest.raises(StorageIOError):
        env.remove(a)
    assert env.exists(a)
    f = env.open_appendable(a)
    f.append(b"b")
    env.fail_nth("sync", 1)
    with pytest.raises(StorageIOError):
        f.sync()
    assert env.synced_size(a) == 1  # a failed sync made nothing durable
    f.close()


def test_torn_failing_append_writes_a_prefix(tmp_path):
    lengths = set()
    for seed in range(10):
        env = FaultInjectionEnv(seed=seed)
        path = str(tmp_path / f"f{seed}")
        f = env.open_writable(path)
        env.fail_nth("write", 1, tear=True)
        with pytest.raises(StorageIOError):
            f.append(b"0123456789" * 10)
        data = env.read_file(path)
        assert len(data) < 100
        assert (b"0123456789" * 10).startswith(data) and f.size == len(data)
        lengths.add(len(data))
        f.close()
    assert len(lengths) > 1


def test_op_counts_drive_fail_each_op_in_turn(tmp_path):
    def workload(env, d):
        env.mkdirs(d)
        env.write_file_atomic(os.path.join(d, "CURRENT"), b"MANIFEST-1\n")
        with env.open_writable(os.path.join(d, "1.log")) as f:
            f.append(b"rec1")
            f.append(b"rec2")
            f.sync()

    counting = FaultInjectionEnv()
    workload(counting, str(tmp_path / "count"))
    counts = counting.op_counts
    assert counts["write"] == 3 and counts["sync"] == 2 and counts["rename"] == 1
    assert counts["fsync_dir"] == 1 and counts["open"] == 2
    assert counts["any"] == sum(counts[k] for k in OP_KINDS)
    for kind in ("write", "sync", "rename", "fsync_dir"):
        for n in range(1, counts[kind] + 1):
            env = FaultInjectionEnv()
            env.fail_nth(kind, n)
            with pytest.raises(StorageIOError):
                workload(env, str(tmp_path / f"{kind}{n}"))
            assert len(env.injected) == 1 and env.injected[0][0] == kind


def test_one_in_is_reproducible_by_seed(tmp_path):
    def pattern(seed):
        env = FaultInjectionEnv(seed=seed)
        env.fail_one_in("write", 3)
        f = env.open_writable(str(tmp_path / f"s{seed}"))
        outcome = []
        for _ in range(60):
            try:
                f.append(b"x")
                outcome.append(True)
            except StorageIOError as exc:
                assert exc.errno == errno.EIO and "fail_one_in 3" in str(exc)
                outcome.append(False)
        f.close()
        return outcome

    a, b, c = pattern(5), pattern(5), pattern(6)
    assert a == b
    assert a != c
    assert 5 < a.count(False) < 40
    env = FaultInjectionEnv()
    env.fail_one_in("sync", 1)
    env.clear_faults()
    with env.open_writable(str(tmp_path / "ok")) as f:
        f.sync()


def test_bad_rule_arguments(env):
    with pytest.raises(InvalidArgumentError):
        env.fail_nth("fsync", 1)
    with pytest.raises(InvalidArgumentError):
        env.fail_nth("write", 0)
    with pytest.raises(InvalidArgumentError):
        env.fail_one_in("write", 0)


def test_synced_size_of_untracked_and_missing(env, tmp_path):
    path = str(tmp_path / "outside")
    with open(path, "wb") as f:
        f.write(b"12345")
    assert env.synced_size(path) == 5
    with pytest.raises(StorageIOError):
        env.synced_size(str(tmp_path / "missing"))


def test_link_shares_durability_and_unsynced_link_vanishes(env, tmp_path):
    d = str(tmp_path)
    src, dst = os.path.join(d, "src"), os.path.join(d, "dst")
    f = _write(env, src, b"durable", b"-not", sync_after=1)
    f.close()
    env.fsync_dir(d)
    env.link(src, dst)
    assert env.synced_size(dst) == 7
    env.crash()
    assert env.listdir(d) == ["src"] and env.read_file(src) == b"durable"


def test_power_cut_during_an_inflight_fsync_or_append_fails_that_operation(tmp_path):
    # Another thread's operation can trigger the cut while this one is inside the OS call:
    # the operation must fail (a dead process acknowledges nothing) and leave no bytes.
    from lsmdb.errors import StorageIOError
    from lsmdb.testing.faultenv import FaultInjectionEnv

    env = FaultInjectionEnv()
    path = str(tmp_path / "wal.log")
    f = env.open_writable(path)
    env.fsync_dir(str(tmp_path))
    f.append(b"durable")
    f.sync()
    f.append(b"+pending")
    inner = f._inner
    real_sync = inner.sync

    def sync_then_cut():
        real_sync()
        env.crash()

    inner.sync = sync_then_cut
    with pytest.raises(StorageIOError):
        f.sync()
    assert env.synced_size(path) == len(b"durable")
    with open(path, "rb") as fh:
        assert fh.read() == b"durable"

    g = env.open_writable(str(tmp_path / "other.log"))
    env.fsync_dir(str(tmp_path))
    g.append(b"base")
    g.sync()
    real_append = g._inner.append

    def cut_then_append(data):
        env.crash()
        real_append(data)

    g._inner.append = cut_then_append
    with pytest.raises(StorageIOError):
        g.append(b"late bytes")
    with open(str(tmp_path / "other.log"), "rb") as fh:
        assert fh.read() == b"base"
