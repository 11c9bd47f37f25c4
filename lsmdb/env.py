"""The single file-I/O layer of lsmdb (LevelDB's Env).

Every byte lsmdb reads or writes on disk goes through an :class:`Env`, so tests can swap in
:class:`lsmdb.testing.faultenv.FaultInjectionEnv` to drop unsynced data, fail operations
with EIO or tear writes. OSErrors are re-raised as :class:`StorageIOError` naming the path.

Files:
- :class:`WritableFile`: append-only, ``sync()`` makes appended bytes durable.
- :class:`RandomAccessFile`: ``pread(offset, n)`` and ``size``; immutable files (SSTables)
  may also be mapped with ``mmap_view()`` for zero-copy reads.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import shutil
from contextlib import contextmanager

from lsmdb.errors import InvalidArgumentError, LockError, StorageIOError
from lsmdb.killpoint import kill_point

__all__ = ["Env", "WritableFile", "RandomAccessFile", "FileLock", "default_env", "fs_path"]


def fs_path(path: str | bytes | os.PathLike, what: str = "path") -> str:
    """``path`` (str, bytes or os.PathLike, as ``open()`` accepts) as an absolute str path.

    bytes are decoded with the file-system encoding (``os.fsdecode``), so every path inside
    lsmdb is a str and joins never mix the two. Raises TypeError naming ``what`` for other
    types, and InvalidArgumentError for an empty path (which would silently mean the current
    directory) or one containing a NUL byte.
    """
    try:
        text = os.fsdecode(os.fspath(path))
    except TypeError:
        raise TypeError(
            f"{what} must be str, bytes or os.PathLike, not {type(path).__name__}") from None
    if not text:
        raise InvalidArgumentError(f"{what} is empty; name a directory (e.g. '.') explicitly")
    if "\0" in text:
        raise InvalidArgumentError(f"{what} contains a NUL byte: {text!r}")
    return os.path.abspath(text)


@contextmanager
def _io(what: str, path: str):
    try:
        yield
    except StorageIOError:
        raise
    except OSError as exc:
        raise StorageIOError(f"{what} failed ({exc.strerror or exc})", path, exc.errno) from exc


class WritableFile:
    """An append-only file. Bytes are durable only after :meth:`sync`."""

    def __init__(self, path: str, fd: int, size: int = 0):
        self.path = path
        self._fd = fd
        self.size = size  # bytes appended so far (including any pre-existing content)

    def append(self, data) -> None:
        # Hot path (one call per WAL record): no context manager, no copy for bytes.
        try:
            n = os.write(self._fd, data)
            if type(data) is bytes:
                total = len(data)
            else:
                data = memoryview(data).cast("B")  # os.write counts bytes: slice by bytes
                total = len(data)
            while n < total:
                n += os.write(self._fd, data[n:])
        except OSError as exc:
            raise StorageIOError(f"write failed ({exc.strerror or exc})", self.path,
                                 exc.errno) from exc
        self.size += total

    def flush(self) -> None:
        """No user-space buffer is kept; present for file-like symmetry."""

    def direct_append_fd(self) -> int:
        """The descriptor a C caller may append through instead of calling ``append`` (the
        WAL's paths: write(2) in lsmdb/_core/walappend.pyx, or a shared mapping of the file,
        lsmdb/_core/walmap.pyx); -1 once closed, and always -1 for a subclass (fault
        injection, test hooks), which must see every append."""
        return self._fd if type(self) is WritableFile else -1

    def sync(self) -> None:
        with _io("fsync", self.path):
            os.fdatasync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            with _io("close", self.path):
                os.close(fd)

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class RandomAccessFile:
    """A file read by offset. Safe to share between threads (pread has no cursor)."""

    def __init__(self, path: str, fd: int):
        self.path = path
        self._fd = fd
        with _io("stat", path):
            self.size = os.fstat(fd).st_size
        self._mmap: mmap.mmap | None = None

    def pread(self, offset: int, n: int) -> bytes:
        """Up to n bytes at offset (fewer only at end of file)."""
        with _io("read", self.path):
            return os.pread(self._fd, n, offset)

    def mmap_view(self) -> memoryview | None:
        """A read-only memoryview over the whole file, or None if the file is empty.

        Only for files that are never modified while open (SSTables)."""
        if self.size == 0:
            return None
        if self._mmap is None:
            with _io("mmap", self.path):
                self._mmap = mmap.mmap(self._fd, self.size, access=mmap.ACCESS_READ)
        return memoryview(self._mmap)

    def close(self) -> None:
        if self._mmap is not None:
            try:
                self._mmap.close()
            except BufferError:
                pass  # a view is still exported; the mapping is freed with the last view
            self._mmap = None
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            with _io("close", self.path):
                os.close(fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class FileLock:
    """An fcntl lock on a LOCK file, held until :meth:`release`."""

    def __init__(self, path: str, fd: int):
        self.path = path
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            try:
                fcntl.lockf(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)


class Env:
    """POSIX file operations. Subclass (or wrap) to inject faults."""

    def open_writable(self, path: str) -> WritableFile:
        """Create or truncate ``path`` for appending. Opened read-write: a descriptor handed
        out by ``direct_append_fd`` may be mapped (the WAL's appends, walmap.pyx)."""
        with _io("open for write", path):
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        return WritableFile(path, fd, 0)

    def open_appendable(self, path: str) -> WritableFile:
        """Open ``path`` (created if missing) for appending after its current end."""
        with _io("open for append", path):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
            size = os.fstat(fd).st_size
        return WritableFile(path, fd, size)

    def open_random_access(self, path: str) -> RandomAccessFile:
        with _io("open for read", path):
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        return RandomAccessFile(path, fd)

    def read_file(self, path: str) -> bytes:
        with _io("read", path), open(path, "rb") as f:
            return f.read()

    def write_file_atomic(self, path: str, data: bytes) -> None:
        """Write-temp, fsync, rename, fsync dir: ``path`` holds old or new bytes, never a mix."""
        tmp = path + ".tmp"
        f = self.open_writable(tmp)
        try:
            f.append(data)
            f.sync()
        finally:
            f.close()
        kill_point("atomic_write.rename:before")
        self.rename(tmp, path)
        kill_point("atomic_write.rename:after")
        self.fsync_dir(os.path.dirname(path) or ".")

    def file_size(self, path: str) -> int:
        with _io("stat", path):
            return os.stat(path).st_size

    def modified_time_ns(self, path: str) -> int:
        """Last modification time of ``path`` in nanoseconds (recovery compares files)."""
        with _io("stat", path):
            return os.stat(path).st_mtime_ns

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def listdir(self, path: str) -> list[str]:
        with _io("listdir", path):
            return sorted(os.listdir(path))

    def mkdirs(self, path: str) -> None:
        with _io("mkdir", path):
            os.makedirs(path, exist_ok=True)

    def remove(self, path: str) -> None:
        with _io("remove", path):
            os.remove(path)

    def remove_tree(self, path: str) -> None:
        with _io("remove tree", path):
            shutil.rmtree(path)

    def rename(self, src: str, dst: str) -> None:
        with _io("rename", f"{src} -> {dst}"):
            os.replace(src, dst)

    def link(self, src: str, dst: str) -> None:
        """Hard link (checkpoints); falls back to a copy across file systems."""
        with _io("link", f"{src} -> {dst}"):
            try:
                os.link(src, dst)
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                    raise
                shutil.copyfile(src, dst)

    def truncate(self, path: str, size: int) -> None:
        with _io("truncate", path):
            os.truncate(path, size)

    def fsync_dir(self, path: str) -> None:
        """Make renames/creations/removals in directory ``path`` durable."""
        with _io("fsync dir", path):
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def lock_file(self, path: str) -> FileLock:
        """Take an exclusive fcntl lock; LockError at once if another process holds it."""
        with _io("open lock", path):
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EACCES, errno.EAGAIN):
                raise LockError(f"directory is in use by another process (lock {path})") from exc
            raise StorageIOError(f"lock failed ({exc.strerror})", path, exc.errno) from exc
        return FileLock(path, fd)


_DEFAULT = Env()


def default_env() -> Env:
    """The process-wide POSIX Env."""
    return _DEFAULT
