"""Strict JSON reading shared by ``Options.from_json`` and ``parse_assignment``: no NaN or
Infinity constants (they would not round trip), no key given twice (JSON would keep the last
one silently)."""

from __future__ import annotations

from typing import Any


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a valid option value")


class _DuplicateKey(Exception):
    """Raised out of ``json.loads`` by :func:`_no_duplicates`; carries the repeated key."""

    def __init__(self, key: str):
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out
