"""The pieces every lsmdb command line shares: exit codes, integer flags and their range
errors, input and output path checks.

A leaf below its users: :mod:`lsmdb.cli` (the ``lsmdb`` driver) and the subcommands'
parsers in :mod:`lsmdb.bench` and :mod:`lsmdb.testing.stress_command` all read it, so none of
them imports the driver on top of them. Imports nothing of lsmdb: ``lsmdb --help`` stays fast.
"""

from __future__ import annotations

import argparse
import errno
import os
from collections.abc import Callable

__all__ = ["bounds_text", "out_of_bounds", "whole_number", "require_file", "require_writable",
           "EXIT_OK", "EXIT_IO", "EXIT_CORRUPTION", "EXIT_ERROR", "EXIT_USAGE", "EXIT_INTERNAL",
           "EXIT_INTERRUPTED"]

# The exit codes of every lsmdb command (the table in lsmdb.cli's docstring).
EXIT_OK = 0
EXIT_IO = 1
EXIT_CORRUPTION = 2
EXIT_ERROR = 3
EXIT_USAGE = 64
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


def bounds_text(minimum: int, maximum: int | None = None) -> str:
    """How help texts and errors state an integer range: ``">= 1"`` or ``"1 to 1,000"``."""
    return f">= {minimum:,}" if maximum is None else f"{minimum:,} to {maximum:,}"


def out_of_bounds(value: int, minimum: int, maximum: int | None = None) -> str | None:
    """The reason ``value`` is outside [minimum, maximum], or None: the one wording of every
    lsmdb command's range errors, whether argparse or a later check finds them."""
    if value < minimum or (maximum is not None and value > maximum):
        return f"must be {bounds_text(minimum, maximum)}, got {value:,}"
    return None


def whole_number(minimum: int, maximum: int | None = None, *,
                 underscores: bool = False) -> Callable[[str], int]:
    """An argparse ``type`` for integers in [minimum, maximum] (``underscores``: accept
    ``1_000``), with the one-line messages every lsmdb command uses."""

    def parse(text: str) -> int:
        try:
            value = int(text.replace("_", "") if underscores else text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a whole number, got {text!r}") from None
        problem = out_of_bounds(value, minimum, maximum)
        if problem is not None:
            raise argparse.ArgumentTypeError(problem)
        return value

    return parse



def require_file(path: str) -> str:
    """``path`` if it is a readable regular file, else the OSError naming it (exit code 1)."""
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    return path


def require_writable(path: str, flag: str) -> str:
    """``path`` if an output file can be written there, checked before a long run instead of
    after it: the file is opened for appending (an existing one is left as it is) or created
    and removed again. Else the OSError naming ``flag`` and the path (exit code 1)."""
    existed = os.path.exists(path)
    try:
        with open(path, "ab"):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise type(exc)(exc.errno, f"{flag}: cannot write ({reason})", path) from None
    if not existed:
        os.unlink(path)
    return path
