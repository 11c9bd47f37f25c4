"""A fault-injecting Env: simulated power loss and injected I/O errors (public testing tool).

Modeled on LevelDB's ``FaultInjectionTestEnv`` and RocksDB's ``FaultInjectionTestFS``. Wrap
any :class:`~lsmdb.env.Env` and hand the wrapper to the code under test::

    env = FaultInjectionEnv(seed=7)
    ...write through env...
    env.crash()                 # power loss: unsynced bytes and unsynced dir entries vanish
    ...reopen on env, check that everything acknowledged as durable is still there...

What a crash models (all applied to the real files on disk, so anything can reopen them):

- **Unsynced file data.** Per file opened for writing through this env, the size at its last
  successful ``sync()``; ``crash()`` truncates the file back to it. With
  ``tear_last_write=True`` the file keeps its unsynced appends except the last one, of which
  only a random prefix (possibly empty) survives: a torn write at the tail.
- **Unsynced directory entries.** A file created (``open_writable``/``open_appendable`` of a
  missing file, ``link``) since its directory's last ``fsync_dir`` is deleted.
- **Unsynced renames.** A rename whose destination directory was not fsynced since is undone:
  the file moves back to its old name and a destination it replaced gets its old bytes back
  (those bytes are kept in memory from the rename until the fsync_dir).
- Undo runs newest first, so write-temp + rename + no fsync_dir rolls back completely.

Not modeled: removals (an unlinked file stays gone), directory creation (``mkdirs`` is
durable at once), truncation (``truncate`` is durable at once; the synced size is lowered
to it), reordering of writes within a file, and files written behind the env's back (treated
as durable). ``mmap_view`` reads cannot be failed or revoked: a crash that truncates a file
still mapped by the old "process" makes later access to the lost pages raise SIGBUS, so map
only synced files (lsmdb maps SSTables only after syncing them).

After ``crash()`` every file handle opened before it is dead (``append``/``sync``/``pread``
raise :class:`StorageIOError`; ``close`` is a no-op), locks taken through the env are
released, and the env is usable again.

Error injection: :meth:`fail_nth` fails exactly the n-th future operation of a kind,
:meth:`fail_one_in` fails each with odds 1/N from the env's seeded RNG. Kinds:

    open      open_writable, open_appendable, open_random_access
    write     WritableFile.append          sync       WritableFile.sync
    read      RandomAccessFile.pread, read_file
    rename    rename                       remove     remove, remove_tree
    fsync_dir fsync_dir                    link       link
    truncate  truncate                     any        every kind above

``op_counts`` counts every operation by kind (and ``"any"``), so a test can run a workload
once, read the count, then re-run it failing each operation in turn.
"""

from __future__ import annotations

import errno as errno_mod
import os
import random
import threading
import weakref

from lsmdb.env import Env, FileLock, RandomAccessFile, WritableFile, default_env
from lsmdb.errors import InvalidArgumentError, StorageIOError

__all__ = ["FaultInjectionEnv", "OP_KINDS"]

OP_KINDS = ("open", "write", "sync", "read", "rename", "remove", "fsync_dir", "link", "truncate")
_RULE_KINDS = OP_KINDS + ("any",)


def _abs(path: str) -> str:
    return os.path.abspath(path)


def _dir_of(path: str) -> str:
    return os.path.dirname(_abs(path))


class _FileState:
    """What the env knows about one inode written through it."""

    __slots__ = ("size", "synced", "last_append")

    def __init__(self, size: int, synced: int):
        self.size = size  # bytes in the file as far as the env has seen
        self.synced = synced  # bytes durable
        self.last_append = (size, 0)  # (offset, length) of the newest append


class _Rule:
    __slots__ = ("kind", "remaining", "odds", "errno", "tear")

    def __init__(self, kind: str, remaining: int | None, odds: int | None, err: int, tear: bool):
        self.kind = kind
        self.remaining = remaining  # fail_nth: operations left before the failing one
        self.odds = odds  # fail_one_in
        self.errno = err
        self.tear = tear


class _DeadMixin:
    _dead = False

    def _check_alive(self, what: str) -> None:
        if self._dead:
            raise StorageIOError(
                f"{what} on a handle invalidated by a simulated crash", self.path, errno_mod.EIO
            )


class FaultWritableFile(_DeadMixin, WritableFile):
    """A WritableFile of a :class:`FaultInjectionEnv` (tracks sync, fails on demand)."""

    def __init__(self, env: FaultInjectionEnv, inner: WritableFile, state: _FileState):
        self.path = inner.path
        self._env = env
        self._inner = inner
        self._state = state

    @property
    def size(self) -> int:
        return self._inner.size

    @size.setter
    def size(self, value: int) -> None:  # WritableFile.__init__ assigns it; never called here
        self._inner.size = value

    @property
    def closed(self) -> bool:
        return self._dead or self._inner.closed

    def append(self, data) -> None:
        self._check_alive("write")
        data = memoryview(data).cast("B")
        rule = self._env._fault("write", self.path)
        if rule is not None:
            if rule.tear and len(data) > 1:
                keep = self._env._randrange(len(data))
                if keep:
                    self._write(data[:keep])
            self._env._raise(rule, "write", self.path)
        self._write(data)

    def _write(self, data: memoryview) -> None:
        offset = self._inner.size
        self._inner.append(data)
        with self._env._lock:
            if self._dead:
                # The power cut struck while this write was in flight (another thread's
                # operation triggered it): the bytes never reached the disk. Undo them, or the
                # stale file offset would leave a hole and a record after the crash point.
                base = self._env.base
                if base.exists(self.path):
                    base.truncate(self.path, self._state.size)
                self._check_alive("write")
            self._state.size = max(self._state.size, offset + len(data))
            self._state.last_append = (offset, len(data))

    def sync(self) -> None:
        self._check_alive("sync")
        rule = self._env._fault("sync", self.path)
        if rule is not None:
            self._env._raise(rule, "sync", self.path)
        size = self._inner.size
        self._inner.sync()
        with self._env._lock:
            # A power cut during the fsync (triggered by another thread) means it did not
            # complete: the caller must not take the data for durable.
            self._check_alive("sync")
            self._state.synced = max(self._state.synced, size)

    def flush(self) -> None:
        self._check_alive("flush")

    def close(self) -> None:
        if not self._dead:
            self._inner.close()

    def _kill(self) -> None:
        self._dead = True
        try:
            self._inner.close()
        except StorageIOError:
            pass  # the "process" is gone; nothing can observe a failed close


class FaultRandomAccessFile(_DeadMixin, RandomAccessFile):
    """A RandomAccessFile of a :class:`FaultInjectionEnv` (pread can be failed)."""

    def __init__(self, env: FaultInjectionEnv, inner: RandomAccessFile):
        self.path = inner.path
        self._env = env
        self._inner = inner

    @property
    def size(self) -> int:
        return self._inner.size

    @size.setter
    def size(self, value: int) -> None:
        self._inner.size = value

    def pread(self, offset: int, n: int) -> bytes:
        self._check_alive("read")
        rule = self._env._fault("read", self.path)
        if rule is not None:
            self._env._raise(rule, "read", self.path)
        return self._inner.pread(offset, n)

    def mmap_view(self) -> memoryview | None:
        self._check_alive("mmap")
        return self._inner.mmap_view()

    def close(self) -> None:
        self._inner.close()

    def _kill(self) -> None:
        self._dead = True
        self._inner.close()


class FaultInjectionEnv(Env):
    """An Env that can simulate power loss and fail chosen operations with EIO.

    ``base`` is the Env doing the real I/O (default: the POSIX env); ``seed`` seeds the RNG
    used for torn writes and :meth:`fail_one_in`, so a run is reproducible from its seed.
    Thread-safe: its bookkeeping is guarded by one lock.
    """

    def __init__(self, base: Env | None = None, seed: int = 0):
        self.base = base if base is not None else default_env()
        self.seed = seed
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._files: dict[str, _FileState] = {}  # absolute path -> inode state (links share)
        # Unsynced directory operations, oldest first:
        # ("create", dir, path) or ("rename", dir, src, dst, old dst bytes or None, dst state)
        self._pending: list[tuple] = []
        self._handles: weakref.WeakSet = weakref.WeakSet()
        self._locks: list[FileLock] = []
        self._rules: list[_Rule] = []
        self.op_counts: dict[str, int] = dict.fromkeys(_RULE_KINDS, 0)
        self.injected: list[tuple[str, str]] = []  # (op kind, path) of every injected failure

    # -- fault rules ---------------------------------------------------------------------

    def fail_nth(self, op: str, n: int, errno: int = errno_mod.EIO, *,
                 tear: bool = False) -> None:
        """Fail the ``n``-th (1-based) ``op`` operation from now on, once.

        With ``tear=True`` a failing ``write`` first appends a random strict prefix of its data
        (a torn write). Rules of several calls are independent.
        """
        self._check_kind(op)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InvalidArgumentError(f"fail_nth needs n >= 1, got {n!r}")
        with self._lock:
            self._rules.append(_Rule(op, n, None, errno, tear))

    def fail_one_in(self, op: str, odds: int, errno: int = errno_mod.EIO, *,
                    tear: bool = False) -> None:
        """Fail each ``op`` operation with probability 1/``odds`` until :meth:`clear_faults`."""
        self._check_kind(op)
        if isinstance(odds, bool) or not isinstance(odds, int) or odds < 1:
            raise InvalidArgumentError(f"fail_one_in needs odds >= 1, got {odds!r}")
        with self._lock:
            self._rules.append(_Rule(op, None, odds, errno, tear))

    def clear_faults(self) -> None:
        """Drop every pending fail_nth / fail_one_in rule."""
        with self._lock:
            self._rules.clear()

    def reset_counts(self) -> None:
        with self._lock:
            self.op_counts = dict.fromkeys(_RULE_KINDS, 0)

    @staticmethod
    def _check_kind(op: str) -> None:
        if op not in _RULE_KINDS:
            raise InvalidArgumentError(f"unknown operation kind {op!r}; one of {_RULE_KINDS}")

    def _randrange(self, n: int) -> int:
        with self._lock:
            return self._rng.randrange(n)

    def _fault(self, kind: str, path: str) -> _Rule | None:
        """Count one ``kind`` operation; the rule that fails it, if any."""
        with self._lock:
            self.op_counts[kind] += 1
            self.op_counts["any"] += 1
            hit = None
            for rule in list(self._rules):
                if rule.kind not in (kind, "any"):
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        self._rules.remove(rule)
                        hit = hit or rule
                elif self._rng.randrange(rule.odds) == 0:
                    hit = hit or rule
            if hit is not None:
                self.injected.append((kind, path))
            return hit

    def _raise(self, rule: _Rule, kind: str, path: str):
        how = "fail_nth" if rule.odds is None else f"fail_one_in {rule.odds}"
        name = errno_mod.errorcode.get(rule.errno, str(rule.errno))
        raise StorageIOError(f"injected fault: {kind} failed ({name}, {how})", path, rule.errno)

    def _check(self, kind: str, path: str) -> None:
        rule = self._fault(kind, path)
        if rule is not None:
            self._raise(rule, kind, path)

    # -- files ---------------------------------------------------------------------------

    def open_writable(self, path: str) -> WritableFile:
        self._check("open", path)
        existed = self.base.exists(path)
        inner = self.base.open_writable(path)
        key = _abs(path)
        with self._lock:
            state = self._files.get(key)
            if state is None:
                state = self._files[key] = _FileState(0, 0)
            state.size = state.synced = 0  # O_TRUNC: the old bytes are gone either way
            state.last_append = (0, 0)
            if not existed:
                self._pending.append(("create", _dir_of(path), key))
            handle = FaultWritableFile(self, inner, state)
            self._handles.add(handle)
        return handle

    def open_appendable(self, path: str) -> WritableFile:
        self._check("open", path)
        existed = self.base.exists(path)
        inner = self.base.open_appendable(path)
        key = _abs(path)
        with self._lock:
            state = self._files.get(key)
            if state is None:  # never written through this env: its bytes count as durable
                state = self._files[key] = _FileState(inner.size, inner.size)
            state.size = inner.size
            state.synced = min(state.synced, inner.size)
            state.last_append = (inner.size, 0)
            if not existed:
                self._pending.append(("create", _dir_of(path), key))
            handle = FaultWritableFile(self, inner, state)
            self._handles.add(handle)
        return handle

    def open_random_access(self, path: str) -> RandomAccessFile:
        self._check("open", path)
        handle = FaultRandomAccessFile(self, self.base.open_random_access(path))
        with self._lock:
            self._handles.add(handle)
        return handle

    def read_file(self, path: str) -> bytes:
        self._check("read", path)
        return self.base.read_file(path)

    # write_file_atomic is inherited: it goes through open_writable/rename/fsync_dir above.

    def file_size(self, path: str) -> int:
        return self.base.file_size(path)

    def modified_time_ns(self, path: str) -> int:
        return self.base.modified_time_ns(path)

    def exists(self, path: str) -> bool:
        return self.base.exists(path)

    def listdir(self, path: str) -> list[str]:
        return self.base.listdir(path)

    def mkdirs(self, path: str) -> None:
        self.base.mkdirs(path)

    def remove(self, path: str) -> None:
        self._check("remove", path)
        self.base.remove(path)
        with self._lock:
            self._files.pop(_abs(path), None)

    def remove_tree(self, path: str) -> None:
        self._check("remove", path)
        self.base.remove_tree(path)
        root = _abs(path) + os.sep
        with self._lock:
            for key in [k for k in self._files if k.startswith(root)]:
                del self._files[key]

    def rename(self, src: str, dst: str) -> None:
        self._check("rename", f"{src} -> {dst}")
        skey, dkey = _abs(src), _abs(dst)
        old = self.base.read_file(dst) if self.base.exists(dst) else None
        self.base.rename(src, dst)
        with self._lock:
            old_state = self._files.pop(dkey, None)
            state = self._files.pop(skey, None)
            if state is not None:
                self._files[dkey] = state
            self._pending.append(("rename", _dir_of(dst), skey, dkey, old, old_state))

    def link(self, src: str, dst: str) -> None:
        self._check("link", f"{src} -> {dst}")
        self.base.link(src, dst)
        key = _abs(dst)
        with self._lock:
            state = self._files.get(_abs(src))
            if state is not None:
                self._files[key] = state
            self._pending.append(("create", _dir_of(dst), key))

    def truncate(self, path: str, size: int) -> None:
        self._check("truncate", path)
        self.base.truncate(path, size)
        with self._lock:
            state = self._files.get(_abs(path))
            if state is not None:
                state.size = size
                state.synced = min(state.synced, size)
                state.last_append = (size, 0)

    def fsync_dir(self, path: str) -> None:
        self._check("fsync_dir", path)
        self.base.fsync_dir(path)
        directory = _abs(path)
        with self._lock:
            self._pending = [op for op in self._pending if op[1] != directory]

    def lock_file(self, path: str) -> FileLock:
        lock = self.base.lock_file(path)
        with self._lock:
            self._locks.append(lock)
        return lock

    # -- durability queries and crashes ---------------------------------------------------

    def synced_size(self, path: str) -> int:
        """Bytes of ``path`` that survive a crash (a file never written through this env
        counts as fully durable)."""
        with self._lock:
            state = self._files.get(_abs(path))
            if state is not None:
                return state.synced
        return self.base.file_size(path)

    def unsynced_entries(self) -> list[str]:
        """Paths whose creation or rename is not yet durable (would be undone by a crash)."""
        with self._lock:
            return [op[2] if op[0] == "create" else op[3] for op in self._pending]

    def crash(self, tear_last_write: bool = False) -> None:
        """Simulate power loss; see the module docstring for exactly what is lost."""
        self._crash(drop_data=True, undo_dirs=True, tear=tear_last_write)

    def drop_unsynced_data(self, tear_last_write: bool = False) -> None:
        """Only truncate files to their synced sizes (LevelDB RESET_DROP_UNSYNCED_DATA);
        directory entries are kept. Handles die as in :meth:`crash`."""
        self._crash(drop_data=True, undo_dirs=False, tear=tear_last_write)

    def delete_unsynced_entries(self) -> None:
        """Only undo unsynced creations and renames (LevelDB RESET_DELETE_UNSYNCED_FILES);
        file data is kept. Handles die as in :meth:`crash`."""
        self._crash(drop_data=False, undo_dirs=True, tear=False)

    def _crash(self, drop_data: bool, undo_dirs: bool, tear: bool) -> None:
        with self._lock:
            for handle in list(self._handles):
                handle._kill()
            self._handles = weakref.WeakSet()
            for lock in self._locks:
                lock.release()
            self._locks.clear()
            if undo_dirs:
                for op in reversed(self._pending):
                    self._undo(op)
            self._pending.clear()
            if drop_data:
                for path, state in self._files.items():
                    self._drop_unsynced(path, state, tear)
            for state in self._files.values():
                state.synced = state.size  # what survived the crash is on disk now
                state.last_append = (state.size, 0)

    def _undo(self, op: tuple) -> None:
        base = self.base
        if op[0] == "create":
            path = op[2]
            if base.exists(path):
                base.remove(path)
            self._files.pop(path, None)
            return
        _, _, src, dst, old, old_state = op
        if not base.exists(dst):
            return  # removed since (removals are durable at once): nothing to move back
        base.rename(dst, src)
        state = self._files.pop(dst, None)
        if state is not None:
            self._files[src] = state
        if old is not None:
            if old_state is not None:
                old = old[: old_state.synced]
            with base.open_writable(dst) as f:
                f.append(old)
            if old_state is not None:
                old_state.size = old_state.synced = len(old)
                self._files[dst] = old_state

    def _drop_unsynced(self, path: str, state: _FileState, tear: bool) -> None:
        if state.synced >= state.size or not self.base.exists(path):
            return
        keep = state.synced
        if tear:
            offset, length = state.last_append
            if length and offset >= state.synced:
                keep = offset + self._rng.randrange(length)
        self.base.truncate(path, keep)
        state.size = keep
