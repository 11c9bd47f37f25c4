"""The machinery every option group shares: the ``_OptionsNode`` base of the frozen dataclasses.

A group declares its fields (with defaults), one check per plain field (``_CHECKS``), its
nested groups (``_NESTED``), its place in the tree (``_PATH``, so errors name full dotted paths)
and optionally cross-field rules (``_cross_problems``). The node then validates at
construction, reporting *every* bad field in one :class:`InvalidOptionsError`, derives copies
(``replace``) and converts to and from plain dicts (``to_dict`` / ``_build``), the form the
JSON round trip and dotted-path overrides go through.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from lsmdb.options.checks import _Check, _describe, _qualified_name
from lsmdb.options.error import InvalidOptionsError


class _OptionsNode:
    """Validation, normalization, dict conversion and replace() shared by the option classes."""

    _CHECKS: ClassVar[dict[str, _Check]]
    _NESTED: ClassVar[dict[str, type[_OptionsNode]]] = {}
    _PATH: ClassVar[str] = ""  # where the class sits in the tree: errors name full paths

    def __post_init__(self) -> None:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        normalized, problems = self._check_fields(values)
        for name, value in normalized.items():
            object.__setattr__(self, name, value)
        if not problems:
            problems = self._cross_problems()
        if problems:
            raise InvalidOptionsError([(self._PATH + name, reason) for name, reason in problems])

    @classmethod
    def _check_fields(cls, values: Mapping[str, Any]):
        """Per-field checks over ``values`` (a subset of fields): (normalized, problems)."""
        normalized: dict[str, Any] = {}
        problems: list[tuple[str, str]] = []
        for name, value in values.items():
            nested = cls._NESTED.get(name)
            if nested is not None:
                if not isinstance(value, nested):
                    problems.append((name, f"must be a {nested.__name__}, got {_describe(value)}"))
                continue
            value, reason = cls._CHECKS[name](value)
            if reason is None:
                normalized[name] = value
            else:
                problems.append((name, reason))
        return normalized, problems

    def _cross_problems(self) -> list[tuple[str, str]]:
        return []

    def replace(self, **changes: Any):
        """A copy with ``changes`` applied (validated like a new instance)."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise InvalidOptionsError([(self._PATH + name, "unknown option") for name in unknown])
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict: nested dicts, lists for tuples, policy as its class name."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, _OptionsNode):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            elif f.name == "policy" and value is not None:
                value = _qualified_name(value)
            out[f.name] = value
        return out

    @classmethod
    def _build(cls, data: Any, problems: list, policy: Any):
        """Instance from a dict, appending every problem instead of stopping at the first."""
        prefix = cls._PATH
        where = prefix.rstrip(".") or "options"
        if not isinstance(data, dict):
            problems.append((where, f"must be a JSON object, got {_describe(data)}"))
            return None
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = [k for k in data if k not in names]
        for key in unknown:
            shown = key if isinstance(key, str) else repr(key)
            problems.append((f"{prefix}{shown}", "unknown option"))
        kwargs: dict[str, Any] = {}
        plain: dict[str, Any] = {}
        broken = bool(unknown)
        for key, value in data.items():
            if key not in names:
                continue
            nested = cls._NESTED.get(key)
            if nested is not None:
                child = nested._build(value, problems, policy)
                broken |= child is None
                kwargs[key] = child
            elif key == "policy":
                resolved = _resolve_policy(value, policy, f"{prefix}{key}", problems)
                broken |= resolved is _BROKEN
                kwargs[key] = resolved
            else:
                plain[key] = value
        # Only the compaction group has a policy field: a policy object passed while its dict
        # names no policy is a mismatch, reported rather than dropped.
        if "policy" in names and "policy" not in data and policy is not None:
            problems.append((f"{prefix}policy",
                             "a policy object was passed but the options name none"))
            broken = True
        normalized, field_problems = cls._check_fields(plain)
        problems.extend((f"{prefix}{name}", reason) for name, reason in field_problems)
        if broken or field_problems:
            return None
        kwargs.update(normalized)
        try:
            return cls(**kwargs)
        except InvalidOptionsError as exc:  # cross-field problems, already full paths
            problems.extend(exc.problems)
            return None


_BROKEN = object()


def _resolve_policy(value: Any, policy: Any, path: str, problems: list) -> Any:
    if value is None:
        if policy is not None:
            problems.append((path, "a policy object was passed but the options name none"))
            return _BROKEN
        return None
    if not isinstance(value, str):
        problems.append((path, f"must be null or a class name, got {_describe(value)}"))
        return _BROKEN
    if policy is None:
        problems.append((path, (
            f"the options use the Python policy object {value}, which JSON cannot carry; "
            "pass it back: Options.from_json(text, policy=<the object>)"
        )))
        return _BROKEN
    if _qualified_name(policy) != value:
        problems.append((path, (
            f"the options name policy class {value} but the object passed is a "
            f"{_qualified_name(policy)}"
        )))
        return _BROKEN
    return policy
