"""An Env that runs a test's hook inside appends to chosen files (public testing tool).

Races and interrupts need a write to be caught at an exact point, not by timing: a hook can
stop an append at a gate until the test has done something else (e.g. started ``close()``),
or raise an exception (e.g. ``KeyboardInterrupt``) before, half-way through or after the
bytes reach the file::

    env = HookEnv()
    gate = env.gate(lambda path: path.endswith(".log"))  # the next WAL append stops
    threading.Thread(target=db.put, args=(b"k", b"v")).start()
    gate.entered.wait()          # the writer is inside its WAL append
    ...                          # e.g. start db.close() in another thread
    gate.release.set()

    env.interrupt(lambda path: path.endswith(".log"), when="after")  # Ctrl-C after the write

Each hook fires once (the first append, or sync, of a matching file after it was set).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from lsmdb.env import Env, WritableFile

__all__ = ["HookEnv", "Gate", "WHEN", "GeneralPathEnv"]

# Where an interrupt is raised: in an append before any byte is written, after half of them,
# after all of them; or in the next sync() of the file.
WHEN = ("before", "partial", "after", "sync")


class Gate:
    """A one-shot stop inside an append: ``entered`` is set when an append reaches it, which
    then waits for ``release`` before writing its bytes."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()


class _Hook:
    __slots__ = ("match", "gate", "exc", "when")

    def __init__(self, match: Callable[[str], bool], gate: Gate | None,
                 exc: BaseException | None, when: str):
        self.match = match
        self.gate = gate
        self.exc = exc
        self.when = when


class _HookedFile(WritableFile):
    env: HookEnv

    def append(self, data) -> None:
        hook = self.env._take(self.path, "append")
        if hook is None:
            return super().append(data)
        if hook.gate is not None:
            hook.gate.entered.set()
            hook.gate.release.wait()
            return super().append(data)
        if hook.when == "before":
            raise hook.exc
        if hook.when == "partial":
            view = memoryview(data).cast("B")
            super().append(view[:max(1, len(view) // 2)])
            raise hook.exc
        super().append(data)
        raise hook.exc

    def sync(self) -> None:
        hook = self.env._take(self.path, "sync")
        if hook is not None:
            raise hook.exc
        super().sync()


class HookEnv(Env):
    """The POSIX Env with one-shot hooks on appends (see the module docstring)."""

    def __init__(self) -> None:
        self._hooks: list[_Hook] = []
        self._lock = threading.Lock()

    def gate(self, match: Callable[[str], bool]) -> Gate:
        """Stop the next append to a file whose path ``match`` accepts at a new Gate."""
        gate = Gate()
        with self._lock:
            self._hooks.append(_Hook(match, gate, None, ""))
        return gate

    def interrupt(self, match: Callable[[str], bool], when: str = "before",
                  exc: BaseException | None = None) -> None:
        """Raise ``exc`` (a KeyboardInterrupt by default) in the next append to a matching
        file: ``before`` any byte is written, after a ``partial`` write of half of them, or
        ``after`` all of them; or, for ``sync``, in its next sync() instead of the fsync."""
        if when not in WHEN:
            raise ValueError(f"when must be one of {WHEN}, not {when!r}")
        with self._lock:
            self._hooks.append(_Hook(match, None, exc or KeyboardInterrupt(), when))

    def _take(self, path: str, op: str) -> _Hook | None:
        with self._lock:
            for i, hook in enumerate(self._hooks):
                if (hook.when == "sync") == (op == "sync") and hook.match(path):
                    return self._hooks.pop(i)
        return None

    def open_writable(self, path: str) -> WritableFile:
        f = super().open_writable(path)
        f.__class__ = _HookedFile
        f.env = self
        return f


class _WrappedFile(WritableFile):
    """Not exactly a WritableFile: hands out no descriptor (``direct_append_fd`` is -1)."""


class GeneralPathEnv(Env):
    """The POSIX Env, but its writable files are a subclass: the WAL then takes the DB's
    general write path for every write (no compiled one-op or synced path, no mapping),
    the reference those paths are compared with."""

    def open_writable(self, path: str) -> WritableFile:
        f = super().open_writable(path)
        return _WrappedFile(f.path, f._fd, f.size)
