"""Field checks: the validators the option groups declare per field in their ``_CHECKS``.

A check takes a raw value and returns ``(normalized value, None)`` or ``(None, reason)``; the
reason is the text after the field path in an :class:`InvalidOptionsError`, e.g.
``must be >= 2, got 1``. Normalizing here (lists to tuples, ints to floats for float fields)
is what makes equal options compare equal and JSON round trip exactly.

The underscored names are private to the ``lsmdb.options`` package (its modules share them;
``lsmdb.options`` does not export them). The ``wal_sync`` check lives in ``wal_sync.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

MAX_LEVELS_LIMIT = 32  # the most LSM levels, and so the longest per-level vector

_Check = Callable[[Any], tuple[Any, "str | None"]]


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(lo: int, hi: int | None = None) -> _Check:
    def check(value: Any):
        if not _is_int(value):
            return None, f"must be an integer, got {_describe(value)}"
        if value < lo or (hi is not None and value > hi):
            bound = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
            return None, f"must be {bound}, got {_short(value)}"
        return int(value), None

    return check


def _number(lo: float, hi: float | None = None, *, lo_open: bool = False) -> _Check:
    """A float field; ints are accepted and normalized to float."""

    def check(value: Any):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None, f"must be a number, got {_describe(value)}"
        try:
            number = float(value)
        except OverflowError:
            return None, f"must be a finite number, got {_short(value)}"
        if not math.isfinite(number):
            return None, f"must be a finite number, got {_short(value)}"
        if (number <= lo if lo_open else number < lo) or (hi is not None and number > hi):
            low = f"> {lo}" if lo_open else f">= {lo}"
            bound = low if hi is None else f"{low} and <= {hi}"
            return None, f"must be {bound}, got {_short(value)}"
        return number, None

    return check


def _choice(values: tuple[str, ...]) -> _Check:
    def check(value: Any):
        if not isinstance(value, str) or value not in values:
            names = " | ".join(f'"{v}"' for v in values)
            return None, f"must be one of {names}, got {_describe(value)}"
        return value, None

    return check


def _bool(value: Any):
    if not isinstance(value, bool):
        return None, f"must be true or false, got {_describe(value)}"
    return value, None


def _optional(check: _Check) -> _Check:
    def wrapped(value: Any):
        return (None, None) if value is None else check(value)

    return wrapped


def _vector(item: _Check, *, allow_none_items: bool = False) -> _Check:
    """A per-level vector: list or tuple (normalized to tuple), 1..32 items."""

    def check(value: Any):
        if not isinstance(value, (list, tuple)):
            return None, f"must be a list, got {_describe(value)}"
        if not 1 <= len(value) <= MAX_LEVELS_LIMIT:
            return None, f"must have 1 to {MAX_LEVELS_LIMIT} entries, got {len(value)}"
        out = []
        for i, v in enumerate(value):
            if v is None and allow_none_items:
                out.append(None)
                continue
            normalized, reason = item(v)
            if reason is not None:
                return None, f"entry {i} {reason}"
            out.append(normalized)
        return tuple(out), None

    return check


def _policy(value: Any):
    if value is None:
        return None, None
    if not callable(getattr(value, "pick", None)):
        return None, (
            "must be None or an object with a callable pick(version_view) "
            f"(the CompactionPolicy protocol), got {_describe(value)}"
        )
    return value, None


def _qualified_name(obj: Any) -> str:
    """How JSON names a policy object, which it cannot carry: its class's qualified name."""
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"
