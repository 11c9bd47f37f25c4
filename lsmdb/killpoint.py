"""The one seam through which crash-test kill points enter the engine.

The engine calls ``kill_point("wal.sync:before")`` at each step whose interruption recovery
must survive. Here that is a global lookup and a ``None`` test: nothing happens until a hook
is installed. The machinery that decides when to die (rules, visit counts, SIGKILL, the log)
lives in :mod:`lsmdb.testing.killpoints`, which installs its hook when imported with
``LSMDB_KILL_POINTS`` set; importing any module of :mod:`lsmdb.testing` (the crash-loop child
is ``python -m lsmdb.testing.stress``) does that.

This module imports nothing, so every layer, down to :mod:`lsmdb.env`, can use it without
reaching upward into the test machinery.
"""

# The installed hook: called with a kill point's name, or None while kill points are off.
_hook = None


def kill_point(name: str) -> None:
    """Visit the kill point ``name``: hand it to the installed hook, if any."""
    hook = _hook
    if hook is not None:
        hook(name)


def install_hook(hook) -> None:  # hook: (name: str) -> None; untyped, typing is an import
    """Route every kill point to ``hook`` (``None``: back to the no-op default)."""
    global _hook
    _hook = hook
