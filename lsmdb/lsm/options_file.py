"""The options a database was last opened with: ``<dir>/OPTIONS-<n>.json``, and which options
an open of an existing database uses (RocksDB's LoadLatestOptions plus overrides).

File: the text of :meth:`Options.to_json` (UTF-8 JSON, every field, ``compaction.policy`` as
the qualified class name of the policy object or null), written with write-temp + rename by
every writable open, numbered from the MANIFEST's file numbers; the highest number is the
latest. A file that does not parse or validate is damaged.

Which options an open uses (documented in docs/options.md, "Reopening a database"):

- no stored file (a new database): ``Options()`` or the ``Options`` given, then overrides;
- an ``Options`` object given: it, whole (it names every field), then overrides;
- otherwise the stored options, then the overrides, which change only the fields they name.

A stored policy class is re-created by importing it and calling it without arguments; an
override naming ``compaction.policy`` supplies the object instead.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Mapping
from typing import Any

from lsmdb.env import Env
from lsmdb.errors import CorruptionError, InvalidArgumentError, describe_error
from lsmdb.options import InvalidOptionsError, Options

__all__ = ["latest_options_file", "resolve_options", "load_policy"]

_ACCEPT = "accept_default_options=True"


def latest_options_file(env: Env, dbdir: str) -> str | None:
    """Path of the highest-numbered ``OPTIONS-<n>.json`` in ``dbdir`` (None if there is none)."""
    best = None
    for name in env.listdir(dbdir):
        if name.startswith("OPTIONS-") and name.endswith(".json"):
            try:
                n = int(name[8:-5])
            except ValueError:
                continue
            if best is None or n > best[0]:
                best = (n, name)
    return os.path.join(dbdir, best[1]) if best else None


def load_policy(name: str) -> Any:
    """A new instance of the policy class ``name`` (``module.QualName``, as stored): import the
    longest importable module prefix, look the rest up in it, call it without arguments.
    InvalidArgumentError naming the class and the reason when any step fails."""
    parts = name.split(".")
    failure: BaseException | None = None
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except Exception as exc:  # not found, or the module raised while loading
            failure = failure or exc
            continue
        try:
            for part in parts[cut:]:
                obj = getattr(obj, part)
            return obj()
        except Exception as exc:
            raise InvalidArgumentError(
                f"compaction policy class {name} cannot be re-created as {name}() "
                f"({describe_error(exc)})") from exc
    detail = f" ({describe_error(failure)})" if failure is not None else ""
    raise InvalidArgumentError(f"compaction policy class {name} cannot be imported{detail}")


def resolve_options(env: Env, dbdir: str, options: Options | None, exists: bool,
                    overrides: Mapping[str, Any], accept_defaults: bool) -> Options:
    """The options an open uses (see the module docstring). ``overrides`` are dotted paths
    (:meth:`Options.override`). A damaged stored file raises CorruptionError naming it; a
    stored policy that cannot be loaded raises InvalidOptionsError naming the class. With
    ``accept_defaults`` the first falls back to ``Options()`` and the second to the
    built-in policy of the stored style, each then taking the overrides."""
    if options is not None:
        if not isinstance(options, Options):
            raise TypeError(f"options must be lsmdb.Options, not {type(options).__name__}")
        base = options
    else:
        latest = latest_options_file(env, dbdir) if exists else None
        base = Options() if latest is None else _stored(env, latest, overrides, accept_defaults)
    return base.override(overrides) if overrides else base


def _holds_every_field(data: Any, known: Mapping[str, Any]) -> bool:
    """Whether the stored dict ``data`` has every field of ``known`` (an ``Options().to_dict()``),
    nested sections included."""
    if not isinstance(data, dict):
        return False
    for name, default in known.items():
        if name not in data:
            return False
        if isinstance(default, dict) and not _holds_every_field(data[name], default):
            return False
    return True


def _stored(env: Env, path: str, overrides: Mapping[str, Any], accept_defaults: bool) -> Options:
    try:
        data = json.loads(env.read_file(path))
        if not isinstance(data, dict):
            raise InvalidOptionsError([("options", f"must be a JSON object, got {data!r:.40}")])
        compaction = data.get("compaction")
        policy_name = compaction.get("policy") if isinstance(compaction, dict) else None
        if isinstance(policy_name, str):
            compaction["policy"] = None  # attached below, from an override or by import
        stored = Options.from_dict(data)
    except InvalidOptionsError as exc:
        if accept_defaults:
            return Options()
        unknown = [f for f, reason in exc.problems if reason == "unknown option"]
        if (unknown and len(unknown) == len(exc.problems)
                and _holds_every_field(data, Options().to_dict())):
            # Every option this version has, plus names it does not know: a newer lsmdb
            # wrote the file (a downgrade), not damage - a damaged name would also leave
            # its own option missing. Refused like RocksDB refuses unknown options, with
            # the error type of options rather than of corruption.
            raise InvalidOptionsError([(f, (
                f"unknown option in the stored options ({os.path.basename(path)}), probably "
                f"written by a newer lsmdb; open with {_ACCEPT} to start from this "
                "version's defaults")) for f in unknown]) from exc
        raise CorruptionError(
            f"stored options are damaged ({describe_error(exc)}); open with {_ACCEPT} to "
            "start from the defaults instead", path) from exc
    except (ValueError, UnicodeDecodeError, AttributeError) as exc:
        if accept_defaults:
            return Options()
        raise CorruptionError(
            f"stored options are damaged ({describe_error(exc)}); open with {_ACCEPT} to "
            "start from the defaults instead", path) from exc
    if not isinstance(policy_name, str) or "compaction.policy" in overrides:
        return stored
    try:
        policy = load_policy(policy_name)
    except InvalidArgumentError as exc:
        if accept_defaults:
            return stored  # the built-in policy of the stored style
        raise InvalidOptionsError([("compaction.policy", (
            f"the stored options ({os.path.basename(path)}) use the policy {policy_name}, "
            f"which cannot be loaded: {exc}; pass the object "
            f"(lsmdb.open(path, **{{'compaction.policy': obj}})) or open with {_ACCEPT} "
            f"to use the built-in policy of style {stored.compaction.style!r}"))]) from exc
    return stored.override({"compaction.policy": policy})
