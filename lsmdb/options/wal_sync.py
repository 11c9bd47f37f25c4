"""The ``wal_sync`` durability value: ``"always"``, ``"never"`` or ``"every(N)"``.

One string, never a plain int, so that a policy reads the same in code, JSON and on the command
line. :func:`parse_wal_sync` turns it into commits per fsync (the writer's commit policy asks
it); :func:`every` builds the ``every(N)`` spelling.
"""

from __future__ import annotations

import re
from typing import Any

from lsmdb.errors import InvalidArgumentError
from lsmdb.options.checks import _describe

_EVERY_RE = re.compile(r"every\(([1-9][0-9]{0,9})\)")  # [0-9], not \d: no Unicode digits
_EVERY_MAX = 2**31 - 1


def every(n: int) -> str:
    """The ``wal_sync`` value that fsyncs every ``n``-th commit: ``every(8) == "every(8)"``."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= _EVERY_MAX:
        raise InvalidArgumentError(f"every(n) needs an integer n in [1, {_EVERY_MAX}], got {n!r}")
    return f"every({n})"


def parse_wal_sync(value: str) -> int:
    """Commits per fsync for a ``wal_sync`` value: 1 for "always", N for "every(N)", 0 for
    "never"."""
    if value == "always":
        return 1
    if value == "never":
        return 0
    m = _EVERY_RE.fullmatch(value) if isinstance(value, str) else None
    if m is None or int(m.group(1)) > _EVERY_MAX:
        raise InvalidArgumentError(
            f'wal_sync must be "always", "never" or "every(N)" with N >= 1, got {value!r}'
        )
    return int(m.group(1))


def _wal_sync(value: Any):
    try:
        parse_wal_sync(value)
    except InvalidArgumentError:
        return None, f'must be "always", "never" or "every(N)" with N >= 1, got {_describe(value)}'
    return value, None
