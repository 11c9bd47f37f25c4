"""Options given as text or keywords, turned into the dotted-path mapping that
:meth:`Options.override` takes: ``--set FIELD=VALUE`` flags (:func:`parse_assignment`) and the
keywords of ``lsmdb.open(path, **keywords)`` (:func:`keyword_overrides`)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from lsmdb.errors import InvalidArgumentError
from lsmdb.options.error import InvalidOptionsError
from lsmdb.options.json_text import _reject_constant
from lsmdb.options.node import _OptionsNode
from lsmdb.options.options import Options


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse ``"compaction.size_ratio=6"`` into ``("compaction.size_ratio", 6)``.

    The value is read as JSON when it parses (numbers, true/false, null, lists), else taken
    as a plain string (``compaction.style=tiered``). For command-line ``--set`` flags.
    """
    path, sep, raw = text.partition("=")
    path = path.strip()
    if not sep or not path:
        raise InvalidArgumentError(f"expected FIELD=VALUE, got {text!r}")
    raw = raw.strip()
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        value = raw
    return path, value


def keyword_overrides(keywords: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword overrides as given to ``lsmdb.open(path, **keywords)``, flattened into the
    dotted-path mapping that :meth:`Options.override` takes.

    Three spellings name the same field, so ``open()`` has one code path (``override``):

    - a plain or dotted key: ``wal_sync="always"``, ``**{"compaction.style": "tiered"}``;
    - a dict for a group: ``compaction={"style": "tiered", "size_ratio": 4}`` (nested dicts
      for nested groups); only the fields it names change;
    - an option object for a group: ``compaction=Compaction(style="tiered")`` sets every
      field of the group, as ``Options.replace`` would.

    A field named twice (e.g. ``compaction={"style": ...}`` and ``**{"compaction.style":
    ...}``) is an :class:`InvalidOptionsError`. Unknown names and bad values are left for
    ``override`` to report, all together.
    """
    flat: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []

    def add(path: str, cls: type[_OptionsNode] | None, value: Any) -> None:
        group = None if cls is None else cls._NESTED.get(path.rpartition(".")[2])
        if group is not None and isinstance(value, Mapping):
            for key, item in value.items():
                if not isinstance(key, str):
                    problems.append((f"{path}.{key!r}", "option names must be strings"))
                    continue
                add(f"{path}.{key}", group, item)
            return
        if group is not None and isinstance(value, group):
            for f in dataclasses.fields(value):
                add(f"{path}.{f.name}", group, getattr(value, f.name))
            return
        if path in flat:
            problems.append((path, "given twice"))
            return
        flat[path] = value

    for key, value in keywords.items():
        if not isinstance(key, str):
            problems.append((repr(key), "option names must be strings"))
            continue
        parts = key.split(".")
        cls: type[_OptionsNode] | None = Options
        for part in parts[:-1]:  # the class owning the last part, or None if unknown
            cls = None if cls is None else cls._NESTED.get(part)
        add(key, cls, value)
    if problems:
        raise InvalidOptionsError(problems)
    return flat
