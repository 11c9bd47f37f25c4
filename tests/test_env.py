import errno
import os
import pathlib
import subprocess
import sys

import pytest

from lsmdb.env import Env, FileLock, RandomAccessFile, WritableFile, default_env, fs_path
from lsmdb.errors import InvalidArgumentError, LockError, StorageIOError


@pytest.fixture
def env():
    return default_env()


def test_default_env_is_a_singleton_env():
    assert isinstance(default_env(), Env) and default_env() is default_env()


def test_append_sync_size_and_read_back(env, tmp_path):
    path = str(tmp_path / "a.log")
    with env.open_writable(path) as f:
        assert isinstance(f, WritableFile) and f.path == path and f.size == 0
        f.append(b"hello ")
        f.append(memoryview(b"world"))
        f.append(bytearray(b"!"))
        f.sync()
        assert f.size == 12
    assert f.closed
    assert env.read_file(path) == b"hello world!"
    assert env.file_size(path) == 12
    # open_writable truncates; open_appendable continues after the end.
    with env.open_appendable(path) as f:
        assert f.size == 12
        f.append(b"+")
        assert f.size == 13
    assert env.read_file(path) == b"hello world!+"
    with env.open_writable(path) as f:
        pass
    assert env.read_file(path) == b""


def test_append_counts_bytes_of_multibyte_buffers(env, tmp_path):
    import array

    path = str(tmp_path / "words")
    words = array.array("I", range(1000))
    with env.open_writable(path) as f:
        f.append(words)
        assert f.size == 4000
    assert env.read_file(path) == words.tobytes()


def test_pread_and_mmap_view(env, tmp_path):
    path = str(tmp_path / "t.sst")
    data = bytes(range(256)) * 40
    with env.open_writable(path) as f:
        f.append(data)
        f.sync()
    r = env.open_random_access(path)
    assert isinstance(r, RandomAccessFile) and r.size == len(data)
    assert r.pread(0, 10) == data[:10]
    assert r.pread(1000, 300) == data[1000:1300]
    assert r.pread(len(data) - 5, 100) == data[-5:]  # short only at end of file
    assert r.pread(len(data) + 10, 10) == b""
    view = r.mmap_view()
    assert view is not None and view.readonly and bytes(view[1000:1300]) == data[1000:1300]
    del view
    r.close()
    r.close()  # idempotent
    empty = str(tmp_path / "empty")
    env.open_writable(empty).close()
    with env.open_random_access(empty) as r:
        assert r.size == 0 and r.mmap_view() is None


def test_mmap_close_with_live_view_is_safe(env, tmp_path):
    path = str(tmp_path / "m")
    with env.open_writable(path) as f:
        f.append(b"x" * 5000)
    r = env.open_random_access(path)
    view = r.mmap_view()
    r.close()  # the mapping lives on until the view is released
    assert bytes(view[:3]) == b"xxx"
    view.release()


def test_errors_are_storage_io_errors_naming_the_path(env, tmp_path):
    missing = str(tmp_path / "nope" / "x")
    for call in (lambda: env.open_random_access(missing), lambda: env.read_file(missing),
                 lambda: env.open_writable(missing), lambda: env.remove(missing),
                 lambda: env.file_size(missing), lambda: env.listdir(missing),
                 lambda: env.rename(missing, missing + "2"), lambda: env.truncate(missing, 0)):
        with pytest.raises(StorageIOError) as info:
            call()
        assert isinstance(info.value, OSError)
        assert info.value.errno == errno.ENOENT
        assert missing in str(info.value)


def test_rename_replaces_and_listdir_is_sorted(env, tmp_path):
    d = str(tmp_path)
    for name in ("b", "a", "c"):
        with env.open_writable(os.path.join(d, name)) as f:
            f.append(name.encode())
    env.rename(os.path.join(d, "a"), os.path.join(d, "c"))
    assert env.listdir(d) == ["b", "c"]
    assert env.read_file(os.path.join(d, "c")) == b"a"
    env.remove(os.path.join(d, "b"))
    assert not env.exists(os.path.join(d, "b"))
    env.fsync_dir(d)


def test_write_file_atomic(env, tmp_path):
    path = str(tmp_path / "CURRENT")
    env.write_file_atomic(path, b"MANIFEST-000001\n")
    assert env.read_file(path) == b"MANIFEST-000001\n"
    env.write_file_atomic(path, b"MANIFEST-000002\n")
    assert env.read_file(path) == b"MANIFEST-000002\n"
    assert env.listdir(str(tmp_path)) == ["CURRENT"]  # no temp file left behind


def test_link_truncate_mkdirs_remove_tree(env, tmp_path):
    src = str(tmp_path / "src")
    with env.open_writable(src) as f:
        f.append(b"0123456789")
    sub = str(tmp_path / "x" / "y")
    env.mkdirs(sub)
    env.mkdirs(sub)  # exist_ok
    dst = os.path.join(sub, "dst")
    env.link(src, dst)
    assert env.read_file(dst) == b"0123456789"
    env.truncate(src, 4)
    assert env.read_file(src) == b"0123"
    env.remove_tree(str(tmp_path / "x"))
    assert not env.exists(sub)


_LOCK_CHILD = """
import sys
from lsmdb.env import default_env
from lsmdb.errors import LockError
try:
    lock = default_env().lock_file(sys.argv[1])
except LockError as exc:
    print("LockError", exc)
    sys.exit(3)
lock.release()
print("acquired")
"""


def _lock_in_child(path):
    return subprocess.run([sys.executable, "-c", _LOCK_CHILD, path], capture_output=True,
                          text=True, timeout=60)


def test_lock_excludes_another_process(env, tmp_path):
    path = str(tmp_path / "LOCK")
    lock = env.lock_file(path)
    assert isinstance(lock, FileLock)
    try:
        proc = _lock_in_child(path)
        assert proc.returncode == 3, proc.stderr
        assert "LockError" in proc.stdout and path in proc.stdout
    finally:
        lock.release()
    lock.release()  # idempotent
    proc = _lock_in_child(path)
    assert proc.returncode == 0 and "acquired" in proc.stdout, proc.stderr
    assert issubclass(LockError, Exception)


def test_fs_path_takes_str_bytes_and_pathlike_as_absolute_str(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    want = str(tmp_path / "d")
    for given in ("d", b"d", pathlib.Path("d"), want, os.fsencode(want)):
        assert fs_path(given) == want
    assert fs_path(".") == str(tmp_path)
    for bad in ("", b""):
        with pytest.raises(InvalidArgumentError, match="target is empty"):
            fs_path(bad, "target")
    with pytest.raises(InvalidArgumentError, match="NUL"):
        fs_path(b"a\0b")
    with pytest.raises(TypeError, match="where must be str, bytes or os.PathLike, not int"):
        fs_path(3, "where")


def test_only_a_plain_writable_file_hands_out_its_descriptor(tmp_path):
    from lsmdb.testing.faultenv import FaultInjectionEnv

    plain = default_env().open_writable(str(tmp_path / "plain"))
    assert plain.direct_append_fd() >= 0
    plain.close()
    assert plain.direct_append_fd() == -1

    class Wrapped(WritableFile):
        pass

    wrapped = Wrapped(str(tmp_path / "plain"), os.open(str(tmp_path / "plain"), os.O_WRONLY))
    assert wrapped.direct_append_fd() == -1
    wrapped.close()
    faulty = FaultInjectionEnv(default_env()).open_writable(str(tmp_path / "faulty"))
    assert faulty.direct_append_fd() == -1
    faulty.close()
